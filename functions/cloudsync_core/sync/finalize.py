"""Finalize: complete what is fully uploaded, verified; then COMPLETED, or continue later.

A medium whose parts are not all in yet (the time budget ran out) goes back to PENDING with
its uploads kept: the stream starts a continuation that resumes from ListParts. An execution
that moved nothing at all stops as ``TransferStalledError`` instead of looping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import TransferStalledError
from ..events import MediumStep
from ..observability import MetricUnit, emit, logger
from ..services import Services
from ..tracker import COMPLETED, Outcome, parse_iso
from ..transfer import ArchivedObject, complete_upload, part_count, stored_object, uploaded_parts
from .summary import after_finish


def _as_record(file_id: str, archived: ArchivedObject) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "key": archived.key,
        "version_id": archived.version_id,
        "size": archived.size,
        "crc32": archived.crc32_b64,
    }


def finalize_medium(
    services: Services, step: MediumStep, clock: Callable[[], float] = time.time
) -> Outcome:
    settings = services.settings
    tracker = services.tracker
    row = tracker.owned(step.provider, step.media_id, step.wake)
    uploads = {k: dict(v) for k, v in row.uploads.items()}
    progress = 0
    missing = 0
    for file_id, upload in uploads.items():
        if upload.get("done"):
            progress += 1
            continue
        key, size = str(upload["key"]), int(upload["size"])
        archived: ArchivedObject | None
        if upload.get("upload_id") is None:
            # Written (and verified) by a transfer step; after a resync it must be this
            # execution's write, not the version it replaces.
            archived = stored_object(
                services.s3,
                settings.bucket,
                key,
                expected_size=size,
                metadata_match={"wake": str(step.wake)} if row.overwrite else None,
            )
        else:
            done = uploaded_parts(services.s3, settings.bucket, key, str(upload["upload_id"]))
            progress += len(done)
            complete = len(done) == part_count(size, int(upload["part_size"]))
            archived = (
                complete_upload(
                    services.s3,
                    settings.bucket,
                    key,
                    str(upload["upload_id"]),
                    expected_size=size,
                    allow_overwrite=row.overwrite,
                )
                if complete
                else None
            )
        if archived is None:
            missing += 1
        else:
            upload["done"] = _as_record(file_id, archived)
            progress += 1

    if missing:
        if progress <= row.progress_parts:
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
