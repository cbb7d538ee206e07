"""The nightly lister: find what is new, queue it, and sweep up what earlier runs left behind.

Writes happen only for media that need work: an unchanged library costs one BatchGetItem per
100 media listed and no writes at all (the run record is created lazily, on the first medium
queued; the listing state changes only when a full listing ran or a newer upload was seen).
A normal night lists incrementally (``listing_state``: newest uploads first, stopping at what
the last complete listing saw); the stack's selection (``selection``) decides which media are
archived and in which order new ones are queued. ``ListOptions`` carries the one-off parts of a
``cloudsync sync``: a selection, ``--limit``, ``--dry-run``, ``--full``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from .. import metrics
from ..errors import AccountProblemError
from ..events import ListOptions
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
from .listing_state import (
    FULL,
    INCREMENTAL,
    ListingPlan,
    ListingStateStore,
    UploadOrder,
    full_listing_days,
    next_state,
    plan_listing,
)
from .originals import listed_from_row
from .rehearsal import Rehearsal
from .selection import Selection, stack_selection
from .summary import publish_summary

PAGE_OF_KEYS = 100
PLAN_SHOWN = 1000  # media a dry run names in its answer (the totals cover every one)
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
    mode: str = ""  # "full" or "incremental" (see listing_state)
    mode_reason: str = ""
    selection: str = ""  # what the selection archives, for people
    left_out: dict[str, int] = field(default_factory=dict)  # listed, left out: count by reason
    not_queued: int = 0  # new media ``--limit`` left for a later run
    dry_run: bool = False
    plan: list[dict[str, Any]] = field(default_factory=list)  # dry run: what would be queued
    max_concurrent_media: int = 0  # the stack's settings, for a dry run's time estimate
    parallel_ranges: int = 0
    plan_originals: int = 0  # dry run: originals of every medium it would queue (as listed)

    @property
    def queued(self) -> int:
        return self.new + self.requeued

    def as_payload(self) -> dict[str, object]:
        return {**asdict(self), "queued": self.queued}


class _Run:
    """Creates the run record on first use, so a run that queues nothing writes nothing."""

    def __init__(self, tracker: Tracker, report: ListingReport, trigger: str) -> None:
        self.tracker = tracker
        self.report = report
        self._trigger = trigger
        self.started = False

    def ensure(self) -> str:
        if not self.started:
            self.tracker.start_run(self.report.run_id, self.report.provider, self._trigger)
            self.started = True
        return self.report.run_id


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
    keep: Callable[[MediaRow], bool] = lambda _row: True,
) -> None:
    """Re-queue what is stuck: timed-out executions, retryable failures (those the selection
    still ``keep``s), queued and stale pending."""
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
    requeue_all(tracker.by_status(provider, FAILED),
                lambda r: r.failures < retry_budget and keep(r))
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


class _Pass:
    """One pass over the source's listing: what is new, what to wake, what is left out."""

    def __init__(self, tracker: Tracker, provider: CloudProvider, run: _Run,
                 report: ListingReport, selection: Selection, order: UploadOrder) -> None:
        self.tracker, self.provider, self.run, self.report = tracker, provider, run, report
        self.selection, self.order = selection, order
        self.fresh: list[MediaItem] = []  # new media, queued after the listing, in queue order
        self.batch: list[MediaItem] = []
        self.stopped = False  # an incremental listing reached what earlier listings saw

    def walk(self, filters: ListFilters) -> None:
        for item in self.provider.list_media(filters):
            self.report.listed += 1
            self.order.see(item)
            why = self.selection.leaves_out(item)
            if why is not None:
                self.report.left_out[why] = self.report.left_out.get(why, 0) + 1
            else:
                self.batch.append(item)
            if len(self.batch) >= PAGE_OF_KEYS:
                self.flush()
            if self.order.may_stop():
                self.stopped = True
                break
        self.flush()

    def flush(self) -> None:
        known = self.tracker.get_many(self.provider.name, (m.media_id for m in self.batch))
        for item in self.batch:
            row = known.get(item.media_id)
            if row is None:
                self.fresh.append(item)
                continue
            if row.status not in (COMPLETED, IN_PROGRESS) and listing_changed(row, item):
                self.tracker.update_listing(item)  # rare: only when the source says something new
            if row.status == DELETED_AT_SOURCE and self.tracker.requeue(row, self.run.ensure()):
                # Still listed: only the API's own 404 may keep it deleted; ask it again.
                self.report.requeued += 1
                self.report.expected_bytes += item.file_size or 0
        self.batch.clear()

    def queue_fresh(self, limit: int | None) -> None:
        """PENDING rows for the new media, in the selection's queue order (at most ``limit``)."""
        ordered = sorted(self.fresh, key=self.selection.queue_key())
        taken = ordered if limit is None else ordered[:limit]
        self.report.not_queued = len(ordered) - len(taken)
        for item in taken:
            if self.tracker.add_pending(item, self.run.ensure()):
                self.report.new += 1
                self.report.expected_bytes += item.file_size or 0
        self.fresh.clear()


def _plan_entries(tracker: Rehearsal) -> list[dict[str, Any]]:
    """What a dry run would queue, in queue order."""
    entries: list[dict[str, Any]] = []
    for intent in tracker.intents:
        listed = intent.item or (listed_from_row(intent.row) if intent.row else None)
        if intent.action not in ("queue", "requeue") or listed is None:
            continue
        entries.append({
            "media_id": intent.media_id, "action": intent.action, "why": intent.detail or "new",
            "filename": listed.filename, "type": listed.media_type,
            "captured_at": listed.captured_at.isoformat() if listed.captured_at else None,
            "size": listed.file_size, "originals": listed.item_count or 1,
        })
    return entries


def _selection_for(services: Services, options: ListOptions) -> tuple[Selection, bool]:
    """The selection this run lists under, and whether it is a one-off (not the stack's)."""
    stack = stack_selection(services.settings)
    if not options.selection:
        return stack, False
    chosen = stack.merged(options.selection)
    return chosen, chosen.fingerprint() != stack.fingerprint()


def _finish(services: Services, run: _Run, report: ListingReport,
            provider: CloudProvider) -> None:
    tracker = run.tracker
    if isinstance(tracker, Rehearsal):
        entries = _plan_entries(tracker)
        report.plan, report.plan_originals = entries[:PLAN_SHOWN], sum(
            int(e["originals"]) for e in entries)
    if run.started and _end_listing(tracker, report):
        publish_summary(services, report.run_id)  # everything finished while we were listing
    for earlier in report.earlier_runs:  # its last stuck medium moved here: it can close now
        if tracker.claim_run_completion(earlier):
            publish_summary(services, earlier)
    emit(metrics.VIDEOS_DISCOVERED, report.listed, MetricUnit.Count, Provider=provider.name)
    emit(metrics.NEW_VIDEOS_FOUND, report.new, MetricUnit.Count, Provider=provider.name)
    logger.info("library listed", extra={**report.as_payload(), "plan": len(report.plan)})


def _listing(services: Services, provider: CloudProvider, run: _Run, options: ListOptions,
             now: float) -> None:
    """List (fully or incrementally), queue what is new, and record the listing state when the
    listing was complete under the stack's own selection."""
    settings, report, tracker = services.settings, run.report, run.tracker
    selection, one_off = _selection_for(services, options)
    store = ListingStateStore(services.dynamodb, settings.table)
    state = store.get_state(provider.name)
    plan: ListingPlan = plan_listing(
        state, selection.fingerprint(), every_days=full_listing_days(), now=now,
        full_asked=options.full, one_off=one_off)
    report.mode, report.mode_reason = plan.mode, plan.reason
    report.selection = selection.describe()
    listing = _Pass(tracker, provider, run, report, selection, UploadOrder(plan.cutoff))
    filters = ListFilters(
        media_types=selection.media_types, max_items=settings.max_items,
        captured_after=selection.since, captured_before=selection.until,
        order="uploaded" if plan.mode == INCREMENTAL else "captured")
    try:
        listing.walk(filters)
    finally:  # refused midway: what was found is still queued, so the run can end
        listing.queue_fresh(options.limit)
    report.skipped = provider.skipped_items
    if plan.mode == INCREMENTAL and not listing.order.trusted:
        report.mode, report.mode_reason = FULL, "the source did not show upload order"
    truncated = settings.max_items is not None and report.listed >= settings.max_items
    if options.dry_run or one_off or report.not_queued or truncated:
        return
    after = next_state(state, selection.fingerprint(), report.mode, listing.order,
                       run_id=report.run_id, now=now)
    if report.mode == FULL or state is None or after.mark != state.mark:
        store.put_state(provider.name, after)  # an unchanged night writes nothing


def list_library(
    services: Services,
    provider: CloudProvider,
    *,
    trigger: str,
    run_id: str | None = None,
    clock: Callable[[], float] = time.time,
    options: ListOptions | None = None,
) -> ListingReport:
    options = options or ListOptions()
    settings = services.settings
    tracker = (Rehearsal(services.dynamodb, settings.table) if options.dry_run
               else services.tracker)
    report = ListingReport(run_id=run_id or new_run_id(trigger, clock), provider=provider.name,
                           dry_run=options.dry_run,
                           max_concurrent_media=settings.max_concurrent_media,
                           parallel_ranges=settings.parallel_ranges)
    run = _Run(tracker, report, trigger)
    if not options.dry_run:
        resume_if_working(services, provider)  # paused: no new work unless the account answers
    stack = stack_selection(settings)
    sweep(tracker, provider.name, run, report, holders=tracker.ensure_slot_row(),
          lease_s=settings.lease_s, retry_budget=settings.retry_budget, now=clock(),
          keep=lambda row: stack.leaves_out(listed_from_row(row)) is None)
    try:
        _listing(services, provider, run, options, clock())
    except AccountProblemError:  # refused mid-listing: what was queued still makes a run that ends
        if run.started and _end_listing(tracker, report):
            publish_summary(services, report.run_id)
        raise
    _finish(services, run, report, provider)
    return report
