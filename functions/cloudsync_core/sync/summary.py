"""Run fan-in and the summary message (the seed's SNS text, with the failures listed).

A run sends its summary when something needs a person: a medium failed, or an execution died at
the workflow's time limit (TIMED_OUT runs no Catch; the next run's sweep counts and re-queues it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..aws import translate
from ..observability import logger
from ..services import Services
from ..tracker import Outcome, RunRecord, Tracker

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

MAX_LISTED_FAILURES = 20


def after_finish(
    services: Services, provider: str, media_id: str, status: str, run_id: str | None
) -> Outcome:
    """What every finishing move is followed by: free the slot, wake a queued medium, fan in."""
    tracker = services.tracker
    tracker.release_slot(provider, media_id)
    tracker.wake_queued(provider, limit=1)
    complete = bool(run_id) and tracker.claim_run_completion(run_id or "")
    return Outcome(status=status, run_complete=complete)


def summary_text(run: RunRecord, failures: list[tuple[str, str, str]]) -> tuple[str, str]:
    """Subject and message, as the seed words them, plus what a person needs to act."""
    subject = "GoPro Sync Partial Failure" if run.failed else "GoPro Sync Complete"
    lines = [
        f"Sync completed with {run.failed} failures out of {run.queued} videos. "
        f"Execution: {run.run_id}",
        "",
        f"Archived: {run.completed} media ({run.bytes / 1e9:.2f} GB); "
        f"deleted at the source: {run.deleted}; failed: {run.failed}; "
        f"skipped (edit projects, share renders): {run.skipped_media}.",
        f"GoPro's own checksum (origin ETag): {run.origin_match} files match, "
        f"{run.origin_unknown} could not be checked; a mismatch is never archived.",
    ]
    if run.timed_out:
        lines += [
            "",
            f"Timed out: {run.timed_out} workflow execution(s) reached the time limit and were "
            "swept by a later run (queued again within the retry budget, else failed as "
            "States.Timeout). Many of these mean the transfers are slower than the time budget "
            "allows: lower timeBudgetSeconds or partSizeMib.",
        ]
    if failures:
        lines += ["", "Failed media (provider/media id: error):"]
        lines += [f"- {p}/{m}: {kind}" for p, m, kind in failures[:MAX_LISTED_FAILURES]]
        if len(failures) > MAX_LISTED_FAILURES:
            lines.append(f"- ... and {len(failures) - MAX_LISTED_FAILURES} more")
        lines += ["", "See them with `cloudsync failures`; retry one with `cloudsync resync ID`."]
    return subject, "\n".join(lines)


def run_failures(tracker: Tracker, run: RunRecord) -> list[tuple[str, str, str]]:
    return [
        (row.provider, row.media_id, row.error_type or "UnknownError")
        for row in tracker.failed_in_run(run.provider, run.run_id)
    ]


def publish_summary(services: Services, run_id: str) -> bool:
    """Publish the run's summary when anything failed; True when a message went out."""
    services.settings.require("topic_arn")
    return send_summary(services.tracker, services.sns, services.settings.topic_arn, run_id)


def send_summary(tracker: Tracker, sns: SNSClient, topic_arn: str, run_id: str) -> bool:
    """``publish_summary`` for callers without a function's settings (the CLI's resync)."""
    run = tracker.get_run(run_id)
    if run is None or not (run.failed or run.timed_out):
        logger.info("run finished cleanly", extra={"run_id": run_id})
        return False
    subject, message = summary_text(run, run_failures(tracker, run))
    try:
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=message)
    except Exception as e:
        raise translate(e, "publish run summary") from e
    logger.warning("run summary sent", extra={"run_id": run_id, "failed": run.failed,
                                              "timed_out": run.timed_out})
    return True
