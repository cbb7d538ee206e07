"""Reading an archived object back in bounded memory: its CRC32 and GoPro's part MD5s.

An object is read as byte ranges, a few at a time. Each range yields its CRC32 and length, and
the full-object CRC32 is combined from them (``transfer.checksums``), so a 4 GiB chapter is read
in parallel without ever being held: only one chunk per range is in memory. A range that starts
on an origin part boundary also yields the MD5 of every origin part inside it, the terms of
GoPro's multipart ETag (``transfer.origin``); where the origin's part size is not known, one
sequential pass hashes every possible layout at once.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

from ..aws import is_transient
from ..transfer.checksums import combine_parts

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
CHUNK = 1 * MIB  # bytes held per range being read
SEGMENT = 128 * MIB  # a range's length (rounded to whole origin parts)
READERS = 4  # ranges of one object read at once
ATTEMPTS = 3  # a range read that breaks off is read again from its start
WHOLE = 0  # the "part size" of a single MD5 over the whole object


class PartHasher:
    """The MD5 of each ``part_size`` slice of a stream (the last one may be shorter);
    ``WHOLE``: one MD5 of everything."""

    def __init__(self, part_size: int) -> None:
        self.part_size = part_size
        self.digests: list[str] = []
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._filled = 0

    def update(self, data: memoryview) -> None:
        while len(data):
            room = len(data) if self.part_size == WHOLE else self.part_size - self._filled
            self._md5.update(data[:room])
            self._filled += min(room, len(data))
            data = data[room:]
            if self.part_size != WHOLE and self._filled == self.part_size:
                self._close()

    def _close(self) -> None:
        self.digests.append(self._md5.hexdigest())
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._filled = 0

    def finish(self) -> list[str]:
        if self._filled or not self.digests:
            self._close()
        return self.digests


@dataclass(frozen=True)
class Where:
    """One version of one object."""

    bucket: str
    key: str
    version_id: str | None

    def request(self) -> dict[str, Any]:
        """The Bucket / Key / VersionId parameters of an S3 call on it."""
        version = {"VersionId": self.version_id} if self.version_id else {}
        return {"Bucket": self.bucket, "Key": self.key, **version}


@dataclass(frozen=True)
class RangeDigest:
    length: int
    crc32: int
    md5s: dict[int, list[str]]  # part size (WHOLE: the whole range) -> MD5s of its parts


@dataclass(frozen=True)
class ObjectDigest:
    """What reading a whole object found."""

    length: int
    crc32: int  # unsigned
    md5s: dict[int, list[str]]  # as RangeDigest, over the whole object


def _read_once(s3: S3Client, where: Where, start: int, end: int,
               part_sizes: Sequence[int]) -> RangeDigest:
    answer = s3.get_object(**where.request(), Range=f"bytes={start}-{end - 1}")
    body = answer["Body"]
    crc, length = 0, 0
    hashers = [PartHasher(size) for size in part_sizes]
    try:
        for chunk in body.iter_chunks(CHUNK):
            view = memoryview(chunk)
            crc = zlib.crc32(view, crc)
            length += len(view)
            for hasher in hashers:
                hasher.update(view)
    finally:
        body.close()
    return RangeDigest(length, crc, {h.part_size: h.finish() for h in hashers})


def read_range(s3: S3Client, where: Where, start: int, end: int,
               part_sizes: Sequence[int] = ()) -> RangeDigest:
    """Bytes ``start..end-1`` of the object, digested; a read that breaks off is retried."""
    for attempt in range(ATTEMPTS):
        try:
            return _read_once(s3, where, start, end, part_sizes)
        except (ClientError, BotoCoreError) as e:
            broken_off = isinstance(e, BotoCoreError) and not isinstance(e, FlexibleChecksumError)
            if attempt == ATTEMPTS - 1 or not (is_transient(e) or broken_off):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def plan_ranges(size: int, align: int | None) -> list[tuple[int, int]]:
    """Ranges covering ``size`` bytes; with ``align`` each starts on a multiple of it (one
    range when ``align`` is WHOLE)."""
    if size <= 0:
        return []
    if align == WHOLE:
        return [(0, size)]
    step = align * max(1, SEGMENT // align) if align else SEGMENT
    return [(start, min(start + step, size)) for start in range(0, size, step)]


def read_object(s3: S3Client, where: Where, size: int, part_sizes: Sequence[int] = (),
                readers: int = READERS) -> ObjectDigest:
    """Read ``size`` bytes of the object, ranges in parallel when one part size (or none) is
    asked for; several part sizes (a guess between layouts) take one sequential pass. SDK
    errors are raised as they come (the caller tells a restore-needing object apart)."""
    align: int | None = None
    if len(part_sizes) == 1:
        align = part_sizes[0]
    elif part_sizes:
        align = WHOLE
    ranges = plan_ranges(size, align)
    with ThreadPoolExecutor(max_workers=max(1, min(readers, len(ranges)))) as pool:
        digests = list(pool.map(lambda r: read_range(s3, where, r[0], r[1], part_sizes),
                                ranges))
    md5s = {p: [m for d in digests for m in d.md5s.get(p, [])] for p in part_sizes}
    if size <= 0:
        md5s = {p: PartHasher(p).finish() for p in part_sizes}
    return ObjectDigest(sum(d.length for d in digests),
                        combine_parts((d.crc32, d.length) for d in digests), md5s)
