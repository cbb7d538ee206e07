"""``cloudsync cost``: the cost model (``cloudsync_cli.cost``) as a command; talks to no AWS."""

from __future__ import annotations

import argparse
from typing import Final

from .. import cost
from ..context import Context

GLOBAL_OPTIONS: Final = False  # the cost model talks to no AWS


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cost", help="what archiving a library costs, per lifecycle policy",
                       description=(cost.__doc__ or "").split("\n")[0])
    cost.add_arguments(p)
    p.set_defaults(func=run, needs_aws=False)


def run(args: argparse.Namespace, ctx: Context | None) -> int:
    return cost.run(args)
