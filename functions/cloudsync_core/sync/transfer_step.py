"""One Map iteration: move a slice's parts from the source into S3 before the deadline.

Every read is pinned to the version prepare probed (``origin_check.pin_of``) and bounded in
wall-clock time (``SOURCE_POLICY``). Each part's MD5 goes into the upload record when the file
is cut on the origin's parts; a file small enough to move whole is checked against the origin's
ETag here, before anything is written. A source that changed under the transfer gets its upload
aborted and its record flagged: finalize sends the medium round again and prepare starts that
file anew, so two versions are never spliced into one object.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..contract import TransferResult, TransferSlice, UploadPlan, WorkUnit
from ..errors import OriginChecksumMismatchError, SourceChangedError
from ..models import SourceFile
from ..observability import logger
from ..services import Services
from ..tracker import MediaRow, parse_iso
from ..transfer import (
    HttpRangeSource,
    SourceReadPolicy,
    TransferReport,
    abort_upload,
    part_ranges,
    put_small,
    read_whole,
    transfer_parts,
    transfer_stream,
)
from ..transfer.origin import MISMATCH, verify_whole
from .origin_check import pin_of, probed
from .originals import LinkCache, Target, targets
from .source import open_provider

SAFETY_MARGIN_S = 10.0  # leave time to report back before Lambda's own timeout
EXPRESS_LIMIT_S = 300.0  # an Express execution ends here, whatever runs in it
FINALIZE_S = 30.0  # kept for finalize and the run fan-in after the Map
# How long a source read may take: 30 s per socket read and a body at 256 KiB/s at least
# (a 16 MiB part in 94 s), never past the step's hard deadline. Tests shrink it.
SOURCE_POLICY = SourceReadPolicy()


def _deadlines(services: Services, request: TransferSlice, remaining_s: Callable[[], float],
               clock: Callable[[], float]) -> tuple[float, float]:
    """The step's deadlines on the monotonic clock: no new part starts after the first (the
    time budget); parts in flight may finish until the second (the Express execution's
    5 minutes less time for finalize, or this function's own timeout)."""
    now, mono = clock(), time.monotonic()  # the workflow's deadline is wall-clock
    lambda_limit = now + remaining_s() - SAFETY_MARGIN_S
    execution_limit = (request.deadline - services.settings.time_budget_s + EXPRESS_LIMIT_S
                       - FINALIZE_S)
    deadline = mono + max(0.0, min(request.deadline, lambda_limit) - now)
    return deadline, mono + max(0.0, min(execution_limit, lambda_limit) - now)


def transfer_slice(
    services: Services,
    request: TransferSlice,
    remaining_s: Callable[[], float],
    clock: Callable[[], float] = time.time,
) -> TransferResult:
    row = services.tracker.owned(request.provider, request.media_id, request.wake)
    deadline, hard_deadline = _deadlines(services, request, remaining_s, clock)
    links = LinkCache.for_row(open_provider(services, request.provider), row)
    # Metadata and tags of every original (for the small ones this step writes whole).
    where = targets(request.provider, request.media_id, parse_iso(row.captured_at), links.all())
    parts = 0
    moved = 0
    stopped = False
    for unit in request.units:
        if parts and time.monotonic() >= deadline:  # budget spent: the rest waits to continue
            stopped = True
            break
        if row.uploads[unit.file_id].source_changed:  # another slice saw it change
            continue  # prepare starts it anew
        step = _FileStep(services, request, row, unit, links.get(unit.file_id),
                         where[unit.file_id])
        try:
            with step.source(links) as source:
                report = step.run(source, deadline, hard_deadline)
        except SourceChangedError as e:
            step.restart(e)
            stopped = True
            continue
        parts += report.parts_done
        moved += report.bytes_done
        if report.stopped_by_deadline:
            stopped = True
            break
    return TransferResult(parts=parts, bytes=moved, stopped_by_deadline=stopped)


class _FileStep:
    """One unit of one original: read pinned, verify, write, record."""

    def __init__(self, services: Services, request: TransferSlice, row: MediaRow,
                 unit: WorkUnit, original: SourceFile, target: Target) -> None:
        self.services, self.request, self.row, self.unit = services, request, row, unit
        self.original, self.target = original, target
        self.upload: UploadPlan = row.uploads[unit.file_id]

    def source(self, links: LinkCache) -> HttpRangeSource:
        fid = self.unit.file_id
        return HttpRangeSource(
            self.original.url,
            head_url=self.original.head_url,
            refresh_link=lambda: links.refresh(fid),
            pin=pin_of(self.upload),
            policy=SOURCE_POLICY,
        )

    def run(self, source: HttpRangeSource, deadline: float, hard: float) -> TransferReport:
        upload = self.upload
        if upload.upload_id is None:
            return self._whole(source, hard)
        settings = self.services.settings
        known = upload.md5_numbers
        on_report = self._record if known is not None else None
        if upload.ranges:
            ranges = [r for r in part_ranges(upload.size, upload.part_size)
                      if self.unit.first <= r.number <= self.unit.last]
            return transfer_parts(
                source, self.services.s3, settings.bucket, upload.key, upload.upload_id, ranges,
                deadline=deadline, hard_deadline=hard, parallel=settings.parallel_ranges,
                md5_known=known, on_report=on_report,
            )
        # the source ignores Range: one sequential pass, skipping finished parts
        return transfer_stream(
            source, self.services.s3, settings.bucket, upload.key, upload.upload_id,
            size=upload.size, part_size=upload.part_size, deadline=deadline, hard_deadline=hard,
            md5_known=known, on_report=on_report,
        )

    def _record(self, report: TransferReport) -> None:
        if report.part_md5s:
            r = self.request
            self.services.tracker.update_upload(r.provider, r.media_id, r.wake,
                                                self.unit.file_id, {}, md5s=report.part_md5s)

    def _whole(self, source: HttpRangeSource, hard: float) -> TransferReport:
        """Smaller than a part: read whole (exactly the size probed), checked against the
        origin's ETag, then one PutObject."""
        upload = self.upload
        data = read_whole(source, probed(upload), hard)
        verdict = verify_whole(data, upload.origin_etag or None)
        if verdict.status == MISMATCH:
            raise OriginChecksumMismatchError(
                f"{upload.key}: {verdict.why}; nothing was archived"
            )
        put_small(
            self.services.s3,
            self.services.settings.bucket,
            upload.key,
            data,
            expected_size=upload.size,
            metadata={**self.target.metadata, **verdict.metadata(upload.origin_etag or None),
                      "wake": str(self.request.wake)},
            tagging=self.target.tagging,
            allow_overwrite=self.row.overwrite,
        )
        return TransferReport("", 1, upload.size, False, [])

    def restart(self, cause: SourceChangedError) -> None:
        """The source changed: abort the upload (its parts are of the old version) and flag
        the record, so the next prepare begins this file again on the new version."""
        if self.upload.upload_id:
            abort_upload(self.services.s3, self.services.settings.bucket, self.upload.key,
                         self.upload.upload_id)
        r = self.request
        self.services.tracker.update_upload(r.provider, r.media_id, r.wake, self.unit.file_id,
                                            {"source_changed": True})
        logger.warning("source changed during transfer; the file starts again",
                       extra={"media_id": r.media_id, "file_id": self.unit.file_id,
                              "reason": str(cause)})
