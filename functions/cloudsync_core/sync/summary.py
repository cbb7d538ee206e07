"""Run fan-in and the summary message (the seed's SNS text, with the failures listed).

A run sends its summary when something needs a person: a medium failed, or an execution died at
the workflow's time limit (TIMED_OUT runs no Catch; the next run's sweep counts and re-queues it).
The subject names the run's provider as its catalog entry does ("GoPro Sync Complete").
After the email (SNS, always first), the same summary goes to the Slack and webhook channels the
notify secret names (``cloudsync_core.alerts``), once per run and channel (a claim on the run
record), and a failed post there never stops or undoes the email.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..alerts import Alert, FailedMedium, send_alert
from ..aws import translate
from ..observability import logger
from ..providers import display_name
from ..services import Services
from ..tracker import Outcome, RunRecord, Tracker

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient

MAX_LISTED_FAILURES = 20
WHAT_TO_DO = ("See the failures with `cloudsync failures`; retry one with `cloudsync resync ID`. "
              "Timed-out executions are queued again by the next run.")


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
    name = display_name(run.provider)
    subject = f"{name} Sync Partial Failure" if run.failed else f"{name} Sync Complete"
    lines = [
        f"Sync completed with {run.failed} failures out of {run.queued} videos. "
        f"Execution: {run.run_id}",
        "",
        f"Archived: {run.completed} media ({run.bytes / 1e9:.2f} GB); "
        f"deleted at the source: {run.deleted}; failed: {run.failed}; "
        f"skipped (edit projects, share renders): {run.skipped_media}.",
        f"{name}'s own checksum (origin ETag): {run.origin_match} files match, "
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


def failed_media(tracker: Tracker, run: RunRecord) -> tuple[FailedMedium, ...]:
    return tuple(
        FailedMedium(row.provider, row.media_id, row.filename, row.error_type or "UnknownError",
                     row.error_message)
        for row in tracker.failed_in_run(run.provider, run.run_id)
    )


def summary_alert(run: RunRecord, failures: tuple[FailedMedium, ...], stack: str) -> Alert:
    """The run's summary for the Slack and webhook channels: the email's text, and its facts."""
    subject, text = summary_text(
        run, [(f.provider, f.media_id, f.error_type) for f in failures])
    counts = {"queued": run.queued, "completed": run.completed, "failed": run.failed,
              "deleted": run.deleted, "skipped": run.skipped_media, "timed_out": run.timed_out,
              "bytes": run.bytes}
    return Alert(kind="run_summary", subject=subject, text=text, what_to_do=WHAT_TO_DO,
                 run_id=run.run_id, stack=stack, counts=counts, failures=failures)


def publish_summary(services: Services, run_id: str) -> bool:
    """Publish the run's summary when anything failed; True when a message went out.

    The email first; then the other channels, each claimed on the run record so that a retried
    notify posts nothing twice."""
    services.settings.require("topic_arn")
    return send_summary(services.tracker, services.sns, services.settings.topic_arn, run_id,
                        channels=Channels(services.secrets, services.settings.environment))


@dataclass(frozen=True)
class Channels:
    """Where the Slack and webhook channels' URLs are: the notify secret (None: the function's
    environment names it) and the stack named in the messages."""

    secrets: SecretsManagerClient
    stack: str
    secret_id: str | None = None


def send_summary(tracker: Tracker, sns: SNSClient, topic_arn: str, run_id: str,
                 channels: Channels | None = None) -> bool:
    """The run's summary when anything failed: the email first, then each channel, claimed on
    the run record so that a retried notify posts nothing twice. ``publish_summary`` for
    callers without a function's settings (the CLI's resync)."""
    if not _email_summary(tracker, sns, topic_arn, run_id):
        return False
    run = tracker.get_run(run_id)
    if run is not None and channels is not None:
        alert = summary_alert(run, failed_media(tracker, run), channels.stack)
        send_alert(channels.secrets, alert, secret_id=channels.secret_id,
                   claim=lambda channel, release: tracker.claim_delivery(
                       run_id, channel, release=release))
    return True


def _email_summary(tracker: Tracker, sns: SNSClient, topic_arn: str, run_id: str) -> bool:
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
