"""Moving bytes from a source into an S3 multipart upload, part by part, within a deadline.

Deadlines are ``time.monotonic()`` values (immune to wall-clock steps); a Lambda handler
computes one as ``time.monotonic() + context.get_remaining_time_in_millis() / 1000 - margin``.
``deadline`` is the time by which a transfer call returns: a new part is started only if its
estimated duration (observed seconds per byte, x1.25) fits before it, parts in flight are
allowed to finish, and a source read still running at the deadline is abandoned (its part stays
in ``remaining``). S3 keeps every finished part, so the next call resumes from ListParts.

Memory: each part is read completely into one buffer (its CRC32 must be known before
UploadPart) that goes to UploadPart as it is, so the engine holds at most ``parallel`` parts
(plus one being filled when streaming).

Origin checksums: when the caller plans parts on the origin's own part boundaries it passes
``md5_known`` (the part numbers whose MD5 it has recorded); each part's MD5 is then computed
from the bytes read, beside its CRC32, and a part S3 holds without a recorded MD5 is sent again
(its bytes were never hashed). ``on_report`` receives the report even when the call fails, so
the MD5s of parts that did reach S3 are never lost.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Protocol, cast

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import translate
from ..errors import (
    ChecksumMismatchError,
    CloudSyncError,
    PermanentError,
    SizeMismatchError,
    SourceChangedError,
    TransientError,
)
from .checksums import crc32_b64, crc32_to_b64
from .plan import MAX_PARTS, MIN_PART_SIZE, PartRange, choose_part_size, part_count, part_ranges
from .s3ops import (
    ArchivedObject,
    BufferBody,
    UploadedPart,
    _abort_quietly,
    complete_upload,
    put_small,
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
    def read_range(
        self, start: int, end: int, *, deadline: float | None = None
    ) -> bytes | bytearray: ...


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
    part_md5s: dict[int, str] = field(default_factory=dict)  # this call's parts -> MD5 (hex)


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


def _already_there(
    existing: Mapping[int, UploadedPart], part: PartRange, md5_known: Collection[int] | None
) -> bool:
    """A part counts as uploaded only with the planned size (else it is from another plan) and,
    when MD5s are wanted, with its MD5 recorded."""
    have = existing.get(part.number)
    if have is None or have.size != part.length:
        return False
    return md5_known is None or part.number in md5_known


def md5_hex(data: bytes | bytearray | memoryview) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _upload_part(
    s3: S3Client, bucket: str, key: str, upload_id: str, number: int, data: bytes | bytearray
) -> str:
    """UploadPart with the CRC32 of exactly these bytes; S3 rejects the part if they differ."""
    crc = crc32_b64(data)
    try:
        resp = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=cast("IO[bytes]", BufferBody(data)),  # a file-like body; typeshed wants IO
            ChecksumAlgorithm="CRC32",
            ChecksumCRC32=crc,
        )
    except (ClientError, BotoCoreError) as e:
        raise translate(e, f"UploadPart {number} of s3://{bucket}/{key}") from e
    echoed = resp.get("ChecksumCRC32")
    if echoed and echoed != crc:
        raise ChecksumMismatchError(
            f"s3://{bucket}/{key} part {number}: S3 computed CRC32 {echoed}, we sent {crc}"
        )
    return crc


def _first_error(errors: Sequence[BaseException]) -> BaseException:
    """A permanent error outranks a transient one (retrying would not help), and a changed
    source outranks other transient ones (only a new upload helps)."""
    for kind in (PermanentError, SourceChangedError):
        for e in errors:
            if isinstance(e, kind):
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
    md5_known: Collection[int] | None = None,
    on_report: Callable[[TransferReport], None] | None = None,
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
    todo = [
        p for p in sorted(parts, key=lambda p: p.number)
        if not _already_there(existing, p, md5_known)
    ]
    report = TransferReport(upload_id, 0, 0, False, [], {}, len(parts) - len(todo))
    try:
        _run_parts(source, s3, bucket, key, upload_id, todo, report, deadline, hard, parallel,
                   clock, md5_known is not None)
    finally:
        if on_report is not None:
            on_report(report)
    return report


def _run_parts(
    source: RangeReader,
    s3: S3Client,
    bucket: str,
    key: str,
    upload_id: str,
    todo: list[PartRange],
    report: TransferReport,
    deadline: float,
    hard: float,
    parallel: int,
    clock: Callable[[], float],
    with_md5: bool,
) -> None:
    """``transfer_parts``'s loop: fills ``report``; raises the first (permanent) failure."""
    pace = _Pace()
    failures: list[BaseException] = []
    finished: set[int] = set()

    def work(part: PartRange) -> tuple[PartRange, str, str | None, float]:
        started = clock()
        data = source.read_range(part.start, part.end, deadline=hard)
        if len(data) != part.length:
            raise TransientError(
                f"part {part.number}: expected {part.length} bytes, read {len(data)}"
            )
        md5 = md5_hex(data) if with_md5 else None
        crc = _upload_part(s3, bucket, key, upload_id, part.number, data)
        return part, crc, md5, clock() - started

    queue = iter(todo)
    nxt = next(queue, None)
    begun = 0
    workers = max(1, min(parallel, len(todo)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cloudsync-part") as pool:
        inflight: set[Future[tuple[PartRange, str, str | None, float]]] = set()
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
                    part, crc, md5, seconds = fut.result()
                    finished.add(part.number)
                    report.part_crcs[part.number] = crc
                    if md5 is not None:
                        report.part_md5s[part.number] = md5
                    report.parts_done += 1
                    report.bytes_done += part.length
                    pace.observe(part.length, seconds)
                elif (isinstance(exc, TransientError) and not isinstance(exc, SourceChangedError)
                      and clock() >= hard):
                    report.stopped_by_deadline = True  # abandoned at the deadline: not a fault
                else:
                    failures.append(exc)
    report.remaining = [p.number for p in todo if p.number not in finished]
    if failures:
        raise _first_error(failures)


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
    md5_known: Collection[int] | None = None,
    on_report: Callable[[TransferReport], None] | None = None,
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
        p.number: existing[p.number].crc32_b64
        for p in plan
        if _already_there(existing, p, md5_known)
    }
    report = TransferReport(upload_id, 0, 0, False, [], {}, len(have))
    pace = _Pace()
    tries = 0
    try:
        while True:
            try:
                _stream_once(source, s3, bucket, key, upload_id, plan, have, report, pace,
                             deadline, hard, parallel, clock, md5_known is not None)
                break
            except SourceChangedError:
                raise
            except TransientError:
                tries += 1
                if clock() >= deadline:
                    report.stopped_by_deadline = True
                    break
                if tries >= attempts:
                    raise
    finally:
        report.remaining = [p.number for p in plan if p.number not in have]
        if on_report is not None:
            on_report(report)
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
    with_md5: bool = False,
) -> None:
    """One pass over the stream; ``have`` and ``report`` record every part finished."""
    needed = [p.number for p in plan if p.number not in have]
    if not needed:
        return
    last_needed = needed[-1]
    failures: list[BaseException] = []
    inflight: dict[Future[tuple[str, str | None]], tuple[PartRange, float]] = {}

    def reap(block: bool) -> None:
        if not inflight:
            return
        done, _ = wait(inflight, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for fut in done:
            part, started = inflight.pop(fut)
            exc = fut.exception()
            if exc is None:
                crc, md5 = fut.result()
                have[part.number] = crc
                report.part_crcs[part.number] = crc
                if md5 is not None:
                    report.part_md5s[part.number] = md5
                report.parts_done += 1
                report.bytes_done += part.length
                pace.observe(part.length, clock() - started)
            else:
                failures.append(exc)

    def upload(part: PartRange, data: bytearray) -> tuple[str, str | None]:
        md5 = md5_hex(data) if with_md5 else None
        return _upload_part(s3, bucket, key, upload_id, part.number, data), md5

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
                            inflight[pool.submit(upload, part, buf)] = (part, started)
                            buf = None
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


def _read_whole(source: Source, info: SourceInfo, deadline: float) -> bytes | bytearray:
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
    return buf


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
