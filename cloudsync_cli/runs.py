"""Following a run through its run record (never DescribeExecution: Express has none)."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from cloudsync_core.sync.listing import EXECUTION_LIFE_S, SWEEP_MARGIN_S
from cloudsync_core.tracker import IN_PROGRESS, MediaRow, RunRecord, Tracker, parse_iso

from .errors import CliError
from .output import human_bytes, key_values, table

# A run that queued something has a run record from the first medium on; give it a moment to
# become readable (it always is at once on DynamoDB: the lister wrote it before answering).
MISSING_RECORD_GRACE_S = 30.0
CAUSE_WIDTH = 96  # a failure's cause is wrapped to this many columns
# How often the wait looks for media of its run whose execution died at the time limit.
TIMED_OUT_CHECK_S = 30.0


def timed_out_in_run(tracker: Tracker, providers: tuple[str, ...], run_id: str,
                     now: float) -> list[MediaRow]:
    """Media of the run still IN_PROGRESS for longer than an execution can live: their
    execution timed out (no Catch runs), and only the next run's sweep counts them."""
    return [
        row
        for provider in providers
        for row in tracker.by_status(provider, IN_PROGRESS)
        if row.run_id == run_id and row.lease_expired(EXECUTION_LIFE_S + SWEEP_MARGIN_S, now)
    ]


def _accounted(run: RunRecord, tracker: Tracker, providers: tuple[str, ...],
               wall: Callable[[], float]) -> bool:
    """Every medium of the run is finished, or dead at the time limit (waiting longer would
    only wait for the next run's sweep)."""
    if run.listing or not providers:
        return False
    dead = timed_out_in_run(tracker, providers, run.run_id, wall())
    return bool(dead) and run.finished + len(dead) >= run.queued


class RunObserver(Protocol):
    """Who watches a run being followed (``cloudsync_cli.progress.Watch``)."""

    def seen(self, run: RunRecord) -> None: ...

    def ended(self, run: RunRecord | None) -> None:
        """The run is over (``run``), or the wait stopped short of it (None)."""


@dataclass(frozen=True)
class Polling:
    """How a wait polls: every ``poll_s``, giving up after ``timeout_s`` (None: never)."""

    poll_s: float = 1.0
    timeout_s: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time

    def within(self, timeout_s: float | None) -> Polling:
        return replace(self, timeout_s=timeout_s)


def follow_run(
    tracker: Tracker,
    run_id: str,
    *,
    queued_hint: int,
    observer: RunObserver | None = None,
    polling: Polling = Polling(),
    providers: tuple[str, ...] = (),
) -> RunRecord | None:
    """Poll the run record until every medium of the run has finished (or, with
    ``providers``, is dead at the time limit: see ``timed_out_in_run``); None when the run
    queued nothing (then there is no record: it is done at once)."""
    p = polling
    started = p.clock()
    checked = float("-inf")
    while True:
        run = tracker.get_run(run_id)
        elapsed = p.clock() - started
        if run is None:
            if queued_hint <= 0:
                return None
            if elapsed > MISSING_RECORD_GRACE_S:
                raise CliError(f"run {run_id} has no run record in the tracker table")
        else:
            dead_check = not run.done and p.clock() - checked >= TIMED_OUT_CHECK_S
            if dead_check:
                checked = p.clock()
            if run.done or (dead_check and _accounted(run, tracker, providers, p.wall)):
                if observer is not None:
                    observer.ended(run)
                return run
            if observer is not None:
                observer.seen(run)
        if p.timeout_s is not None and elapsed > p.timeout_s:
            if observer is not None:
                observer.ended(None)
            so_far = f"{run.finished} of {run.queued} media finished" if run else "no record yet"
            raise CliError(
                f"run {run_id} has not finished after {int(p.timeout_s)} s ({so_far}); it goes "
                f"on in the cloud: follow it with `cloudsync watch {run_id}`"
            )
        p.sleep(p.poll_s)


MAX_FOLLOWED_RUNS = 5


def follow_moved(
    tracker: Tracker,
    run: RunRecord,
    *,
    observer: RunObserver | None = None,
    polling: Polling = Polling(),
    providers: tuple[str, ...] = (),
) -> list[RunRecord]:
    """The later runs that took media over from ``run`` (and from those, in turn), each
    followed until done: where the moved media's outcome is."""
    started = polling.clock()
    followed: list[RunRecord] = []
    seen = {run.run_id}
    todo = [r for r in run.moved_to if r not in seen]
    while todo and len(followed) < MAX_FOLLOWED_RUNS:
        run_id = todo.pop(0)
        if run_id in seen:
            continue
        seen.add(run_id)
        timeout = polling.timeout_s
        left = None if timeout is None else max(0.0, timeout - (polling.clock() - started))
        later = follow_run(tracker, run_id, queued_hint=1, observer=observer,
                           polling=polling.within(left), providers=providers)
        if later is not None:
            followed.append(later)
            todo.extend(r for r in later.moved_to if r not in seen)
    return followed


def unaccounted_moves(runs: list[RunRecord]) -> int:
    """Media that left one of ``runs`` for a run not among them (parked, or beyond the limit):
    their outcome is not known here."""
    ids = {r.run_id for r in runs}
    return sum(r.moved for r in runs if not r.moved_to or not set(r.moved_to) <= ids)


def duration_s(run: RunRecord) -> float | None:
    start, end = parse_iso(run.started_at), parse_iso(run.finished_at)
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def run_dict(run: RunRecord | None, run_id: str | None = None) -> dict[str, Any]:
    if run is None:
        return {"run_id": run_id, "queued": 0, "completed": 0, "failed": 0, "deleted": 0,
                "bytes": 0, "done": True}
    return {**asdict(run), "done": run.done, "finished": run.finished,
            "duration_s": duration_s(run)}


def run_summary(run: RunRecord | None, run_id: str | None = None) -> str:
    if run is None:
        return key_values([("run", run_id or "-"), ("result", "nothing to do: no medium queued")])
    seconds = duration_s(run)
    pairs: list[tuple[str, object]] = [
        ("run", run.run_id),
        ("trigger", run.trigger),
        ("started", run.started_at),
        ("finished", run.finished_at or ("-" if run.done else "still running")),
    ]
    if seconds is not None:
        pairs.append(("took", f"{seconds:.1f} s"))
    pairs += [
        ("media queued", run.queued),
        ("archived", run.completed),
        ("failed", run.failed),
        ("deleted at source", run.deleted),
        ("skipped", run.skipped_media),
        ("bytes archived", f"{human_bytes(run.bytes)} ({run.bytes} bytes)"),
    ]
    if run.moved:
        pairs.insert(-1, ("moved to a later run", _moved_text(run)))
    if run.timed_out:
        pairs.insert(-1, ("timed out", f"{run.timed_out} (execution reached the time limit; "
                                       "swept and counted above)"))
    return key_values(pairs)


def _moved_text(run: RunRecord) -> str:
    where = f"run {', '.join(run.moved_to)}" if run.moved_to else "no run yet (parked)"
    return f"{run.moved} (taken over by {where} before they finished here)"


def failed_media(tracker: Tracker, providers: tuple[str, ...], run_id: str) -> list[MediaRow]:
    return [row for provider in providers for row in tracker.failed_in_run(provider, run_id)]


def failures_table(rows: list[MediaRow], width: int = CAUSE_WIDTH) -> str:
    """A narrow table (id, file, error, failures, since), each row's whole cause wrapped
    beneath it: nothing cut, nothing wider than a terminal."""
    lines = table(
        ["media id", "file", "error", "failures", "since"],
        [(r.media_id, r.filename, r.error_type, r.failures,
          readable_time(r.status_changed_at, ago=False)) for r in rows],
        right=[3],
    ).splitlines()
    out = lines[:2]
    for row, line in zip(rows, lines[2:], strict=True):
        out.append(line)
        cause = " ".join((row.error_message or "").split())
        if cause:
            out += textwrap.wrap(cause, width, initial_indent="    ",
                                 subsequent_indent="    ", break_on_hyphens=False)
    return "\n".join(out)


def readable_time(stamp: str | None, now: float | None = None, *, ago: bool = True) -> str | None:
    """'2024-05-01T10:00:00.000Z' -> '2024-05-01 10:00:00 UTC (3 min ago)' (``ago=False``:
    '2024-05-01 10:00 UTC'); what does not parse stays as it is."""
    moment = parse_iso(stamp)
    if moment is None:
        return stamp
    if not ago:
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    since = (time.time() if now is None else now) - moment.timestamp()
    text = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    if since < 0:
        return text
    if since < 120:
        return f"{text} ({int(since)} s ago)"
    if since < 7200:
        return f"{text} ({int(since // 60)} min ago)"
    return text
