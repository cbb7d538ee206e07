"""``cloudsync``: the operator CLI.

    cloudsync [--endpoint-url URL | --local] [--stack NAME] [--region R] [--profile P] [--debug]
              COMMAND ...

Commands: the catalog in ``cloudsync_cli.commands`` (one line and one module each).
Global options may also follow the command. Where the CLI talks to and how it finds the stack:
see ``cloudsync_cli.stack``. Errors are one line on stderr (``--debug``: the traceback); exit
codes in ``cloudsync_cli.errors``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TextIO

from . import commands
from .context import Context
from .errors import EXIT_CLOSED_PIPE, EXIT_USAGE, describe
from .stack import ENV_STACK, LOCAL_ENDPOINT_URL, Target

# Commands whose answer would read as "a clean, empty archive" on a local cloud that has just
# started (its state lives in memory): they say so first.
FRESH_LOCAL_NOTICE = frozenset({"status", "sync", "verify", "watch", "failures"})

EPILOG = f"""\
where it talks to:
  --endpoint-url or AWS_ENDPOINT_URL when given; --local means {LOCAL_ENDPOINT_URL} (the local
  cloud's default); with neither and no AWS credentials set (environment, AWS_PROFILE or ~/.aws),
  the local cloud at {LOCAL_ENDPOINT_URL} too; otherwise AWS with the standard AWS environment.
which stack:
  --stack NAME or {ENV_STACK}; otherwise the only stack whose outputs are published in the region
  (SSM parameter /cloudsync/<stack>/outputs).
start here:
  cloudsync demo          everything on this machine, nothing to prepare
  cloudsync local up      run the stack locally; then in another shell: cloudsync login ...,
                          cloudsync sync --wait, cloudsync status, cloudsync verify
"""


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    g = parser.add_argument_group("where to talk to")
    g.add_argument("--endpoint-url", default=default(None), metavar="URL",
                   help="AWS endpoint (e.g. a local cloud); default: AWS_ENDPOINT_URL")
    g.add_argument("--local", action="store_true", default=default(False),
                   help=f"talk to the local cloud at {LOCAL_ENDPOINT_URL}")
    g.add_argument("--stack", default=default(None), metavar="NAME",
                   help=f"stack name (default: {ENV_STACK}, else the only one found)")
    g.add_argument("--region", default=default(None), help="AWS region (default: AWS_REGION)")
    g.add_argument("--profile", default=default(None), help="AWS profile (default: AWS_PROFILE)")
    g.add_argument("--debug", action="store_true", default=default(False),
                   help="show tracebacks instead of one-line errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cloudsync",
        description="Archive a GoPro cloud library into your own AWS account: operate the stack.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cloudsync {version()}")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    original = sub.add_parser
    global_options = True

    def add_parser(name: str, **kwargs: object) -> argparse.ArgumentParser:
        if global_options:
            kwargs.setdefault("parents", [common])
        return original(name, **kwargs)  # type: ignore[arg-type]

    sub.add_parser = add_parser  # type: ignore[method-assign]
    for module in commands.modules():
        global_options = bool(getattr(module, "GLOBAL_OPTIONS", True))
        module.add_parser(sub)
    return parser


def version() -> str:
    try:
        return importlib.metadata.version("cloudsync")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source checkout
        return "unknown (not installed)"


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    if getattr(args, "endpoint_url", None) and getattr(args, "local", False):
        parser.error("--endpoint-url and --local exclude each other")
    return args


def setup_logging(debug: bool) -> None:
    """Library warnings (a skipped listing entry...) stay quiet; --debug shows INFO and up."""
    root = logging.getLogger()
    if debug:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    elif not root.handlers:
        root.addHandler(logging.NullHandler())


def quiet_closed_stdout(out: TextIO | None) -> None:
    """Point a closed stdout at /dev/null, so the interpreter's last flush says nothing."""
    if out is not None and out is not sys.stdout:
        return
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run one command; returns the exit code. ``out``/``err`` default to stdout/stderr."""
    err_stream = err or sys.stderr
    try:
        args = parse(argv)
    except SystemExit as e:  # argparse: usage errors (2) and --help (0)
        return int(e.code) if isinstance(e.code, int) else EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    if getattr(args, "needs_aws", True):  # `local up` and `demo` set up their own
        setup_logging(debug)
    ctx: Context | None = None
    try:
        if getattr(args, "needs_aws", True):
            target = Target.resolve(args.endpoint_url, local=args.local, region=args.region,
                                    profile=args.profile)
            ctx = Context.create(target, args.stack)
            ctx.out = out or sys.stdout
            ctx.err = err_stream
            if args.command in FRESH_LOCAL_NOTICE and (fresh := ctx.fresh_local_cloud()):
                ctx.note(f"cloudsync: note: {fresh}")
        return int(args.func(args, ctx))
    except BrokenPipeError:  # `cloudsync status | head -2`: the reader has all it wanted
        quiet_closed_stdout(out)
        return EXIT_CLOSED_PIPE
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - the one place errors become lines
        if debug:
            traceback.print_exc(file=err_stream)
        url = ctx.target.endpoint_url if ctx else None
        reason = ctx.target.chosen_because if ctx else ""
        message, code = describe(e, url, reason)
        print(f"cloudsync: {message}", file=err_stream, flush=True)
        return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
