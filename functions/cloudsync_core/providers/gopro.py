"""The GoPro cloud, as /work/shared/gopro-api.md describes it (the web app's undocumented API).

Listing: ``GET /media/search`` page by page. Originals: ``GET /media/{id}/download``, which
answers with pre-signed CDN links (secrets: never logged, never in an error message). What
counts as an original depends on the kind of medium:

- video (ordinary or chaptered): one ``source`` variation per ``item_number``; never a proxy,
  the ``concat`` join, a cover or ``files[0]``;
- Burst / TimeLapse photos: one per ``files[]`` frame (their lone ``source`` is a cover);
- photo: the ``source`` variation (``files[0]`` when there is none) plus a ``raw_photo`` (.GPR)
  sidecar when present. Other sidecars (gpmf, zip...) are not originals.

File ids and names (stable across fresh download answers):
  ``source-N``    chapter N; ``GX010123.MP4`` -> ``GX0N0123.MP4`` (``G[HXL]`` + 2-digit chapter
                  + 4-digit counter), other names ``stem_NN.ext`` when there are several chapters
  ``frame-NNNN``  frame N of a burst / time-lapse: ``stem-NNNN.ext``
  ``raw_photo-N`` the RAW sidecar: ``stem.GPR``
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Literal

import requests

from ..credentials import COOKIE_RELOGIN_HINT, OAUTH_RELOGIN_HINT, AccessGrant
from ..errors import (
    DeletedAtSourceError,
    InvalidMediaError,
    ReauthenticationRequiredError,
    SourceRequestError,
    TransientError,
    redact_url,
)
from ..http import RetryPolicy, new_session, request_with_retries
from ..keys import check_media_id
from ..models import ListFilters, MediaItem, SourceFile
from ..settings import Settings
from .base import CloudProvider, Page

log = logging.getLogger(__name__)

ACCEPT: Final = "application/vnd.gopro.jk.media+json; version=2.0.0"
PER_PAGE: Final = 100
SEARCH_FIELDS: Final = (
    "id,filename,file_extension,type,captured_at,created_at,file_size,item_count,"
    "source_duration,camera_model,width,height,ready_to_view,content_title"
)
MAX_FILE_SIZE: Final = 1 << 40  # 1 TiB: anything bigger (or negative) is not a real size
MAX_ITEM_COUNT: Final = 1_000_000
MAX_NAME_CHARS: Final = 1024  # raw names are kept, absurd lengths are not
RANGE_START: Final = datetime(1970, 1, 1, tzinfo=UTC)
RANGE_END: Final = datetime(2100, 1, 1, tzinfo=UTC)

# Multi-shot photo types: every frame in files[] is an original.
FRAME_TYPES: Final = frozenset({"burst", "timelapse", "continuous", "nightlapse"})
PHOTO_TYPES: Final = frozenset({"photo"})
PHOTO_EXTENSIONS: Final = frozenset({"jpg", "jpeg", "gpr", "png", "heic", "dng"})

_CHAPTERED = re.compile(r"^(G[HXL])(\d{2})(\d{4})(\.[A-Za-z0-9]+)$", re.IGNORECASE)

Kind = Literal["video", "frames", "photo"]


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
    )


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _link(value: object) -> str | None:
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    return None


def _entries(embedded: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = embedded.get(key)
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


def _split(filename: str) -> tuple[str, str]:
    """(stem, extension with its dot); names are single segments by now or only metadata."""
    stem, dot, ext = filename.rpartition(".")
    if not dot or not stem or not ext or "/" in ext or "\\" in ext:
        return filename, ""
    return stem, f".{ext}"


def chapter_filename(filename: str, chapter: int, chapters: int) -> str:
    """The name of chapter ``chapter`` of a video listed as ``filename``.

    GoPro names chapters ``G[HXL]`` + 2-digit chapter + 4-digit counter: chapter 3 of
    ``GX010123.MP4`` is ``GX030123.MP4``. Other names: kept for a single chapter, else
    ``stem_NN.ext``.
    """
    match = _CHAPTERED.match(filename)
    if match and 1 <= chapter <= 99:
        prefix, _, counter, ext = match.groups()
        return f"{prefix}{chapter:02d}{counter}{ext}"
    if chapters <= 1 and chapter == 1:
        return filename
    stem, ext = _split(filename)
    return f"{stem}_{chapter:02d}{ext}"


def frame_filename(filename: str, frame: int) -> str:
    stem, ext = _split(filename)
    return f"{stem}-{frame:04d}{ext or '.JPG'}"


def raw_filename(filename: str, index: int, count: int) -> str:
    stem, _ = _split(filename)
    return f"{stem}.GPR" if count <= 1 else f"{stem}_{index:02d}.GPR"


def _kind(media_type: str | None, filename: str, files: int, sources: int) -> Kind:
    kind = (media_type or "").strip().lower()
    if kind in FRAME_TYPES:
        return "frames"
    if kind in PHOTO_TYPES:
        return "photo"
    if kind:
        return "video"
    # Unknown type: only a photo-like name makes this anything but a video.
    ext = _split(filename)[1].lstrip(".").lower()
    if ext in PHOTO_EXTENSIONS:
        return "frames" if files > 1 and sources <= 1 else "photo"
    return "video"


def _numbered(entries: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(item number, entry), deduplicated by number (first wins), sorted. Entries without a
    usable number take their 1-based position when that is free."""
    out: dict[int, dict[str, Any]] = {}
    for position, entry in enumerate(entries, start=1):
        number = _int_or_none(entry.get("item_number"))
        if number is None or number < 1:
            number = position
        out.setdefault(number, entry)
    return sorted(out.items())


def _frames(files: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Every frame, numbered by ``item_number`` when those are all present and distinct, else
    by position: a frame is never dropped for a duplicate number."""
    numbers = [_int_or_none(f.get("item_number")) for f in files]
    if all(n is not None and n >= 1 for n in numbers) and len(set(numbers)) == len(numbers):
        return sorted(
            ((n, f) for n, f in zip(numbers, files, strict=True) if n is not None),
            key=lambda pair: pair[0],
        )
    return list(enumerate(files, start=1))


def _source_file(
    file_id: str, number: int, label: str, filename: str, entry: dict[str, Any]
) -> SourceFile:
    url = _link(entry.get("url"))
    if url is None:
        raise InvalidMediaError(f"the download answer gives {file_id} no usable link")
    return SourceFile(
        file_id=file_id,
        item_number=number,
        label=label,
        filename=filename,
        url=url,
        head_url=_link(entry.get("head")),
    )


def select_originals(
    media_id: str, answer: object, media_type: str | None = None
) -> list[SourceFile]:
    """The originals described by one ``/media/{id}/download`` answer (pure; see module doc)."""
    if not isinstance(answer, dict):
        raise InvalidMediaError(f"medium {media_id}: the download answer is not an object")
    embedded = answer.get("_embedded")
    embedded = embedded if isinstance(embedded, dict) else {}
    files = _entries(embedded, "files")
    variations = _entries(embedded, "variations")
    sidecars = _entries(embedded, "sidecar_files")
    sources = [v for v in variations if v.get("label") == "source"]
    filename = _text(answer.get("filename"))
    kind = _kind(media_type, filename or "", len(files), len(sources))
    if filename is None:
        default_ext = "JPG" if kind != "video" else "MP4"
        ext = _text(sources[0].get("type"), 8) if sources else None
        filename = f"{media_id}.{ext or default_ext}"

    originals: list[SourceFile] = []
    if kind == "frames":
        for number, entry in _frames(files):
            originals.append(
                _source_file(
                    f"frame-{number:04d}", number, "frame", frame_filename(filename, number), entry
                )
            )
    else:
        chapters = _numbered(sources)
        for number, entry in chapters:
            name = chapter_filename(filename, number, len(chapters))
            originals.append(_source_file(f"source-{number}", number, "source", name, entry))
        if kind == "photo":
            if not chapters and files:
                originals.append(_source_file("source-1", 1, "file", filename, files[0]))
            raws = [s for s in sidecars if s.get("label") == "raw_photo"]
            for index, entry in enumerate(raws, start=1):
                name = raw_filename(filename, index, len(raws))
                file_id = f"raw_photo-{index}"
                originals.append(_source_file(file_id, index, "raw_photo", name, entry))
    if not originals:
        raise InvalidMediaError(
            f"medium {media_id}: the download answer lists no original ({kind})"
        )
    return originals


# --- the provider ---------------------------------------------------------------------------


class GoProProvider(CloudProvider):
    name: ClassVar[str] = "gopro"

    def __init__(
        self,
        *,
        settings: Settings,
        grant: AccessGrant,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        per_page: int = PER_PAGE,
    ) -> None:
        super().__init__()
        self._base = settings.gopro_api_url.rstrip("/")
        self._grant = grant
        self._session = session or new_session(8)
        self._retry = retry or RetryPolicy()
        self._per_page = per_page

    # --- requests -------------------------------------------------------------------------

    def _get_json(
        self,
        path: str,
        what: str,
        params: dict[str, str] | None = None,
        gone: type[Exception] | None = None,
    ) -> Any:
        """GET one API resource as JSON: auth per mode, one renewal after a 401, retries."""
        url = self._base + path
        for renewed in (False, True):
            headers = {"Accept": ACCEPT}
            cookies: dict[str, str] = {}
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
            if status == 401:
                response.close()
                if not renewed:
                    log.info("%s: GoPro answered 401; renewing the credentials once", what)
                    self._grant.renew(generation)
                    continue
                hint = OAUTH_RELOGIN_HINT if self._grant.mode == "oauth" else COOKIE_RELOGIN_HINT
                raise ReauthenticationRequiredError(
                    f"{what}: GoPro refused the renewed credentials (401): {hint}"
                )
            if 200 <= status < 300:
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
        raise AssertionError("unreachable")  # pragma: no cover

    # --- the contract ---------------------------------------------------------------------

    def search_params(self, filters: ListFilters, page: int) -> dict[str, str]:
        params = {
            "page": str(page),
            "per_page": str(self._per_page),
            "fields": SEARCH_FIELDS,
            "order_by": "captured_at",
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
        check_media_id(media_id)
        answer = self._get_json(
            f"/media/{media_id}/download", f"download answer of {media_id}",
            gone=DeletedAtSourceError,
        )
        return select_originals(media_id, answer, media_type)

    def account(self) -> dict[str, Any]:
        body = self._get_json("/media/user", "account check")
        return body if isinstance(body, dict) else {}
