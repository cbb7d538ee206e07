"""Following a run through its run record (never DescribeExecution: Express has none)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from cloudsync_core.tracker import MediaRow, RunRecord, Tracker, parse_iso

from .errors import CliError
from .output import Progress, human_bytes, key_values, run_progress_text, table

# A run that queued something has a run record from the first medium on; give it a moment to
# become readable (it always is at once on DynamoDB: the lister wrote it before answering).
MISSING_RECORD_GRACE_S = 30.0


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
) -> RunRecord | None:
    """Poll the run record until every medium of the run has finished; None when the run
    queued nothing (then there is no record: it is done at once)."""
    started = clock()
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
            if run.done:
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
        ("bytes archived", f"{human_bytes(run.bytes)} ({run.bytes} bytes)"),
    ]
    return key_values(pairs)


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
