"""Following a run through its run record (never DescribeExecution: Express has none)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from cloudsync_core.sync.listing import EXECUTION_LIFE_S, SWEEP_MARGIN_S
from cloudsync_core.tracker import IN_PROGRESS, MediaRow, RunRecord, Tracker, parse_iso

from .errors import CliError
from .output import Progress, human_bytes, key_values, run_progress_text, table

# A run that queued something has a run record from the first medium on; give it a moment to
# become readable (it always is at once on DynamoDB: the lister wrote it before answering).
MISSING_RECORD_GRACE_S = 30.0
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


def follow_run(
    tracker: Tracker,
    run_id: str,
    *,
    queued_hint: int,
    progress: Progress | None,
    poll_s: float = 1.0,
    timeout_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    providers: tuple[str, ...] = (),
    wall: Callable[[], float] = time.time,
) -> RunRecord | None:
    """Poll the run record until every medium of the run has finished (or, with
    ``providers``, is dead at the time limit: see ``timed_out_in_run``); None when the run
    queued nothing (then there is no record: it is done at once)."""
    started = clock()
    checked = float("-inf")
    while True:
        run = tracker.get_run(run_id)
        elapsed = clock() - started
        if run is None:
            if queued_hint <= 0:
                return None
            if elapsed > MISSING_RECORD_GRACE_S:
                raise CliError(f"run {run_id} has no run record in the tracker table")
        else:
            text = run_progress_text(
                run.finished, run.queued, run.bytes, run.expected_bytes, listing=run.listing
            )
            dead_check = not run.done and clock() - checked >= TIMED_OUT_CHECK_S
            if dead_check:
                checked = clock()
            if run.done or (dead_check and _accounted(run, tracker, providers, wall)):
                if progress is not None:
                    progress.done(text)
                return run
            if progress is not None:
                progress.update(text)
        if timeout_s is not None and elapsed > timeout_s:
            if progress is not None:
                progress.done()
            so_far = f"{run.finished} of {run.queued} media finished" if run else "no record yet"
            raise CliError(
                f"run {run_id} has not finished after {int(timeout_s)} s ({so_far}); it goes on "
                "in the cloud: follow it with `cloudsync status`"
            )
        sleep(poll_s)


MAX_FOLLOWED_RUNS = 5


def follow_moved(
    tracker: Tracker,
    run: RunRecord,
    *,
    progress: Progress | None,
    poll_s: float = 1.0,
    timeout_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    providers: tuple[str, ...] = (),
) -> list[RunRecord]:
    """The later runs that took media over from ``run`` (and from those, in turn), each
    followed until done: where the moved media's outcome is."""
    started = clock()
    followed: list[RunRecord] = []
    seen = {run.run_id}
    todo = [r for r in run.moved_to if r not in seen]
    while todo and len(followed) < MAX_FOLLOWED_RUNS:
        run_id = todo.pop(0)
        if run_id in seen:
            continue
        seen.add(run_id)
        left = None if timeout_s is None else max(0.0, timeout_s - (clock() - started))
        later = follow_run(tracker, run_id, queued_hint=1, progress=progress, poll_s=poll_s,
                           timeout_s=left, sleep=sleep, clock=clock, providers=providers)
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


def failures_table(rows: list[MediaRow]) -> str:
    return table(
        ["media id", "file", "error", "message", "failures", "since"],
        [
            (r.media_id, r.filename, r.error_type, _short(r.error_message), r.failures,
             r.status_changed_at)
            for r in rows
        ],
        right=[4],
    )


def _short(text: str | None, limit: int = 100) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
