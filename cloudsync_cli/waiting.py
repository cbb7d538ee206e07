"""Waiting for a run: follow it by the byte, then say how it ended (``sync --wait``, ``resync
--wait``, ``watch``).

Following ends when every medium the run queued has finished, wherever it finished: media a
later run took over ("moved") are followed into that run. The outcome counts failures as
failures; media that moved where they cannot be followed (parked for a later run), and media
whose execution died at the time limit, make it not ok. Ctrl-C stops the watching, never the run:
the message says how to watch again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cloudsync_core.tracker import MediaRow, RunRecord

from .context import Context
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CliError
from .output import plural, to_json
from .progress import RunMeter, Watch, view_for
from .runs import (
    Polling,
    failed_media,
    failures_table,
    follow_moved,
    follow_run,
    run_dict,
    run_summary,
    timed_out_in_run,
    unaccounted_moves,
)


@dataclass(frozen=True)
class Outcome:
    """How a followed run ended, with the later runs its moved media were followed into."""

    run_id: str
    run: RunRecord | None
    later: list[RunRecord]
    failed: list[MediaRow]
    unknown: int  # media moved where they cannot be followed
    dead: list[MediaRow]  # media whose execution died at the time limit, not yet swept

    @property
    def ok(self) -> bool:
        runs = [r for r in (self.run, *self.later) if r is not None]
        return all(r.failed == 0 for r in runs) and self.unknown == 0 and not self.dead

    @classmethod
    def of(cls, ctx: Context, run_id: str, run: RunRecord | None,
           later: list[RunRecord]) -> Outcome:
        runs = [r for r in (run, *later) if r is not None]
        failed = [row for r in runs if r.failed
                  for row in failed_media(ctx.tracker, ctx.providers, r.run_id)]
        now = time.time()
        dead = [row for r in runs if not r.done
                for row in timed_out_in_run(ctx.tracker, ctx.providers, r.run_id, now)]
        return cls(run_id, run, later, failed, unaccounted_moves(runs), dead)

    def document(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {**(extra or {}), "run": run_dict(self.run, self.run_id), "ok": self.ok,
                "moved_to_runs": [run_dict(r) for r in self.later],
                "moved_unfollowed": self.unknown,
                "timed_out_unswept": [f"{r.provider}/{r.media_id}" for r in self.dead],
                "failed_media": [
                    {"provider": r.provider, "media_id": r.media_id, "filename": r.filename,
                     "error_type": r.error_type, "error_message": r.error_message,
                     "run_id": r.run_id}
                    for r in self.failed
                ]}

    def lines(self) -> list[str]:
        out = [run_summary(self.run, self.run_id)]
        for r in self.later:
            out += ["", f"Media of run {self.run_id} moved to run {r.run_id}, followed there:",
                    run_summary(r)]
        if self.unknown:
            out += ["", f"{plural(self.unknown, 'medium', 'media')} left the run unfinished and "
                    "could not be followed (parked for a later run): not archived yet; see "
                    "`cloudsync status`"]
        if self.dead:
            out += ["", f"{plural(len(self.dead), 'medium', 'media')} timed out (the execution "
                    "reached the time limit); the next run re-queues them: "
                    + ", ".join(f"{r.provider}/{r.media_id}" for r in self.dead)]
        if self.failed:
            out += ["", "Failed media (retried by the next run within the retry budget):",
                    failures_table(self.failed)]
        else:
            total = sum(r.failed for r in (self.run, *self.later) if r is not None)
            if total:
                out.append(f"{plural(total, 'medium', 'media')} failed: see `cloudsync failures`")
        return out


def watch_for(ctx: Context, *, as_json: bool, every_s: float | None = None) -> Watch:
    """A watch measuring against this stack's tracker and archive, shown on stderr."""
    def meter() -> RunMeter:
        return RunMeter(ctx.tracker, ctx.aws.client("s3"), ctx.outputs.bucket, ctx.providers)

    return Watch(meter, view_for(ctx.err, as_json=as_json, every_s=every_s))


def follow(ctx: Context, run_id: str, queued: int, watch: Watch,
           timeout_s: float | None) -> tuple[RunRecord | None, list[RunRecord]]:
    """Follow the run (and where its media moved); Ctrl-C stops watching, not the run."""
    polling = Polling(poll_s=ctx.poll_s, timeout_s=timeout_s, sleep=ctx.sleep)
    try:
        run = follow_run(ctx.tracker, run_id, queued_hint=queued, observer=watch,
                         polling=polling, providers=ctx.providers)
        later = (follow_moved(ctx.tracker, run, observer=watch, polling=polling,
                              providers=ctx.providers)
                 if run is not None and run.moved else [])
    except KeyboardInterrupt as e:
        watch.ended(None)
        raise CliError(
            f"stopped watching; run {run_id} goes on in the cloud. Watch it again with "
            f"`cloudsync watch {run_id}`", exit_code=EXIT_INTERRUPTED,
        ) from e
    return run, later


def wait_and_report(
    ctx: Context,
    run_id: str,
    queued: int,
    *,
    as_json: bool,
    timeout_s: float | None,
    extra: dict[str, Any] | None = None,
    every_s: float | None = None,
) -> int:
    """Follow the run by the byte, print its outcome; 0 when nothing failed (deleted at source
    is fine), 1 otherwise (see ``Outcome.ok``)."""
    watch = watch_for(ctx, as_json=as_json, every_s=every_s)
    run, later = follow(ctx, run_id, queued, watch, timeout_s)
    outcome = Outcome.of(ctx, run_id, run, later)
    if as_json:
        ctx.print(to_json(outcome.document(extra)))
    else:
        for line in outcome.lines():
            ctx.print(line)
    return EXIT_OK if outcome.ok else EXIT_FAILED
