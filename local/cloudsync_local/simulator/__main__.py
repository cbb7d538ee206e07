"""``python -m cloudsync_local.simulator --port P --demo-library``: run standalone.

Prints one JSON line (URLs and credentials) and serves until interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .demo import build_demo_library
from .server import GoProSimulator


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloudsync_local.simulator",
                                     description="GoPro cloud API simulator (loopback)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = a free port")
    parser.add_argument("--seed", default="cloudsync")
    parser.add_argument("--username", default="user@example.com")
    parser.add_argument("--password", default="correct horse battery staple")  # fake account
    parser.add_argument("--demo-library", action="store_true", help="add a mixed demo library")
    parser.add_argument("--demo-scale", type=int, default=1, help="multiply demo file sizes")
    parser.add_argument("--max-per-page", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=None, help="force this page size")
    parser.add_argument("--link-lifetime", type=float, default=3600.0)
    parser.add_argument("--token-lifetime", type=float, default=3600.0)
    parser.add_argument("--rate-limit", type=float, default=None,
                        help="CDN bytes/s per connection")
    parser.add_argument("--log-requests", action="store_true")
    args = parser.parse_args(argv)

    sim = GoProSimulator(host=args.host, port=args.port, seed=args.seed,
                         username=args.username, password=args.password,
                         max_per_page=args.max_per_page, page_size_override=args.page_size,
                         link_lifetime_s=args.link_lifetime, token_lifetime_s=args.token_lifetime,
                         cdn_rate_limit_bytes_per_s=args.rate_limit,
                         log_requests=args.log_requests)
    media_ids = build_demo_library(sim.library, scale=args.demo_scale) if args.demo_library else []
    sim.start()
    tokens = sim.issue_tokens()
    browser = sim.issue_browser_token()
    print(json.dumps({
        "base_url": sim.base_url,
        "cdn_base_url": sim.cdn_base_url,
        "control_url": sim.control_url,
        "username": sim.username,
        "password": sim.password,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "gp_access_token": browser.access_token,
        "gp_user_id": browser.user_id,
        "media_ids": media_ids,
    }), flush=True)

    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    done.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
