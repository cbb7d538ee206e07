"""The GoPro cloud, as /work/shared/gopro-api.md describes it (the web app's undocumented API).

Listing: ``GET /media/search`` page by page. Originals: ``GET /media/{id}/download``, which
answers with pre-signed CDN links (secrets: never logged, never in an error message). Which
files of that answer are originals is decided by ONE rule table, by what the answer contains
and never by the medium's type: ``originals.py`` beside this module. How the login travels
(a Bearer header, or the web app's cookies with a Bearer fallback) is ``auth.py``'s.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import requests

from ...credentials import AccessGrant, Channel
from ...errors import (
    AccountRefusedError,
    DeletedAtSourceError,
    InvalidMediaError,
    ReauthenticationRequiredError,
    SourceRequestError,
    TransientError,
    redact_url,
)
from ...http import HttpRetryPolicy, backoff_delays, new_session, request_with_retries
from ...keys import check_media_id
from ...models import ListFilters, MediaItem, Selection, SourceFile
from ...settings import Settings
from ..base import CloudProvider, Page
from .auth import LAYOUT
from .originals import RULES, chapter_filename, frame_filename, select

__all__ = ["RULES", "GoProProvider", "chapter_filename", "frame_filename", "select_originals"]

log = logging.getLogger(__name__)

ACCEPT: Final = "application/vnd.gopro.jk.media+json; version=2.0.0"
PER_PAGE: Final = 100
SEARCH_FIELDS: Final = (
    "id,filename,file_extension,type,captured_at,created_at,file_size,item_count,"
    "source_duration,camera_model,width,height,ready_to_view,content_title,"
    "play_as,user_created,composition"
)
# Listing fields the selection needs again at archive time (kept in the tracker row).
FACT_FIELDS: Final = ("play_as", "composition", "user_created")
MAX_FACT_CHARS: Final = 32
MAX_FILE_SIZE: Final = 1 << 40  # 1 TiB: anything bigger (or negative) is not a real size
MAX_ITEM_COUNT: Final = 1_000_000
# A 403 from the API can be passing bot blocking: tries before it counts as an account problem.
FORBIDDEN_TRIES: Final = 3
MAX_NAME_CHARS: Final = 1024  # raw names are kept, absurd lengths are not
RANGE_START: Final = datetime(1970, 1, 1, tzinfo=UTC)
RANGE_END: Final = datetime(2100, 1, 1, tzinfo=UTC)

# --- parsing helpers (pure) -----------------------------------------------------------------


def format_range_time(when: datetime) -> str:
    """``2006-01-02T15:04:05.000Z`` in UTC (a naive datetime is taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def parse_time(value: object) -> datetime | None:
    """A UTC datetime from ISO 8601 (``Z``, offsets, any fraction) or epoch seconds / ms."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            seconds = float(value)
            if seconds != seconds:
                return None
            if abs(seconds) > 1e11:  # milliseconds
                seconds /= 1000.0
            return datetime.fromtimestamp(seconds, UTC)
        if not isinstance(value, str):
            return None
        text = value.strip()
        if not text or len(text) > 64:
            return None
        if text[-1] in "zZ":
            text = text[:-1] + "+00:00"
        when = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _size(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_FILE_SIZE else None


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_ITEM_COUNT else None


def _text(value: object, limit: int = MAX_NAME_CHARS) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value[:limit]


def _ready(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("ready", "true", "yes")
    return True  # missing: the listing asked for processing_states=ready


def _facts(raw: dict[str, Any]) -> dict[str, str]:
    """The listing facts the rule table reads later, as short plain words."""
    facts: dict[str, str] = {}
    for name in FACT_FIELDS:
        value = raw.get(name)
        if isinstance(value, bool):
            facts[name] = "true" if value else "false"
        elif isinstance(value, str) and value.strip():
            facts[name] = "".join(c for c in value.strip().lower() if c.isalnum() or c in "_-")[
                :MAX_FACT_CHARS
            ]
    return facts


def parse_media_item(raw: object, provider: str = "gopro") -> MediaItem | str:
    """A ``MediaItem`` from one listed entry, or a log-safe reason to skip it."""
    if not isinstance(raw, dict):
        return "entry is not an object"
    try:
        media_id = check_media_id(raw.get("id"))
    except InvalidMediaError:
        return "id is missing or not a safe identifier"
    return MediaItem(
        provider=provider,
        media_id=media_id,
        filename=_text(raw.get("filename")),
        media_type=_text(raw.get("type"), 64),
        captured_at=parse_time(raw.get("captured_at")),
        created_at=parse_time(raw.get("created_at")),
        file_size=_size(raw.get("file_size")),
        item_count=_count(raw.get("item_count")),
        ready=_ready(raw.get("ready_to_view")),
        facts=_facts(raw),
        camera=_text(raw.get("camera_model"), 64),
    )


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def select_originals(
    media_id: str, answer: object, media_type: str | None = None
) -> list[SourceFile]:
    """The originals of one ``/media/{id}/download`` answer, the listing unknown (pure)."""
    listed = MediaItem("gopro", media_id, None, media_type, None, None, None)
    return select(media_id, answer, listed).originals


# --- the provider ---------------------------------------------------------------------------


class GoProProvider(CloudProvider):
    name: ClassVar[str] = "gopro"

    def __init__(
        self,
        *,
        settings: Settings,
        grant: AccessGrant,
        session: requests.Session | None = None,
        retry: HttpRetryPolicy | None = None,
        per_page: int = PER_PAGE,
    ) -> None:
        super().__init__()
        self._base = settings.gopro_api_url.rstrip("/")
        self._grant = grant
        self._session = session or new_session(8)
        self._retry = retry or HttpRetryPolicy()
        self._per_page = per_page
        self._include_renders = settings.include_renders

    # --- requests -------------------------------------------------------------------------

    def _get_json(
        self,
        path: str,
        what: str,
        params: dict[str, str] | None = None,
        gone: type[Exception] | None = None,
    ) -> Any:
        """GET one API resource as JSON: auth per mode, retries, and the account's refusals.

        A 401 is answered by one renewal; a 403 (bot blocking can pass) by a few spaced tries.
        Either refusal that persists is an ``AccountProblemError``: the stack pauses, no medium
        is blamed. In cookie mode a refused cookie is first tried once as a Bearer header.
        """
        url = self._base + path
        renewed = False
        forbidden = 0
        delays = backoff_delays(self._retry.base, self._retry.cap, rng=self._retry.rng)
        while True:
            headers = {"Accept": ACCEPT}
            cookies: dict[str, str] = {}
            channel = self._grant.channel
            generation = self._grant.apply(headers, cookies)
            response = request_with_retries(
                self._session,
                "GET",
                url,
                policy=self._retry,
                what=what,
                params=params,
                headers=headers,
                cookies=cookies,
                allow_redirects=False,  # credentials must not follow a redirect elsewhere
            )
            status = response.status_code
            if status in (401, 403):
                response.close()
                if self._grant.refused(channel):
                    log.info("%s: GoPro refused the token as %s; trying the other way", what,
                             channel)
                    continue
            if status == 401:
                if renewed:
                    hint = LAYOUT.relogin_hint(self._grant.mode)
                    raise ReauthenticationRequiredError(
                        f"{what}: GoPro refused the renewed credentials (401): {hint}"
                    )
                log.info("%s: GoPro answered 401; renewing the credentials once", what)
                self._grant.renew(generation)
                renewed = True
                continue
            if status == 403:
                forbidden += 1
                self._wait_out_403(what, forbidden, next(delays))
                continue
            return self._json_or_error(response, url, what, gone, channel)

    def _wait_out_403(self, what: str, tries: int, delay: float) -> None:
        """Bot blocking can pass: wait and try again, a few times; then it is the account's."""
        if tries >= FORBIDDEN_TRIES:
            raise AccountRefusedError(
                f"{what}: GoPro refused the account (403) {tries} times in a row: bot blocking "
                "or a locked account; check that you can open your library at gopro.com, then "
                "run `cloudsync sync`"
            )
        log.warning("%s: GoPro answered 403 (try %d/%d); waiting %.2fs", what, tries,
                    FORBIDDEN_TRIES, delay)
        self._retry.sleep(delay)

    def _json_or_error(
        self,
        response: requests.Response,
        url: str,
        what: str,
        gone: type[Exception] | None,
        channel: Channel,
    ) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            self._grant.accepted(channel)
            try:
                return response.json()
            except ValueError as e:
                raise TransientError(
                    f"{what}: {redact_url(url)} answered {status} with something not JSON"
                ) from e
            finally:
                response.close()
        response.close()
        if status == 404 and gone is not None:
            raise gone(f"{what}: {redact_url(url)} answered 404: gone at the source")
        raise SourceRequestError(f"{what}: {redact_url(url)} answered HTTP {status}")

    # --- the contract ---------------------------------------------------------------------

    def search_params(self, filters: ListFilters, page: int) -> dict[str, str]:
        params = {
            "page": str(page),
            "per_page": str(self._per_page),
            "fields": SEARCH_FIELDS,
            # "created_at" is upload time (dustin/gopro-plus lists by it, newest first)
            "order_by": "created_at" if filters.order == "uploaded" else "captured_at",
        }
        if filters.media_types:
            params["type"] = ",".join(filters.media_types)
        if filters.processing_states:
            params["processing_states"] = ",".join(filters.processing_states)
        if filters.captured_after is not None or filters.captured_before is not None:
            start = format_range_time(filters.captured_after or RANGE_START)
            end = format_range_time(filters.captured_before or RANGE_END)
            params["captured_range"] = f"{start},{end}"
        return params

    def fetch_pages(self, filters: ListFilters) -> Iterator[Page]:
        for number in itertools.count(1):
            body = self._get_json(
                "/media/search", f"listing page {number}", self.search_params(filters, number)
            )
            if not isinstance(body, dict):
                raise TransientError(f"listing page {number}: the answer is not an object")
            embedded = body.get("_embedded")
            raw_items = embedded.get("media") if isinstance(embedded, dict) else None
            if not isinstance(raw_items, list):
                raw_items = []
            items: list[MediaItem] = []
            for raw in raw_items:
                parsed = parse_media_item(raw, self.name)
                if isinstance(parsed, str):
                    self.skip(parsed)
                else:
                    items.append(parsed)
            pages = body.get("_pages")
            total = _int_or_none(pages.get("total_pages")) if isinstance(pages, dict) else None
            if total is not None and total < 0:
                total = None
            yield Page(number=number, items=items, returned=len(raw_items), total_pages=total)

    def originals(self, media_id: str, media_type: str | None = None) -> list[SourceFile]:
        listed = MediaItem(self.name, media_id, None, media_type, None, None, None)
        return self.select(listed).originals

    def select(self, listed: MediaItem) -> Selection:
        """The originals of one listed medium from a fresh download answer (the rule table).

        Only the API says a medium is gone: a 404 here is ``DeletedAtSourceError``.
        """
        media_id = check_media_id(listed.media_id)
        answer = self._get_json(
            f"/media/{media_id}/download", f"download answer of {media_id}",
            gone=DeletedAtSourceError,
        )
        return select(media_id, answer, listed, include_renders=self._include_renders)

    def account(self) -> dict[str, Any]:
        body = self._get_json("/media/user", "account check")
        return body if isinstance(body, dict) else {}
