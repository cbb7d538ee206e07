"""The processes a benchmark runs beside itself: the S3 sink, the GoPro simulator, one transfer.

``python -m bench.child moto``      moto's ThreadedMotoServer on 127.0.0.1 (a free port)
``python -m bench.child sim ...``   the GoPro simulator with the files / library a bench needs
``python -m bench.child lister``    the lister benchmark (bench.lister)
``python -m bench.child lambda``    a warm Lambda container: runs the real handlers (prepare,
                                    transfer, finalize) one invocation at a time, as Lambda does

Servers print one JSON line (where they listen) and serve until stdin closes, so they never
outlive the bench. Each runs in its own process: the sink, the source and the functions do not
share a GIL, and an invocation's RSS is its container's alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

MIB = 1024 * 1024

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


def fake_aws_env() -> dict[str, str]:
    """Fake credentials: nothing a bench starts can reach a real account."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_ENDPOINT_URL")}
    env.update(FAKE_AWS)
    return env


def _announce(payload: dict[str, Any]) -> None:
    print(json.dumps(payload), flush=True)


def _serve_until_stdin_closes() -> None:
    """Block until the parent closes our stdin (or dies)."""
    try:
        while sys.stdin.read(65536):
            pass
    except (OSError, ValueError):
        pass


def peak_rss_mib() -> float:
    """This process's peak resident set: VmHWM, the high-water mark of its own memory.

    Not ``ru_maxrss``: Linux carries the parent's high-water mark across fork + exec into it
    (a child of the bench, which holds the 1 GiB file for the limit, would report >= 1 GiB).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def streaming_full_object_crc() -> None:
    """Make moto's CompleteMultipartUpload compute a FULL_OBJECT CRC32 as it goes.

    moto 5.2.5 copies every part into a second bytearray, copies that into ``bytes`` and only
    then takes the CRC32: for a 1 GiB upload created with ``ChecksumType=FULL_OBJECT`` (ours,
    and any upload created without an algorithm: S3's default is a full-object CRC64NVME) its
    completion takes ~3x as long as a COMPOSITE one (measured: 6-10 s against 2-2.5 s), a cost
    real S3 does not have. The running CRC32 gives the identical value without the copies.
    """
    import base64
    import binascii

    from moto.core.compat import HAS_CRT
    from moto.s3 import models

    original = models.MultipartChecksumBuilder
    # Without awscrt moto computes CRC64NVME (S3's default when none is asked for) as CRC32.
    crc32_like = {"CRC32"} | (set() if HAS_CRT else {"CRC64NVME"})

    class Streaming(original):  # type: ignore[misc, valid-type]
        def __init__(self, algorithm: str | None, checksum_type: str | None) -> None:
            super().__init__(algorithm, checksum_type)
            self._streaming = (self.checksum_type == "FULL_OBJECT"
                               and self.checksum_algorithm in crc32_like)
            self._crc = 0

        def addPart(self, part: bytes) -> None:  # moto's name
            if not self._streaming:
                super().addPart(part)
                return
            self._crc = binascii.crc32(part, self._crc)
            self.part_count += 1

        def build(self) -> tuple[str, str, int] | None:
            if not self._streaming:
                result: tuple[str, str, int] | None = super().build()
                return result
            value = base64.b64encode((self._crc & 0xFFFFFFFF).to_bytes(4, "big")).decode()
            return self.checksum_type, value, 1

    models.MultipartChecksumBuilder = Streaming  # type: ignore[misc, assignment]


ACCOUNT_PATH = "/__bench/account"


def _operation(environ: dict[str, Any]) -> str:
    """What an AWS request asks, from the request alone: ``service.Operation`` for JSON
    protocols (X-Amz-Target), else the S3 verb with the sub-resource that names it."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        service, _, op = target.partition(".")
        return f"{service.split('_')[0].lower()}.{op}"
    query = str(environ.get("QUERY_STRING", ""))
    method = str(environ.get("REQUEST_METHOD", ""))
    if "Action=" in query or str(environ.get("CONTENT_TYPE", "")).startswith(
            "application/x-www-form-urlencoded"):
        return f"query.{method}"
    names = {("PUT", "partNumber"): "UploadPart", ("POST", "uploadId"): "CompleteMultipartUpload",
             ("POST", "uploads"): "CreateMultipartUpload", ("GET", "uploadId"): "ListParts",
             ("GET", "uploads"): "ListMultipartUploads", ("DELETE", "uploadId"): "AbortUpload",
             ("GET", "tagging"): "GetObjectTagging", ("PUT", "tagging"): "PutObjectTagging",
             ("GET", "versions"): "ListObjectVersions"}
    for (verb, word), name in names.items():
        if method == verb and word in query:
            return f"s3.{name}"
    if "/" not in str(environ.get("PATH_INFO", "")).strip("/"):
        return f"s3.Bucket{method.title()}"  # on the bucket itself (path-style: /bucket)
    plain = {"PUT": "PutObject", "HEAD": "HeadObject", "GET": "GetObject",
             "DELETE": "DeleteObject", "POST": "PostObject"}
    return "s3." + plain.get(method, method)


class Accounting:
    """A WSGI wrapper that sums, per operation, the requests, their wall time and the CPU time
    of the thread that served them (moto serves each request on a thread of its own). GET
    ``/__bench/account`` answers the sums so far as JSON and starts anew."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.sums: dict[str, list[float]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == ACCOUNT_PATH:
            with self.lock:
                body, self.sums = json.dumps(self.sums).encode(), {}
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        name = _operation(environ)
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return list(self.app(environ, start_response))  # the body, served within the timing
        finally:
            with self.lock:
                entry = self.sums.setdefault(name, [0, 0.0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - wall
                entry[2] += time.thread_time() - cpu


def run_moto(args: argparse.Namespace) -> int:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if args.streaming_crc:
        streaming_full_object_crc()
    from cloudsync_local.cloud import dynamo_guard

    dynamo_guard.install()  # the local cloud's guard: no lost writes, no O(table) copies
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    inner = server._server
    if inner is not None:
        inner.app = Accounting(inner.app)
    host, port = server.get_host_and_port()
    _announce({"endpoint": f"http://{host}:{port}", "pid": os.getpid()})
    _serve_until_stdin_closes()
    server.stop()
    return 0


def run_sim(args: argparse.Namespace) -> int:
    from cloudsync_local.simulator import GoProSimulator

    sim = GoProSimulator(
        seed="bench",
        cdn_rate_limit_bytes_per_s=args.rate or None,
        link_lifetime_s=6 * 3600,
        token_lifetime_s=6 * 3600,
        max_per_page=100,
    )
    media = {str(size): sim.library.add_video(size=size) for size in args.file}
    if args.library:
        _build_library(sim, args.library)
    spec_ids = [m for item in json.loads(args.spec) for m in _add_from_spec(sim, item)
                ] if args.spec else []
    sim.start()
    signed = {size: sim.sign(mid, "source-1") for size, mid in media.items()}
    originals = {mid: [[f.file_id, f.size, sim.sign(mid, f.file_id)]
                       for f in sim.library.originals(mid)] for mid in spec_ids}
    tokens = sim.issue_tokens()
    _announce({
        "base_url": sim.base_url,
        "control_url": sim.control_url,
        "links": signed,
        "originals": originals,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_in": tokens.get("expires_in"),
        "media": len(sim.library),
        "pid": os.getpid(),
    })
    _serve_until_stdin_closes()
    sim.stop()
    return 0


def _add_from_spec(sim: Any, item: dict[str, Any]) -> list[str]:
    """The media of one library spec entry (bench.production.library_spec); ``demo`` is the
    local cloud's demo library (``cloudsync demo``, the simulator's --demo-library)."""
    kind = item["kind"]
    lib = sim.library
    if kind == "demo":
        from cloudsync_local.simulator.demo import build_demo_library

        return [str(m) for m in build_demo_library(lib, scale=int(item["scale"]))]
    if kind == "video":
        return [str(lib.add_video(size=item["size"], chapters=item.get("chapters", 1)))]
    if kind == "photo":
        return [str(lib.add_photo(size=item["size"], raw=bool(item.get("raw_size")),
                                  raw_size=item.get("raw_size") or 0))]
    return [str(lib.add_burst(frames=item["frames"], frame_size=item["size"]))]


def _build_library(sim: Any, count: int) -> None:
    """A mixed library: mostly videos, some chaptered, photos (some RAW), bursts."""
    for i in range(count):
        kind = i % 20
        if kind < 12:
            sim.library.add_video(size=64 * 1024)
        elif kind < 14:
            sim.library.add_video(size=96 * 1024, chapters=3)
        elif kind < 18:
            sim.library.add_photo(size=16 * 1024, raw=kind == 17, raw_size=32 * 1024)
        else:
            sim.library.add_burst(frames=5, frame_size=8 * 1024)


def run_lambda(_args: argparse.Namespace) -> int:
    from .container import serve

    return serve()


def run_lister(args: argparse.Namespace) -> int:
    from .lister import main_child

    return main_child(args.endpoint, args.sim)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    sub = parser.add_subparsers(dest="what", required=True)
    moto = sub.add_parser("moto")
    moto.add_argument("--streaming-crc", action="store_true",
                      help="compute FULL_OBJECT CRC32s without moto's extra copies")
    sim = sub.add_parser("sim")
    sim.add_argument("--file", type=int, action="append", default=[], help="a video of N bytes")
    sim.add_argument("--rate", type=float, default=0.0, help="CDN bytes/s per connection")
    sim.add_argument("--library", type=int, default=0, help="add a mixed library of N media")
    sim.add_argument("--spec", default="", help="JSON list of media to add (a library spec)")
    sub.add_parser("lambda")
    lister = sub.add_parser("lister")
    lister.add_argument("--endpoint", required=True)
    lister.add_argument("--sim", required=True, help="the simulator's JSON line")
    args = parser.parse_args(argv)
    runner = {"moto": run_moto, "sim": run_sim,
              "lister": run_lister, "lambda": run_lambda}[args.what]
    return runner(args)


if __name__ == "__main__":
    sys.exit(main())
