"""Reading back in bounded memory: CRC32 combined over parallel ranges, GoPro's part MD5s on
the origin's boundaries, every possible layout in one pass when the part size is unknown."""

from __future__ import annotations

import hashlib
import io
import threading
import tracemalloc
import zlib
from typing import Any

import pytest
from botocore.response import StreamingBody

from cloudsync_core.readback import digest
from cloudsync_core.readback.check import (
    CORRUPT,
    OK,
    UNCHECKED,
    OriginLayouts,
    ReadResult,
    judge,
    origin_layouts,
    readability,
)
from cloudsync_core.readback.digest import WHOLE, PartHasher, Where, plan_ranges, read_object
from cloudsync_core.transfer.checksums import crc32_to_b64
from cloudsync_core.transfer.origin import multipart_etag

MiB = 1024 * 1024


def pattern(offset: int, length: int) -> bytes:
    """Deterministic bytes of a virtual object, any range, without holding the object."""
    block = bytes(range(251)) * 5
    start = offset % 251
    reps = (start + length) // len(block) + 2
    return (block * reps)[start : start + length]


class PatternRaw(io.RawIOBase):
    def __init__(self, start: int, end: int) -> None:
        self.pos, self.end = start, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.end - self.pos, 256 * 1024)
        buffer[:n] = pattern(self.pos, n)
        self.pos += n
        return n


class FakeS3:
    """get_object(Range=...) streams pattern bytes; nothing is ever held whole."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.ranges: list[str] = []
        self.lock = threading.Lock()

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        first, last = (int(x) for x in kwargs["Range"].removeprefix("bytes=").split("-"))
        with self.lock:
            self.ranges.append(kwargs["Range"])
        raw = io.BufferedReader(PatternRaw(first, last + 1), buffer_size=256 * 1024)
        return {"Body": StreamingBody(raw, last + 1 - first)}

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        return {"ContentLength": self.size}  # one part: a single PUT tells no part size


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def whole(size: int) -> bytes:
    return b"".join(pattern(o, min(MiB, size - o)) for o in range(0, size, MiB))


def test_part_hasher_cuts_on_part_boundaries_across_chunks() -> None:
    data = whole(11 * MiB + 5)
    hasher = PartHasher(5 * MiB)
    for i in range(0, len(data), 777_777):  # chunks that straddle the boundaries
        hasher.update(memoryview(data)[i : i + 777_777])
    expected = [md5(data[i : i + 5 * MiB]) for i in range(0, len(data),
                                                                             5 * MiB)]
    assert hasher.finish() == expected
    assert PartHasher(WHOLE).finish() == [md5(b"")]


def test_ranges_start_on_origin_part_boundaries() -> None:
    ranges = plan_ranges(200 * MiB, 5 * MiB)
    assert all(start % (5 * MiB) == 0 for start, _ in ranges)
    assert ranges[0] == (0, 125 * MiB) and ranges[-1][1] == 200 * MiB
    assert plan_ranges(10, WHOLE) == [(0, 10)] and plan_ranges(0, None) == []


def test_parallel_ranges_give_the_whole_objects_crc32_and_part_md5s(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digest, "SEGMENT", 8 * MiB)
    size = 30 * MiB + 3
    s3 = FakeS3(size)
    got = read_object(s3, Where("b", "k", "v1"), size, (5 * MiB,))  # type: ignore[arg-type]
    data = whole(size)
    assert len(s3.ranges) == 7 and got.length == size
    assert got.crc32 == zlib.crc32(data)
    assert got.md5s[5 * MiB] == [md5(data[i : i + 5 * MiB])
                                 for i in range(0, size, 5 * MiB)]


def test_memory_stays_bounded_whatever_the_objects_size() -> None:
    size = 256 * MiB
    tracemalloc.start()
    try:
        read_object(FakeS3(size), Where("b", "k", None), size, ())  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 * MiB, peak  # a few chunks per reader, never the object


def test_several_possible_layouts_are_hashed_in_one_pass() -> None:
    size = 11 * MiB
    data = whole(size)
    etag = multipart_etag(md5(data[i : i + 8 * MiB])
                          for i in range(0, size, 8 * MiB))
    s3 = FakeS3(size)
    layouts = origin_layouts(s3, Where("b", "k", None), etag, size)  # type: ignore[arg-type]
    assert 8 * MiB in layouts.part_sizes and len(layouts.part_sizes) > 1
    got = read_object(s3, Where("b", "k", None), size, layouts.part_sizes)  # type: ignore[arg-type]
    assert len(s3.ranges) == 1
    result = judge(ReadResult("m", "k", None, size), {"crc32": crc32_to_b64(zlib.crc32(data)),
                                                      "origin": "match"}, got, layouts)
    assert (result.state, result.crc32, result.origin) == (OK, "match", "match")


def _judged(data: bytes, record: dict[str, Any], layouts: OriginLayouts | None) -> ReadResult:
    got = digest.ObjectDigest(len(data), zlib.crc32(data),
                              {p: _md5s(data, p)
                               for p in (layouts.part_sizes if layouts else ())})
    return judge(ReadResult("m", "k", None, len(data)), record, got, layouts)


def _md5s(data: bytes, part: int) -> list[str]:
    hasher = PartHasher(part)
    hasher.update(memoryview(data))
    return hasher.finish()


def test_gopros_checksum_not_reproduced_is_corruption_even_with_a_matching_crc() -> None:
    data = b"x" * 1000
    record = {"crc32": crc32_to_b64(zlib.crc32(data)), "origin": "match"}
    wrong = OriginLayouts((WHOLE,), md5(b"other"))
    result = _judged(data, record, wrong)
    assert (result.state, result.crc32, result.origin) == (CORRUPT, "match", "mismatch")
    right = OriginLayouts((WHOLE,), md5(data))
    assert _judged(data, record, right).state == OK


def test_crc_mismatch_and_nothing_recorded() -> None:
    data = b"abc"
    bad = _judged(data, {"crc32": crc32_to_b64(zlib.crc32(b"abd")), "origin": "unknown"}, None)
    assert (bad.state, bad.crc32, bad.origin) == (CORRUPT, "mismatch", "unknown")
    assert "CRC32" in str(bad.problem)
    assert _judged(data, {}, None).state == UNCHECKED


def test_readability_of_archive_classes() -> None:
    assert readability({"StorageClass": "STANDARD"}) == "readable"
    assert readability({"StorageClass": "GLACIER_IR"}) == "readable"
    assert readability({"StorageClass": "DEEP_ARCHIVE"}) == "needs_restore"
    assert readability({"StorageClass": "GLACIER",
                        "Restore": 'ongoing-request="true"'}) == "restoring"
    assert readability({"StorageClass": "DEEP_ARCHIVE", "Restore":
                        'ongoing-request="false", expiry-date="Fri, 04 Dec 2026"'}) == "readable"
    assert readability({"StorageClass": "INTELLIGENT_TIERING",
                        "ArchiveStatus": "DEEP_ARCHIVE_ACCESS"}) == "needs_restore"
