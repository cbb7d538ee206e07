"""The stream cutter: a body of any chunking cut into exactly the planned parts, asked at each
boundary, never reading past a stop, and refusing a stream of the wrong length."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator

import pytest

from cloudsync_core.errors import SizeMismatchError, TransientError
from cloudsync_core.transfer.cutter import Cut, cut_stream
from cloudsync_core.transfer.plan import PartRange

DATA = random.Random(7).randbytes(10_000)
# The cutter takes any contiguous plan (S3's 5 MiB floor is the planner's business).
PLAN = [PartRange(1, 0, 2_999), PartRange(2, 3_000, 5_999), PartRange(3, 6_000, 8_999),
        PartRange(4, 9_000, 9_999)]


class Chunks:
    """A body in chunks of the given sizes (cycled), counting how many were handed out."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.given = data, sizes, 0

    def __iter__(self) -> Iterator[bytes]:
        pos = 0
        while pos < len(self.data):
            size = self.sizes[self.given % len(self.sizes)]
            self.given += 1
            yield self.data[pos : pos + size]
            pos += size


def _keep_all(_part: PartRange) -> Cut:
    return Cut.KEEP


@pytest.mark.parametrize("sizes", [[1], [7, 4093], [3_000], [10_000], [2_999, 2]])
def test_any_chunking_gives_the_planned_parts_byte_exact(sizes: list[int]) -> None:
    pieces = list(cut_stream(Chunks(DATA, sizes), PLAN, _keep_all))
    assert [p.part for p in pieces] == PLAN
    for piece in pieces:
        assert piece.data == DATA[piece.part.start : piece.part.end + 1]


def test_checked_parts_give_their_crc32_and_no_bytes() -> None:
    def decide(part: PartRange) -> Cut:
        return Cut.CHECK if part.number in (1, 3) else Cut.KEEP

    pieces = list(cut_stream(Chunks(DATA, [1_234]), PLAN, decide))
    for piece in pieces:
        expected = DATA[piece.part.start : piece.part.end + 1]
        if piece.part.number in (1, 3):
            assert piece.data is None and piece.crc32 == zlib.crc32(expected)
        else:
            assert piece.data == expected


def test_each_part_is_decided_once_in_order_before_its_bytes_are_read() -> None:
    chunks = Chunks(DATA, [3_000])  # one chunk per part
    asked: list[tuple[int, int]] = []

    def decide(part: PartRange) -> Cut:
        asked.append((part.number, chunks.given))
        return Cut.KEEP

    list(cut_stream(chunks, PLAN, decide))
    assert asked == [(1, 0), (2, 1), (3, 2), (4, 3)]


def test_a_stop_reads_nothing_more() -> None:
    chunks = Chunks(DATA, [3_000])

    def decide(part: PartRange) -> Cut:
        return Cut.STOP if part.number == 3 else Cut.KEEP

    pieces = list(cut_stream(chunks, PLAN, decide))
    assert [p.part.number for p in pieces] == [1, 2]
    assert chunks.given == 2  # part 3's chunk was never pulled from the source


def test_reading_ends_with_the_last_planned_part() -> None:
    plan = PLAN[:2]  # the caller plans only the first 6000 bytes of a longer body
    chunks = Chunks(DATA, [3_000])
    assert [p.part.number for p in cut_stream(chunks, plan, _keep_all)] == [1, 2]
    assert chunks.given == 2


def test_more_bytes_than_planned_is_a_size_mismatch() -> None:
    with pytest.raises(SizeMismatchError) as err:
        list(cut_stream(Chunks(DATA + b"extra", [10_005]), PLAN, _keep_all))
    assert (err.value.expected, err.value.actual) == (10_000, 10_005)


def test_a_short_stream_is_transient_and_says_how_far_it_got() -> None:
    with pytest.raises(TransientError, match="expected 10000 bytes, received 7000"):
        list(cut_stream(Chunks(DATA[:7_000], [500]), PLAN, _keep_all))


def test_an_empty_plan_reads_nothing() -> None:
    chunks = Chunks(DATA, [100])
    assert list(cut_stream(chunks, [], _keep_all)) == []
    assert chunks.given == 0
