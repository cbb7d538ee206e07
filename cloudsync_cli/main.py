"""``cloudsync``: the operator CLI.

    cloudsync [--endpoint-url URL | --local] [--stack NAME] [--region R] [--profile P] [--debug]
              COMMAND ...

Commands: login, sync, status, failures, resync, verify, library, restore, local up, demo,
cost, doctor, index, find.
Global options may also follow the command. Where the CLI talks to and how it finds the stack:
see ``cloudsync_cli.stack``. Errors are one line on stderr (``--debug``: the traceback); exit
codes in ``cloudsync_cli.errors``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import TextIO

from .commands import demo, doctor, library, local, login, restore, resync, status, sync, verify
from .commands import find as find_cmd
from .commands import index as index_cmd
from .context import Context
from .errors import EXIT_USAGE, describe
from .stack import ENV_STACK, LOCAL_ENDPOINT_URL

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
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    original = sub.add_parser

    def add_parser(name: str, **kwargs: object) -> argparse.ArgumentParser:
        if name not in ("local", "demo", "cost"):
            kwargs.setdefault("parents", [common])
        return original(name, **kwargs)  # type: ignore[arg-type]

    sub.add_parser = add_parser  # type: ignore[method-assign]
    for module in (login, sync, status, resync, verify, library, restore, local, demo):
        module.add_parser(sub)
    for module in (doctor, index_cmd, find_cmd):
        module.add_parser(sub)
    _add_cost(sub)
    return parser


def _add_cost(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``cloudsync cost``: the cost model (``cloudsync_cli.cost``); talks to no AWS."""
    from . import cost

    p = sub.add_parser("cost", help="what archiving a library costs, per lifecycle policy",
                       description=(cost.__doc__ or "").split("\n")[0])
    cost.add_arguments(p)

    def run(args: argparse.Namespace, ctx: Context | None) -> int:
        return cost.run(args)

    p.set_defaults(func=run, needs_aws=False)


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
            ctx = Context.create(
                endpoint_url=args.endpoint_url, local=args.local, region=args.region,
                profile=args.profile, stack=args.stack,
            )
            ctx.out = out or sys.stdout
            ctx.err = err_stream
        return int(args.func(args, ctx))
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
