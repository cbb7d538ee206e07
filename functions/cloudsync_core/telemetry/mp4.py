"""Find a video's GPMF track and read its samples with ranged reads only.

A GoPro MP4 keeps its telemetry as a timed-metadata track (handler ``meta``, sample entry
``gpmd``): about one sample a second, a few KB each, spread between the video chunks of a file
of gigabytes. Reading the whole video again to find them would cost what archiving it cost, so
everything here goes through ``read(offset, length)``: an HTTP ``Range`` or an S3 ranged GET.
The top-level boxes are walked by their 8/16-byte headers (``mdat`` is skipped by its size), the
``moov`` box alone is read whole (it holds the sample tables: ``stsz``, ``stsc``, ``stco`` or
``co64``, ``stts``), and the GPMF samples are then read, neighbours merged into one read.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import TelemetryError

Reader = Callable[[int, int], bytes]
MAX_MOOV = 64 * 1024 * 1024  # a 4 GB video's moov is a few MB; more is not an MP4 we know
MERGE_GAP = 64 * 1024  # read two samples at once when less than this lies between them
MAX_READ = 4 * 1024 * 1024
PARALLEL_READS = 16


@dataclass(frozen=True)
class Sample:
    offset: int
    size: int
    start_s: float
    duration_s: float


@dataclass(frozen=True)
class Box:
    type: str
    start: int  # of the payload, after the header
    end: int


def _header(data: bytes, pos: int, limit: int) -> Box:
    if pos + 8 > len(data):
        raise TelemetryError("MP4 box header is cut short")
    size, raw = struct.unpack_from(">I4s", data, pos)
    head = 8
    if size == 1:
        if pos + 16 > len(data):
            raise TelemetryError("MP4 large box header is cut short")
        size = struct.unpack_from(">Q", data, pos + 8)[0]
        head = 16
    elif size == 0:
        size = limit - pos
    if size < head or pos + size > limit:
        raise TelemetryError(f"MP4 box {raw!r} has an impossible size {size}")
    return Box(raw.decode("latin-1"), pos + head, pos + size)


def children(data: bytes, start: int, end: int) -> Iterator[Box]:
    pos = start
    while pos + 8 <= end:
        box = _header(data, pos, end)
        yield box
        pos = box.end


def _child(data: bytes, parent: Box, kind: str) -> Box | None:
    return next((b for b in children(data, parent.start, parent.end) if b.type == kind), None)


def _path(data: bytes, parent: Box, *kinds: str) -> Box | None:
    box: Box | None = parent
    for kind in kinds:
        box = _child(data, box, kind) if box else None
    return box


def find_moov(read: Reader, size: int) -> bytes:
    """The ``moov`` box's bytes (header included), found by reading box headers only."""
    pos = 0
    while pos + 8 <= size:
        head = read(pos, min(16, size - pos))
        box = _header(head + b"\0" * 16, 0, size - pos)
        if box.type == "moov":
            length = box.end
            if length > MAX_MOOV:
                raise TelemetryError(f"MP4 moov box of {length} bytes is too big to read")
            data = read(pos, length)
            if len(data) != length:
                raise TelemetryError("MP4 moov box was read short")
            return data
        pos += box.end
    raise TelemetryError("no moov box: not an MP4 (or a fragmented one)")


def _full_box_ints(data: bytes, box: Box, skip: int, fmt: str) -> tuple[int, ...]:
    return struct.unpack_from(">" + fmt, data, box.start + 4 + skip)


def _table(data: bytes, box: Box, fmt: str, header: int = 0) -> list[tuple[int, ...]]:
    (count,) = _full_box_ints(data, box, header, "I")
    item = struct.Struct(">" + fmt)
    first = box.start + 8 + header
    if first + count * item.size > box.end:
        raise TelemetryError(f"MP4 {box.type} table runs past its box")
    return [item.unpack_from(data, first + i * item.size) for i in range(count)]


def _is_gpmf(data: bytes, trak: Box) -> bool:
    hdlr = _path(data, trak, "mdia", "hdlr")
    stsd = _path(data, trak, "mdia", "minf", "stbl", "stsd")
    if hdlr is None or stsd is None or hdlr.end - hdlr.start < 12:
        return False
    handler = data[hdlr.start + 8 : hdlr.start + 12]
    entry = data[stsd.start + 12 : stsd.start + 16]
    return handler == b"meta" and entry == b"gpmd"


def _timescale(data: bytes, trak: Box) -> int:
    mdhd = _path(data, trak, "mdia", "mdhd")
    if mdhd is None:
        raise TelemetryError("GPMF track has no mdhd")
    version = data[mdhd.start]
    (scale,) = _full_box_ints(data, mdhd, 16 if version == 1 else 8, "I")
    return max(1, scale)


def _sizes(data: bytes, stbl: Box) -> list[int]:
    stsz = _child(data, stbl, "stsz")
    if stsz is None:
        raise TelemetryError("GPMF track has no stsz")
    fixed, count = _full_box_ints(data, stsz, 0, "II")
    if fixed:
        return [fixed] * count
    return [row[0] for row in _table(data, stsz, "I", header=4)]


def _chunk_offsets(data: bytes, stbl: Box) -> list[int]:
    stco = _child(data, stbl, "stco")
    if stco is not None:
        return [row[0] for row in _table(data, stco, "I")]
    co64 = _child(data, stbl, "co64")
    if co64 is not None:
        return [row[0] for row in _table(data, co64, "Q")]
    raise TelemetryError("GPMF track has neither stco nor co64")


def _offsets(data: bytes, stbl: Box, sizes: list[int]) -> list[int]:
    stsc = _child(data, stbl, "stsc")
    runs = _table(data, stsc, "III") if stsc else [(1, 1, 1)]
    chunks = _chunk_offsets(data, stbl)
    offsets: list[int] = []
    for i, (first, per_chunk, _) in enumerate(runs):
        last = runs[i + 1][0] - 1 if i + 1 < len(runs) else len(chunks)
        for chunk in range(first - 1, min(last, len(chunks))):
            pos = chunks[chunk]
            for _ in range(per_chunk):
                if len(offsets) == len(sizes):
                    return offsets
                offsets.append(pos)
                pos += sizes[len(offsets) - 1]
    return offsets


def _durations(data: bytes, stbl: Box, count: int) -> list[int]:
    stts = _child(data, stbl, "stts")
    deltas: list[int] = []
    for n, delta in _table(data, stts, "II") if stts else []:
        deltas.extend([delta] * n)
    return (deltas + [deltas[-1] if deltas else 0] * count)[:count]


def gpmf_samples(moov: bytes) -> list[Sample]:
    """Where the GPMF samples lie in the file, and when each starts; [] without a track."""
    try:
        return _gpmf_samples(moov)
    except struct.error as e:
        raise TelemetryError("MP4 sample tables are cut short") from e


def _gpmf_samples(moov: bytes) -> list[Sample]:
    root = _header(moov, 0, len(moov))
    for trak in (b for b in children(moov, root.start, root.end) if b.type == "trak"):
        if not _is_gpmf(moov, trak):
            continue
        stbl = _path(moov, trak, "mdia", "minf", "stbl")
        assert stbl is not None  # _is_gpmf found stsd inside it
        scale = _timescale(moov, trak)
        sizes = _sizes(moov, stbl)
        offsets = _offsets(moov, stbl, sizes)
        if len(offsets) != len(sizes):
            raise TelemetryError("GPMF sample tables do not agree on the sample count")
        samples, clock = [], 0
        for offset, size, delta in zip(offsets, sizes, _durations(moov, stbl, len(sizes)),
                                       strict=True):
            samples.append(Sample(offset, size, clock / scale, delta / scale))
            clock += delta
        return samples
    return []


def _batches(samples: list[Sample]) -> Iterator[list[Sample]]:
    batch: list[Sample] = []
    for sample in sorted(samples, key=lambda s: s.offset):
        if batch:
            gap = sample.offset - (batch[-1].offset + batch[-1].size)
            span = sample.offset + sample.size - batch[0].offset
            if gap < 0 or gap > MERGE_GAP or span > MAX_READ:
                yield batch
                batch = []
        batch.append(sample)
    if batch:
        yield batch


def _read_batch(read: Reader, batch: list[Sample]) -> list[tuple[Sample, bytes]]:
    first = batch[0].offset
    length = batch[-1].offset + batch[-1].size - first
    blob = read(first, length)
    if len(blob) != length:
        raise TelemetryError("a GPMF sample was read short")
    return [(s, blob[s.offset - first : s.offset - first + s.size]) for s in batch]


def read_payloads(
    read: Reader, samples: list[Sample], parallel: int | None = None
) -> Iterator[tuple[Sample, bytes]]:
    """Each GPMF sample with its bytes, in file order; neighbours come in one read, and up to
    ``parallel`` reads are under way at once (an hour of video is ~3,600 samples a MB apart:
    one at a time, S3's latency would add up to a minute)."""
    batches = list(_batches(samples))
    parallel = PARALLEL_READS if parallel is None else parallel
    if parallel <= 1 or len(batches) <= 1:
        for batch in batches:
            yield from _read_batch(read, batch)
        return
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for done in pool.map(lambda b: _read_batch(read, b), batches):
            yield from done


def payloads(read: Reader, size: int) -> Iterator[tuple[Sample, bytes]]:
    """Every GPMF sample of an MP4 of ``size`` bytes, by ranged reads."""
    samples = gpmf_samples(find_moov(read, size))
    ordered = sorted(read_payloads(read, samples), key=lambda item: item[0].start_s)
    yield from ordered
