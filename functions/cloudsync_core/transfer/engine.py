"""Moving bytes from a source into an S3 multipart upload, part by part, within a deadline.

These are the primitives the workflow's steps compose, and nothing else: prepare plans and
creates the upload (``s3ops``), each transfer invocation runs ``transfer_parts`` over its slice
(``transfer_stream`` where the source ignores Range, ``read_whole`` + ``s3ops.put_small`` for a
file smaller than a part), finalize completes (``s3ops.complete_upload``). There is no
"whole file in one call" entry: the benchmark runs the steps themselves, so what it measures is
what production runs.

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
from .cutter import Cut, Piece, cut_stream
from .plan import PartRange, part_ranges
from .s3ops import BufferBody, UploadedPart, uploaded_parts
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


class Reader(RangeReader, StreamReader, Protocol):
    """Both ways to read a file: by range, or as one stream (a server that ignores Range)."""


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


@dataclass(frozen=True)
class _Upload:
    """The multipart upload parts go to."""

    s3: S3Client
    bucket: str
    key: str
    upload_id: str

    def send(self, number: int, data: bytes | bytearray, with_md5: bool,
             clock: Callable[[], float]) -> _Sent:
        """UploadPart with the CRC32 of exactly these bytes (S3 rejects the part if they
        differ), and their MD5 when asked."""
        md5 = md5_hex(data) if with_md5 else None
        crc = crc32_b64(data)
        where = f"s3://{self.bucket}/{self.key}"
        try:
            resp = self.s3.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=cast("IO[bytes]", BufferBody(data)),  # a file-like body; typeshed wants IO
                ChecksumAlgorithm="CRC32",
                ChecksumCRC32=crc,
            )
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"UploadPart {number} of {where}") from e
        echoed = resp.get("ChecksumCRC32")
        if echoed and echoed != crc:
            raise ChecksumMismatchError(
                f"{where} part {number}: S3 computed CRC32 {echoed}, we sent {crc}"
            )
        return _Sent(crc, md5, clock())


@dataclass(frozen=True)
class _Sent:
    """A part S3 holds now: its CRC32 (base64), its MD5 (hex) if asked, when it finished."""

    crc: str
    md5: str | None
    at: float


class _InFlight:
    """Parts being uploaded on a pool; each one that finishes goes into the report and the pace.

    With ``abandon_after``, a transient failure at or past that time is the deadline's doing
    (a read abandoned there), not a fault: it only marks the report stopped.
    """

    def __init__(self, pool: ThreadPoolExecutor, report: TransferReport, pace: _Pace,
                 clock: Callable[[], float], abandon_after: float | None = None) -> None:
        self.pool, self.report, self.pace, self.clock = pool, report, pace, clock
        self.abandon_after = abandon_after
        self.futures: dict[Future[_Sent], tuple[PartRange, float]] = {}
        self.failures: list[BaseException] = []
        self.begun = 0

    def __len__(self) -> int:
        return len(self.futures)

    def submit(self, part: PartRange, started: float, fn: Callable[..., _Sent],
               *args: object) -> None:
        self.futures[self.pool.submit(fn, *args)] = (part, started)
        self.begun += 1

    def reap(self, *, block: bool) -> None:
        if not self.futures:
            return
        done, _ = wait(self.futures, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for fut in done:
            part, started = self.futures.pop(fut)
            exc = fut.exception()
            if exc is None:
                self._record(part, started, fut.result())
            elif self._abandoned(exc):
                self.report.stopped_by_deadline = True
            else:
                self.failures.append(exc)

    def drain(self) -> None:
        while self.futures:
            self.reap(block=True)

    def _record(self, part: PartRange, started: float, sent: _Sent) -> None:
        report = self.report
        report.part_crcs[part.number] = sent.crc
        if sent.md5 is not None:
            report.part_md5s[part.number] = sent.md5
        report.parts_done += 1
        report.bytes_done += part.length
        self.pace.observe(part.length, sent.at - started)

    def _abandoned(self, exc: BaseException) -> bool:
        return (self.abandon_after is not None and isinstance(exc, TransientError)
                and not isinstance(exc, SourceChangedError)
                and self.clock() >= self.abandon_after)


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
        _run_parts(source, _Upload(s3, bucket, key, upload_id), todo, report,
                   _Budget(deadline, hard, clock), parallel, md5_known is not None)
    finally:
        if on_report is not None:
            on_report(report)
    return report


@dataclass(frozen=True)
class _Budget:
    """When a call must stop starting parts (``deadline``) and abandon reads (``hard``)."""

    deadline: float
    hard: float
    clock: Callable[[], float]

    def may_start(self, need: float, first: bool) -> bool:
        return _may_start(self.clock(), need, self.deadline, self.hard, first)


def _run_parts(source: RangeReader, upload: _Upload, todo: list[PartRange],
               report: TransferReport, budget: _Budget, parallel: int, with_md5: bool) -> None:
    """``transfer_parts``' loop: fills ``report``; raises the first (permanent) failure."""
    clock = budget.clock

    def work(part: PartRange) -> _Sent:
        data = source.read_range(part.start, part.end, deadline=budget.hard)
        if len(data) != part.length:
            raise TransientError(
                f"part {part.number}: expected {part.length} bytes, read {len(data)}"
            )
        return upload.send(part.number, data, with_md5, clock)

    queue = iter(todo)
    nxt = next(queue, None)
    workers = max(1, min(parallel, len(todo)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cloudsync-part") as pool:
        flight = _InFlight(pool, report, _Pace(), clock, abandon_after=budget.hard)
        while True:
            while (nxt is not None and not flight.failures and not report.stopped_by_deadline
                   and len(flight) < parallel):
                if not budget.may_start(flight.pace.need(nxt.length), flight.begun == 0):
                    report.stopped_by_deadline = True
                    break
                flight.submit(nxt, clock(), work, nxt)
                nxt = next(queue, None)
            if not flight:
                break
            flight.reap(block=True)
    report.remaining = [p.number for p in todo if p.number not in report.part_crcs]
    if flight.failures:
        raise _first_error(flight.failures)


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
    budget = _Budget(deadline, _hard(deadline, hard_deadline), clock)
    passes = _StreamPasses(source, _Upload(s3, bucket, key, upload_id), plan, have, report,
                           budget, parallel, md5_known is not None)
    try:
        passes.run(attempts)
    finally:
        report.remaining = [p.number for p in plan if p.number not in have]
        if on_report is not None:
            on_report(report)
    return report


class _StreamPasses:
    """``transfer_stream``'s passes over the stream: each cuts it into parts (``cut_stream``),
    uploads the missing ones while the next fills, and checks the ones S3 holds."""

    def __init__(self, source: StreamReader, upload: _Upload, plan: list[PartRange],
                 have: dict[int, str | None], report: TransferReport, budget: _Budget,
                 parallel: int, with_md5: bool) -> None:
        self.source, self.upload, self.plan, self.have = source, upload, plan, have
        self.report, self.budget, self.parallel, self.with_md5 = report, budget, parallel, with_md5
        self.pace = _Pace()

    def run(self, attempts: int) -> None:
        """Passes until every part is there, the deadline, or ``attempts`` broken streams."""
        tries = 0
        while True:
            try:
                self.once()
                return
            except SourceChangedError:
                raise
            except TransientError:
                tries += 1
                if self.budget.clock() >= self.budget.deadline:
                    self.report.stopped_by_deadline = True
                    return
                if tries >= attempts:
                    raise
            finally:
                self.have.update(self.report.part_crcs)

    def once(self) -> None:
        """One pass over the stream; ``report`` records every part finished."""
        needed = [p.number for p in self.plan if p.number not in self.have]
        if not needed:
            return
        chunks = self.source.stream(deadline=self.budget.hard)
        error: CloudSyncError | None = None
        with ThreadPoolExecutor(max_workers=self.parallel,
                                thread_name_prefix="cloudsync-stream") as pool:
            flight = _InFlight(pool, self.report, self.pace, self.budget.clock)
            started: dict[int, float] = {}
            decide = self._decider(flight, needed[-1], started)
            try:
                for piece in cut_stream(chunks, self.plan, decide):
                    if piece.data is None:
                        self._check(piece)
                        continue
                    number = piece.part.number
                    flight.submit(piece.part, started[number], self.upload.send, number,
                                  piece.data, self.with_md5, self.budget.clock)
            except CloudSyncError as e:
                error = e
            finally:
                close = getattr(chunks, "close", None)
                if callable(close):
                    close()
                flight.drain()
        errors: list[BaseException] = ([error] if error else []) + flight.failures
        if errors:
            raise _first_error(errors)

    def _decider(self, flight: _InFlight, last_needed: int,
                 started: dict[int, float]) -> Callable[[PartRange], Cut]:
        """At each part boundary: keep it (to upload), check it (S3 holds it) or stop."""

        def decide(part: PartRange) -> Cut:
            flight.reap(block=False)
            missing = part.number not in self.have
            need = self.pace.need(part.length) if missing else 0.0
            if flight.failures or part.number > last_needed:
                return Cut.STOP
            if not self.budget.may_start(need, flight.begun == 0):
                self.report.stopped_by_deadline = True
                return Cut.STOP
            if not missing:
                return Cut.CHECK
            while len(flight) >= self.parallel:
                flight.reap(block=True)
            started[part.number] = self.budget.clock()
            return Cut.KEEP

        return decide

    def _check(self, piece: Piece) -> None:
        """A part S3 holds, read again: its bytes must be the ones uploaded then."""
        known = self.have.get(piece.part.number)
        if known and known != crc32_to_b64(piece.crc32):
            raise ChecksumMismatchError(
                f"s3://{self.upload.bucket}/{self.upload.key} part {piece.part.number}: the "
                f"source's bytes differ from the part uploaded earlier"
            )


def read_whole(source: Reader, info: SourceInfo, deadline: float) -> bytes | bytearray:
    """A file smaller than a part in one piece: one ranged GET, or the stream if the source
    ignores Range. Exactly ``info.size`` bytes or an error: a short read is transient, more
    bytes than planned is a ``SizeMismatchError``."""
    if info.size == 0:
        return b""
    if info.ranges:
        data = source.read_range(0, info.size - 1, deadline=deadline)
        if len(data) != info.size:
            raise TransientError(f"whole file: expected {info.size} bytes, read {len(data)}")
        return data
    buf = bytearray()
    for chunk in source.stream(deadline=deadline):
        buf += chunk
        if len(buf) > info.size:
            raise SizeMismatchError("source stream (more bytes than probed)", info.size, len(buf))
    if len(buf) != info.size:
        raise TransientError(f"source stream ended early: expected {info.size}, got {len(buf)}")
    return buf
