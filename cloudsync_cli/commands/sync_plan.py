"""``cloudsync sync``'s selection flags, ``--limit``, ``--full-listing`` and ``--dry-run``.

The flags become the list function's input (``ListOptions``): the lister itself applies them,
so a one-off selection, a limit and a rehearsal decide exactly as a real night would. A dry run
is the lister on a tracker that writes nothing (``cloudsync_core.sync.rehearsal``); this module
prints its plan with an estimate of the time it would take at the stack's settings (the transfer
rate ``make bench`` measured per invocation, scaled by the stack's ranges and media at once).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Container
from typing import Any

from cloudsync_core.events import ListOptions
from cloudsync_core.models import MediaItem
from cloudsync_core.sync.listing_state import ListingStateStore
from cloudsync_core.sync.selection import (
    ORDERS,
    Selection,
    deployed_selection,
    selection_problems,
)

from ..context import Context
from ..cost import Usage
from ..errors import EXIT_OK, CliError
from ..output import human_bytes, plural, table, to_json
from .gopro import function_environment

BENCH_RANGES = 8  # the ranges in flight behind Usage.transfer_mbit_s (make bench)


def add_selection_options(p: argparse.ArgumentParser) -> None:
    """The one-off selection (replacing the stack's ``selection`` keys given), and friends."""
    g = p.add_argument_group("one-off selection (replaces those keys of the stack's selection)")
    g.add_argument("--since", metavar="DATE", help="only media captured on or after DATE")
    g.add_argument("--until", metavar="DATE", help="only media captured on or before DATE")
    g.add_argument("--type", dest="types", action="append", metavar="TYPE",
                   help="only this media type (Video, Photo, TimeLapse, ...; repeatable)")
    g.add_argument("--min-size", metavar="SIZE", help="only media of at least SIZE (e.g. 50MB)")
    g.add_argument("--max-size", metavar="SIZE", help="only media of at most SIZE (e.g. 4GiB)")
    g.add_argument("--camera", dest="cameras", action="append", metavar="MODEL",
                   help="only media from this camera model (e.g. 'HERO12 Black'; repeatable)")
    g.add_argument("--no-renders", dest="renders", action="store_const", const=False,
                   default=None, help="leave GoPro's share renders out even when the stack "
                   "archives them (to archive them, set includeRenders in the stack's selection:"
                   " the transfer applies the stack's setting)")
    g.add_argument("--order", choices=ORDERS, help="queue order of new media (default newest)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="queue only the first N new media (in queue order); the rest wait")
    p.add_argument("--dry-run", action="store_true",
                   help="list what would be queued (media, originals, bytes, estimated time) "
                   "and write nothing")
    p.add_argument("--full-listing", action="store_true",
                   help="list the whole library even when an incremental listing would do")


def options_from_args(args: argparse.Namespace) -> ListOptions:
    """The list input for these flags; a bad flag is a ``CliError`` naming it."""
    raw: dict[str, Any] = {}
    for flag, key in (("since", "capturedSince"), ("until", "capturedUntil"),
                      ("min_size", "minSize"), ("max_size", "maxSize"), ("order", "order"),
                      ("types", "mediaTypes"), ("cameras", "cameras"),
                      ("renders", "includeRenders")):
        value = getattr(args, flag, None)
        if value is not None:
            raw[key] = value  # the lister parses it again, the same way
    problems = selection_problems(raw).problems
    if problems:
        raise CliError("sync: " + "; ".join(problems))
    limit = getattr(args, "limit", None)
    if limit is not None and limit < 1:
        raise CliError(f"sync: --limit must be 1 or more, not {limit}")
    return ListOptions(selection=raw, limit=limit, dry_run=bool(getattr(args, "dry_run", False)),
                       full=bool(getattr(args, "full_listing", False)))


def estimate_seconds(report: dict[str, Any], usage: Usage | None = None) -> float:
    """How long the plan would take at the stack's settings: bytes over the transfer rate of
    ``max_concurrent_media`` media at once (each at ``parallel_ranges`` ranges), plus each
    medium's own steps."""
    u = usage or Usage()
    media = int(report.get("queued", 0))
    if media == 0:
        return 0.0
    at_once = max(1, min(media, int(report.get("max_concurrent_media") or 5)))
    ranges = int(report.get("parallel_ranges") or BENCH_RANGES)
    per_medium_bytes_s = u.transfer_mbit_s * 1e6 / 8 * ranges / BENCH_RANGES
    transfer = int(report.get("expected_bytes", 0)) / (per_medium_bytes_s * at_once)
    return transfer + math.ceil(media / at_once) * u.express_overhead_s


def duration_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def show_plan(ctx: Context, report: dict[str, Any], *, as_json: bool, shown: int = 50) -> int:
    """Print what a dry run found; nothing was written."""
    seconds = estimate_seconds(report)
    if as_json:
        ctx.print(to_json({**report, "estimated_seconds": round(seconds, 1)}))
        return EXIT_OK
    plan: list[dict[str, Any]] = list(report.get("plan") or [])
    queued = int(report.get("queued", 0))
    ctx.print(f"Dry run (nothing written): listed {report.get('listed', 0)} media at "
              f"{report.get('provider')}; selection: {report.get('selection')}.")
    if plan:
        ctx.print()
        ctx.print(table(
            ["media id", "file", "type", "captured", "originals", "size", "why"],
            [(e["media_id"], e.get("filename"), e.get("type"), (e.get("captured_at") or "")[:16],
              e.get("originals"), human_bytes(e.get("size")), e.get("why")) for e in plan[:shown]],
            right=[4, 5],
        ))
        if queued > min(shown, len(plan)):
            ctx.print(f"... and {queued - min(shown, len(plan))} more")
    ctx.print()
    for line in listing_notes(report):
        ctx.print(line)
    ctx.print(f"Would queue {plural(queued, 'medium', 'media')} "
              f"({report.get('new', 0)} new, {report.get('requeued', 0)} re-queued), "
              f"{report.get('plan_originals', 0)} originals as listed, "
              f"~{human_bytes(int(report.get('expected_bytes', 0)))}: about "
              f"{duration_text(seconds)} at {report.get('max_concurrent_media')} media at once.")
    return EXIT_OK


def listing_notes(report: dict[str, Any]) -> list[str]:
    """Which listing ran and why, what the selection left out, what --limit left for later."""
    lines: list[str] = []
    if report.get("mode"):
        lines.append(f"{str(report['mode']).capitalize()} listing ({report.get('mode_reason')}).")
    left_out: dict[str, int] = dict(report.get("left_out") or {})
    if left_out:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(left_out.items()))
        lines.append(f"Left out by the selection ({sum(left_out.values())}): {reasons}.")
    waiting = int(report.get("not_queued", 0))
    if waiting:
        lines.append(f"--limit left {plural(waiting, 'new medium', 'new media')} for a later "
                     "run.")
    return lines


def stack_selection_of(ctx: Context) -> Selection:
    """The deployed stack's selection (its list function's environment)."""
    return deployed_selection(function_environment(ctx))


def left_out(selection: Selection, items: list[MediaItem], known: Container[str]
             ) -> dict[str, str]:
    """Why ``selection`` leaves out each listed medium the tracker does not know."""
    reasons: dict[str, str] = {}
    for item in items:
        why = selection.leaves_out(item)
        if why is not None and item.media_id not in known:
            reasons[item.media_id] = why
    return reasons


def listing_document(ctx: Context) -> dict[str, dict[str, Any] | None]:
    """Per provider: the listing state (when the last full and incremental listings ran)."""
    store = ListingStateStore(ctx.aws.dynamodb(), ctx.outputs.table)
    found: dict[str, dict[str, Any] | None] = {}
    for provider in ctx.providers:
        state = store.get_state(provider)
        found[provider] = state.as_dict() if state else None
    return found


def listing_lines(document: dict[str, dict[str, Any] | None]) -> list[str]:
    """``status``'s lines about listings: a full one proves completeness, when did it run."""
    lines: list[str] = []
    for provider, state in sorted(document.items()):
        if state is None or not state.get("full_at"):
            lines.append(f"Listing ({provider}): no complete full listing yet (the next run "
                         "lists the whole library).")
            continue
        line = (f"Listing ({provider}): last full listing {str(state['full_at'])[:16]} UTC "
                f"(run {state.get('full_run')}); newest upload seen "
                f"{str(state.get('mark'))[:16]}; the nights between full listings list only "
                "newer uploads")
        lines.append(line + ".")
    return lines
