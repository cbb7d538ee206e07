"""Pure logic of the transfer engine: part sizing, ranges, slices, CRC32 arithmetic."""

from __future__ import annotations

import base64
import random
import time
import zlib

import pytest

from cloudsync_core.errors import InvalidMediaError
from cloudsync_core.transfer import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    PartRange,
    b64_to_crc32,
    choose_part_size,
    combine_parts,
    crc32_b64,
    crc32_combine,
    crc32_to_b64,
    part_count,
    part_ranges,
    slices,
)
from cloudsync_core.transfer.source import parse_content_range

MIB = 1024 * 1024
GIB = 1024 * MIB


def _valid(size: int, part_size: int) -> None:
    assert part_size % MIB == 0
    assert MIN_PART_SIZE <= part_size <= MAX_PART_SIZE
    assert part_count(size, part_size) <= MAX_PARTS


@pytest.mark.parametrize(
    "size",
    [0, 1, MIB, 5 * MIB, 16 * MIB + 1, 4_000_000_000, 4 * GIB, 100 * GIB, 160 * GIB,
     MAX_OBJECT_SIZE - 1, MAX_OBJECT_SIZE],
)
def test_part_size_respects_s3_limits(size: int) -> None:
    _valid(size, choose_part_size(size))


def test_part_size_defaults() -> None:
    assert choose_part_size(12 * MIB) == 8 * MIB
    assert choose_part_size(4_000_000_000) == 16 * MIB  # a 4 GB video: 239 parts
    assert part_count(4_000_000_000, 16 * MIB) == 239
    # 5 TiB needs 525 MiB parts; grown a MiB at a time (not doubled to 1 GiB: memory)
    assert choose_part_size(MAX_OBJECT_SIZE) == 525 * MIB
    assert part_count(MAX_OBJECT_SIZE, 525 * MIB) <= MAX_PARTS
    # just above 16 MiB x 10,000 the parts grow to the next whole MiB
    assert choose_part_size(16 * MIB * MAX_PARTS + 1) == 17 * MIB


def test_preferred_part_size_is_clamped() -> None:
    assert choose_part_size(100 * MIB, preferred_mib=1) == MIN_PART_SIZE
    assert choose_part_size(100 * MIB, preferred_mib=64) == 64 * MIB
    assert choose_part_size(100 * MIB, preferred_mib=10_000) == MAX_PART_SIZE
    assert choose_part_size(MAX_OBJECT_SIZE, preferred_mib=5) == 525 * MIB


def test_too_big_or_negative() -> None:
    with pytest.raises(InvalidMediaError):
        choose_part_size(MAX_OBJECT_SIZE + 1)
    with pytest.raises(ValueError):
        choose_part_size(-1)


@pytest.mark.parametrize("size", [0, 1, 5 * MIB, 5 * MIB + 1, 12 * MIB, 30 * MIB])
def test_part_ranges_cover_the_file_exactly(size: int) -> None:
    parts = part_ranges(size, 5 * MIB)
    assert [p.number for p in parts] == list(range(1, len(parts) + 1))
    pos = 0
    for p in parts:
        assert p.start == pos and p.length > 0
        pos = p.end + 1
    assert pos == size
    assert all(p.length == 5 * MIB for p in parts[:-1])


def test_part_ranges_refuse_what_s3_refuses() -> None:
    with pytest.raises(ValueError):
        part_ranges(10 * MIB, MIB)  # parts under 5 MiB
    with pytest.raises(ValueError):
        part_ranges(MAX_PARTS * 5 * MIB + 1, 5 * MIB)  # 10,001 parts
    assert len(part_ranges(MIB, MIB)) == 1  # a single part may be small


def test_slices_group_consecutive_parts_within_the_byte_limit() -> None:
    parts = part_ranges(100 * MIB, 8 * MIB)  # 13 parts
    out = slices(parts, 32 * MIB)
    assert [(s.first, s.last) for s in out] == [(1, 4), (5, 8), (9, 12), (13, 13)]
    assert sum(s.length for s in out) == 100 * MIB
    assert list(out[1].numbers) == [5, 6, 7, 8]
    # gaps (parts already uploaded) split slices
    some = [p for p in parts if p.number not in (3, 4, 10)]
    assert [(s.first, s.last) for s in slices(some, 32 * MIB)] == [
        (1, 2), (5, 8), (9, 9), (11, 13)
    ]
    # a part bigger than the limit is a slice of its own
    assert [(s.first, s.last) for s in slices(parts, MIB)] == [(n, n) for n in range(1, 14)]
    assert slices([], MIB) == []
    assert slices([PartRange(2, 0, 9), PartRange(1, 0, 9)], 100)[0].first == 1


def test_crc32_combine_matches_zlib_over_random_splits() -> None:
    rng = random.Random(7)
    data = rng.randbytes(300_000)
    whole = zlib.crc32(data)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 8)))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert combine_parts((zlib.crc32(p), len(p)) for p in pieces) == whole
        a, b = data[: cuts[0]], data[cuts[0] :]
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == whole
    assert crc32_combine(123, 0, 0) == 123
    assert crc32_combine(0, zlib.crc32(b"xyz"), 3) == zlib.crc32(b"\0" * 0 + b"xyz")
    empty_first = crc32_combine(zlib.crc32(b""), zlib.crc32(b"abc"), 3)
    assert empty_first == zlib.crc32(b"abc")


def test_crc32_combine_is_fast_for_ten_thousand_parts() -> None:
    part = 525 * MIB
    parts = [(i * 2654435761 & 0xFFFFFFFF, part) for i in range(MAX_PARTS - 1)]
    parts.append((42, 12345))
    t0 = time.perf_counter()
    combine_parts(parts)
    assert time.perf_counter() - t0 < 2.0


def test_base64_format_matches_s3() -> None:
    data = b"hello world"
    crc = zlib.crc32(data)
    text = crc32_b64(data)
    assert base64.b64decode(text) == crc.to_bytes(4, "big")
    assert crc32_to_b64(crc) == text and b64_to_crc32(text) == crc
    assert crc32_to_b64(0) == "AAAAAA=="
    for bad in ("", "AAAA", "abc-3", "AAAAAAAA-2", "é"):
        with pytest.raises(ValueError):
            b64_to_crc32(bad)
    with pytest.raises(ValueError):
        crc32_to_b64(1 << 32)


def test_content_range_parsing() -> None:  # Retry-After parsing: tests/unit/test_http.py
    assert parse_content_range("bytes 0-0/1234") == (0, 0, 1234)
    assert parse_content_range("bytes 10-19/*") == (10, 19, None)
    assert parse_content_range("bytes */1234") is None
