"""``cloudsync index``: read where and when archived media were shot, again or for the first time.

The workflow indexes each medium once it is archived; this command catches up on media archived
before the index existed (default: the archived media with no index yet), re-indexes given media,
or with ``--rebuild`` the whole library. Each medium is one invoke of the stack's ``index``
function (the local cloud runs the very same handler in its process), a few at a time.
"""

from __future__ import annotations

import argparse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK, CliError
from ..output import to_json
from .find import indexed_rows
from .resync import pick_provider
from .sync import invoke_function

PARALLEL = 4


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    what = ("Read each archived medium's telemetry (GoPro's gpmf sidecar, else ranged reads of "
            "the archived original; EXIF for photos) into _meta/telemetry.json and its tracker "
            "row. Default: the archived media not indexed yet.")
    p = sub.add_parser("index", description=what,
                       help="index archived media (GPS, time, camera) for `cloudsync find`")
    p.add_argument("media_ids", nargs="*", metavar="MEDIA_ID", help="only these media")
    p.add_argument("--rebuild", action="store_true", help="every archived medium again")
    p.add_argument("--parallel", type=int, default=PARALLEL, metavar="N",
                   help=f"media indexed at once (default {PARALLEL})")
    p.add_argument("--provider", default=None, help="(default: the stack's only one)")
    p.add_argument("--json", action="store_true", help="print the outcome per medium as JSON")
    p.set_defaults(func=run)


def chosen(ctx: Context, provider: str, args: argparse.Namespace) -> list[str]:
    rows = indexed_rows(ctx, provider)
    archived = {str(r["media_id"]): r for r in rows}
    if args.media_ids:
        unknown = [m for m in args.media_ids if m not in archived]
        if unknown:
            raise CliError(f"not archived (nothing was indexed): {', '.join(unknown)}")
        return list(dict.fromkeys(args.media_ids))
    if args.rebuild:
        return sorted(archived)
    return sorted(m for m, r in archived.items() if not r.get("telemetry"))


def index_one(ctx: Context, provider: str, media_id: str) -> dict[str, Any]:
    try:
        answer = invoke_function(ctx, "index", {"provider": provider, "media_id": media_id})
    except CliError as e:
        return {"media_id": media_id, "status": "failed", "error_message": str(e)}
    result = dict(answer) if isinstance(answer, dict) else {"status": "failed"}
    result["media_id"] = media_id
    return result


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.parallel < 1:
        raise CliError("--parallel must be at least 1")
    provider = pick_provider(ctx, args.provider)
    ids = chosen(ctx, provider, args)
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        results = list(pool.map(lambda m: index_one(ctx, provider, m), ids))
    counts = Counter(str(r.get("status")) for r in results)
    if args.json:
        ctx.print(to_json(results))
    elif not ids:
        ctx.print("Nothing to index: every archived medium is indexed (--rebuild redoes all).")
    else:
        for r in results:
            if r.get("status") == "failed":
                ctx.note(f"{r['media_id']}: {r.get('error_type', 'failed')}: "
                         f"{r.get('error_message', '')}")
        ctx.print(f"Indexed {len(ids)} media: {counts['indexed']} with GPS, "
                  f"{counts['no_gps']} without, {counts['failed']} failed.")
    return EXIT_FAILED if counts["failed"] else EXIT_OK
