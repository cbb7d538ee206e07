"""The nightly lister: find what is new, queue it, and sweep up what earlier runs left behind.

Writes happen only for media that need work: an unchanged library costs one BatchGetItem per
100 media and no writes at all (the run record is created lazily, on the first medium queued).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from ..errors import AccountProblemError
from ..models import ListFilters, MediaItem
from ..observability import MetricUnit, emit, logger
from ..providers import CloudProvider
from ..services import Services
from ..tracker import (
    COMPLETED,
    DELETED_AT_SOURCE,
    FAILED,
    IN_PROGRESS,
    PENDING,
    QUEUED,
    MediaRow,
    Tracker,
    parse_iso,
)
from .account import resume_if_working
from .summary import publish_summary

PAGE_OF_KEYS = 100
# An Express execution ends at the workflow's TimeoutSeconds (cloudsync_defs/transfer.asl.json)
# as TIMED_OUT: no Catch runs, so its row stays IN_PROGRESS holding a transfer slot. A claim
# older than that life plus a margin (clock skew, the claim's own latency) is a dead execution.
EXECUTION_LIFE_S = 300
SWEEP_MARGIN_S = 60
TIMED_OUT_ERROR = "States.Timeout"  # what Step Functions calls it


def execution_dead_after(lease_s: int) -> int:
    """Seconds after its claim (or slot stamp) when an execution is surely over."""
    return min(lease_s, EXECUTION_LIFE_S + SWEEP_MARGIN_S)


def listing_changed(row: MediaRow, item: MediaItem) -> bool:
    """The source now says something else about a known medium than its row remembers."""
    return (
        (item.item_count is not None and item.item_count != row.item_count)
        or dict(item.facts) != row.facts
        or (item.file_size is not None and item.file_size != row.listed_size)
    )


def new_run_id(trigger: str, clock: Callable[[], float] = time.time) -> str:
    stamp = datetime.fromtimestamp(clock(), UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{trigger[:8]}-{secrets.token_hex(3)}"


@dataclass
class ListingReport:
    run_id: str
    provider: str
    listed: int = 0
    new: int = 0
    requeued: int = 0
    skipped: int = 0
    swept_slots: int = 0
    timed_out: int = 0  # IN_PROGRESS rows whose execution died at the time limit
    expected_bytes: int = 0  # what the source says the queued media weigh (an estimate)
    earlier_runs: list[str] = field(default_factory=list)  # runs whose stuck media we took

    @property
    def queued(self) -> int:
        return self.new + self.requeued

    def as_payload(self) -> dict[str, object]:
        return {**asdict(self), "queued": self.queued}


class _Run:
    """Creates the run record on first use, so a run that queues nothing writes nothing."""

    def __init__(self, tracker: Tracker, report: ListingReport, trigger: str) -> None:
        self._tracker = tracker
        self._report = report
        self._trigger = trigger
        self.started = False

    def ensure(self) -> str:
        if not self.started:
            self._tracker.start_run(self._report.run_id, self._report.provider, self._trigger)
            self.started = True
        return self._report.run_id


def sweep(
    tracker: Tracker,
    provider: str,
    run: _Run,
    report: ListingReport,
    *,
    holders: dict[str, str],
    lease_s: int,
    retry_budget: int,
    now: float,
) -> None:
    """Re-queue what is stuck: timed-out executions, retryable failures, queued and stale
    pending."""
    dead_after = execution_dead_after(lease_s)
    live = dict(holders)
    for holder, value in holders.items():
        stamp = parse_iso(value.partition("|")[0])  # "start time|execution name"
        if stamp is None or stamp.timestamp() + dead_after < now:
            holder_provider, _, media_id = holder.partition("/")
            tracker.release_slot(holder_provider, media_id, holder=value)
            live.pop(holder)
            report.swept_slots += 1

    def requeue_all(rows: Iterable[MediaRow], wanted: Callable[[MediaRow], bool]) -> None:
        for row in rows:
            if wanted(row) and tracker.requeue(row, run.ensure()):
                report.requeued += 1
                report.expected_bytes += row.listed_size or 0
                left = row.run_left_behind(report.run_id)
                if left and left not in report.earlier_runs:
                    report.earlier_runs.append(left)

    for row in tracker.by_status(provider, IN_PROGRESS):
        if row.lease_expired(dead_after, now):
            _sweep_timed_out(tracker, row, run, report, live, retry_budget)
    requeue_all(tracker.by_status(provider, FAILED), lambda r: r.failures < retry_budget)
    requeue_all(tracker.by_status(provider, QUEUED), lambda r: True)

    def stale(row: MediaRow) -> bool:  # PENDING for longer than a lease: its start was lost
        changed = row.status_changed
        return changed is None or changed.timestamp() + lease_s < now

    requeue_all(tracker.by_status(provider, PENDING), stale)


def _sweep_timed_out(
    tracker: Tracker,
    row: MediaRow,
    run: _Run,
    report: ListingReport,
    holders: dict[str, str],
    retry_budget: int,
) -> None:
    """A dead execution's medium: free its slot, count it in its run, queue it again while
    the retry budget lasts (a timeout is one failure), else FAILED as ``States.Timeout``."""
    holder = f"{row.provider}/{row.media_id}"
    if holder in holders:
        tracker.release_slot(row.provider, row.media_id, holder=holders.pop(holder))
        report.swept_slots += 1
    left = row.run_left_behind(report.run_id)
    if row.failures + 1 < retry_budget:
        if not tracker.requeue(row, run.ensure(), timed_out=True):
            return
        report.requeued += 1
        report.expected_bytes += row.listed_size or 0
    elif not tracker.finish(
        row.provider, row.media_id, row.wake, FAILED, run_id=row.run_id,
        error_type=TIMED_OUT_ERROR, timed_out=True,
        error_message=f"its workflow execution reached the time limit ({EXECUTION_LIFE_S} s) "
        f"{row.failures + 1} times; `cloudsync resync {row.media_id}` tries again",
    ):
        return
    report.timed_out += 1
    logger.warning("swept a timed-out execution", extra={"media_id": row.media_id})
    if left and left not in report.earlier_runs:
        report.earlier_runs.append(left)  # counted there: it can close and tell


def _end_listing(tracker: Tracker, report: ListingReport) -> bool:
    return tracker.end_listing(
        report.run_id,
        queued=report.queued,
        listed=report.listed,
        new=report.new,
        requeued=report.requeued,
        skipped=report.skipped,
        expected_bytes=report.expected_bytes,
    )


def list_library(
    services: Services,
    provider: CloudProvider,
    *,
    trigger: str,
    run_id: str | None = None,
    clock: Callable[[], float] = time.time,
) -> ListingReport:
    settings = services.settings
    tracker = services.tracker
    report = ListingReport(run_id=run_id or new_run_id(trigger, clock), provider=provider.name)
    run = _Run(tracker, report, trigger)
    resume_if_working(services, provider)  # paused: no new work unless the account answers
    sweep(
        tracker,
        provider.name,
        run,
        report,
        holders=tracker.ensure_slot_row(),
        lease_s=settings.lease_s,
        retry_budget=settings.retry_budget,
        now=clock(),
    )

    filters = ListFilters(media_types=settings.media_types, max_items=settings.max_items)
    batch: list[MediaItem] = []

    def flush() -> None:
        known = tracker.get_many(provider.name, (m.media_id for m in batch))
        for item in batch:
            row = known.get(item.media_id)
            if row is None:
                if tracker.add_pending(item, run.ensure()):
                    report.new += 1
                    report.expected_bytes += item.file_size or 0
                continue
            if row.status not in (COMPLETED, IN_PROGRESS) and listing_changed(row, item):
                tracker.update_listing(item)  # rare: only when the source says something new
            if row.status == DELETED_AT_SOURCE and tracker.requeue(row, run.ensure()):
                # Still listed: only the API's own 404 may keep it deleted; ask it again.
                report.requeued += 1
                report.expected_bytes += item.file_size or 0
        batch.clear()

    try:
        for item in provider.list_media(filters):
            report.listed += 1
            batch.append(item)
            if len(batch) >= PAGE_OF_KEYS:
                flush()
    except AccountProblemError:  # refused mid-listing: what was queued still makes a run that ends
        if run.started and _end_listing(tracker, report):
            publish_summary(services, report.run_id)
        raise
    if batch:
        flush()
    report.skipped = provider.skipped_items

    if run.started and _end_listing(tracker, report):
        publish_summary(services, report.run_id)  # everything finished while we were listing
    for earlier in report.earlier_runs:  # its last stuck medium moved here: it can close now
        if tracker.claim_run_completion(earlier):
            publish_summary(services, earlier)
    emit("VideosDiscovered", report.listed, MetricUnit.Count, Provider=provider.name)
    emit("NewVideosFound", report.new, MetricUnit.Count, Provider=provider.name)
    logger.info("library listed", extra=report.as_payload())
    return report
