"""``cloudsync library``: the remote library, and what of it is archived (a credentials check)."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from cloudsync_core.credentials import Authenticator
from cloudsync_core.models import ListFilters, MediaItem
from cloudsync_core.providers import create_provider, token_client
from cloudsync_core.tracker import MediaRow

from ..context import Context
from ..errors import EXIT_OK
from ..output import STATUS_WORDS, human_bytes, plural, table, to_json
from .gopro import gopro_settings, secret_store
from .resync import pick_provider
from .sync_plan import left_out as sync_plan_left_out
from .sync_plan import stack_selection_of


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "library", help="list the GoPro library and what is new (checks the credentials)",
        description="List the GoPro library with the stored credentials (renewing them if "
        "needed) and show which media are archived already and which are new.",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument("--limit", type=int, default=50, metavar="N",
                   help="media rows to show (default 50; the counts cover everything)")
    p.add_argument("--provider", default=None, help="the provider (default: the stack's only one)")
    p.add_argument("--gopro-api-url", default=None, help="the GoPro API (default: the stack's)")
    p.set_defaults(func=run)


def list_remote(ctx: Context, provider: str, api_url: str | None) -> tuple[
    list[MediaItem], dict[str, Any], int
]:
    settings = gopro_settings(ctx, api_url)
    auth = Authenticator(secret_store(ctx), token_client(provider, settings))
    grant = auth.ensure_fresh(min_valid_seconds=300)
    source = create_provider(provider, settings=settings, grant=grant)
    items = list(source.list_media(ListFilters(media_types=settings.media_types)))
    return items, auth.status(), source.skipped_items


def run(args: argparse.Namespace, ctx: Context) -> int:
    provider = pick_provider(ctx, args.provider)
    items, login, skipped = list_remote(ctx, provider, args.gopro_api_url)
    rows: dict[str, MediaRow] = ctx.tracker.get_many(provider, (i.media_id for i in items))
    states = {i.media_id: STATUS_WORDS.get(rows[i.media_id].status if i.media_id in rows else "",
                                          "other") for i in items}
    selection = stack_selection_of(ctx)  # what the stack's selection leaves out, and why
    left_out = sync_plan_left_out(selection, items, rows)
    states.update({media_id: f"left out: {why}" for media_id, why in left_out.items()})
    counts = Counter(states.values())
    if args.json:
        ctx.print(to_json({
            "provider": provider, "credentials": login, "media": len(items),
            "skipped_entries": skipped, "counts": dict(counts),
            "selection": selection.as_config(),
            "items": [{"media_id": i.media_id, "filename": i.filename, "type": i.media_type,
                       "captured_at": i.captured_at, "size": i.file_size,
                       "state": states[i.media_id]} for i in items],
        }))
        return EXIT_OK
    expires = login.get("expires_at")
    renewal = "renewed automatically" if login.get("mode") == "oauth" else "cannot be renewed"
    ctx.print(f"Logged in to {provider} with the stored {login.get('mode')} credentials (access "
              f"token valid until {expires or 'unknown'}; {renewal}).")
    shown = items[: max(0, args.limit)]
    if shown:
        ctx.print()
        ctx.print(table(
            ["media id", "file", "type", "captured", "size", "state"],
            [(i.media_id, i.filename, i.media_type,
              i.captured_at.strftime("%Y-%m-%d %H:%M") if i.captured_at else None,
              human_bytes(i.file_size), states[i.media_id]) for i in shown],
            right=[4],
        ))
        if len(items) > len(shown):
            ctx.print(f"... and {len(items) - len(shown)} more (--limit)")
    ctx.print()
    summary = ", ".join(f"{n} {word}" for word, n in sorted(counts.items()))
    ctx.print(f"{len(items)} media at {provider}: {summary or 'none'}."
              + (f" {plural(skipped, 'unusable listing entry', 'unusable listing entries')} "
                 "skipped." if skipped else ""))
    if left_out:
        ctx.print(f"The stack's selection ({selection.describe()}) leaves {len(left_out)} out; "
                  "widen it (stack config `selection`) and the next sync picks them up.")
    if counts.get("new"):
        ctx.print("`cloudsync sync --wait` archives the new ones now.")
    return EXIT_OK
