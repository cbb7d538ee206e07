"""Finalize: complete what is fully uploaded, verified; then COMPLETED, or continue later.

A medium whose parts are not all in yet (the time budget ran out) goes back to PENDING with
its uploads kept: the stream starts a continuation that resumes from ListParts. An execution
that moved nothing at all stops as ``TransferStalledError`` instead of looping.

GoPro's own checksum: an upload cut on the origin's parts is completed only when the MD5s of
its parts (recorded by the transfer steps) reproduce the origin's ETag; where the layout is
certain a miss is an ``OriginChecksumMismatchError`` and the upload is aborted, never COMPLETED.
Every object record carries its verdict (``origin``: match / unknown, ``origin_why``), and the
run record counts them. A file whose source changed mid-transfer sends the medium round again:
the next prepare starts that file anew on the new version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .. import metrics
from ..aws import translate
from ..contract import ArchivedRecord, ExecutionInput, Outcome, UploadPlan
from ..errors import OriginChecksumMismatchError, TransferStalledError
from ..observability import MetricUnit, emit, logger
from ..services import Services
from ..tracker import COMPLETED, MediaRow, parse_iso
from ..transfer import (
    ArchivedObject,
    UploadedPart,
    abort_upload,
    complete_upload,
    part_count,
    stored_object,
    uploaded_parts,
)
from ..transfer.origin import MISMATCH, UNKNOWN, Verdict, planned_verdict, verify_parts
from .ending import end_medium
from .origin_check import NOT_PLANNED, PENDING_CHECK, parts_to_send
from .summary import after_finish

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import TaggingTypeDef

ORIGIN_TAG = "OriginCheck"


def _as_record(file_id: str, archived: ArchivedObject, verdict: Verdict) -> ArchivedRecord:
    return ArchivedRecord(file_id=file_id, key=archived.key, version_id=archived.version_id,
                          size=archived.size, crc32=archived.crc32_b64, origin=verdict.status,
                          origin_why=verdict.why)


def _stored_verdict(archived: ArchivedObject) -> Verdict:
    """The verdict a transfer step wrote into a whole file's metadata."""
    status = archived.metadata.get("origin-check")
    if status in (None, "", PENDING_CHECK):
        return Verdict(UNKNOWN, "the object records no origin check")
    return Verdict(status, archived.metadata.get("origin-why"))


def _multipart_verdict(upload: UploadPlan, count: int) -> Verdict:
    record = upload.as_payload()  # transfer.origin reads the stored record's fields
    planned = planned_verdict(record)
    if planned is not None:
        return planned
    if not upload.origin_part:
        return Verdict(UNKNOWN, NOT_PLANNED)
    return verify_parts(record, count)


def _tag_verdict(services: Services, archived: ArchivedObject, verdict: Verdict) -> None:
    """A guessed layout is decided only now: the verdict joins the object's tags."""
    s3, bucket, key = services.s3, services.settings.bucket, archived.key
    version = archived.version_id if archived.version_id not in (None, "null") else None
    try:
        if version:
            tags = s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=version)["TagSet"]
        else:
            tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        kept = [t for t in tags if t["Key"] != ORIGIN_TAG]
        tagging: TaggingTypeDef = {
            "TagSet": [*kept, {"Key": ORIGIN_TAG, "Value": verdict.status}]
        }
        if version:
            s3.put_object_tagging(Bucket=bucket, Key=key, VersionId=version, Tagging=tagging)
        else:
            s3.put_object_tagging(Bucket=bucket, Key=key, Tagging=tagging)
    except Exception as e:
        raise translate(e, f"tag s3://{bucket}/{key} with its origin check") from e


def _complete_file(services: Services, upload: UploadPlan, upload_id: str,
                   done: Mapping[int, UploadedPart], overwrite: bool,
                   identity: dict[str, str]) -> tuple[ArchivedObject, Verdict]:
    """Complete an upload whose parts (``done``: its ListParts, just read) are all in, if they
    reproduce the origin's ETag."""
    count = part_count(upload.size, upload.part_size)
    bucket, key = services.settings.bucket, upload.key
    verdict = _multipart_verdict(upload, count)
    if verdict.status == MISMATCH:
        abort_upload(services.s3, bucket, key, upload_id)
        raise OriginChecksumMismatchError(f"{key}: {verdict.why}; nothing was archived")
    archived = complete_upload(services.s3, bucket, key, upload_id,
                               expected_size=upload.size, allow_overwrite=overwrite,
                               identity=identity, parts=done)
    if upload.origin_guess and not archived.existing:
        _tag_verdict(services, archived, verdict)
    return archived, verdict


def _file_outcome(services: Services, step: ExecutionInput, overwrite: bool, file_id: str,
                  upload: UploadPlan) -> tuple[ArchivedObject | None, Verdict, int]:
    """The archived object of one original (None: not all there yet), its origin verdict, and
    how many of its parts S3 holds."""
    bucket = services.settings.bucket
    if upload.upload_id is None:
        # Written (and verified) by a transfer step; after a resync it must be this
        # execution's write, not the version it replaces.
        archived = stored_object(
            services.s3, bucket, upload.key, expected_size=upload.size,
            metadata_match={"wake": str(step.wake)} if overwrite else None,
        )
        verdict = _stored_verdict(archived) if archived else Verdict(UNKNOWN)
        return archived, verdict, 0
    done = uploaded_parts(services.s3, bucket, upload.key, upload.upload_id)
    count = part_count(upload.size, upload.part_size)
    if parts_to_send(upload, count, done):
        return None, Verdict(UNKNOWN), len(done)
    # A 412 on completion is our own object when its answer was lost: the same medium and
    # file, the same bytes (CRC32, or the parts' multipart ETag).
    identity = {"media-id": step.media_id, "file-id": file_id}
    archived, verdict = _complete_file(services, upload, upload.upload_id, done, overwrite,
                                       identity)
    return archived, verdict, len(done)


@dataclass
class _Settled:
    """Where every original of the medium stands after this execution's transfers."""

    uploads: dict[str, UploadPlan] = field(default_factory=dict)
    progress: int = 0  # parts in S3 plus originals archived
    missing: int = 0  # originals not archived yet
    changed: int = 0  # of those, whose source changed under the transfer


def _settle(services: Services, step: ExecutionInput, row: MediaRow) -> _Settled:
    """Complete every original whose parts are all in; count what is still missing."""
    settled = _Settled(uploads=dict(row.uploads))
    for file_id, upload in row.uploads.items():
        if upload.done:
            settled.progress += 1
            continue
        if upload.source_changed:  # its upload was aborted: prepare starts it anew
            settled.missing += 1
            settled.changed += 1
            continue
        archived, verdict, parts = _file_outcome(services, step, row.overwrite, file_id, upload)
        settled.progress += parts
        if archived is None:
            settled.missing += 1
        else:
            settled.uploads[file_id] = replace(upload, done=_as_record(file_id, archived, verdict))
            settled.progress += 1
    return settled


def _continue(services: Services, step: ExecutionInput, row: MediaRow,
              settled: _Settled) -> Outcome:
    """Not all in yet: keep what is done and go round again, unless nothing moved at all."""
    if settled.progress <= row.progress_parts and not settled.changed:
        raise TransferStalledError(
            f"no part of {settled.missing} unfinished original(s) moved within the time budget"
        )
    tracker = services.tracker
    tracker.save_plan(step.provider, step.media_id, step.wake, settled.uploads, settled.progress)
    tracker.continue_later(step.provider, step.media_id, step.wake)
    logger.info("medium continues", extra={"media_id": step.media_id, "missing": settled.missing})
    return after_finish(services, step.provider, step.media_id, "CONTINUED", None)


def _archived_metrics(step: ExecutionInput, row: MediaRow, total: int, objects: int,
                      clock: Callable[[], float]) -> None:
    """The metrics and the log line of a medium archived."""
    started = parse_iso(row.claimed_at)
    seconds = max(0.001, clock() - started.timestamp()) if started else 0.0
    emit(metrics.VIDEOS_SYNCED, 1, MetricUnit.Count, Provider=step.provider)
    emit(metrics.BYTES_TRANSFERRED, total, MetricUnit.Bytes, Provider=step.provider)
    if seconds:
        emit(metrics.TRANSFER_DURATION, seconds, MetricUnit.Seconds, Provider=step.provider)
        emit(
            metrics.TRANSFER_THROUGHPUT,
            total * 8 / 1e6 / seconds,
            MetricUnit.MegabitsPerSecond,
            Provider=step.provider,
        )
    logger.info("medium archived",
                extra={"media_id": step.media_id, "bytes": total, "objects": objects})


def finalize_medium(
    services: Services, step: ExecutionInput, clock: Callable[[], float] = time.time
) -> Outcome:
    row = services.tracker.owned(step.provider, step.media_id, step.wake)
    settled = _settle(services, step, row)
    if settled.missing:
        return _continue(services, step, row, settled)
    objects = [u.done for u in settled.uploads.values() if u.done is not None]
    total = sum(o.size for o in objects)
    return end_medium(
        services, step, COMPLETED, objects=objects, bytes_archived=total,
        then=lambda: _archived_metrics(step, row, total, len(objects), clock),
    )
