"""A caught failure: record it on the row (typed), clean up, and count it in the run.

An account problem is no failure of the medium: it pauses the stack and parks the medium.
"""

from __future__ import annotations

import json

from .. import errors, metrics
from ..contract import Outcome, StepFailure
from ..observability import MetricUnit, emit, logger, scrub
from ..services import Services
from ..tracker import DELETED_AT_SOURCE, FAILED, SKIPPED, MediaRow
from ..transfer import abort_upload
from .account import is_account_problem, pause_stack
from .ending import NOT_OURS, end_medium

MAX_MESSAGE = 500
PAUSED = "PAUSED"  # the outcome of a parked medium (its row is QUEUED for the next run)


def _message(cause: str) -> str:
    """The error message out of a Lambda error's Cause (JSON), short and scrubbed."""
    try:
        parsed = json.loads(cause)
        text = str(parsed.get("errorMessage", "")) if isinstance(parsed, dict) else cause
    except ValueError:
        text = cause
    return scrub(text)[:MAX_MESSAGE]


def _is_transient(error_type: str) -> bool:
    return error_type in errors.transient_error_names() or error_type.startswith(
        ("Lambda.", "States.Timeout", "DynamoDB.")
    )


def park(services: Services, failure: StepFailure) -> Outcome:
    """An account problem, not the medium's: the stack pauses (one alert for the pause) and
    the medium waits for the next run as QUEUED, its attempt given back, its retry budget and
    uploads untouched, never FAILED. Parking wakes no queued medium (they would only park)."""
    step = failure.step
    tracker = services.tracker
    if failure.error_type != errors.AccountPausedError.__name__:  # else: already paused
        pause_stack(services, step.provider, failure.error_type, _message(failure.cause))
    if not tracker.park(step.provider, step.media_id, step.wake, run_id=step.run_id or None):
        return NOT_OURS
    tracker.release_slot(step.provider, step.media_id)
    logger.warning(
        "medium parked: the stack is paused",
        extra={"media_id": step.media_id, "error_type": failure.error_type},
    )
    complete = bool(step.run_id) and tracker.claim_run_completion(step.run_id)
    return Outcome(status=PAUSED, run_complete=complete)


def _abort_uploads(services: Services, row: MediaRow) -> None:
    """Every incomplete upload of the medium: a permanent error (or a deleted medium) leaves
    none behind."""
    for upload in row.uploads.values():
        if upload.upload_id and not upload.done:
            abort_upload(services.s3, services.settings.bucket, upload.key, upload.upload_id)


def _report(failure: StepFailure, status: str) -> None:
    """The log line (and for a failure, the metric) of a medium that ended in ``status``."""
    step = failure.step
    if status == DELETED_AT_SOURCE:
        logger.info("medium deleted at the source", extra={"media_id": step.media_id})
    elif status == SKIPPED:
        logger.info("not a medium to archive: skipped", extra={"media_id": step.media_id})
    else:
        emit(
            metrics.SYNC_FAILURES,
            1,
            MetricUnit.Count,
            Provider=step.provider,
            ErrorType=failure.error_type,
        )
        logger.error(
            "medium failed", extra={"media_id": step.media_id, "error_type": failure.error_type}
        )


def mark_failed(services: Services, failure: StepFailure) -> Outcome:
    step = failure.step
    row = services.tracker.get(step.provider, step.media_id)
    if row is None or row.wake != step.wake:
        return NOT_OURS
    if is_account_problem(failure.error_type):
        return park(services, failure)
    deleted = failure.error_type == errors.DeletedAtSourceError.__name__
    skipped = failure.error_type == errors.NotMediaError.__name__  # an edit project, a render
    status = DELETED_AT_SOURCE if deleted else SKIPPED if skipped else FAILED
    # Retries spent on a transient error keep the uploads so the next run resumes them;
    # a permanent error (or a deleted medium) leaves no incomplete upload behind.
    if not _is_transient(failure.error_type):
        _abort_uploads(services, row)
    return end_medium(services, step, status, then=lambda: _report(failure, status),
                      error_type=failure.error_type, error_message=_message(failure.cause))
