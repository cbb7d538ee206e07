"""read_whole: a file smaller than a part, exactly its planned size or a typed error, by range
or (where the source ignores Range) by stream."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudsync_core.errors import SizeMismatchError, TransientError
from cloudsync_core.transfer import SourceInfo, read_whole

DATA = bytes(range(256)) * 40  # 10,240 bytes


class FakeSource:
    """Serves ``body`` whatever is asked: a range read gets the asked slice of it, a stream
    gets it in 1,000-byte chunks."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.ranges: list[tuple[int, int]] = []

    def read_range(self, start: int, end: int, *, deadline: float | None = None) -> bytes:
        self.ranges.append((start, end))
        return self.body[start : end + 1]

    def stream(self, *, deadline: float | None = None) -> Iterator[bytes]:
        for i in range(0, len(self.body), 1_000):
            yield self.body[i : i + 1_000]


@pytest.mark.parametrize("ranges", [True, False])
def test_the_whole_file_in_one_piece(ranges: bool) -> None:
    source = FakeSource(DATA)
    assert read_whole(source, SourceInfo(len(DATA), ranges), 0.0) == DATA
    assert source.ranges == ([(0, len(DATA) - 1)] if ranges else [])


@pytest.mark.parametrize("ranges", [True, False])
def test_fewer_bytes_than_planned_is_transient(ranges: bool) -> None:
    with pytest.raises(TransientError):
        read_whole(FakeSource(DATA[:-1]), SourceInfo(len(DATA), ranges), 0.0)


def test_a_stream_longer_than_planned_is_a_size_mismatch() -> None:
    with pytest.raises(SizeMismatchError) as err:
        read_whole(FakeSource(DATA + b"x"), SourceInfo(len(DATA), False), 0.0)
    assert err.value.expected == len(DATA)


def test_an_empty_file_reads_nothing() -> None:
    source = FakeSource(DATA)
    assert read_whole(source, SourceInfo(0, True), 0.0) == b""
    assert source.ranges == []
