"""``cloudsync resync MEDIA_ID...``: archive media again, as new object versions."""

from __future__ import annotations

import argparse

from cloudsync_core.sync.listing import new_run_id
from cloudsync_core.sync.summary import Channels, send_summary
from cloudsync_core.tracker import IN_PROGRESS, MediaRow

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK, CliError
from ..output import plural, to_json
from .notify import notify_secret_id
from .sync import add_wait_options, wait_and_report


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "resync", help="archive media again (a new object version each)",
        description="Put media back in the queue with overwrite allowed, under a new run: each "
        "is archived again as a new version of its objects. Every id is checked first; if one "
        "is unknown nothing changes.",
    )
    p.add_argument("media_ids", nargs="+", metavar="MEDIA_ID")
    p.add_argument("--provider", default=None, help="the media's provider (default: the "
                   "stack's only one)")
    p.add_argument("--force", action="store_true",
                   help="also re-queue media being transferred right now")
    add_wait_options(p)
    p.set_defaults(func=run)


def pick_provider(ctx: Context, provider: str | None) -> str:
    if provider:
        if provider not in ctx.providers:
            raise CliError(
                f"provider {provider!r} is not in stack {ctx.outputs.stack!r} "
                f"(it has: {', '.join(ctx.providers)})"
            )
        return provider
    if len(ctx.providers) > 1:
        raise CliError(f"this stack has several providers ({', '.join(ctx.providers)}): "
                       "choose one with --provider")
    return ctx.providers[0]


def check_rows(
    ctx: Context, provider: str, media_ids: list[str], force: bool
) -> list[MediaRow]:
    """The rows, in the order asked; ``CliError`` before anything changes."""
    ids = list(dict.fromkeys(media_ids))
    found = ctx.tracker.get_many(provider, ids)
    unknown = [m for m in ids if m not in found]
    if unknown:
        raise CliError(
            f"unknown media id{'s' if len(unknown) > 1 else ''} for {provider}: "
            f"{', '.join(unknown)} (nothing was changed; `cloudsync library` lists the media)"
        )
    busy = [m for m in ids if found[m].status == IN_PROGRESS]
    if busy and not force:
        raise CliError(
            f"being transferred right now: {', '.join(busy)} (nothing was changed; wait for "
            "it to finish, or pass --force)"
        )
    return [found[m] for m in ids]


def resync(ctx: Context, provider: str, rows: list[MediaRow]) -> tuple[str, list[str]]:
    """One run record; each row -> PENDING with overwrite; returns the run id and what moved."""
    tracker = ctx.tracker
    run_id = new_run_id("resync")
    tracker.start_run(run_id, provider, "resync")
    queued: list[str] = []
    expected = 0
    try:
        for row in rows:
            current: MediaRow | None = row
            for _ in range(3):  # the row may move between our read and our write
                if current is None:
                    break
                if tracker.requeue(current, run_id, overwrite=True, reset_failures=True):
                    queued.append(current.media_id)
                    expected += current.listed_size or 0
                    break
                current = tracker.get(provider, row.media_id)
    finally:
        if tracker.end_listing(
            run_id, queued=len(queued), requeued=len(queued), expected_bytes=expected
        ):  # every medium finished before we closed the listing: the summary is ours to send
            send_summary(ctx.tracker, ctx.aws.client("sns"), ctx.outputs.topic_arn or "", run_id,
                         channels=_channels(ctx))
    return run_id, queued


def _channels(ctx: Context) -> Channels | None:
    """The stack's Slack and webhook channels (None: a stack deployed before they existed)."""
    try:
        secret_id = notify_secret_id(ctx)
    except CliError:
        return None
    return Channels(ctx.aws.client("secretsmanager"), ctx.outputs.stack, secret_id)


def run(args: argparse.Namespace, ctx: Context) -> int:
    provider = pick_provider(ctx, args.provider)
    rows = check_rows(ctx, provider, list(args.media_ids), args.force)
    run_id, queued = resync(ctx, provider, rows)
    missed = [r.media_id for r in rows if r.media_id not in queued]
    if not args.wait or not args.json:
        if args.json:
            ctx.print(to_json({"run_id": run_id, "queued": queued, "not_queued": missed}))
        else:
            ctx.print(f"Run {run_id}: {plural(len(queued), 'medium', 'media')} queued to be "
                      "archived again (new object versions).")
            if missed:
                ctx.note(f"could not re-queue (they kept changing): {', '.join(missed)}")
            if not args.wait:
                ctx.print(f"Watch it with `cloudsync watch {run_id}`, or use --wait next time.")
    if args.wait:
        code = wait_and_report(
            ctx, run_id, len(queued), as_json=args.json, timeout_s=args.timeout,
            extra={"queued": queued, "not_queued": missed}, every_s=args.every,
        )
        return EXIT_FAILED if missed else code
    return EXIT_FAILED if missed else EXIT_OK
