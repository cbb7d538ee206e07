"""GoProProvider against a fake transport: no network, no sleeping."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from cloudsync_core.credentials import AccessGrant, StoredCredentials
from cloudsync_core.errors import (
    AuthError,
    DeletedAtSourceError,
    InvalidMediaError,
    RateLimitedError,
    ReauthenticationRequiredError,
    SourceRequestError,
    TransientError,
)
from cloudsync_core.http import HttpRetryPolicy
from cloudsync_core.models import ListFilters
from cloudsync_core.providers.gopro import (
    ACCEPT,
    GoProProvider,
    chapter_filename,
    parse_media_item,
    parse_time,
    select_originals,
)
from cloudsync_core.providers.gopro.auth import LAYOUT
from cloudsync_core.settings import Settings
from tests.unit.auth_doubles import FakeTransport, Handler, Reply, in_threads

API = "https://gopro.test"
TOKEN = "SECRET-ACCESS-TOKEN-0123456789"
NEW_TOKEN = "SECRET-RENEWED-TOKEN-9876543210"
COOKIE_TOKEN = "SECRET-COOKIE-JWE.a.b.c.d"
SIGNATURE = "SIGNATURE-SECRET-XYZ"
NOW = 1_750_000_000.0



def make_session(handler: Handler) -> tuple[requests.Session, FakeTransport]:
    transport = FakeTransport(handler)
    session = requests.Session()
    session.mount("https://", transport)
    session.mount("http://", transport)
    return session, transport


def settings() -> Settings:
    return Settings(
        table="t", bucket="b", secret_id="s", topic_arn="", state_machine_arn="",
        environment="test", gopro_api_url=API, gopro_client_id="cid",
        gopro_client_secret="csecret", max_concurrent_media=5, retry_budget=3,
        time_budget_s=240, lease_s=360, part_size_mib=0, parallel_ranges=8,
        media_types=(), max_items=None,
    )


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def policy(sleeps: Sleeps, attempts: int = 5) -> HttpRetryPolicy:
    return HttpRetryPolicy(
        attempts=attempts, base=1.0, cap=8.0, max_retry_after=60.0,
        sleep=sleeps, clock=lambda: NOW, rng=lambda: 0.5,
    )


def oauth_grant(renewals: list[int] | None = None) -> AccessGrant:
    creds = StoredCredentials("gopro", "oauth", TOKEN, "SECRET-REFRESH", "u1", NOW + 3600, NOW)

    def renew(old: StoredCredentials) -> StoredCredentials:
        if renewals is not None:
            renewals.append(1)
        return StoredCredentials("gopro", "oauth", NEW_TOKEN, "SECRET-REFRESH-2", "u1")

    return AccessGrant(creds, renew, LAYOUT)


def provider(handler: Handler, grant: AccessGrant | None = None, sleeps: Sleeps | None = None,
             ) -> tuple[GoProProvider, FakeTransport, Sleeps]:
    session, transport = make_session(handler)
    sleeps = sleeps or Sleeps()
    p = GoProProvider(
        settings=settings(), grant=grant or oauth_grant(), session=session, retry=policy(sleeps)
    )
    return p, transport, sleeps


def mid(n: int) -> str:
    return f"{n:024x}"


def item(n: int, **extra: Any) -> dict[str, Any]:
    base = {
        "id": mid(n), "filename": f"GX01{n % 10000:04d}.MP4", "type": "Video",
        "captured_at": "2024-05-01T10:00:00Z", "created_at": "2024-05-02T10:00:00.123Z",
        "file_size": 1000 + n, "item_count": 1, "ready_to_view": "ready",
    }
    base.update(extra)
    return base


def query(request: requests.PreparedRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url or "").query).items()}


def library(items: list[Any], server_page: int = 30,
            pages_meta: bool = True) -> Handler:
    """A /media/search that pages ``items`` with its own page size, whatever was asked."""

    def handler(request: requests.PreparedRequest) -> Reply:
        path = urlsplit(request.url or "").path
        if path != "/media/search":
            return 404, {}, {}
        page = int(query(request)["page"])
        chunk = items[(page - 1) * server_page: page * server_page]
        body: dict[str, Any] = {"_embedded": {"media": chunk, "errors": []}}
        if pages_meta:
            total_pages = -(-len(items) // server_page)
            body["_pages"] = {"current_page": page, "per_page": server_page,
                              "total_items": len(items), "total_pages": total_pages}
        return 200, {}, body

    return handler


# --- listing --------------------------------------------------------------------------------


def test_pages_follow_the_servers_page_size_not_the_one_asked() -> None:
    items = [item(n) for n in range(1, 76)]
    p, transport, _ = provider(library(items, server_page=30))
    listed = list(p.list_media(ListFilters()))
    assert [m.media_id for m in listed] == [mid(n) for n in range(1, 76)]
    assert len(transport.requests) == 3
    assert all(query(r)["per_page"] == "100" for r in transport.requests)
    assert [query(r)["page"] for r in transport.requests] == ["1", "2", "3"]


def test_overlapping_pages_are_deduplicated() -> None:
    page1 = [item(n) for n in range(1, 31)]
    page2 = [item(30), *[item(n) for n in range(31, 60)]]  # item 30 repeats at the boundary

    def handler(request: requests.PreparedRequest) -> Reply:
        page = int(query(request)["page"])
        chunk = {1: page1, 2: page2}.get(page, [])
        return 200, {}, {"_embedded": {"media": chunk},
                         "_pages": {"current_page": page, "total_pages": 2}}

    p, _, _ = provider(handler)
    ids = [m.media_id for m in p.list_media(ListFilters())]
    assert len(ids) == len(set(ids)) == 59


def test_without_pages_metadata_it_stops_at_an_empty_or_repeated_page() -> None:
    items = [item(n) for n in range(1, 46)]
    p, transport, _ = provider(library(items, server_page=30, pages_meta=False))
    assert len(list(p.list_media(ListFilters()))) == 45
    assert len(transport.requests) == 3  # the third page is empty

    same = [item(n) for n in range(1, 11)]
    p2, transport2, _ = provider(
        lambda r: (200, {}, {"_embedded": {"media": same}})  # a server that repeats page 1
    )
    assert len(list(p2.list_media(ListFilters()))) == 10
    assert len(transport2.requests) == 2


def test_total_pages_is_reread_on_every_page() -> None:
    def handler(request: requests.PreparedRequest) -> Reply:
        page = int(query(request)["page"])
        total = page + 1 if page < 3 else 3  # new media arrive while listing: the total grows
        chunk = [item(page)] if page <= 3 else []
        return 200, {}, {"_embedded": {"media": chunk}, "_pages": {"total_pages": total}}

    p, transport, _ = provider(handler)
    assert [m.media_id for m in p.list_media(ListFilters())] == [mid(1), mid(2), mid(3)]
    assert len(transport.requests) == 3


def test_max_items_stops_early() -> None:
    items = [item(n) for n in range(1, 200)]
    p, transport, _ = provider(library(items, server_page=30))
    listed = list(p.list_media(ListFilters(max_items=40)))
    assert len(listed) == 40
    assert len(transport.requests) == 2
    assert list(p.list_media(ListFilters(max_items=0))) == []


def test_filters_headers_and_timeouts_in_every_request() -> None:
    p, transport, _ = provider(library([item(1)]))
    filters = ListFilters(
        media_types=("Video", "Burst"),
        processing_states=("ready",),
        captured_after=datetime(2024, 1, 2, 3, 4, 5, 678900, tzinfo=UTC),
        captured_before=datetime(2024, 2, 1),
    )
    list(p.list_media(filters))
    request = transport.requests[0]
    q = query(request)
    assert q["type"] == "Video,Burst"
    assert q["processing_states"] == "ready"
    assert q["captured_range"] == "2024-01-02T03:04:05.678Z,2024-02-01T00:00:00.000Z"
    assert q["order_by"] == "captured_at"
    assert q["per_page"] == "100"
    assert "id" in q["fields"].split(",") and "captured_at" in q["fields"].split(",")
    assert request.headers["Accept"] == ACCEPT
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Cookie" not in request.headers
    timeout = transport.timeouts[0]
    assert isinstance(timeout, tuple) and len(timeout) == 2 and all(timeout)

    q_open = query_of(p, ListFilters(captured_after=datetime(2024, 1, 1, tzinfo=UTC)))
    assert q_open["captured_range"].startswith("2024-01-01T00:00:00.000Z,")
    assert "type" not in query_of(p, ListFilters())


def query_of(p: GoProProvider, filters: ListFilters) -> dict[str, str]:
    return p.search_params(filters, 1)


def test_cookie_mode_sends_cookies_never_a_header() -> None:
    grant = AccessGrant(StoredCredentials("gopro", "cookie", COOKIE_TOKEN, None, "user-77"),
                        layout=LAYOUT)
    p, transport, _ = provider(library([item(1)]), grant=grant)
    list(p.list_media(ListFilters()))
    request = transport.requests[0]
    assert "Authorization" not in request.headers
    cookie = request.headers["Cookie"]
    assert f"gp_access_token={COOKIE_TOKEN}" in cookie
    assert "gp_user_id=user-77" in cookie


def test_hostile_items_are_skipped_or_cleaned(caplog: pytest.LogCaptureFixture) -> None:
    hostile: list[Any] = [
        "not an object",
        None,
        {"filename": "no-id.MP4"},
        {"id": None},
        {"id": 12345},
        {"id": "../../etc/passwd"},
        {"id": "a/b"},
        {"id": ""},
        {"id": "x" * 300},
        item(1, filename="../../x.MP4", file_size=-5),
        item(2, filename="Ünïcødé 🎥.MP4", file_size="123", captured_at="garbage"),
        item(3, file_size=2**41, captured_at=1714557600, created_at=None, type=42),
        item(4, file_size=1.5, captured_at="2024-05-01T12:00:00.123456789+02:00",
             item_count=-1, ready_to_view="transcoding"),
        item(5, file_size=True, filename=None, captured_at="2024-05-01T10:00:00"),
        {"id": mid(6)},  # only an id
    ]
    p, _, _ = provider(library(hostile, server_page=100))
    with caplog.at_level(logging.DEBUG):
        listed = {m.media_id: m for m in p.list_media(ListFilters())}
    assert p.skipped_items == 9
    assert sum(p.skip_reasons.values()) == 9
    assert "etc/passwd" not in caplog.text and "no-id" not in caplog.text
    assert set(listed) == {mid(n) for n in range(1, 7)}
    m1, m2, m3, m4, m5, m6 = (listed[mid(n)] for n in range(1, 7))
    assert m1.filename == "../../x.MP4" and m1.file_size is None  # raw here; keys make it safe
    assert m2.filename == "Ünïcødé 🎥.MP4" and m2.file_size is None and m2.captured_at is None
    assert m3.file_size is None and m3.media_type is None and m3.created_at is None
    assert m3.captured_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert m4.file_size is None and m4.item_count is None and m4.ready is False
    assert m4.captured_at == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert m5.file_size is None and m5.filename is None
    assert m5.captured_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert m6.filename is None and m6.captured_at is None and m6.ready is True


def test_a_page_of_only_hostile_items_does_not_end_the_listing() -> None:
    pages = {1: [{"id": None}] * 3, 2: [item(1)]}

    def handler(request: requests.PreparedRequest) -> Reply:
        page = int(query(request)["page"])
        return 200, {}, {"_embedded": {"media": pages.get(page, [])}}

    p, _, _ = provider(handler)
    assert [m.media_id for m in p.list_media(ListFilters())] == [mid(1)]
    assert p.skipped_items == 3


def test_parse_helpers() -> None:
    assert isinstance(parse_media_item([]), str)
    assert parse_time("2024-05-01T10:00:00.5-01:30") == datetime(
        2024, 5, 1, 11, 30, 0, 500000, tzinfo=UTC
    )
    assert parse_time(1714557600000) == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    junks: tuple[object, ...] = ("", "yesterday", [], {}, "9" * 100, float("nan"), 10**30)
    for junk in junks:
        assert parse_time(junk) is None
    assert chapter_filename("GH019876.MP4", 12, 12) == "GH129876.MP4"
    assert chapter_filename("gl010001.lrv", 2, 2) == "gl020001.lrv"
    assert chapter_filename("PXL_2024.mp4", 1, 1) == "PXL_2024.mp4"
    assert chapter_filename("PXL_2024.mp4", 2, 3) == "PXL_2024_02.mp4"
    assert chapter_filename("noext", 3, 3) == "noext_03"


# --- originals ------------------------------------------------------------------------------


def signed(name: str) -> str:
    return f"https://cdn.test/{name}?Expires=1&Signature={SIGNATURE}&Key-Pair-Id=K"


def answer(filename: str | None, files: list[dict[str, Any]] | None = None,
           variations: list[dict[str, Any]] | None = None,
           sidecars: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"filename": filename, "_embedded": {
        "files": files or [], "variations": variations or [], "sidecar_files": sidecars or []}}


def var(label: str, n: int = 1, kind: str = "mp4") -> dict[str, Any]:
    return {"url": signed(f"{label}-{n}"), "head": signed(f"{label}-{n}-head"), "label": label,
            "quality": "high", "type": kind, "item_number": n}


def fil(n: int) -> dict[str, Any]:
    return {"url": signed(f"file-{n}"), "head": signed(f"file-{n}-head"), "item_number": n}


def test_ordinary_video_is_its_source_variation_only() -> None:
    a = answer("GX010123.MP4", files=[fil(1)],
               variations=[var("high_res_proxy_mp4"), var("source"), var("mp4_low")],
               sidecars=[{"url": signed("gpmf"), "label": "gpmf", "type": "gpmf"}])
    [only] = select_originals(mid(1), a, "Video")
    assert (only.file_id, only.filename, only.label, only.item_number) == (
        "source-1", "GX010123.MP4", "source", 1)
    assert only.url == signed("source-1") and only.head_url == signed("source-1-head")
    assert SIGNATURE not in repr(only)


def test_chaptered_video_is_one_source_per_chapter_never_concat() -> None:
    a = answer("GX010123.MP4", files=[fil(1), fil(2), fil(3)],
               variations=[var("source", 3), var("concat"), var("source", 1), var("source", 2),
                           var("source", 2)])
    files = select_originals(mid(1), a, "Chaptered")
    assert [(f.file_id, f.filename) for f in files] == [
        ("source-1", "GX010123.MP4"), ("source-2", "GX020123.MP4"), ("source-3", "GX030123.MP4")]
    assert all("concat" not in f.url for f in files)
    # inferred without a type, too; names outside GoPro's scheme get _NN
    b = answer("PXL_20240501.mp4", variations=[var("source", 1), var("source", 2)])
    assert [f.filename for f in select_originals(mid(1), b)] == [
        "PXL_20240501_01.mp4", "PXL_20240501_02.mp4"]


@pytest.mark.parametrize("kind", ["Burst", "TimeLapse", None])
def test_burst_and_timelapse_are_their_frames_not_the_cover(kind: str | None) -> None:
    a = answer("G0012345.JPG", files=[fil(n) for n in range(1, 11)],
               variations=[var("source", 1, "jpg")])
    files = select_originals(mid(1), a, kind)
    assert len(files) == 10
    assert files[0].file_id == "frame-0001" and files[0].filename == "G0012345-0001.JPG"
    assert files[6].file_id == "frame-0007" and files[6].filename == "G0012345-0007.JPG"
    assert all(f.label == "frame" and "source" not in f.url for f in files)


def test_frames_with_duplicate_numbers_keep_every_frame() -> None:
    frames = [{"url": signed(f"f{n}")} for n in range(3)] + [fil(1)]
    files = select_originals(mid(1), answer("G001.JPG", files=frames), "Burst")
    assert [f.file_id for f in files] == ["frame-0001", "frame-0002", "frame-0003", "frame-0004"]


def test_photo_is_source_plus_raw_sidecar_not_gpmf() -> None:
    a = answer("GOPR0042.JPG", files=[fil(1)], variations=[var("source", 1, "jpg")],
               sidecars=[{"url": signed("raw"), "label": "raw_photo", "type": "gpr"},
                         {"url": signed("gpmf"), "label": "gpmf", "type": "gpmf"}])
    files = select_originals(mid(1), a, "Photo")
    assert [(f.file_id, f.filename, f.label) for f in files] == [
        ("source-1", "GOPR0042.JPG", "source"), ("raw_photo-1", "GOPR0042.GPR", "raw_photo")]
    # no source variation, one item: files[0] (more files: test_gopro_rules.py)
    b = answer("GOPR0043.JPG", files=[fil(1)], variations=[var("mp4_low")])
    [only] = select_originals(mid(1), b, "Photo")
    assert (only.file_id, only.filename, only.label) == ("source-1", "GOPR0043.JPG", "file")
    assert only.url == signed("file-1")


def test_answers_without_originals_or_links_are_invalid() -> None:
    with pytest.raises(InvalidMediaError):
        select_originals(mid(1), answer("GX010001.MP4", files=[fil(1)],
                                        variations=[var("concat")]), "Video")
    with pytest.raises(InvalidMediaError):
        select_originals(mid(1), "nope")
    broken = var("source")
    broken["url"] = "javascript:alert(1)"
    with pytest.raises(InvalidMediaError) as e:
        select_originals(mid(1), answer("GX010001.MP4", variations=[broken]), "Video")
    assert "javascript" not in str(e.value)
    # a missing filename falls back to the id
    [f] = select_originals(mid(1), answer(None, variations=[var("source")]), "Video")
    assert f.filename == f"{mid(1)}.mp4"


def downloads(answers: dict[str, Any], status: int = 200) -> Handler:
    def handler(request: requests.PreparedRequest) -> Reply:
        path = urlsplit(request.url or "").path
        media = path.split("/")[2]
        if path.endswith("/download") and media in answers:
            return status, {}, answers[media]
        return 404, {}, {"message": "not found"}

    return handler


def test_originals_fetches_a_fresh_answer_every_call() -> None:
    a = answer("GX010123.MP4", variations=[var("source")])
    p, transport, _ = provider(downloads({mid(1): a}))
    first = p.originals(mid(1))
    second = p.originals(mid(1), "Video")
    assert first == second and len(transport.requests) == 2
    assert transport.requests[0].headers["Accept"] == ACCEPT


def test_download_404_is_deleted_at_source_and_search_404_is_a_request_error() -> None:
    p, _, _ = provider(downloads({}))
    with pytest.raises(DeletedAtSourceError):
        p.originals(mid(9))
    with pytest.raises(SourceRequestError):
        list(p.list_media(ListFilters()))
    with pytest.raises(InvalidMediaError):
        p.originals("../../etc")


def test_other_4xx_is_a_source_request_error() -> None:
    p, _, _ = provider(lambda r: (418, {}, {"error": "teapot"}))
    with pytest.raises(SourceRequestError) as e:
        p.originals(mid(1))
    assert "418" in str(e.value)


# --- auth -----------------------------------------------------------------------------------


def test_401_renews_once_and_retries() -> None:
    renewals: list[int] = []

    def handler(request: requests.PreparedRequest) -> Reply:
        if request.headers.get("Authorization") == f"Bearer {NEW_TOKEN}":
            return 200, {}, {"id": "user"}
        return 401, {}, {"error": "unauthorized"}

    p, transport, _ = provider(handler, grant=oauth_grant(renewals))
    assert p.account() == {"id": "user"}
    assert renewals == [1] and len(transport.requests) == 2


def test_401_after_renewal_needs_a_person() -> None:
    renewals: list[int] = []
    p, transport, _ = provider(lambda r: (401, {}, {}), grant=oauth_grant(renewals))
    with pytest.raises(ReauthenticationRequiredError) as e:
        p.account()
    assert isinstance(e.value, AuthError)
    assert "cloudsync login" in str(e.value)
    assert renewals == [1] and len(transport.requests) == 2


def test_401_with_a_browser_token_cannot_renew() -> None:
    grant = AccessGrant(StoredCredentials("gopro", "cookie", COOKIE_TOKEN, None, "u"),
                        layout=LAYOUT)
    p, transport, _ = provider(lambda r: (401, {}, {}), grant=grant)
    with pytest.raises(ReauthenticationRequiredError) as e:
        p.originals(mid(1))
    assert "--cookie-token" in str(e.value)
    assert COOKIE_TOKEN not in str(e.value)
    # the cookie, then the same token once as a Bearer header, then the cookie again
    sent = [("Cookie" in r.headers, "Authorization" in r.headers) for r in transport.requests]
    assert sent == [(True, False), (False, True), (True, False)]


def test_concurrent_401s_renew_once() -> None:
    renewals: list[int] = []
    gate = threading.Barrier(4)

    def handler(request: requests.PreparedRequest) -> Reply:
        if request.headers.get("Authorization") == f"Bearer {NEW_TOKEN}":
            return 200, {}, answer("GX010001.MP4", variations=[var("source")])
        gate.wait(timeout=5)
        return 401, {}, {}

    p, _, _ = provider(handler, grant=oauth_grant(renewals))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            p.originals(mid(1))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    in_threads(work, 4)
    assert errors == [] and renewals == [1]


# --- throttling and trouble -----------------------------------------------------------------


def sequence(*replies: Reply) -> Handler:
    queue = list(replies)

    def handler(request: requests.PreparedRequest) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


def test_429_honours_retry_after_seconds() -> None:
    p, transport, sleeps = provider(sequence((429, {"Retry-After": "7"}, {}), (200, {}, {"a": 1})))
    assert p.account() == {"a": 1}
    assert sleeps.waits == [7.0] and len(transport.requests) == 2


def test_429_honours_retry_after_http_date() -> None:
    when = format_datetime(datetime.fromtimestamp(NOW + 12, UTC), usegmt=True)
    p, _, sleeps = provider(sequence((429, {"Retry-After": when}, {}), (200, {}, {"a": 1})))
    assert p.account() == {"a": 1}
    assert sleeps.waits == [pytest.approx(12.0)]


def test_429_forever_is_rate_limited_and_long_retry_after_is_handed_up() -> None:
    p, transport, sleeps = provider(lambda r: (429, {}, {}))
    with pytest.raises(RateLimitedError):
        p.account()
    assert len(transport.requests) == 5 and len(sleeps.waits) == 4
    assert all(0 <= w <= 8.0 for w in sleeps.waits)

    p2, transport2, sleeps2 = provider(lambda r: (429, {"Retry-After": "3600"}, {}))
    with pytest.raises(RateLimitedError) as e:
        p2.account()
    assert e.value.retry_after == 3600.0
    assert len(transport2.requests) == 1 and sleeps2.waits == []


def test_5xx_is_retried_with_backoff_then_transient() -> None:
    p, transport, sleeps = provider(lambda r: (503, {}, "<html>busy</html>"))
    with pytest.raises(TransientError) as e:
        list(p.list_media(ListFilters()))
    assert not isinstance(e.value, RateLimitedError)
    assert len(transport.requests) == 5
    assert sleeps.waits == [0.5, 1.0, 2.0, 4.0]  # full jitter with rng=0.5, base 1, cap 8

    p2, _, _ = provider(sequence((500, {}, ""), (502, {}, ""), (200, {}, {"ok": True})))
    assert p2.account() == {"ok": True}


def test_connection_errors_and_timeouts_are_transient() -> None:
    for exc in (requests.ConnectionError(f"boom {signed('x')}"),
                requests.ReadTimeout(f"slow {signed('x')}"),
                requests.ConnectTimeout("slow")):
        p, transport, _ = provider(lambda r, exc=exc: exc)  # type: ignore[misc]
        with pytest.raises(TransientError) as e:
            p.originals(mid(1))
        assert SIGNATURE not in str(e.value)
        assert len(transport.requests) == 5


def test_non_json_success_is_transient() -> None:
    p, _, _ = provider(lambda r: (200, {}, "<html>proxy</html>"))
    with pytest.raises(TransientError):
        p.account()


def test_no_secret_reaches_an_error_or_a_log(caplog: pytest.LogCaptureFixture) -> None:
    secrets = (TOKEN, NEW_TOKEN, COOKIE_TOKEN, SIGNATURE, "SECRET-REFRESH", "Key-Pair-Id")
    messages: list[str] = []
    scenarios: list[tuple[Handler, AccessGrant]] = [
        (lambda r: (401, {}, {"token": TOKEN}), oauth_grant()),
        (lambda r: (401, {}, {}),
         AccessGrant(StoredCredentials("gopro", "cookie", COOKIE_TOKEN), layout=LAYOUT)),
        (lambda r: (500, {}, signed("x")), oauth_grant()),
        (lambda r: (429, {"Retry-After": "1"}, {}), oauth_grant()),
        (lambda r: requests.ConnectionError(signed("x")), oauth_grant()),
        (lambda r: (200, {}, answer("x.MP4", variations=[var("concat")])), oauth_grant()),
        (lambda r: (418, {}, {"url": signed("x")}), oauth_grant()),
    ]
    with caplog.at_level(logging.DEBUG):
        for handler, grant in scenarios:
            p, _, _ = provider(handler, grant=grant)
            with pytest.raises(Exception) as e:
                p.originals(mid(1))
            messages.append(str(e.value))
            messages.append(repr(e.value))
        messages.append(repr(oauth_grant()))
        messages.append(str(oauth_grant()))
    text = "\n".join(messages) + caplog.text
    for secret in secrets:
        assert secret not in text
