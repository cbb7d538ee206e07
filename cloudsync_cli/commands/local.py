"""``cloudsync local up``: the embedded local cloud (delegates to ``cloudsync_local.cloud``)."""

from __future__ import annotations

import argparse
from typing import Final

from ..context import Context

GLOBAL_OPTIONS: Final = False  # `local up` is the stack: nothing to find, nowhere to talk to


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "local", help="run the whole stack on this machine",
        description="The embedded local cloud: `cloudsync local up [--port P] "
        "[--gopro-api-url URL] ...` (see `cloudsync local up --help`).",
    )
    local_sub = p.add_subparsers(dest="local_command", metavar="up", required=True)
    up = local_sub.add_parser("up", help="start the local cloud and run until interrupted",
                              add_help=False)
    up.set_defaults(func=run_up, needs_aws=False, passthrough=True)


def run_up(args: argparse.Namespace, ctx: Context | None) -> int:
    from cloudsync_local.cloud import main as local_main

    return int(local_main(list(getattr(args, "extra", []))))
