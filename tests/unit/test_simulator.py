"""The GoPro simulator against gopro-api.md: paging, auth, download shapes, CDN, faults."""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from cloudsync_local.simulator import (
    ACCEPT,
    GiB,
    GoProSimulator,
    KiB,
    MiB,
    content_bytes,
    expected_crc32,
    expected_sha256,
    iter_content,
)

T = 5  # seconds: every request has a timeout


@pytest.fixture
def sim() -> Iterator[GoProSimulator]:
    with GoProSimulator(seed="unit") as s:
        yield s
    assert s.last_error is None, s.last_error  # no simulator bug behind any answer


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def api(sim: GoProSimulator) -> dict[str, str]:
    return sim.api_headers()


def search(http: requests.Session, sim: GoProSimulator, headers: dict[str, str] | None = None,
           **params: Any) -> requests.Response:
    return http.get(f"{sim.base_url}/media/search", params=params,
                    headers=headers if headers is not None else api(sim), timeout=T)


def download(http: requests.Session, sim: GoProSimulator, media_id: str) -> requests.Response:
    return http.get(f"{sim.base_url}/media/{media_id}/download", headers=api(sim), timeout=T)


def source_urls(http: requests.Session, sim: GoProSimulator, media_id: str) -> list[str]:
    body = download(http, sim, media_id).json()
    return [v["url"] for v in body["_embedded"]["variations"] if v["label"] == "source"]


# ---- content ---------------------------------------------------------------------------------
def test_content_is_deterministic_and_consistent_across_ranges() -> None:
    whole = content_bytes("a" * 24, "source-1", 0, 300_000)
    assert whole == content_bytes("a" * 24, "source-1", 0, 300_000)
    for offset, length in [(0, 1), (65_530, 20), (12_345, 200_000), (299_999, 1), (5, 0)]:
        assert content_bytes("a" * 24, "source-1", offset, length) == whole[offset:offset + length]
    assert b"".join(iter_content("a" * 24, "source-1", 1000, 250_000, 7000)) == whole[1000:251_000]
    # other file, other medium, other block: other bytes
    assert content_bytes("a" * 24, "proxy-1", 0, 4096) != whole[:4096]
    assert content_bytes("b" * 24, "source-1", 0, 4096) != whole[:4096]
    blocks = {content_bytes("a" * 24, "s", k * 65_536, 65_536) for k in range(64)}
    assert len(blocks) == 64


def test_expected_checksums() -> None:
    data = content_bytes("c" * 24, "frame-2", 0, 1_000_003)
    assert expected_crc32("c" * 24, "frame-2", 1_000_003) == zlib.crc32(data)
    assert expected_sha256("c" * 24, "frame-2", 1_000_003) == hashlib.sha256(data).hexdigest()


# ---- lifecycle -------------------------------------------------------------------------------
def test_ids_are_deterministic_13_mixed_case_and_some_24_hex() -> None:
    a, b = GoProSimulator(seed="x"), GoProSimulator(seed="x")
    ids_a = [a.library.add_video(), a.library.add_burst(), a.library.add_photo(raw=True),
             a.library.add_edit()]
    ids_b = [b.library.add_video(), b.library.add_burst(), b.library.add_photo(raw=True),
             b.library.add_edit()]
    assert ids_a == ids_b
    assert len(set(ids_a)) == 4
    short, long_ = ids_a[:3], ids_a[3]  # as in the real library (62NzWRrpPXm7o), 1 in 4 hex
    assert all(len(i) == 13 and i.isalnum() and i.isascii() for i in short)
    assert any(c.isupper() for i in short for c in i) and any(c.islower() for i in short for c in i)
    assert len(long_) == 24 and all(c in "0123456789abcdef" for c in long_)
    assert GoProSimulator(seed="y").library.add_video() != ids_a[0]


def test_start_stop_and_given_port(http: requests.Session) -> None:
    with GoProSimulator() as first:
        port = first.port
        assert first.base_url == f"http://127.0.0.1:{port}"
        assert first.cdn_base_url.startswith(first.base_url)
        assert search(http, first).status_code == 200
    again = GoProSimulator(port=port).start()  # the port is free again after stop()
    try:
        assert again.port == port
        assert search(http, again).status_code == 200
    finally:
        again.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/media/user", timeout=T)


# ---- listing ---------------------------------------------------------------------------------
def test_paging_newest_first_and_caps(sim: GoProSimulator, http: requests.Session) -> None:
    ids = [sim.library.add_video(size=1000) for _ in range(250)]
    newest_first = list(reversed(ids))  # default capture times increase with each add
    seen: list[str] = []
    page = 1
    while True:
        body = search(http, sim, page=page, per_page=100, order_by="captured_at").json()
        assert set(body) == {"_embedded", "_pages"}
        assert body["_embedded"]["errors"] == []
        assert body["_pages"] == {"current_page": page, "per_page": 100, "total_items": 250,
                                  "total_pages": 3}
        seen += [m["id"] for m in body["_embedded"]["media"]]
        if page >= body["_pages"]["total_pages"]:
            break
        page += 1
    assert seen == newest_first
    # silent cap above max_per_page
    body = search(http, sim, page=1, per_page=500).json()
    assert body["_pages"]["per_page"] == 100 and len(body["_embedded"]["media"]) == 100
    # the server answering with a smaller page than asked
    sim.page_size_override = 30
    body = search(http, sim, page=9, per_page=100).json()
    assert body["_pages"] == {"current_page": 9, "per_page": 30, "total_items": 250,
                              "total_pages": 9}
    assert [m["id"] for m in body["_embedded"]["media"]] == newest_first[240:]
    # beyond the last page: empty
    assert search(http, sim, page=10, per_page=100).json()["_embedded"]["media"] == []
    assert search(http, sim, page=0).status_code == 400
    assert search(http, sim, page="x").status_code == 400
    assert sim.stats["search"] == 8


def test_filters_and_fields(sim: GoProSimulator, http: requests.Session) -> None:
    video = sim.library.add_video(captured_at="2024-03-01T10:00:00Z")
    burst = sim.library.add_burst(captured_at="2024-03-02T10:00:00Z")
    photo = sim.library.add_photo(captured_at="2024-04-01T10:00:00Z")
    busy = sim.library.add_video(captured_at="2024-03-05T10:00:00Z", ready=False)

    def ids(**params: Any) -> list[str]:
        return [m["id"] for m in search(http, sim, **params).json()["_embedded"]["media"]]

    assert ids() == [photo, busy, burst, video]
    assert ids(type="Video,Burst") == [busy, burst, video]
    assert ids(processing_states="ready") == [photo, burst, video]
    assert ids(captured_range="2024-03-01T00:00:00.000Z,2024-03-31T23:59:59.999Z") == [
        busy, burst, video]
    assert search(http, sim, captured_range="garbage").status_code == 400
    items = search(http, sim, fields="id,filename,file_size").json()["_embedded"]["media"]
    assert all(set(m) == {"id", "filename", "file_size"} for m in items)


def test_accept_header_is_lenient_but_counted(sim: GoProSimulator, http: requests.Session) -> None:
    token = str(sim.issue_tokens()["access_token"])
    assert search(http, sim, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert sim.stats["missing_accept"] == 1
    search(http, sim)
    assert sim.stats["missing_accept"] == 1


def test_hostile_items_are_listed_verbatim(sim: GoProSimulator, http: requests.Session) -> None:
    raws: list[dict[str, Any]] = [
        {"id": "0123456789abcdef01234567", "filename": "../../x.MP4", "type": "Video",
         "file_size": 10**18, "captured_at": "2024-02-01T00:00:00Z"},
        {"id": None, "filename": None, "captured_at": None},
        {"filename": "Ünïcødé 🎥.MP4", "type": 7, "file_size": "12", "captured_at": 12},
        {"id": "ffffffffffffffffffffffff", "file_size": -5, "item_count": "many"},
    ]
    keys = [sim.library.add_item(r) for r in raws]
    assert keys[0] == "0123456789abcdef01234567"
    listed = search(http, sim).json()["_embedded"]["media"]
    assert sorted(map(json.dumps, listed)) == sorted(map(json.dumps, raws))
    # absurd listed size: the CDN serves a small real file; Content-Length is the truth
    url = source_urls(http, sim, keys[0])[0]
    assert http.head(url, timeout=T).headers["Content-Length"] == str(KiB)
    # an item without an id is still downloadable through the key add_item returned
    assert download(http, sim, keys[1]).json()["filename"] is None


def test_hostile_download_answer(sim: GoProSimulator, http: requests.Session) -> None:
    key = sim.library.add_item({"id": "aaaaaaaaaaaaaaaaaaaaaaaa"},
                               download={"filename": 3, "_embedded": None})
    assert download(http, sim, key).json() == {"filename": 3, "_embedded": None}


# ---- auth ------------------------------------------------------------------------------------
def token_call(http: requests.Session, sim: GoProSimulator, *, as_json: bool = False,
               **form: str) -> requests.Response:
    url = f"{sim.base_url}/v1/oauth2/token"
    if as_json:
        return http.post(url, json=form, timeout=T)
    return http.post(url, data=form, timeout=T)


def test_oauth_password_and_refresh(sim: GoProSimulator, http: requests.Session) -> None:
    for as_json in (False, True):
        r = token_call(http, sim, as_json=as_json, grant_type="password",
                       username=sim.username, password=sim.password,
                       client_id="web", client_secret="s", scope="root")
        assert r.status_code == 200
        body = r.json()
        assert {"access_token", "refresh_token", "expires_in", "token_type"} <= set(body)
        assert body["expires_in"] == 3600 and body["token_type"] == "Bearer"
    bad = token_call(http, sim, grant_type="password", username=sim.username, password="no")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"

    headers = {"Accept": ACCEPT, "Authorization": f"Bearer {body['access_token']}"}
    assert search(http, sim, headers=headers).status_code == 200
    sim.expire_access_tokens()
    r = search(http, sim, headers=headers)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"

    refreshed = token_call(http, sim, grant_type="refresh_token",
                           refresh_token=body["refresh_token"])
    assert refreshed.status_code == 200
    headers["Authorization"] = f"Bearer {refreshed.json()['access_token']}"
    assert search(http, sim, headers=headers).status_code == 200

    sim.revoke_refresh_tokens()
    for token in (body["refresh_token"], refreshed.json()["refresh_token"]):
        r = token_call(http, sim, grant_type="refresh_token", refresh_token=token)
        assert r.status_code == 400 and r.json()["error"] == "token_blacklisted"
    unknown = token_call(http, sim, grant_type="refresh_token", refresh_token="nope")
    assert unknown.json()["error"] == "invalid_grant"
    assert sim.stats["token"] == 7
    assert sim.stats["token_refresh"] == 4 and sim.stats["token_password"] == 3


def test_token_lifetime_uses_sim_clock(http: requests.Session) -> None:
    with GoProSimulator(token_lifetime_s=60) as sim:
        headers = sim.api_headers()
        assert search(http, sim, headers=headers).status_code == 200
        sim.advance_clock(61)
        assert search(http, sim, headers=headers).status_code == 401


def test_configured_client_id_is_checked(http: requests.Session) -> None:
    with GoProSimulator(client_id="cid", client_secret="sec") as sim:
        user, password = sim.username, sim.password
        assert token_call(http, sim, grant_type="password", username=user,
                          password=password).status_code == 401
        ok = token_call(http, sim, grant_type="password", username=user, password=password,
                        client_id="cid", client_secret="sec")
        assert ok.status_code == 200


def test_browser_cookie_mode(sim: GoProSimulator, http: requests.Session) -> None:
    browser = sim.issue_browser_token()
    assert browser.access_token.startswith("eyJ")
    url = f"{sim.base_url}/media/user"
    ok = requests.get(url, headers={"Accept": ACCEPT, "Cookie": browser.cookie_header},
                      timeout=T)
    assert ok.status_code == 200 and ok.json()["id"] == sim.user_id
    assert "quota" in ok.json()
    assert requests.get(url, cookies=browser.cookies, timeout=T).status_code == 200
    # the same token as a header is refused
    as_header = requests.get(url, headers={"Authorization": f"Bearer {browser.access_token}"},
                             timeout=T)
    assert as_header.status_code == 401
    assert "cookies" in as_header.json()["message"]
    # wrong user id cookie, an OAuth token as cookie, nothing at all
    bad_user = {"gp_access_token": browser.access_token, "gp_user_id": "someone"}
    assert requests.get(url, cookies=bad_user, timeout=T).status_code == 401
    oauth = str(sim.issue_tokens()["access_token"])
    oauth_cookie = {"gp_access_token": oauth, "gp_user_id": sim.user_id}
    assert requests.get(url, cookies=oauth_cookie, timeout=T).status_code == 401
    assert requests.get(url, timeout=T).status_code == 401
    assert download(http, sim, "0" * 24).status_code == 404  # auth first, then 404
    assert http.get(f"{sim.base_url}/media/{'0' * 24}/download", timeout=T).status_code == 401
    # browser tokens expire too
    short = sim.issue_browser_token(lifetime_s=10)
    sim.advance_clock(11)
    assert requests.get(url, cookies=short.cookies, timeout=T).status_code == 401
    assert requests.get(url, cookies=browser.cookies, timeout=T).status_code == 200


# ---- /download shapes --------------------------------------------------------------------------
def test_video_download_shape(sim: GoProSimulator, http: requests.Session) -> None:
    vid = sim.library.add_video(filename="GX010123.MP4", size=2 * MiB, gpmf=True)
    body = download(http, sim, vid).json()
    assert body["filename"] == "GX010123.MP4"
    emb = body["_embedded"]
    assert {"files", "variations", "sidecar_files"} <= set(emb)
    sources = [v for v in emb["variations"] if v["label"] == "source"]
    assert len(sources) == 1 and sources[0]["item_number"] == 1
    assert {v["label"] for v in emb["variations"]} == {"source", "high_res_proxy_mp4", "mp4_low"}
    for entry in [*emb["files"], *emb["variations"], *emb["sidecar_files"]]:
        assert "Expires=" in entry["url"] and "Signature=" in entry["url"]
        assert "Key-Pair-Id=" in entry["url"] and entry["head"]
    assert emb["sidecar_files"][0]["label"] == "gpmf"
    proxy = http.get(emb["files"][0]["url"], timeout=T).content
    original = http.get(sources[0]["url"], timeout=T).content
    assert len(proxy) < len(original) == 2 * MiB
    assert original == content_bytes(vid, "source-1", 0, 2 * MiB)
    assert [f.file_id for f in sim.library.originals(vid)] == ["source-1"]


def test_chaptered_download_shape(sim: GoProSimulator, http: requests.Session) -> None:
    vid = sim.library.add_video(size=3 * MiB + 7, chapters=3)
    emb = download(http, sim, vid).json()["_embedded"]
    sources = [v for v in emb["variations"] if v["label"] == "source"]
    assert [v["item_number"] for v in sources] == [1, 2, 3]
    assert len({v["url"] for v in sources}) == 3
    assert any(v["label"] == "concat" for v in emb["variations"])
    sizes = [int(http.head(v["head"], timeout=T).headers["Content-Length"]) for v in sources]
    assert sum(sizes) == 3 * MiB + 7
    assert [f.size for f in sim.library.originals(vid)] == sizes
    listed = search(http, sim).json()["_embedded"]["media"][0]
    assert listed["item_count"] == 3 and listed["file_size"] == 3 * MiB + 7


def test_burst_download_shape(sim: GoProSimulator, http: requests.Session) -> None:
    burst = sim.library.add_burst(frames=5, frame_size=10 * KiB)
    emb = download(http, sim, burst).json()["_embedded"]
    assert [f["item_number"] for f in emb["files"]] == [1, 2, 3, 4, 5]
    assert [v["label"] for v in emb["variations"]] == ["source"]
    cover = http.get(emb["variations"][0]["url"], timeout=T).content
    frame3 = http.get(emb["files"][2]["url"], timeout=T).content
    assert frame3 == content_bytes(burst, "frame-3", 0, 10 * KiB)
    assert cover != frame3
    assert [f.file_id for f in sim.library.originals(burst)] == [f"frame-{i}" for i in range(1, 6)]


def test_raw_photo_download_shape(sim: GoProSimulator, http: requests.Session) -> None:
    photo = sim.library.add_photo(raw=True, size=100 * KiB, raw_size=300 * KiB)
    emb = download(http, sim, photo).json()["_embedded"]
    raw = [s for s in emb["sidecar_files"] if s["label"] == "raw_photo"]
    assert len(raw) == 1 and raw[0]["type"] == "gpr"
    assert http.get(raw[0]["url"], timeout=T).content == content_bytes(photo, "raw_photo", 0,
                                                                        300 * KiB)
    assert {f.file_id for f in sim.library.originals(photo)} == {"source-1", "raw_photo"}
    plain = sim.library.add_photo()
    assert download(http, sim, plain).json()["_embedded"]["sidecar_files"] == []


def test_removed_media(sim: GoProSimulator, http: requests.Session) -> None:
    gone = sim.library.add_video(size=1000)
    stale = sim.library.add_video(size=1000)
    url = source_urls(http, sim, gone)[0]
    sim.library.remove(gone)
    sim.library.remove(stale, keep_listed=True)
    assert download(http, sim, gone).status_code == 404
    assert download(http, sim, stale).status_code == 404
    assert http.get(url, timeout=T).status_code == 403  # CloudFront+S3 style
    assert [m["id"] for m in search(http, sim).json()["_embedded"]["media"]] == [stale]
    sim.faults.add("stale_listing", "search")
    assert {m["id"] for m in search(http, sim).json()["_embedded"]["media"]} == {gone, stale}
    assert len(search(http, sim).json()["_embedded"]["media"]) == 1


# ---- CDN -----------------------------------------------------------------------------------------
def test_ranges(sim: GoProSimulator, http: requests.Session) -> None:
    size = 5 * MiB + 123
    vid = sim.library.add_video(size=size)
    url = source_urls(http, sim, vid)[0]
    for header, start, end in [("bytes=0-0", 0, 0), ("bytes=100-70000", 100, 70000),
                               ("bytes=3000000-", 3_000_000, size - 1),
                               ("bytes=-500", size - 500, size - 1),
                               ("bytes=5242000-99999999", 5_242_000, size - 1)]:
        r = http.get(url, headers={"Range": header}, timeout=T)
        assert r.status_code == 206, header
        assert r.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
        assert int(r.headers["Content-Length"]) == end - start + 1
        assert r.content == content_bytes(vid, "source-1", start, end - start + 1)
    full = http.get(url, timeout=T)
    assert full.status_code == 200 and len(full.content) == size
    assert zlib.crc32(full.content) == expected_crc32(vid, "source-1", size)
    bad = http.get(url, headers={"Range": f"bytes={size}-"}, timeout=T)
    assert bad.status_code == 416 and bad.headers["Content-Range"] == f"bytes */{size}"
    # malformed and multi-range headers are ignored: 200 with the whole body
    assert http.get(url, headers={"Range": "bytes=0-1,5-6"}, timeout=T).status_code == 200
    assert sim.stats["cdn_206"] == 5 and sim.stats["cdn_get"] == 8


def test_head(sim: GoProSimulator, http: requests.Session) -> None:
    vid = sim.library.add_video(size=777_777)
    body = download(http, sim, vid).json()
    head_url = next(v["head"] for v in body["_embedded"]["variations"] if v["label"] == "source")
    r = http.head(head_url, timeout=T)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Length"] == "777777" and r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["ETag"]
    assert sim.stats["cdn_head"] == 1 and sim.stats["bytes_served"] == 0


def test_cdn_needs_no_auth_and_checks_signature(sim: GoProSimulator,
                                               http: requests.Session) -> None:
    vid = sim.library.add_video(size=1000)
    url = source_urls(http, sim, vid)[0]
    assert http.get(url, timeout=T).status_code == 200
    assert http.get(url, headers={"Authorization": "Bearer junk"}, timeout=T).status_code == 200
    tampered = url.replace("Signature=", "Signature=0")
    assert http.get(tampered, timeout=T).status_code == 403
    extended = url.replace("Expires=", "Expires=9")
    assert http.get(extended, timeout=T).status_code == 403
    unsigned = url.split("?")[0]
    r = http.get(unsigned, timeout=T)
    assert r.status_code == 403 and b"AccessDenied" in r.content


def test_link_expiry(http: requests.Session) -> None:
    with GoProSimulator(link_lifetime_s=120) as sim:
        vid = sim.library.add_video(size=1000)
        url = source_urls(http, sim, vid)[0]
        assert http.get(url, timeout=T).status_code == 200
        sim.advance_clock(121)
        r = http.get(url, timeout=T)
        assert r.status_code == 403 and b"expired" in r.content
        assert http.head(url, timeout=T).status_code == 403
        assert http.get(source_urls(http, sim, vid)[0], timeout=T).status_code == 200


def test_rate_limit_per_connection(http: requests.Session) -> None:
    with GoProSimulator(cdn_rate_limit_bytes_per_s=4 * MiB) as sim:
        vid = sim.library.add_video(size=2 * MiB)
        url = source_urls(http, sim, vid)[0]
        t0 = time.monotonic()
        assert len(http.get(url, timeout=T).content) == 2 * MiB
        assert 0.35 < time.monotonic() - t0 < 2.0


def test_parallel_ranges(sim: GoProSimulator) -> None:
    size = 16 * MiB
    vid = sim.library.add_video(size=size)
    with requests.Session() as s:
        url = source_urls(s, sim, vid)[0]
    part = 2 * MiB

    def fetch(i: int) -> bytes:
        r = requests.get(url, headers={"Range": f"bytes={i * part}-{(i + 1) * part - 1}"},
                         timeout=T)
        assert r.status_code == 206
        return r.content

    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(fetch, range(size // part)))
    assert zlib.crc32(b"".join(parts)) == expected_crc32(vid, "source-1", size)


def test_one_gib_streams_without_growing_memory(sim: GoProSimulator) -> None:
    size = 1 * GiB
    vid = sim.library.add_video(size=size)
    with requests.Session() as s:
        url = source_urls(s, sim, vid)[0]
        tracemalloc.start()
        try:
            r = s.get(url, stream=True, timeout=T)
            assert r.headers["Content-Length"] == str(size)
            got = 0
            while chunk := r.raw.read(1 << 20):
                got += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert got == size
        assert peak < 32 * MiB  # server and client together hold a few chunks, not the file
        for start in (0, size // 2 + 17, size - 4096):
            r = s.get(url, headers={"Range": f"bytes={start}-{start + 4095}"}, timeout=T)
            assert r.content == content_bytes(vid, "source-1", start, 4096)


def test_garbage_requests(sim: GoProSimulator, http: requests.Session) -> None:
    assert http.get(f"{sim.cdn_base_url}/!!notbase64", timeout=T).status_code == 403
    assert http.get(f"{sim.cdn_base_url}/", timeout=T).status_code == 403
    assert http.get(f"{sim.base_url}/nope", timeout=T).status_code == 404
    assert http.post(f"{sim.base_url}/v1/oauth2/token", data=b"\xff{", timeout=T).status_code == 400
    assert http.post(f"{sim.control_url}/faults", data=b"{", timeout=T).status_code == 400
    assert search(http, sim).status_code == 200  # still serving


# ---- faults -------------------------------------------------------------------------------------
def test_rate_limit_fault_both_retry_after_forms(sim: GoProSimulator,
                                                 http: requests.Session) -> None:
    sim.faults.add("rate_limit", "search", retry_after=7)
    r = search(http, sim)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    sim.faults.add("rate_limit", "search", retry_after=30, retry_after_form="date")
    r = search(http, sim)
    assert r.status_code == 429
    when = email.utils.parsedate_to_datetime(r.headers["Retry-After"]).timestamp()
    assert 25 < when - time.time() < 35
    assert search(http, sim).status_code == 200  # count=1 each: spent
    assert sim.stats["fault_rate_limit"] == 2


def test_error_faults_counts_and_after(sim: GoProSimulator, http: requests.Session) -> None:
    vid = sim.library.add_video(size=1000)
    sim.faults.add("error", "download", status=500, count=2)
    assert [download(http, sim, vid).status_code for _ in range(3)] == [500, 500, 200]
    sim.faults.add("error", "download", status=503, after=1, retry_after=2)
    assert download(http, sim, vid).status_code == 200
    r = download(http, sim, vid)
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    sim.faults.add("error", "token", status=503)
    assert token_call(http, sim, grant_type="password").status_code == 503
    # count=None: until removed
    fault = sim.faults.add("error", "cdn_head", status=500, count=None)
    url = source_urls(http, sim, vid)[0]
    assert [http.head(url, timeout=T).status_code for _ in range(3)] == [500] * 3
    assert http.get(url, timeout=T).status_code == 200  # cdn_get untouched
    sim.faults.remove(fault.id)
    assert http.head(url, timeout=T).status_code == 200


def test_media_targeting(sim: GoProSimulator, http: requests.Session) -> None:
    a, b = sim.library.add_video(size=1000), sim.library.add_video(size=1000)
    sim.faults.add("not_found", "download", media_id=b)
    assert download(http, sim, a).status_code == 200
    assert download(http, sim, b).status_code == 404  # listed, then 404
    assert b in [m["id"] for m in search(http, sim).json()["_embedded"]["media"]]
    assert download(http, sim, b).status_code == 200
    sim.faults.add("expired_link", "cdn", media_id=a)
    url_a, url_b = source_urls(http, sim, a)[0], source_urls(http, sim, b)[0]
    assert http.get(url_b, timeout=T).status_code == 200
    r = http.get(url_a, timeout=T)
    assert r.status_code == 403 and b"expired" in r.content
    assert http.get(url_a, timeout=T).status_code == 200


def test_reset_mid_body(sim: GoProSimulator) -> None:
    vid = sim.library.add_video(size=4 * MiB)
    with requests.Session() as s:
        url = source_urls(s, sim, vid)[0]
    sim.faults.add("reset", "cdn_get", after_bytes=1 * MiB)
    r = requests.get(url, stream=True, timeout=T)
    assert r.status_code == 200
    got = bytearray()
    with pytest.raises((requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ConnectionError)):
        for chunk in r.iter_content(64 * KiB):
            got += chunk
    assert 0 < len(got) <= 1 * MiB
    assert bytes(got) == content_bytes(vid, "source-1", 0, len(got))
    assert requests.get(url, timeout=T).status_code == 200  # the next one is fine
    # HEAD cannot be cut mid-body: the connection drops before the answer
    sim.faults.add("reset", "cdn_head")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.head(url, timeout=T)


def test_truncated_body(sim: GoProSimulator, http: requests.Session) -> None:
    vid = sim.library.add_video(size=1 * MiB)
    url = source_urls(http, sim, vid)[0]
    sim.faults.add("truncate", "cdn_get", after_bytes=1000)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http.get(url, timeout=T)
    # also on API answers: the JSON stops early
    sim.faults.add("truncate", "search")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        search(http, sim)
    assert search(http, sim).status_code == 200


def test_ignore_range(sim: GoProSimulator, http: requests.Session) -> None:
    vid = sim.library.add_video(size=300 * KiB)
    url = source_urls(http, sim, vid)[0]
    sim.faults.add("ignore_range", "cdn_get")
    r = http.get(url, headers={"Range": "bytes=100-199"}, timeout=T)
    assert r.status_code == 200 and "Content-Range" not in r.headers
    assert r.content == content_bytes(vid, "source-1", 0, 300 * KiB)
    assert http.get(url, headers={"Range": "bytes=100-199"}, timeout=T).status_code == 206


def test_page_overlap(sim: GoProSimulator, http: requests.Session) -> None:
    ids = list(reversed([sim.library.add_video(size=10) for _ in range(10)]))
    sim.faults.add("overlap", "search")
    first_page = search(http, sim, page=1, per_page=4).json()["_embedded"]["media"]
    second = search(http, sim, page=2, per_page=4).json()["_embedded"]["media"]
    assert [m["id"] for m in first_page] == ids[:4]  # page 1 cannot overlap: fault kept
    assert [m["id"] for m in second] == ids[3:8]  # repeats the last item of page 1
    third = search(http, sim, page=3, per_page=4).json()["_embedded"]["media"]
    assert [m["id"] for m in third] == ids[8:]


def test_slow_and_unauthorized(sim: GoProSimulator, http: requests.Session) -> None:
    sim.faults.add("slow", "user", delay_s=0.3)
    t0 = time.monotonic()
    assert http.get(f"{sim.base_url}/media/user", headers=api(sim), timeout=T).ok
    assert time.monotonic() - t0 >= 0.3
    sim.faults.add("unauthorized", "api")
    assert search(http, sim).status_code == 401


def test_fault_validation(sim: GoProSimulator) -> None:
    with pytest.raises(ValueError):
        sim.faults.add("explode")
    with pytest.raises(ValueError):
        sim.faults.add("error", "nowhere")
    with pytest.raises((TypeError, ValueError)):
        sim.faults.add("error", "api", bogus=1)


def test_faults_over_http(sim: GoProSimulator, http: requests.Session) -> None:
    ctl = sim.control_url
    r = http.post(f"{ctl}/faults", json=[{"kind": "rate_limit", "target": "search",
                                          "retry_after": 3},
                                         {"kind": "error", "target": "cdn_get", "status": 500}],
                  timeout=T)
    assert r.status_code == 200 and [f["id"] for f in r.json()["faults"]] == [1, 2]
    assert search(http, sim).status_code == 429
    assert http.post(f"{ctl}/faults", json={"kind": "nope"}, timeout=T).status_code == 400
    listed = http.get(f"{ctl}/faults", timeout=T).json()["faults"]
    assert [f["hits"] for f in listed] == [1, 0]
    assert http.delete(f"{ctl}/faults", timeout=T).json() == {"faults": []}
    assert sim.faults.all() == []
    stats = http.get(f"{ctl}/stats", timeout=T).json()
    assert stats["search"] == 1
    http.post(f"{ctl}/auth", json={"action": "expire_access_tokens"}, timeout=T)
    headers = api(sim)
    sim.expire_access_tokens()
    assert search(http, sim, headers=headers).status_code == 401
    assert http.post(f"{ctl}/auth", json={"action": "x"}, timeout=T).status_code == 400


def test_stats_count_endpoints(sim: GoProSimulator, http: requests.Session) -> None:
    vid = sim.library.add_video(size=5000)
    url = source_urls(http, sim, vid)[0]
    http.get(url, timeout=T)
    http.get(url, headers={"Range": "bytes=0-99"}, timeout=T)
    http.head(url, timeout=T)
    snap = sim.stats.snapshot()
    assert snap["download"] == 1 and snap["cdn_get"] == 2 and snap["cdn_head"] == 1
    assert snap["bytes_served"] == 5100
    sim.stats.reset()
    assert sim.stats["cdn_get"] == 0


# ---- standalone ----------------------------------------------------------------------------------
def test_main_runs_standalone() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root / "local"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudsync_local.simulator", "--port", "0", "--demo-library"],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert {"base_url", "username", "password", "access_token", "gp_access_token"} <= set(info)
        r = requests.get(f"{info['base_url']}/media/search",
                         headers={"Accept": ACCEPT,
                                  "Authorization": f"Bearer {info['access_token']}"}, timeout=T)
        assert r.json()["_pages"]["total_items"] == len(info["media_ids"]) >= 8
        token = requests.post(f"{info['base_url']}/v1/oauth2/token",
                              data={"grant_type": "password", "username": info["username"],
                                    "password": info["password"]}, timeout=T)
        assert token.status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=T) == 0
