"""``cloudsync sync [--wait] [--json]``: run the nightly job now and, with --wait, follow it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cloudsync_core.tracker import RunRecord

from ..context import Context
from ..errors import EXIT_OK, CliError, FunctionFailed
from ..output import human_bytes, plural, to_json
from ..waiting import wait_and_report
from . import sync_plan

__all__ = ["add_wait_options", "invoke_function", "start_listing", "wait_and_report"]

IN_FLIGHT_LOOKBACK = 5  # recent runs searched for one still in flight


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sync",
        help="start the nightly job now",
        description="Start the nightly job now: list the GoPro library and queue what is new. "
        "With --wait, follow the run by the byte until every medium it queued has "
        "finished (a run already in flight is followed when nothing is new); Ctrl-C stops "
        "the watching, not the run.",
    )
    add_wait_options(p)
    sync_plan.add_selection_options(p)
    p.set_defaults(func=run)


def add_wait_options(p: argparse.ArgumentParser, *, wait_flag: bool = True) -> None:
    if wait_flag:
        p.add_argument("--wait", action="store_true",
                       help="follow the run until it has finished")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS",
        help="with --wait: give up waiting after SECONDS (the run goes on)",
    )
    p.add_argument(
        "--every", type=float, default=None, metavar="SECONDS",
        help="with --wait, when not on a terminal: a progress line every SECONDS (default 5; "
        "with --json a progress event every poll)",
    )


def invoke_function(ctx: Context, logical: str, event: dict[str, Any]) -> Any:
    """Invoke a function of the stack synchronously; an error payload -> ``FunctionFailed``."""
    name = ctx.outputs.function(logical)
    answer = ctx.aws.lambda_().invoke(
        FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
    )
    body = answer["Payload"].read() if "Payload" in answer else b""
    try:
        document = json.loads(body) if body else None
    except ValueError:
        document = None
    if answer.get("FunctionError"):
        if isinstance(document, dict):
            raise FunctionFailed(
                logical,
                str(document.get("errorType") or answer["FunctionError"]),
                str(document.get("errorMessage") or ""),
            )
        raise FunctionFailed(
            logical, str(answer["FunctionError"]), body[:200].decode("utf-8", "replace")
        )
    return document


def listing_text(report: dict[str, Any], busy: RunRecord | None = None) -> str:
    queued = int(report.get("queued", 0))
    listed = int(report.get("listed", 0))
    provider = report.get("provider", "gopro")
    if queued == 0 and busy is not None:
        return (f"Listed {listed} media at {provider}: nothing new, but run {busy.run_id} is "
                f"still in flight ({busy.finished} of {busy.queued} media finished).")
    if queued == 0:
        return f"Listed {listed} media at {provider}: nothing new, the archive is up to date."
    parts = [f"{report.get('new', 0)} new", f"{report.get('requeued', 0)} re-queued"]
    if report.get("timed_out"):
        parts.append(f"{report['timed_out']} timed out (swept)")
    if report.get("skipped"):
        skipped = plural(
            int(report["skipped"]), "unusable listing entry", "unusable listing entries"
        )
        parts.append(f"{skipped} skipped")
    expected = int(report.get("expected_bytes", 0))
    size = f" (~{human_bytes(expected)})" if expected else ""
    return (
        f"Run {report.get('run_id')}: listed {listed} media at {provider}; "
        f"{', '.join(parts)}; {queued} queued{size}."
    )


def start_listing(ctx: Context, options: dict[str, Any] | None = None) -> dict[str, Any]:
    report = invoke_function(ctx, "list", {"trigger": "cli", **(options or {})})
    if not isinstance(report, dict) or "run_id" not in report:
        raise CliError("the list function answered without a run id: is the stack up to date?")
    return report


def in_flight_run(ctx: Context, besides: str | None = None) -> RunRecord | None:
    """The latest run still in flight (not ``besides``): what a new `sync --wait` follows when
    it found nothing new."""
    for run in ctx.tracker.recent_runs(IN_FLIGHT_LOOKBACK):
        if run.run_id != besides and not run.done:
            return run
    return None


def run(args: argparse.Namespace, ctx: Context) -> int:
    options = sync_plan.options_from_args(args)  # selection flags, --limit, --dry-run
    report = start_listing(ctx, options.as_event())
    if options.dry_run:
        return sync_plan.show_plan(ctx, report, as_json=args.json)
    run_id = str(report["run_id"])
    queued = int(report.get("queued", 0))
    busy = in_flight_run(ctx, besides=run_id) if queued == 0 else None
    if not args.wait:
        if args.json:
            ctx.print(to_json({**report, "in_flight_run": busy.run_id if busy else None}))
            return EXIT_OK
        ctx.print(listing_text(report, busy))
        for note in sync_plan.listing_notes(report):
            ctx.print(note)
        if queued or busy:
            ctx.print(f"It runs in the cloud now; watch it with `cloudsync watch "
                      f"{busy.run_id if busy else run_id}`.")
        return EXIT_OK
    if not args.json:
        ctx.print(listing_text(report, busy))
        for note in sync_plan.listing_notes(report):
            ctx.print(note)
    if busy is not None:
        run_id, queued = busy.run_id, busy.queued
    return wait_and_report(
        ctx, run_id, queued, as_json=args.json, timeout_s=args.timeout,
        extra={"listing": report}, every_s=args.every,
    )
