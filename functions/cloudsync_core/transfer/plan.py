"""How a file is cut into multipart parts, and how parts are shared out between invocations.

S3's limits: every part but the last is at least 5 MiB, at most 5 GiB; at most 10,000 parts;
an object is at most 5 TiB. Within those limits the part size trades request count against
memory: the engine holds whole parts in memory (part size x parts in flight), so parts are
kept as small as the 10,000-part ceiling allows instead of jumping to the next power of two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InvalidMediaError
from ..s3_limits import MAX_OBJECT_SIZE as MAX_OBJECT_SIZE  # re-exported: S3's limits
from ..s3_limits import MAX_PART_SIZE as MAX_PART_SIZE
from ..s3_limits import MAX_PARTS as MAX_PARTS
from ..s3_limits import MIB
from ..s3_limits import MIN_PART_SIZE as MIN_PART_SIZE

# AWS advises 8-16 MB ranges; 16 MiB halves the requests of big files, 8 MiB gives files of a
# few hundred MiB enough parts to keep eight connections busy.
DEFAULT_PART_SIZE = 16 * MIB
SMALL_FILE_PART_SIZE = 8 * MIB
SMALL_FILE_LIMIT = 256 * MIB


@dataclass(frozen=True)
class PartRange:
    """One part: S3 part ``number`` (1-based) holds source bytes ``start..end`` inclusive."""

    number: int
    start: int
    end: int  # inclusive, as in an HTTP Range header

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class PartSlice:
    """A run of consecutive parts that one invocation transfers (``first..last`` inclusive)."""

    first: int
    last: int
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def numbers(self) -> range:
        return range(self.first, self.last + 1)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def choose_part_size(size: int, preferred_mib: int = 0) -> int:
    """The part size (bytes, a whole number of MiB) for a file of ``size`` bytes.

    ``preferred_mib`` (0 = automatic) is clamped into S3's limits; either way the size grows,
    one MiB at a time, until the file fits in 10,000 parts. A file larger than 5 TiB cannot be
    stored as one object: InvalidMediaError.
    """
    if size < 0:
        raise ValueError("size must not be negative")
    if preferred_mib < 0:
        raise ValueError("preferred_mib must not be negative")
    if size > MAX_OBJECT_SIZE:
        raise InvalidMediaError(f"a file of {size} bytes exceeds S3's 5 TiB object limit")
    if preferred_mib:
        part = min(max(preferred_mib * MIB, MIN_PART_SIZE), MAX_PART_SIZE)
    else:
        part = SMALL_FILE_PART_SIZE if size <= SMALL_FILE_LIMIT else DEFAULT_PART_SIZE
    needed = _ceil_div(_ceil_div(size, MAX_PARTS), MIB) * MIB
    return min(max(part, needed), MAX_PART_SIZE)


def part_count(size: int, part_size: int) -> int:
    return _ceil_div(size, part_size) if size else 0


def part_ranges(size: int, part_size: int) -> list[PartRange]:
    """Every part of a ``size``-byte file cut at ``part_size`` (none for an empty file)."""
    if size < 0 or part_size <= 0:
        raise ValueError("size must not be negative and part_size must be positive")
    count = part_count(size, part_size)
    if count > MAX_PARTS:
        raise ValueError(f"{count} parts exceed S3's limit of {MAX_PARTS}")
    if count > 1 and not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
        raise ValueError("part_size is outside S3's 5 MiB..5 GiB")
    return [
        PartRange(n + 1, n * part_size, min((n + 1) * part_size, size) - 1) for n in range(count)
    ]


def slices(parts: Sequence[PartRange], max_bytes: int) -> list[PartSlice]:
    """Group parts (in number order) into runs of consecutive numbers of at most ``max_bytes``.

    A gap in the numbers (a part already uploaded) always starts a new slice. Every slice holds
    at least one part, so a part larger than ``max_bytes`` forms a slice alone.
    """
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    out: list[PartSlice] = []
    current: list[PartRange] = []
    for part in sorted(parts, key=lambda p: p.number):
        if current and (
            part.number != current[-1].number + 1
            or part.end - current[0].start + 1 > max_bytes
        ):
            out.append(PartSlice(current[0].number, current[-1].number, current[0].start,
                                 current[-1].end))
            current = []
        current.append(part)
    if current:
        out.append(PartSlice(current[0].number, current[-1].number, current[0].start,
                             current[-1].end))
    return out
