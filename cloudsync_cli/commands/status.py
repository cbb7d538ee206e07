"""``cloudsync status`` and ``cloudsync failures``: what the tracker table says."""

from __future__ import annotations

import argparse
from typing import Any

from cloudsync_core import schema
from cloudsync_core.tracker import FAILED, STATUSES, MediaRow

from ..context import Context
from ..errors import EXIT_OK
from ..output import STATUS_WORDS, human_bytes, table, to_json
from ..runs import failures_table, run_dict


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
        description="Every FAILED medium: its error type and message, how often it failed.",
    )
    f.add_argument("--json", action="store_true", help="print as JSON")
    f.set_defaults(func=run_failures)


def count_status(ctx: Context, provider: str, status: str) -> int:
    """A Select=COUNT query on the status index (paged: COUNT stops at 1 MB too)."""
    client = ctx.aws.dynamodb()
    kwargs: dict[str, Any] = {
        "TableName": ctx.outputs.table,
        "IndexName": schema.STATUS_INDEX,
        "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": {"#p": schema.STATUS_INDEX_PARTITION},
        "ExpressionAttributeValues": {":p": {"S": f"{provider}#{status}"}},
        "Select": "COUNT",
    }
    total = 0
    while True:
        answer = client.query(**kwargs)
        total += int(answer.get("Count", 0))
        last = answer.get("LastEvaluatedKey")
        if not last:
            return total
        kwargs["ExclusiveStartKey"] = last


def status_document(ctx: Context, runs: int) -> dict[str, Any]:
    counts = {
        provider: {status: count_status(ctx, provider, status) for status in STATUSES}
        for provider in ctx.providers
    }
    holders = ctx.tracker.slot_holders()
    recent = ctx.tracker.recent_runs(max(1, runs)) if runs > 0 else []
    return {
        "stack": ctx.outputs.stack,
        "bucket": ctx.outputs.bucket,
        "table": ctx.outputs.table,
        "counts": counts,
        "transfers_running": len(holders),
        "slot_holders": holders,
        "recent_runs": [run_dict(r) for r in recent],
    }


def run_status(args: argparse.Namespace, ctx: Context) -> int:
    doc = status_document(ctx, args.runs)
    if args.json:
        ctx.print(to_json(doc))
        return EXIT_OK
    ctx.print(f"Stack {doc['stack']}: table {doc['table']}, archive s3://{doc['bucket']}")
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
    for holder, since in sorted(holders.items()):
        ctx.print(f"  {holder} since {since}")
    ctx.print()
    recent = doc["recent_runs"]
    if not recent:
        ctx.print("No runs yet: start one with `cloudsync sync --wait`.")
        return EXIT_OK
    ctx.print("Recent runs:")
    ctx.print(
        table(
            ["run", "trigger", "started", "queued", "archived", "failed", "deleted", "bytes",
             "state"],
            [
                (r["run_id"], r["trigger"], r["started_at"], r["queued"], r["completed"],
                 r["failed"], r["deleted"], human_bytes(r["bytes"]),
                 "done" if r["done"] else "running")
                for r in recent
            ],
            right=[3, 4, 5, 6, 7],
        )
    )
    return EXIT_OK


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
        return EXIT_OK
    if not rows:
        ctx.print("No failed media.")
        return EXIT_OK
    ctx.print(failures_table(rows))
    ctx.print()
    ctx.print(
        f"{len(rows)} failed. The next run retries those under the retry budget; "
        "`cloudsync resync MEDIA_ID` retries one now."
    )
    return EXIT_OK
