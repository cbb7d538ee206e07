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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..aws import translate
from ..errors import OriginChecksumMismatchError, TransferStalledError
from ..events import MediumStep
from ..observability import MetricUnit, emit, logger
from ..services import Services
from ..tracker import COMPLETED, Outcome, parse_iso
from ..transfer import (
    ArchivedObject,
    abort_upload,
    complete_upload,
    part_count,
    stored_object,
    uploaded_parts,
)
from ..transfer.origin import MISMATCH, UNKNOWN, Verdict, planned_verdict, verify_parts
from .origin_check import NOT_PLANNED, PENDING_CHECK, parts_to_send
from .summary import after_finish

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import TaggingTypeDef

ORIGIN_TAG = "OriginCheck"


def _as_record(file_id: str, archived: ArchivedObject, verdict: Verdict) -> dict[str, Any]:
    record: dict[str, Any] = {
        "file_id": file_id,
        "key": archived.key,
        "version_id": archived.version_id,
        "size": archived.size,
        "crc32": archived.crc32_b64,
        "origin": verdict.status,
    }
    if verdict.why:
        record["origin_why"] = verdict.why
    return record


def _stored_verdict(archived: ArchivedObject) -> Verdict:
    """The verdict a transfer step wrote into a whole file's metadata."""
    status = archived.metadata.get("origin-check")
    if status in (None, "", PENDING_CHECK):
        return Verdict(UNKNOWN, "the object records no origin check")
    return Verdict(status, archived.metadata.get("origin-why"))


def _multipart_verdict(upload: dict[str, Any], count: int) -> Verdict:
    planned = planned_verdict(upload)
    if planned is not None:
        return planned
    if not upload.get("origin_part"):
        return Verdict(UNKNOWN, NOT_PLANNED)
    return verify_parts(upload, count)


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


def _complete_file(services: Services, upload: dict[str, Any], count: int,
                   overwrite: bool, identity: dict[str, str]) -> tuple[ArchivedObject, Verdict]:
    """Complete an upload whose parts are all in, if its parts reproduce the origin's ETag."""
    bucket, key, upload_id = services.settings.bucket, str(upload["key"]), str(upload["upload_id"])
    verdict = _multipart_verdict(upload, count)
    if verdict.status == MISMATCH:
        abort_upload(services.s3, bucket, key, upload_id)
        raise OriginChecksumMismatchError(f"{key}: {verdict.why}; nothing was archived")
    archived = complete_upload(services.s3, bucket, key, upload_id,
                               expected_size=int(upload["size"]), allow_overwrite=overwrite,
                               identity=identity)
    if upload.get("origin_guess") and not archived.existing:
        _tag_verdict(services, archived, verdict)
    return archived, verdict


def _file_outcome(services: Services, step: MediumStep, overwrite: bool, file_id: str,
                  upload: dict[str, Any]) -> tuple[ArchivedObject | None, Verdict, int]:
    """The archived object of one original (None: not all there yet), its origin verdict, and
    how many of its parts S3 holds."""
    bucket = services.settings.bucket
    key, size = str(upload["key"]), int(upload["size"])
    if upload.get("upload_id") is None:
        # Written (and verified) by a transfer step; after a resync it must be this
        # execution's write, not the version it replaces.
        archived = stored_object(
            services.s3, bucket, key, expected_size=size,
            metadata_match={"wake": str(step.wake)} if overwrite else None,
        )
        verdict = _stored_verdict(archived) if archived else Verdict(UNKNOWN)
        return archived, verdict, 0
    done = uploaded_parts(services.s3, bucket, key, str(upload["upload_id"]))
    count = part_count(size, int(upload["part_size"]))
    if parts_to_send(upload, count, done):
        return None, Verdict(UNKNOWN), len(done)
    # A 412 on completion is our own object when its answer was lost: the same medium and
    # file, the same bytes (CRC32, or the parts' multipart ETag).
    identity = {"media-id": step.media_id, "file-id": file_id}
    archived, verdict = _complete_file(services, upload, count, overwrite, identity)
    return archived, verdict, len(done)


def finalize_medium(
    services: Services, step: MediumStep, clock: Callable[[], float] = time.time
) -> Outcome:
    tracker = services.tracker
    row = tracker.owned(step.provider, step.media_id, step.wake)
    uploads = {k: dict(v) for k, v in row.uploads.items()}
    progress = 0
    missing = 0
    changed = 0
    for file_id, upload in uploads.items():
        if upload.get("done"):
            progress += 1
            continue
        if upload.get("source_changed"):  # its upload was aborted: prepare starts it anew
            missing += 1
            changed += 1
            continue
        archived, verdict, parts = _file_outcome(services, step, row.overwrite, file_id, upload)
        progress += parts
        if archived is None:
            missing += 1
        else:
            upload["done"] = _as_record(file_id, archived, verdict)
            progress += 1

    if missing:
        if progress <= row.progress_parts and not changed:
            raise TransferStalledError(
                f"no part of {missing} unfinished original(s) moved within the time budget"
            )
        tracker.save_plan(step.provider, step.media_id, step.wake, uploads, progress)
        tracker.continue_later(step.provider, step.media_id, step.wake)
        logger.info("medium continues", extra={"media_id": step.media_id, "missing": missing})
        return after_finish(services, step.provider, step.media_id, "CONTINUED", None)

    objects = [u["done"] for u in uploads.values()]
    total = sum(int(o["size"]) for o in objects)
    finished = tracker.finish(
        step.provider,
        step.media_id,
        step.wake,
        COMPLETED,
        run_id=step.run_id or None,
        objects=objects,
        bytes_archived=total,
    )
    if not finished:
        return Outcome(status="NOT_OURS", run_complete=False)
    started = parse_iso(row.claimed_at)
    seconds = max(0.001, clock() - started.timestamp()) if started else 0.0
    emit("VideosSynced", 1, MetricUnit.Count, Provider=step.provider)
    emit("BytesTransferred", total, MetricUnit.Bytes, Provider=step.provider)
    if seconds:
        emit("TransferDuration", seconds, MetricUnit.Seconds, Provider=step.provider)
        emit(
            "TransferThroughput",
            total * 8 / 1e6 / seconds,
            MetricUnit.MegabitsPerSecond,
            Provider=step.provider,
        )
    logger.info(
        "medium archived",
        extra={"media_id": step.media_id, "bytes": total, "objects": len(objects)},
    )
    return after_finish(services, step.provider, step.media_id, COMPLETED, step.run_id or None)
