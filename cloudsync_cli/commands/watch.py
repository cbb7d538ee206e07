"""``cloudsync watch [RUN_ID]``: follow a run already started, by the byte, until it ends.

The way back to a run after Ctrl-C (which stops only the watching), or to a run the schedule
started. Without RUN_ID it follows the latest run still in flight, else shows how the latest
run ended. The same display, outcome and exit code as ``sync --wait``.
"""

from __future__ import annotations

import argparse

from ..context import Context
from ..errors import EXIT_OK, CliError
from ..output import to_json
from .sync import add_wait_options, in_flight_run, wait_and_report


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "watch", help="follow a run in flight (the latest, or RUN_ID) until it ends",
        description="Follow a run already started until every medium it queued has finished: "
        "bytes stored so far, rate, ETA, media by state, retries and pauses. Without RUN_ID: "
        "the latest run still in flight, else how the latest run ended. Ctrl-C stops the "
        "watching, not the run.",
    )
    p.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run (default: the latest)")
    add_wait_options(p, wait_flag=False)
    p.set_defaults(func=run, wait=True)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.run_id:
        record = ctx.tracker.get_run(args.run_id)
        if record is None:
            raise CliError(f"no run {args.run_id} in the tracker: see `cloudsync status` for "
                           "the recent runs")
    else:
        record = in_flight_run(ctx)
        if record is None:
            recent = ctx.tracker.recent_runs(1)
            if not recent:
                if args.json:
                    ctx.print(to_json({"run": None, "ok": True}))
                else:
                    ctx.print("No runs yet: start one with `cloudsync sync --wait`.")
                return EXIT_OK
            record = recent[0]
    if not args.json:
        state = "finished" if record.done else "in flight"
        ctx.note(f"Run {record.run_id} ({record.trigger}, started {record.started_at}) is "
                 f"{state}.")
    return wait_and_report(ctx, record.run_id, record.queued, as_json=args.json,
                           timeout_s=args.timeout, every_s=args.every)
