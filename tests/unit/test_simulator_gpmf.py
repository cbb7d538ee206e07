"""The simulator's telemetry originals: real GPMF payloads moved to a chosen place and time,
inside an MP4 whose bytes the simulator serves by range like any other file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cloudsync_core.telemetry import exif, mp4, track
from cloudsync_core.telemetry.index import meta_key, video_telemetry
from cloudsync_core.telemetry.sources import memory_blob, sidecar_links
from cloudsync_local.simulator import content_bytes, expected_crc32, mp4gpmf
from cloudsync_local.simulator.library import Library, MiB
from cloudsync_local.simulator.mp4gpmf import (
    TrackSpec,
    add_photo_gps,
    add_track,
    mp4_patches,
    render,
    samples_available,
    track_payloads,
)

needs_samples = pytest.mark.skipif(not samples_available(),
                                   reason="GoPro's GPMF samples (../shared) are not there")
START = datetime(2024, 6, 1, 10, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def forget_telemetry_files() -> Iterator[None]:
    """Media ids repeat across simulators of one seed: no other test may see these bytes."""
    yield
    mp4gpmf.clear()


@needs_samples
def test_a_built_mp4_carries_the_moved_track() -> None:
    spec = TrackSpec(-33.8688, 151.2093, START, seconds=5, speed_mps=10.0, heading_deg=180)
    size = 512 * 1024
    data = render(mp4_patches(track_payloads(spec), size), size)
    assert len(data) == size
    t = video_telemetry([memory_blob("original", "x.mp4", data)])
    summary = t.summary()
    assert summary["start"] == pytest.approx([-33.8688, 151.2093], abs=1e-6)
    assert summary["first_fix_utc"] == "2024-06-01T10:00:00Z"
    assert summary["camera"] == "Camera"
    # 4 s southwards at 10 m/s, plus the real payload's own few decimetres of wander
    assert summary["distance_m"] == pytest.approx(40.0, abs=2.0)
    assert summary["end"][0] < summary["start"][0]
    assert t.payloads == 5 and t.gps_samples == 5 * 18


def test_too_small_a_file_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        mp4_patches([b"\0" * 4096], 1024)


@needs_samples
def test_served_ranges_are_the_mp4_and_checksums_agree() -> None:
    lib = Library(seed="gpmf")
    video = lib.add_video(size=1 * MiB, chapters=2, gpmf=True)
    media = lib.get(video)
    add_track(media, TrackSpec(47.0, 8.0, START, seconds=4, camera="fusion"))
    chapter = media.variations[0]
    whole = content_bytes(video, chapter.file_id, 0, chapter.size)
    # any range is the same bytes as the whole file there (patches cut across chunks)
    assert content_bytes(video, chapter.file_id, 1000, 300_000) == whole[1000:301_000]
    assert chapter.crc32() == expected_crc32(video, chapter.file_id, chapter.size)
    reads: list[int] = []

    def read(offset: int, length: int) -> bytes:
        reads.append(length)
        return content_bytes(video, chapter.file_id, offset, length)

    payloads = list(mp4.payloads(read, chapter.size))
    assert len(payloads) == 2  # four seconds over two chapters
    assert sum(reads) < chapter.size // 4
    sidecar = [f for f in media.sidecar_files if f.label == "gpmf" and f.type == "1.mp4"]
    assert len(sidecar) == 1
    blob = content_bytes(video, "gpmf", 0, sidecar[0].size)
    t = video_telemetry([memory_blob("gpmf-sidecar", "gpmf.mp4", blob)])
    assert t.payloads == 4 and t.camera == "Fusion"


def test_photo_exif_and_sidecar_links() -> None:
    lib = Library(seed="exif")
    photo = lib.add_photo(size=256 * 1024)
    add_photo_gps(lib.get(photo), 51.5007, -0.1246, START)
    facts = exif.photo_facts(content_bytes(photo, "source-1", 0, exif.HEAD_BYTES))
    assert facts.lat == pytest.approx(51.5007, abs=1e-6)
    assert facts.lon == pytest.approx(-0.1246, abs=1e-6)
    assert facts.taken_utc == START
    answer = {"_embedded": {"sidecar_files": [
        {"label": "gpmf", "type": "antishake.json", "url": "https://x/a"},
        {"label": "gpmf", "type": "1.mp4", "url": "https://x/2", "item_number": 2},
        {"label": "gpmf", "type": "1.mp4", "url": "https://x/1", "item_number": 1},
        {"label": "raw_photo", "type": "gpr", "url": "https://x/r"}]}}
    assert sidecar_links(answer) == ["https://x/1", "https://x/2"]
    assert sidecar_links({"_embedded": None}) == []
    assert meta_key("gopro-videos/2024/06/AbC/GX010001.MP4") == (
        "gopro-videos/2024/06/AbC/_meta/telemetry.json")
    assert track.Telemetry().summary() == {"has_gps": False, "camera": None}
