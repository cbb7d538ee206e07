"""``cloudsync local up``: run the local cloud until interrupted.

When ready, ONE JSON line goes to stdout (endpoint_url, region, bucket, table,
state_machine_arn, secret_id, topic_arn, ..., ``state``: it lives in memory, ``log_file``),
flushed, and one sentence for a person on stderr (not with ``--json``). After that the terminal
stays quiet: what the handlers, moto and the workflow print goes to the log file the ready line
names (``--verbose``: streamed to stderr instead). Its state is in memory and ends with the
process: the archive, the tracker and the stored login are gone once it stops. SIGINT or SIGTERM
stops everything cleanly and the process exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Final, TextIO

from ..published import STATE_NOTE
from ..quiet import Screen, quiet_output
from .app import DEFAULT_STACK, LocalCloud

DEFAULT_PORT: Final = 4599
DEFAULT_ENDPOINT_URL: Final = f"http://127.0.0.1:{DEFAULT_PORT}"

log = logging.getLogger("cloudsync_local.cloud")


def build_parser(prog: str = "cloudsync local up") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the whole cloudsync stack on this machine (moto), until interrupted. "
        f"Its state lives {STATE_NOTE}. Quiet: logs go to a file named in the ready line.",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--gopro-api-url", default=None,
        help="the GoPro API to talk to (default: the real one; the simulator's URL for tests)",
    )
    parser.add_argument("--stack", default=DEFAULT_STACK, help="stack name (default: local)")
    parser.add_argument("--region", default=None, help="region (default: from the environment)")
    parser.add_argument(
        "--setting", action="append", default=[], metavar="NAME=VALUE",
        help="a function setting, e.g. CLOUDSYNC_MAX_CONCURRENT_MEDIA=3 (repeatable)",
    )
    parser.add_argument(
        "--schedule-every", type=float, default=None, metavar="SECONDS",
        help="also fire the nightly schedule every SECONDS (default: only on demand)",
    )
    parser.add_argument("--log-file", type=Path, default=None, metavar="PATH",
                        help="where the logs go (default: a new file in the temp directory)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="stream the logs to stderr instead of the log file")
    parser.add_argument("--json", action="store_true",
                        help="only the JSON ready line (no sentence on stderr)")
    return parser


def _new_log_file() -> Path:
    fd, name = tempfile.mkstemp(prefix="cloudsync-local-", suffix=".log")
    os.close(fd)
    return Path(name)


def _settings(items: list[str]) -> dict[str, str] | str:
    """NAME=VALUE items as a mapping, or the one that is not NAME=VALUE."""
    settings: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            return item
        settings[name] = value
    return settings


@contextlib.contextmanager
def _output(args: argparse.Namespace, log_path: Path) -> Iterator[Screen]:
    """The terminal quiet, everything else in the log file; ``--verbose``: logs on stderr."""
    if args.verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        out = sys.stdout
        sys.stdout = sys.stderr  # what handlers print stays off the ready channel
        try:
            yield Screen(out, sys.stderr, log_path)
        finally:
            sys.stdout = out
        return
    with quiet_output(log_path) as screen:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        yield screen


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    err = sys.stderr
    if not 0 <= args.port <= 65535:
        print(f"cloudsync local up: --port {args.port}: a port is 0 to 65535 (0 picks a free "
              "one)", file=err)
        return 2
    settings = _settings(args.setting)
    if isinstance(settings, str):
        print(f"cloudsync local up: --setting wants NAME=VALUE, not {settings!r}", file=err)
        return 2
    log_path = args.log_file or _new_log_file()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    cloud = LocalCloud(
        args.port, gopro_api_url=args.gopro_api_url, stack=args.stack, region=args.region,
        settings=settings, schedule_interval_s=args.schedule_every,
    )
    try:
        with _output(args, log_path) as screen:
            try:
                return _serve(cloud, args, screen, stop)
            finally:
                cloud.stop()  # what stopping prints goes to the log too
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(cloud: LocalCloud, args: argparse.Namespace, screen: Screen,
           stop: threading.Event) -> int:
    try:
        cloud.start()
    except OSError as e:
        print(f"cloudsync local up: cannot listen on 127.0.0.1:{args.port}: {e.strerror or e}",
              file=screen.err, flush=True)
        return 1
    ready = ready_line(cloud, None if args.verbose else screen.log_path)
    screen.out.write(json.dumps(ready) + "\n")
    screen.out.flush()
    if not args.json:
        _say_ready(screen.err, ready, verbose=args.verbose)
    while not stop.wait(0.5):
        pass
    return 0


def _say_ready(err: TextIO, ready: dict[str, object], *, verbose: bool) -> None:
    logs = "streamed here (--verbose)" if verbose else f"in {ready['log_file']}"
    err.write(f"Local cloud ready at {ready['endpoint_url']} (stack {ready['stack']}). Its state "
              f"is {STATE_NOTE}. Logs: {logs}. Ctrl-C stops it.\n")
    err.flush()


def ready_line(cloud: LocalCloud, log_path: Path | None = None) -> dict[str, object]:
    outputs = cloud.outputs()
    keys = (
        "endpoint_url", "region", "stack", "bucket", "table", "state_machine_arn", "secret_id",
        "topic_arn", "alerts_queue_url", "list_function", "outputs_parameter",
    )
    line: dict[str, object] = {key: outputs[key] for key in keys}
    line["state"] = STATE_NOTE
    line["log_file"] = str(log_path) if log_path is not None else None
    return line
