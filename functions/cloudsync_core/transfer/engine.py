"""Moving bytes from a source into an S3 multipart upload, part by part, within a deadline.

Deadlines are ``time.monotonic()`` values (immune to wall-clock steps); a Lambda handler
computes one as ``time.monotonic() + context.get_remaining_time_in_millis() / 1000 - margin``.
``deadline`` is the time by which a transfer call returns: a new part is started only if its
estimated duration (observed seconds per byte, x1.25) fits before it, parts in flight are
allowed to finish, and a source read still running at the deadline is abandoned (its part stays
in ``remaining``). S3 keeps every finished part, so the next call resumes from ListParts.

Memory: each part is read completely into memory (its CRC32 must be known before UploadPart),
so the engine holds at most ``parallel`` parts (plus one being filled when streaming).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import (
    ChecksumMismatchError,
    CloudSyncError,
    PermanentError,
    SizeMismatchError,
    TransientError,
)
from .checksums import crc32_b64, crc32_to_b64
from .plan import MAX_PARTS, MIN_PART_SIZE, PartRange, choose_part_size, part_count, part_ranges
from .s3ops import (
    ArchivedObject,
    UploadedPart,
    _abort_quietly,
    complete_upload,
    put_small,
    s3_error,
    start_upload,
    uploaded_parts,
)
from .source import SourceInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_ASSUMED_BYTES_PER_SECOND = 8 * 1024 * 1024  # per part, until a part has been timed
_SAFETY = 1.25
_EWMA = 0.3


class RangeReader(Protocol):
    def read_range(self, start: int, end: int, *, deadline: float | None = None) -> bytes: ...


class StreamReader(Protocol):
    def stream(self, *, deadline: float | None = None) -> Iterator[bytes]: ...


class Source(RangeReader, StreamReader, Protocol):
    """What ``transfer_file`` needs; ``HttpRangeSource`` is the real one."""

    def probe(self, *, deadline: float | None = None) -> SourceInfo: ...


@dataclass
class TransferReport:
    """What one transfer call did. ``remaining`` lists planned parts S3 does not hold yet."""

    upload_id: str
    parts_done: int  # uploaded by this call
    bytes_done: int
    stopped_by_deadline: bool
    remaining: list[int]
    part_crcs: dict[int, str] = field(default_factory=dict)  # this call's parts -> CRC32 (b64)
    parts_skipped: int = 0  # already uploaded before this call


class _Pace:
    """Seconds per byte, smoothed over finished parts, to predict whether a part still fits."""

    def __init__(self) -> None:
        self.seconds_per_byte: float | None = None

    def observe(self, nbytes: int, seconds: float) -> None:
        if nbytes <= 0:
            return
        rate = max(seconds, 0.0) / nbytes
        prev = self.seconds_per_byte
        self.seconds_per_byte = rate if prev is None else (1 - _EWMA) * prev + _EWMA * rate

    def need(self, nbytes: int) -> float:
        per_byte = self.seconds_per_byte
        if per_byte is None:
            per_byte = 1.0 / _ASSUMED_BYTES_PER_SECOND
        return nbytes * per_byte * _SAFETY


def _already_there(existing: Mapping[int, UploadedPart], part: PartRange) -> bool:
    """A part counts as uploaded only with the planned size (else it is from another plan)."""
    have = existing.get(part.number)
    return have is not None and have.size == part.length


def _upload_part(
    s3: S3Client, bucket: str, key: str, upload_id: str, number: int, data: bytes
) -> str:
    """UploadPart with the CRC32 of exactly these bytes; S3 rejects the part if they differ."""
    crc = crc32_b64(data)
    try:
        resp = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="CRC32",
            ChecksumCRC32=crc,
        )
    except (ClientError, BotoCoreError) as e:
        raise s3_error(e, f"UploadPart {number} of s3://{bucket}/{key}") from e
    echoed = resp.get("ChecksumCRC32")
    if echoed and echoed != crc:
        raise ChecksumMismatchError(
            f"s3://{bucket}/{key} part {number}: S3 computed CRC32 {echoed}, we sent {crc}"
        )
    return crc


def _first_error(errors: Sequence[BaseException]) -> BaseException:
    """A permanent error outranks a transient one: retrying would not help."""
    for e in errors:
        if isinstance(e, PermanentError):
            return e
    return errors[0]


def _hard(deadline: float, hard_deadline: float | None) -> float:
    """When reads in flight are abandoned: never before no new part may start."""
    return deadline if hard_deadline is None else max(deadline, hard_deadline)


def _may_start(now: float, need: float, deadline: float, hard: float, first: bool) -> bool:
    """Whether a part may start now: while the budget lasts (its estimated time must fit), and
    the first part of a call even after that, unless the hard limit is reached, so that every
    call that has time at all moves something."""
    return now < hard if first else now + need <= deadline


def transfer_parts(
    source: RangeReader,
    s3: S3Client,
    bucket: str,
    key: str,
    upload_id: str,
    parts: Sequence[PartRange],
    *,
    deadline: float,
    hard_deadline: float | None = None,
    parallel: int = 8,
    clock: Callable[[], float] = time.monotonic,
) -> TransferReport:
    """Ranged GET -> UploadPart for each of ``parts`` S3 does not hold yet, ``parallel`` at once.

    No part starts once its estimated time no longer fits before ``deadline`` (but the call's
    first part starts if ``hard_deadline`` is still ahead); a read still running at
    ``hard_deadline`` (default: ``deadline``) is abandoned. A later hard deadline lets parts in
    flight finish, so a slow source still makes progress within a short or spent budget.
    On a failure no new part starts, parts in flight finish, and the error is raised (a
    permanent one first). Finished parts stay in S3 either way.
    """
    hard = _hard(deadline, hard_deadline)
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    existing = uploaded_parts(s3, bucket, key, upload_id)
    todo = [p for p in sorted(parts, key=lambda p: p.number) if not _already_there(existing, p)]
    report = TransferReport(upload_id, 0, 0, False, [], {}, len(parts) - len(todo))
    pace = _Pace()
    failures: list[BaseException] = []
    finished: set[int] = set()

    def work(part: PartRange) -> tuple[PartRange, str, float]:
        started = clock()
        data = source.read_range(part.start, part.end, deadline=hard)
        if len(data) != part.length:
            raise TransientError(
                f"part {part.number}: expected {part.length} bytes, read {len(data)}"
            )
        crc = _upload_part(s3, bucket, key, upload_id, part.number, data)
        return part, crc, clock() - started

    queue = iter(todo)
    nxt = next(queue, None)
    begun = 0
    workers = max(1, min(parallel, len(todo)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cloudsync-part") as pool:
        inflight: set[Future[tuple[PartRange, str, float]]] = set()
        while True:
            while (
                nxt is not None
                and not failures
                and not report.stopped_by_deadline
                and len(inflight) < parallel
            ):
                if not _may_start(clock(), pace.need(nxt.length), deadline, hard, begun == 0):
                    report.stopped_by_deadline = True
                    break
                inflight.add(pool.submit(work, nxt))
                begun += 1
                nxt = next(queue, None)
            if not inflight:
                break
            done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in done:
                exc = fut.exception()
                if exc is None:
                    part, crc, seconds = fut.result()
                    finished.add(part.number)
                    report.part_crcs[part.number] = crc
                    report.parts_done += 1
                    report.bytes_done += part.length
                    pace.observe(part.length, seconds)
                elif isinstance(exc, TransientError) and clock() >= hard:
                    report.stopped_by_deadline = True  # abandoned at the deadline: not a fault
                else:
                    failures.append(exc)
    report.remaining = [p.number for p in todo if p.number not in finished]
    if failures:
        raise _first_error(failures)
    return report


def transfer_stream(
    source: StreamReader,
    s3: S3Client,
    bucket: str,
    key: str,
    upload_id: str,
    *,
    size: int,
    part_size: int,
    deadline: float,
    hard_deadline: float | None = None,
    parallel: int = 2,
    attempts: int = 3,
    clock: Callable[[], float] = time.monotonic,
) -> TransferReport:
    """The fallback for servers that ignore Range: one sequential read of the whole body.

    Parts fill in order and upload while the next one fills (``parallel`` uploads at most).
    Bytes of parts S3 already holds are read and dropped, but not blindly: where S3 (or an
    earlier attempt here) knows their CRC32, the re-read bytes must match it, which catches a
    source that changed under a resumed upload. A broken stream starts over (``attempts``).
    ``deadline`` and ``hard_deadline`` mean what they mean for ``transfer_parts``.
    """
    hard = _hard(deadline, hard_deadline)
    if parallel < 1 or attempts < 1:
        raise ValueError("parallel and attempts must be at least 1")
    plan = part_ranges(size, part_size)
    existing = uploaded_parts(s3, bucket, key, upload_id)
    have: dict[int, str | None] = {
        p.number: existing[p.number].crc32_b64 for p in plan if _already_there(existing, p)
    }
    report = TransferReport(upload_id, 0, 0, False, [], {}, len(have))
    pace = _Pace()
    tries = 0
    while True:
        try:
            _stream_once(source, s3, bucket, key, upload_id, plan, have, report, pace,
                         deadline, hard, parallel, clock)
            break
        except TransientError:
            tries += 1
            if clock() >= deadline:
                report.stopped_by_deadline = True
                break
            if tries >= attempts:
                raise
    report.remaining = [p.number for p in plan if p.number not in have]
    return report


def _stream_once(
    source: StreamReader,
    s3: S3Client,
    bucket: str,
    key: str,
    upload_id: str,
    plan: list[PartRange],
    have: dict[int, str | None],
    report: TransferReport,
    pace: _Pace,
    deadline: float,
    hard_deadline: float,
    parallel: int,
    clock: Callable[[], float],
) -> None:
    """One pass over the stream; ``have`` and ``report`` record every part finished."""
    needed = [p.number for p in plan if p.number not in have]
    if not needed:
        return
    last_needed = needed[-1]
    failures: list[BaseException] = []
    inflight: dict[Future[str], tuple[PartRange, float]] = {}

    def reap(block: bool) -> None:
        if not inflight:
            return
        done, _ = wait(inflight, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for fut in done:
            part, started = inflight.pop(fut)
            exc = fut.exception()
            if exc is None:
                crc = fut.result()
                have[part.number] = crc
                report.part_crcs[part.number] = crc
                report.parts_done += 1
                report.bytes_done += part.length
                pace.observe(part.length, clock() - started)
            else:
                failures.append(exc)

    def upload(part: PartRange, data: bytes) -> str:
        return _upload_part(s3, bucket, key, upload_id, part.number, data)

    gen = source.stream(deadline=hard_deadline)
    error: CloudSyncError | None = None
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="cloudsync-stream") as pool:
        try:
            idx, pos, crc_run, started, begun = 0, 0, 0, 0.0, 0
            buf: bytearray | None = None
            stop = False
            for chunk in gen:
                view = memoryview(chunk)
                off = 0
                while off < len(view):
                    if idx >= len(plan):
                        size = plan[-1].end + 1
                        raise SizeMismatchError("source stream (more bytes than probed)",
                                                size, size + len(view) - off)
                    part = plan[idx]
                    if pos == 0:  # at a part boundary: decide about this part
                        reap(block=False)
                        missing = part.number not in have
                        need = pace.need(part.length) if missing else 0.0
                        if failures or part.number > last_needed:
                            stop = True
                        elif not _may_start(clock(), need, deadline, hard_deadline, begun == 0):
                            report.stopped_by_deadline = True
                            stop = True
                        elif missing:
                            while len(inflight) >= parallel:
                                reap(block=True)
                            buf = bytearray(part.length)
                            started = clock()
                            begun += 1
                        else:
                            crc_run = 0
                    if stop:
                        break
                    take = min(len(view) - off, part.length - pos)
                    piece = view[off : off + take]
                    if buf is not None:
                        buf[pos : pos + take] = piece
                    else:
                        crc_run = zlib.crc32(piece, crc_run)
                    pos += take
                    off += take
                    if pos == part.length:
                        if buf is not None:
                            data, buf = bytes(buf), None
                            inflight[pool.submit(upload, part, data)] = (part, started)
                            del data
                        else:
                            known = have.get(part.number)
                            if known and known != crc32_to_b64(crc_run & 0xFFFFFFFF):
                                raise ChecksumMismatchError(
                                    f"s3://{bucket}/{key} part {part.number}: the source's bytes "
                                    f"differ from the part uploaded earlier"
                                )
                        idx += 1
                        pos = 0
                if stop or idx >= len(plan) or plan[idx].number > last_needed:
                    break
            else:
                if idx < len(plan):
                    raise TransientError(
                        f"source stream ended early: expected {plan[-1].end + 1} bytes, "
                        f"received {plan[idx].start + pos}"
                    )
        except CloudSyncError as e:
            error = e
        finally:
            close = getattr(gen, "close", None)
            if callable(close):
                close()
            while inflight:
                reap(block=True)
    errors: list[BaseException] = ([error] if error else []) + failures
    if errors:
        raise _first_error(errors)


def _read_whole(source: Source, info: SourceInfo, deadline: float) -> bytes:
    """A small file in one piece (one ranged GET, or the stream if Range is ignored)."""
    if info.size == 0:
        return b""
    if info.ranges:
        return source.read_range(0, info.size - 1, deadline=deadline)
    buf = bytearray()
    for chunk in source.stream(deadline=deadline):
        buf += chunk
        if len(buf) > info.size:
            raise SizeMismatchError("source stream (more bytes than probed)", info.size, len(buf))
    if len(buf) != info.size:
        raise TransientError(f"source stream ended early: expected {info.size}, got {len(buf)}")
    return bytes(buf)


def _resume_part_size(existing: Mapping[int, UploadedPart], size: int) -> int | None:
    """The part size an existing upload was cut with, if it fits this file; else None."""
    if not existing:
        return None
    part_size = max(p.size for p in existing.values())
    if part_size < MIN_PART_SIZE or part_count(size, part_size) > MAX_PARTS:
        return None
    return part_size


def transfer_file(
    source: Source,
    s3: S3Client,
    bucket: str,
    key: str,
    *,
    metadata: Mapping[str, str],
    tagging: str,
    deadline: float,
    parallel: int = 8,
    part_size_mib: int = 0,
    allow_overwrite: bool = False,
    upload_id: str | None = None,
    on_upload: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ArchivedObject | TransferReport:
    """Probe, plan, start or resume, transfer (ranged or streamed), complete and verify.

    Returns the ArchivedObject when done, or the TransferReport when the deadline stopped it
    (call again with ``report.upload_id``). ``on_upload`` receives the upload id before any
    byte moves, so a caller can record it. A PermanentError aborts the upload (nothing
    incomplete is left); a TransientError leaves it for the next attempt to resume.
    """
    info = source.probe(deadline=deadline)
    part_size = choose_part_size(info.size, part_size_mib)
    if info.size <= part_size:
        if upload_id:
            _abort_quietly(s3, bucket, key, upload_id)  # a leftover from an earlier plan
        data = _read_whole(source, info, deadline)
        return put_small(s3, bucket, key, data, expected_size=info.size, metadata=metadata,
                         tagging=tagging, allow_overwrite=allow_overwrite)

    uid = start_upload(s3, bucket, key, metadata, tagging, upload_id)
    try:
        if uid == upload_id:
            part_size = _resume_part_size(uploaded_parts(s3, bucket, key, uid),
                                          info.size) or part_size
        if on_upload is not None:
            on_upload(uid)
        if info.ranges:
            report = transfer_parts(source, s3, bucket, key, uid,
                                    part_ranges(info.size, part_size), deadline=deadline,
                                    parallel=parallel, clock=clock)
        else:
            report = transfer_stream(source, s3, bucket, key, uid, size=info.size,
                                     part_size=part_size, deadline=deadline,
                                     parallel=max(1, min(parallel, 2)), clock=clock)
        if report.remaining:
            return report
        return complete_upload(s3, bucket, key, uid, expected_size=info.size,
                               allow_overwrite=allow_overwrite, known_crcs=report.part_crcs)
    except PermanentError:
        _abort_quietly(s3, bucket, key, uid)
        raise
