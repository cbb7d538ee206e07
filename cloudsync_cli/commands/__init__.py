"""The command catalog: adding a CLI command is one line in ``COMMANDS`` plus its own module.

Each module named here exposes ``add_parser(sub)``, which adds its subcommand(s) and sets
``func(args, ctx)`` as the parser default. ``cloudsync_cli.main`` imports them in this order (the
order of ``cloudsync --help``) and gives every subcommand the global options (``--endpoint-url``,
``--stack``, ...) unless its module sets ``GLOBAL_OPTIONS = False`` (commands that talk to no
stack: ``local``, ``demo``, ``cost``). Every command takes ``--json``; a test holds them to it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final

COMMANDS: Final[tuple[str, ...]] = (
    "login",
    "sync",
    "watch",
    "status",
    "resync",
    "verify",
    "library",
    "restore",
    "versions",
    "get",
    "local",
    "demo",
    "cost",
    "doctor",
    "index",
    "find",
    "notify",
)


def modules() -> list[ModuleType]:
    """The command modules, imported in catalog order."""
    return [importlib.import_module(f"{__name__}.{name}") for name in COMMANDS]
