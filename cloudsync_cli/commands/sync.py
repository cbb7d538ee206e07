"""``cloudsync sync [--wait] [--json]``: run the nightly job now and, with --wait, follow it."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK, CliError, FunctionFailed
from ..output import Progress, human_bytes, plural, to_json
from ..runs import (
    failed_media,
    failures_table,
    follow_moved,
    follow_run,
    run_dict,
    run_summary,
    timed_out_in_run,
    unaccounted_moves,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sync",
        help="start the nightly job now",
        description="Start the nightly job now: list the GoPro library and queue what is new. "
        "With --wait, follow the run until every medium it queued has finished.",
    )
    add_wait_options(p)
    p.set_defaults(func=run)


def add_wait_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", action="store_true", help="follow the run until it has finished")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS",
        help="with --wait: give up waiting after SECONDS (the run goes on)",
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


def listing_text(report: dict[str, Any]) -> str:
    queued = int(report.get("queued", 0))
    listed = int(report.get("listed", 0))
    provider = report.get("provider", "gopro")
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


def start_listing(ctx: Context) -> dict[str, Any]:
    report = invoke_function(ctx, "list", {"trigger": "cli"})
    if not isinstance(report, dict) or "run_id" not in report:
        raise CliError("the list function answered without a run id: is the stack up to date?")
    return report


def wait_and_report(
    ctx: Context,
    run_id: str,
    queued: int,
    *,
    as_json: bool,
    timeout_s: float | None,
    extra: dict[str, Any] | None = None,
) -> int:
    """Follow the run, print its summary; 0 when nothing failed (deleted at source is fine).

    Media a later run took over ("moved") are followed into that run: the exit code and the
    counts are about every medium this run queued, wherever it finished. Media that moved
    where they cannot be followed (parked for a later run) make the exit code 1.
    """
    progress = Progress(ctx.err)
    run = follow_run(
        ctx.tracker, run_id, queued_hint=queued, progress=progress, poll_s=ctx.poll_s,
        timeout_s=timeout_s, sleep=ctx.sleep, providers=ctx.providers,
    )
    later = (
        follow_moved(ctx.tracker, run, progress=progress, poll_s=ctx.poll_s,
                     timeout_s=timeout_s, sleep=ctx.sleep, providers=ctx.providers)
        if run is not None and run.moved else []
    )
    runs = [r for r in (run, *later) if r is not None]
    failed = [row for r in runs if r.failed
              for row in failed_media(ctx.tracker, ctx.providers, r.run_id)]
    unknown = unaccounted_moves(runs)
    now = time.time()
    dead = [row for r in runs if not r.done
            for row in timed_out_in_run(ctx.tracker, ctx.providers, r.run_id, now)]
    ok = all(r.failed == 0 for r in runs) and unknown == 0 and not dead
    if as_json:
        document = {**(extra or {}), "run": run_dict(run, run_id), "ok": ok,
                    "moved_to_runs": [run_dict(r) for r in later],
                    "moved_unfollowed": unknown,
                    "timed_out_unswept": [f"{r.provider}/{r.media_id}" for r in dead],
                    "failed_media": [
                        {"provider": r.provider, "media_id": r.media_id, "filename": r.filename,
                         "error_type": r.error_type, "error_message": r.error_message,
                         "run_id": r.run_id}
                        for r in failed
                    ]}
        ctx.print(to_json(document))
        return EXIT_OK if ok else EXIT_FAILED
    ctx.print(run_summary(run, run_id))
    for r in later:
        ctx.print()
        ctx.print(f"Media of run {run_id} moved to run {r.run_id}, followed there:")
        ctx.print(run_summary(r))
    if unknown:
        ctx.print()
        ctx.print(f"{plural(unknown, 'medium', 'media')} left the run unfinished and could not "
                  "be followed (parked for a later run): not archived yet; see `cloudsync status`")
    if dead:
        ctx.print()
        ctx.print(f"{plural(len(dead), 'medium', 'media')} timed out (the execution reached the "
                  "time limit); the next run re-queues them: "
                  + ", ".join(f"{r.provider}/{r.media_id}" for r in dead))
    if failed:
        ctx.print()
        ctx.print("Failed media (retried by the next run within the retry budget):")
        ctx.print(failures_table(failed))
    elif any(r.failed for r in runs):
        total = sum(r.failed for r in runs)
        ctx.print(f"{plural(total, 'medium', 'media')} failed: see `cloudsync failures`")
    return EXIT_OK if ok else EXIT_FAILED


def run(args: argparse.Namespace, ctx: Context) -> int:
    report = start_listing(ctx)
    run_id = str(report["run_id"])
    queued = int(report.get("queued", 0))
    if not args.wait:
        ctx.print(to_json(report) if args.json else listing_text(report))
        if not args.json and queued:
            ctx.print("It runs in the cloud now; follow it with `cloudsync status`.")
        return EXIT_OK
    if not args.json:
        ctx.print(listing_text(report))
    return wait_and_report(
        ctx, run_id, queued, as_json=args.json, timeout_s=args.timeout,
        extra={"listing": report},
    )
