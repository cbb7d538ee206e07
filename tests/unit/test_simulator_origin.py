"""The simulator's CDN as an S3 origin shows it: ETags, If-Match, and the CDN-side faults
(bytes that change between reads, drip, silence, wrong Content-Range totals, Range ignored)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import pytest
import requests

from cloudsync_local.simulator import GoProSimulator
from cloudsync_local.simulator.library import SimFile

MiB = 1024 * 1024
T = 5


@pytest.fixture
def sim() -> Iterator[GoProSimulator]:
    with GoProSimulator() as s:
        yield s


def _file(sim: GoProSimulator, size: int) -> tuple[SimFile, str]:
    media_id = sim.library.add_video(size=size)
    (f,) = sim.library.originals(media_id)
    return f, sim.sign(media_id, f.file_id)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _multipart(data: bytes, part: int) -> str:
    digests = b"".join(hashlib.md5(data[i : i + part], usedforsecurity=False).digest()
                       for i in range(0, len(data), part))
    return f'"{_md5(digests)}-{-(-len(data) // part)}"'


def test_etags_are_s3s_single_put_md5_or_multipart(sim: GoProSimulator) -> None:
    small, small_url = _file(sim, 3 * MiB)
    big, big_url = _file(sim, 12 * MiB + 7)
    assert requests.head(small_url, timeout=T).headers["ETag"] == f'"{_md5(small.content())}"'
    assert requests.head(big_url, timeout=T).headers["ETag"] == _multipart(big.content(), 5 * MiB)
    sim.origin.set_style(big.media_id, big.file_id, "multipart", part_mib=8)
    assert requests.head(big_url, timeout=T).headers["ETag"] == _multipart(big.content(), 8 * MiB)
    sim.origin.set_style(big.media_id, big.file_id, "none")
    assert "ETag" not in requests.head(big_url, timeout=T).headers
    sim.origin.set_style(big.media_id, big.file_id, "opaque")
    assert requests.head(big_url, timeout=T).headers["ETag"].startswith('"sim-')
    sim.origin.set_style(small.media_id, small.file_id, "corrupt")
    assert requests.head(small_url, timeout=T).headers["ETag"] != f'"{_md5(small.content())}"'
    with pytest.raises(ValueError):
        sim.origin.set_style(big.media_id, big.file_id, "sha1")


def test_big_files_are_not_hashed_by_default(sim: GoProSimulator) -> None:
    sim.origin.hash_limit = 4 * MiB
    _, url = _file(sim, 6 * MiB)
    assert requests.head(url, timeout=T).headers["ETag"].startswith('"sim-')


def test_if_match_is_honoured(sim: GoProSimulator) -> None:
    _, url = _file(sim, 6 * MiB)
    etag = requests.head(url, timeout=T).headers["ETag"]
    ok = requests.get(url, headers={"Range": "bytes=0-9", "If-Match": etag}, timeout=T)
    assert ok.status_code == 206 and len(ok.content) == 10
    assert requests.get(url, headers={"If-Match": "*", "Range": "bytes=0-0"},
                        timeout=T).status_code == 206
    stale = requests.get(url, headers={"Range": "bytes=0-9", "If-Match": '"0123"'}, timeout=T)
    assert stale.status_code == 412 and b"PreconditionFailed" in stale.content


def test_a_file_that_changes_between_reads(sim: GoProSimulator) -> None:
    f, url = _file(sim, 6 * MiB)
    sim.faults.add("change", "cdn_get", media_id=f.media_id, after=1)
    first = requests.get(url, headers={"Range": "bytes=0-1023"}, timeout=T)
    second = requests.get(url, headers={"Range": "bytes=0-1023"}, timeout=T)
    third = requests.get(url, headers={"Range": "bytes=0-1023"}, timeout=T)
    assert first.content == f.content(0, 1024)
    assert second.content != first.content and second.content == sim.origin.content(f, 0, 1024)
    assert third.content == second.content  # it stays changed
    assert second.headers["ETag"] != first.headers["ETag"]
    assert second.headers["Last-Modified"] != first.headers["Last-Modified"]
    assert second.headers["ETag"] == _multipart(sim.origin.content(f), 5 * MiB)
    pinned = requests.get(url, headers={"Range": "bytes=0-9", "If-Match": first.headers["ETag"]},
                          timeout=T)
    assert pinned.status_code == 412


def test_a_wrong_content_range_total_and_range_ignored_for_some_parts(
    sim: GoProSimulator,
) -> None:
    f, url = _file(sim, 6 * MiB)
    sim.faults.add("wrong_total", "cdn_get", media_id=f.media_id)
    sim.faults.add("ignore_range", "cdn_get", media_id=f.media_id, after=1)
    wrong = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=T)
    assert wrong.headers["Content-Range"] == f"bytes 0-9/{f.size + 1}"
    assert wrong.content == f.content(0, 10)  # the body itself is right
    whole = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=T)
    assert whole.status_code == 200 and len(whole.content) == f.size
    again = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=T)
    assert again.status_code == 206 and again.headers["Content-Range"] == f"bytes 0-9/{f.size}"


def test_a_dripping_body(sim: GoProSimulator) -> None:
    f, url = _file(sim, 6 * MiB)
    sim.faults.add("drip", "cdn_get", media_id=f.media_id, delay_s=0.2, drip_bytes=2)
    began = time.monotonic()
    with requests.get(url, headers={"Range": "bytes=0-5"}, stream=True, timeout=T) as r:
        assert r.status_code == 206 and time.monotonic() - began < 0.2  # headers at once
        body = r.raw.read(6)
    assert body == f.content(0, 6)
    assert time.monotonic() - began >= 0.4  # three drops, 0.2 s apart


def test_a_silent_body(sim: GoProSimulator) -> None:
    f, url = _file(sim, 6 * MiB)
    sim.faults.add("silence", "cdn_get", media_id=f.media_id, after_bytes=3, delay_s=30)
    with requests.get(url, headers={"Range": "bytes=0-99"}, stream=True,
                      timeout=(T, 0.5)) as r:
        assert r.status_code == 206 and r.raw.read(3) == f.content(0, 3)
        with pytest.raises(requests.exceptions.ConnectionError):  # urllib3's read timeout
            for _ in r.iter_content(10):
                pass


def test_cdn_faults_arm_over_http(sim: GoProSimulator) -> None:
    answer = requests.post(f"{sim.control_url}/faults", json=[
        {"kind": "drip", "target": "cdn", "delay_s": 0.1, "drip_bytes": 4},
        {"kind": "change", "target": "cdn_get"},
        {"kind": "silence", "target": "cdn_get"},
        {"kind": "wrong_total", "target": "cdn_get"},
    ], timeout=T)
    assert answer.status_code == 200 and len(answer.json()["faults"]) == 4
