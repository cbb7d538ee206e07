"""``cloudsync local up``: run the local cloud until interrupted.

When ready, ONE JSON line goes to stdout (endpoint_url, region, bucket, table,
state_machine_arn, secret_id, topic_arn, ...), flushed; after it stdout carries nothing of ours:
what the handlers print (logs, EMF metrics) goes to stderr. SIGINT or SIGTERM stops everything
cleanly and the process exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Final

from .app import DEFAULT_STACK, LocalCloud

DEFAULT_PORT: Final = 4599
DEFAULT_ENDPOINT_URL: Final = f"http://127.0.0.1:{DEFAULT_PORT}"

log = logging.getLogger("cloudsync_local.cloud")


def build_parser(prog: str = "cloudsync local up") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the whole cloudsync stack on this machine (moto), until interrupted.",
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
    parser.add_argument("--verbose", "-v", action="store_true", help="log to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings: dict[str, str] = {}
    for item in args.setting:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--setting wants NAME=VALUE, not {item!r}")
        settings[name] = value

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    cloud = LocalCloud(
        args.port, gopro_api_url=args.gopro_api_url, stack=args.stack, region=args.region,
        settings=settings, schedule_interval_s=args.schedule_every,
    )
    try:
        try:
            cloud.start()
        except OSError as e:
            print(f"cloudsync local up: cannot listen on 127.0.0.1:{args.port}: {e.strerror or e}",
                  file=sys.stderr)
            return 1
        out = sys.stdout
        out.write(json.dumps(ready_line(cloud)) + "\n")
        out.flush()
        sys.stdout = sys.stderr  # what handlers print stays off the ready channel
        try:
            while not stop.wait(0.5):
                pass
        finally:
            sys.stdout = out
        return 0
    finally:
        cloud.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ready_line(cloud: LocalCloud) -> dict[str, object]:
    outputs = cloud.outputs()
    keys = (
        "endpoint_url", "region", "stack", "bucket", "table", "state_machine_arn", "secret_id",
        "topic_arn", "alerts_queue_url", "list_function", "outputs_parameter",
    )
    return {key: outputs[key] for key in keys}
