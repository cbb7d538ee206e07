"""``cloudsync status`` and ``cloudsync failures``: what the tracker table says."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from botocore.exceptions import ClientError

from cloudsync_core.sync.listing import EXECUTION_LIFE_S, SWEEP_MARGIN_S
from cloudsync_core.tracker import FAILED, IN_PROGRESS, SKIPPED, STATUSES, MediaRow
from cloudsync_local.published import health_parameter_name

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK
from ..output import STATUS_WORDS, human_bytes, table, to_json
from ..runs import failures_table, readable_time, run_dict
from . import sync_plan


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status", help="media per state, transfers running, recent runs",
        description="How many media are in each state, the transfer slots in use, the last runs.",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument("--runs", type=int, default=5, metavar="N", help="runs to show (default 5)")
    p.set_defaults(func=run_status)

    f = sub.add_parser(
        "failures", help="media that failed, with their errors",
        description="Every FAILED medium: its error type, how often it failed, and its whole "
        "cause beneath it. Exit code 1 when any medium failed.",
    )
    f.add_argument("--json", action="store_true", help="print as JSON")
    f.set_defaults(func=run_failures)


def count_status(ctx: Context, provider: str, status: str) -> int:
    """How many of ``provider``'s media are in ``status`` (the tracker counts)."""
    return ctx.tracker.count_by_status(provider, status)


def status_document(ctx: Context, runs: int) -> dict[str, Any]:
    counts = {
        provider: {status: count_status(ctx, provider, status) for status in STATUSES}
        for provider in ctx.providers
    }
    holders = ctx.tracker.slot_holders()
    recent = ctx.tracker.recent_runs(max(1, runs)) if runs > 0 else []
    pause = ctx.tracker.get_pause()
    return {
        "paused": pause.as_dict() if pause else None,
        "stack": ctx.outputs.stack,
        "bucket": ctx.outputs.bucket,
        "table": ctx.outputs.table,
        "counts": counts,
        "transfers_running": len(holders),
        "timed_out_unswept": timed_out_unswept(ctx),
        "local_cloud": local_health(ctx),
        "slot_holders": holders,
        "listing": sync_plan.listing_document(ctx),  # when the last full listing ran
        "recent_runs": [run_dict(r) for r in recent],
    }


def local_health(ctx: Context) -> dict[str, Any] | None:
    """What a local cloud said went wrong inside it (its stream mapping stalled); None on AWS."""
    try:
        answer = ctx.aws.client("ssm").get_parameter(
            Name=health_parameter_name(ctx.outputs.stack))
    except ClientError:
        return None
    health: dict[str, Any] = json.loads(answer["Parameter"]["Value"])
    return health


def timed_out_unswept(ctx: Context, now: float | None = None) -> list[str]:
    """Media IN_PROGRESS for longer than an execution can live: it timed out (no Catch runs);
    the next run's sweep re-queues them."""
    moment = time.time() if now is None else now
    return [
        f"{row.provider}/{row.media_id}"
        for provider in ctx.providers
        for row in ctx.tracker.by_status(provider, IN_PROGRESS)
        if row.lease_expired(EXECUTION_LIFE_S + SWEEP_MARGIN_S, moment)
    ]


def slot_text(held: str) -> str:
    """A slot holder's '<start time>|<execution name>' as words."""
    since, _, execution = held.partition("|")
    text = f"since {readable_time(since) or '?'}"
    return f"{text}, execution {execution}" if execution else text


def run_status(args: argparse.Namespace, ctx: Context) -> int:
    doc = status_document(ctx, args.runs)
    if args.json:
        ctx.print(to_json(doc))
        return EXIT_OK
    ctx.print(f"Stack {doc['stack']}: table {doc['table']}, archive s3://{doc['bucket']}")
    ctx.print()
    if doc["paused"]:
        pause = doc["paused"]
        ctx.print(f"PAUSED since {pause['since']} ({pause['error_type']}): {pause['reason']}")
        ctx.print("No new work until the account answers: `cloudsync login` lifts the pause, "
                  "then the next run (or `cloudsync sync`) resumes.")
        ctx.print()
    rows = []
    for provider, counts in doc["counts"].items():
        for status in STATUSES:
            rows.append((provider, STATUS_WORDS.get(status, status), counts[status]))
        rows.append((provider, "total", sum(counts.values())))
    ctx.print(table(["provider", "state", "media"], rows, right=[2]))
    ctx.print()
    holders = doc["slot_holders"]
    ctx.print(f"Transfers running (slots in use): {len(holders)}")
    for holder, held in sorted(holders.items()):
        ctx.print(f"  {holder}: {slot_text(held)}")
    for line in sync_plan.listing_lines(doc["listing"]):
        ctx.print(line)
    if doc["local_cloud"]:
        health = doc["local_cloud"]
        ctx.print(f"Local cloud: its stream mapping stalled {health['stream_stalls']} time(s), "
                  f"last at {health['at']} ({health['last_stall']}); it followed the table's "
                  "current shard. Media left pending: restart `cloudsync local up`.")
    if doc["timed_out_unswept"]:
        ctx.print(f"Timed out (their executions hit the time limit; the next run re-queues "
                  f"them, or run `cloudsync sync` now): {', '.join(doc['timed_out_unswept'])}")
    ctx.print()
    for line in runs_lines(doc["recent_runs"]):
        ctx.print(line)
    return EXIT_OK


def runs_lines(recent: list[dict[str, Any]]) -> list[str]:
    """The recent runs as a table (readable start times), and which ones timed out."""
    if not recent:
        return ["No runs yet: start one with `cloudsync sync --wait`."]
    lines = ["Recent runs:", table(
        ["run", "trigger", "started", "queued", "archived", "failed", "deleted", "skipped",
         "bytes", "state"],
        [(r["run_id"], r["trigger"], readable_time(r["started_at"], ago=False), r["queued"],
          r["completed"], r["failed"], r["deleted"], r.get("skipped_media", 0),
          human_bytes(r["bytes"]), "done" if r["done"] else "running") for r in recent],
        right=[3, 4, 5, 6, 7, 8],
    )]
    return lines + [f"Run {r['run_id']}: {r['timed_out']} execution(s) timed out (swept later)"
                    for r in recent if r.get("timed_out")]


def failed_rows(ctx: Context) -> list[MediaRow]:
    rows: list[MediaRow] = []
    for provider in ctx.providers:
        rows.extend(ctx.tracker.by_status(provider, FAILED))
    return rows


def run_failures(args: argparse.Namespace, ctx: Context) -> int:
    rows = failed_rows(ctx)
    if args.json:
        ctx.print(
            to_json(
                [
                    {"provider": r.provider, "media_id": r.media_id, "filename": r.filename,
                     "error_type": r.error_type, "error_message": r.error_message,
                     "failures": r.failures, "status_changed_at": r.status_changed_at,
                     "run_id": r.run_id}
                    for r in rows
                ]
            )
        )
        return EXIT_FAILED if rows else EXIT_OK
    skipped = [r for provider in ctx.providers for r in ctx.tracker.by_status(provider, SKIPPED)]
    if skipped:  # not failures: what was left out on purpose, and why
        ctx.print(f"{len(skipped)} skipped (not media to archive):")
        for r in skipped:
            ctx.print(f"  {r.provider}/{r.media_id}: {r.error_message or r.error_type}")
        ctx.print()
    if not rows:
        ctx.print("No failed media.")
        return EXIT_OK
    ctx.print(failures_table(rows))
    ctx.print()
    ctx.print(
        f"{len(rows)} failed. The next run retries those under the retry budget;\n"
        "`cloudsync resync MEDIA_ID` retries one now."
    )
    return EXIT_FAILED
