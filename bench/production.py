"""Benchmark 1: the production path, side by side with the seed's approach, rclone and the limit.

What runs is what the workflow runs: the lister function queues the media, then each medium goes
Claim -> prepare -> a Map of transfer invocations -> finalize (bench.workflow), every invocation
in a warm container process of its own (bench.container), the S3 sink (moto) and the GoPro
simulator each in their own process, the simulator capping every CDN connection as a CDN does.

Two scenarios: one big medium, and a library of 40 media whose mix follows a real library
(../shared/gopro-api.md: 72% videos, a few chaptered, 26% photos, some RAW, a burst), 64 KiB to
1 GiB, with the stack's bound of 5 media at once. Beside the product, in the same run and against
the same sink and source:

- seed: seed-design.md Component 3 per original (one connection, read 100 MB, upload it, next),
  5 media at once as its Map's max_concurrency;
- rclone: ``rclone copyurl`` per original (its defaults), 5 media at once;
- limit: the sink's own ingest of the same sizes from memory (boto3 tuned, 5 files at once), and
  N x cap, the most N capped connections can carry; the limit is the smaller.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .child import ACCOUNT_PATH
from .procs import Child, py_child
from .throughput import LIMIT_CONFIG, MIB, Sink, rclone_copyurl, rclone_path, seed
from .workflow import Invocation, Pool, RunResult, Stack, Workflow, errors, gb_seconds

__all__ = ["GIB", "MIB", "Case", "Compute", "Env", "MemoryFacts", "Point"]

KIB = 1024
GIB = 1024 * MIB
MEDIA_AT_ONCE = 5  # maxConcurrentMedia (the seed's max_concurrency)
MAP_CONCURRENCY = 4  # mapConcurrency
RANGES = 8  # parallelRanges
SLICE_BYTES = 512 * MIB  # prepare's SLICE_TARGET_BYTES: one transfer invocation's share
CONTENDERS = ("limit", "product", "seed", "rclone")

# 29 videos (2 chaptered, one time-lapse video), 10 photos (2 with RAW), 1 burst: MiB at scale 1.
VIDEO_MIB = (1024, 256, 128, 96, 64, 64, 48, 48, 32, 32, 24, 24, 16, 16, 16, 12, 12, 8, 8, 8,
             6, 6, 4, 4, 4, 2, 2, 1, 1)
CHAPTERED = {2: 2, 4: 3}  # index in VIDEO_MIB -> chapters


def library_spec(scale: float = 1.0) -> list[dict[str, Any]]:
    """The 40-medium library, sizes scaled (never below 64 KiB)."""
    def size(mib: float) -> int:
        return max(64 * KIB, int(mib * scale * MIB) // KIB * KIB)

    spec: list[dict[str, Any]] = [
        {"kind": "video", "size": size(m), "chapters": CHAPTERED.get(i, 1)}
        for i, m in enumerate(VIDEO_MIB)]
    spec += [{"kind": "photo", "size": size(4), "raw_size": size(24) if i < 2 else 0}
             for i in range(10)]
    spec.append({"kind": "burst", "frames": 5, "size": 64 * KIB})
    return spec


def medium_spec(size: int) -> list[dict[str, Any]]:
    return [{"kind": "video", "size": size}]


@dataclass
class Measured:
    contender: str
    seconds: float | None
    bytes: int
    note: str = ""

    @property
    def mib_s(self) -> float | None:
        return None if not self.seconds else self.bytes / MIB / self.seconds


@dataclass
class Case:
    """One scenario under one cap: every contender, and what bounds it."""

    scenario: str  # "medium" or "library"
    cap: float  # bytes/s per connection, 0: uncapped
    media: int
    files: int
    bytes: int
    connections: int  # what the product may open at once (N in N x cap)
    results: dict[str, Measured] = field(default_factory=dict)
    sink_mib_s: float | None = None  # the sink's ingest of the same sizes from memory
    run: RunResult | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of the product's run
    served: dict[str, Served] = field(default_factory=dict)  # "sink"/"control" -> operations
    idle_ms: float | None = None  # one request to the idle control plane, after the run
    sink_cpu: dict[str, float] = field(default_factory=dict)  # contender -> the sink's CPU s

    @property
    def cap_mib_s(self) -> float | None:
        return self.cap / MIB if self.cap else None

    @property
    def limit_mib_s(self) -> float | None:
        bound = [v for v in (self.sink_mib_s, (self.cap_mib_s or 0) * self.connections or None)
                 if v]
        return min(bound) if bound else None

    @property
    def bound_by(self) -> str:
        ncap = (self.cap_mib_s or 0) * self.connections
        if self.sink_mib_s and (not ncap or self.sink_mib_s <= ncap):
            return "sink"
        return "N x cap"

    def speed(self, contender: str) -> float | None:
        r = self.results.get(contender)
        return r.mib_s if r else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


# --- the contenders ---------------------------------------------------------------------------

Originals = dict[str, list[list[Any]]]  # media id -> [[file id, size, url], ...]


def _per_media(originals: Originals, one: Callable[[str, str, str, int], None],
               at_once: int = MEDIA_AT_ONCE) -> float:
    """Each medium's files one after another, ``at_once`` media at a time; the wall time."""
    def medium(mid: str) -> None:
        for fid, size, url in originals[mid]:
            one(mid, fid, url, int(size))

    started = time.perf_counter()
    with ThreadPoolExecutor(at_once) as pool:
        list(pool.map(medium, sorted(originals)))
    return time.perf_counter() - started


def _guard(name: str, total: int, fn: Callable[[], float]) -> Measured:
    try:
        return Measured(name, fn(), total)
    except FileNotFoundError:
        return Measured(name, None, total, "not installed")
    except Exception as e:  # noqa: BLE001 - a contender's failure is a result to report
        return Measured(name, None, total, f"failed: {type(e).__name__}: {str(e)[:160]}")


def run_seed(sink: Sink, originals: Originals, total: int) -> Measured:
    return _guard("seed", total, lambda: _per_media(
        originals, lambda mid, fid, url, size: _ignore(seed(sink, url, f"seed/{mid}/{fid}",
                                                            size))))


def run_rclone(sink: Sink, originals: Originals, total: int) -> Measured:
    if rclone_path() is None:
        return Measured("rclone", None, total, "not installed")
    return _guard("rclone", total, lambda: _per_media(
        originals, lambda mid, fid, url, size: _ignore(
            rclone_copyurl(sink, url, f"rclone/{mid}/{fid}", size))))


def run_limit(sink: Sink, originals: Originals, total: int) -> Measured:
    """The same sizes from memory into the sink, 5 files at once, boto3 tuned."""
    biggest = max(int(f[1]) for files in originals.values() for f in files)
    data = os.urandom(biggest)
    s3 = sink.client(64)
    sizes = [(mid, fid, int(size)) for mid, files in originals.items() for fid, size, _ in files]

    def one(item: tuple[str, str, int]) -> None:
        mid, fid, size = item
        s3.upload_fileobj(io.BytesIO(data[:size]), sink.bucket, f"limit/{mid}/{fid}",
                          Config=LIMIT_CONFIG)

    def all_files() -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(MEDIA_AT_ONCE) as pool:
            list(pool.map(one, sorted(sizes, key=lambda s: -s[2])))
        return time.perf_counter() - started

    return _guard("limit", total, all_files)


def _ignore(_value: object) -> None:
    return None


def clear(sink: Sink) -> None:
    """Every object and open upload out of the bucket: moto keeps them in memory.

    Not ListObjectVersions: moto 5.2.5 deep-copies every version with its bytes to list them
    (seconds of the sink's CPU per call over a GiB). Each key here has one version, so listing
    the keys and deleting the version HEAD names is the same and cheap.
    """
    s3 = sink.client()
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sink.bucket)
            for o in page.get("Contents", [])]
    for key in keys:
        version = s3.head_object(Bucket=sink.bucket, Key=key).get("VersionId")
        if version and version != "null":
            s3.delete_object(Bucket=sink.bucket, Key=key, VersionId=version)
        else:
            s3.delete_object(Bucket=sink.bucket, Key=key)
    for u in s3.list_multipart_uploads(Bucket=sink.bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=sink.bucket, Key=u["Key"], UploadId=u["UploadId"])


# --- one case ---------------------------------------------------------------------------------


@dataclass
class Env:
    """What every case shares: the containers and a counter for unique stack names."""

    pool: Pool
    sink: Sink
    echo: Callable[[str], None]
    sink_pid: int = 0
    control_endpoint: str = ""  # DynamoDB, Secrets Manager, SNS: another moto process
    control_pid: int = 0
    count: int = 0
    cold_starts: list[float] = field(default_factory=list)  # seconds to build a container's clients

    def stack_name(self, label: str) -> str:
        self.count += 1
        return f"{label}-{self.count}"


def product_run(env: Env, sim_info: dict[str, Any], label: str, *, ranges: int = RANGES,
                map_concurrency: int = MAP_CONCURRENCY, media_at_once: int = MEDIA_AT_ONCE,
                on_start: Callable[[], None] | None = None) -> RunResult:
    """A new stack, its containers warmed, the lister run; then the workflow over the queued
    media (``on_start`` is called right before, once the setup is done)."""
    stack = Stack(env.sink.endpoint, env.stack_name(label), sim_info["base_url"],
                  bucket=env.sink.bucket, parallel_ranges=ranges,
                  control_endpoint=env.control_endpoint)
    stack.create(sim_info)
    flow = Workflow(env.pool, stack, map_concurrency=map_concurrency,
                    media_at_once=media_at_once)
    env.cold_starts += env.pool.warm(stack.env())
    flow.list_library()
    media = flow.pending()
    flow.record_part_sizes = len(media) == 1  # the memory facts read one medium's part size
    if on_start is not None:
        on_start()
    return flow.run(media)


def connections(scenario: str, sizes: Sequence[int]) -> int:
    if scenario == "medium":
        slices = min(MAP_CONCURRENCY, max(1, -(-sizes[0] // SLICE_BYTES)))
        return slices * RANGES
    return MEDIA_AT_ONCE * RANGES


def run_case(env: Env, scenario: str, spec: list[dict[str, Any]], cap: float,
             contenders: Sequence[str] = CONTENDERS) -> Case:
    import json

    args = ["sim", "--spec", json.dumps(spec)] + (["--rate", str(cap)] if cap else [])
    with py_child(*args, name=f"simulator ({scenario})", ready_timeout=300) as sim:
        originals: Originals = sim.info["originals"]
        sizes = [int(f[1]) for files in originals.values() for f in files]
        total = sum(sizes)
        case = Case(scenario, cap, len(originals), len(sizes), total,
                    connections(scenario, sorted(sizes, reverse=True)))
        label = f"{scenario}-{int(cap / MIB) if cap else 'uncapped'}"
        for name in CONTENDERS:
            if name not in contenders:
                continue
            sink_before = cpu_seconds(env.sink_pid)
            if name == "product":
                case.results[name] = _run_product(env, sim, case, label)
            elif name == "seed":
                case.results[name] = run_seed(env.sink, originals, total)
            elif name == "rclone":
                case.results[name] = run_rclone(env.sink, originals, total)
            else:
                case.results[name] = run_limit(env.sink, originals, total)
                case.sink_mib_s = case.results[name].mib_s
            case.sink_cpu[name] = cpu_seconds(env.sink_pid) - sink_before
            clear(env.sink)
            r = case.results[name]
            env.echo(f"  {label:<16} {name:<8} {_fmt(r.mib_s)} MiB/s"
                     f"{'  ' + r.note if r.note else ''}")
    return case


def _run_product(env: Env, sim: Child, case: Case, label: str) -> Measured:
    """The product's run of a case, with the CPU seconds every process spent on it and what the
    sink and the control plane served (per operation)."""
    pids = {"sink": env.sink_pid, "source": int(sim.info.get("pid", 0)),
            "control": env.control_pid}
    endpoints = {"sink": env.sink.endpoint, "control": env.control_endpoint}
    before: dict[str, float] = {}

    def start() -> None:  # the stack is set up and the library listed: count from here
        for endpoint in {e for e in endpoints.values() if e}:
            served(endpoint)
        before.update({k: cpu_seconds(pid) for k, pid in pids.items()})

    run = product_run(env, sim.info, label, on_start=start)
    case.run = run
    case.cpu = {k: cpu_seconds(pid) - before[k] for k, pid in pids.items() if pid}
    case.cpu["functions"] = sum(i.cpu_seconds for i in run.invocations)
    case.served = {k: served(e) for k, e in endpoints.items() if e}
    if env.control_endpoint:
        case.idle_ms = idle_request_ms(env.control_endpoint)
    note = "; ".join(errors(run.invocations)[:2])
    if run.failed:
        alive = "" if sim.proc and sim.proc.poll() is None else "; the simulator died"
        note = f"{len(run.failed)} media failed: {note}{alive} {sim.stderr_tail()[-400:]}"
    return Measured("product", None if run.failed else run.seconds, run.bytes or case.bytes,
                    note)


Served = dict[str, list[float]]  # operation -> [requests, wall seconds, CPU seconds]


def served(endpoint: str) -> Served:
    """What a moto process (bench.child, ``Accounting``) served since the last ask."""
    import requests

    answer: Served = requests.get(endpoint + ACCOUNT_PATH, timeout=30).json()
    return answer


def idle_request_ms(endpoint: str, tries: int = 20) -> float:
    """The median time moto takes to answer one small DynamoDB request with nothing else
    running (ListTables): its own per-request cost, apart from any queueing under load."""
    import boto3

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    client.list_tables(Limit=1)  # the connection, out of the timing
    times = []
    for _ in range(tries):
        started = time.perf_counter()
        client.list_tables(Limit=1)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2] * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 when unknown)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _fmt(value: float | None, spec: str = "7.1f") -> str:
    return "      -" if value is None else f"{value:{spec}}"


# --- where the product's time goes: its requests -------------------------------------------

# A data request moves a file's bytes (a CDN read, an UploadPart, a whole small file's PutObject);
# every other request is the fixed work of a medium: the tracker, the secret, GoPro's API,
# S3's upload bookkeeping (create, ListParts, complete, verify).
DATA_REQUESTS = ("cdn.", "s3.UploadPart", "s3.PutObject")
AWS_REQUEST_S = 0.010  # a DynamoDB / S3 metadata / Secrets Manager answer in AWS: ~5-20 ms


def is_fixed(operation: str) -> bool:
    return not operation.startswith(DATA_REQUESTS)


def request_rows(run: RunResult, media: int) -> list[tuple[str, str, float, float]]:
    """(function, operation, requests per medium, median seconds), most time first."""
    rows = []
    for fn in ("prepare", "transfer", "finalize"):
        times: dict[str, list[float]] = {}
        for inv in run.of(fn):
            for op, seconds in inv.requests:
                times.setdefault(op, []).append(seconds)
        for op, ts in sorted(times.items(), key=lambda kv: -sum(kv[1])):
            rows.append((fn, op, len(ts) / max(1, media), sorted(ts)[len(ts) // 2]))
    return rows


@dataclass(frozen=True)
class FixedWork:
    """The fixed requests of a run: how many per medium, how long they kept the media waiting,
    and what the run would take if each were answered in ``AWS_REQUEST_S`` (a model)."""

    media: int
    requests: int
    median_s: float
    wait_s: float  # summed over every invocation (each medium's chain waits on its own)
    slots: int  # media at once: the chains that run side by side
    measured_s: float

    @property
    def per_medium(self) -> float:
        return self.requests / max(1, self.media)

    @property
    def modeled_s(self) -> float:
        """The run's time with every fixed request answered in ``AWS_REQUEST_S``: each chain
        waits that much less, and ``slots`` chains run side by side."""
        saved = self.wait_s - self.requests * AWS_REQUEST_S
        return max(0.0, self.measured_s - saved / self.slots)


def fixed_work(case: Case) -> FixedWork | None:
    if case.run is None:
        return None
    times = [t for inv in case.run.invocations for op, t in inv.requests if is_fixed(op)]
    if not times:
        return None
    return FixedWork(case.media, len(times), sorted(times)[len(times) // 2], sum(times),
                     min(MEDIA_AT_ONCE, case.media), case.run.seconds)


# --- scaling ----------------------------------------------------------------------------------


@dataclass
class Point:
    what: str  # "ranges" or "media"
    n: int
    mib_s: float | None
    cap_mib_s: float
    connections: int
    transfer_mib_s: float | None = None  # the bytes over the transfer invocations' span alone


def scale_ranges(env: Env, size: int, cap: float, values: Sequence[int]) -> list[Point]:
    """One medium of ``size`` (one slice: one transfer invocation) with N ranges in flight."""
    def point(n: int, run: RunResult, speed: float | None) -> Point:
        span = max((i.seconds for i in run.of("transfer")), default=0.0)
        return Point("ranges", n, speed, cap / MIB, n,
                     run.bytes / MIB / span if span and not run.failed else None)

    return _scale(env, medium_spec(size), cap, values, "ranges",
                  lambda n: (n, MEDIA_AT_ONCE), point)


def scale_media(env: Env, scale: float, cap: float, values: Sequence[int]) -> list[Point]:
    """The library at ``scale`` with N media at once (maxConcurrentMedia)."""
    def point(n: int, _run: RunResult, speed: float | None) -> Point:
        return Point("media", n, speed, cap / MIB, n * MAP_CONCURRENCY * RANGES)

    return _scale(env, library_spec(scale), cap, values, "media",
                  lambda n: (RANGES, n), point)


def _scale(env: Env, spec: list[dict[str, Any]], cap: float, values: Sequence[int], what: str,
           settings: Callable[[int], tuple[int, int]],
           point: Callable[[int, RunResult, float | None], Point]) -> list[Point]:
    """The product over ``spec`` once per N in ``values``, with ``settings(N)``: (ranges per
    transfer invocation, media at once)."""
    out = []
    with py_child("sim", "--spec", _json(spec), "--rate", str(cap),
                  name="simulator (scaling)") as sim:
        for n in values:
            ranges, media_at_once = settings(n)
            run = product_run(env, sim.info, f"{what}-{n}", ranges=ranges,
                              media_at_once=media_at_once)
            clear(env.sink)
            speed = None if run.failed else run.bytes / MIB / run.seconds
            out.append(point(n, run, speed))
            env.echo(f"  scaling {what} x{n}: {_fmt(speed)} MiB/s")
    return out


def _json(value: object) -> str:
    import json

    return json.dumps(value)


# --- what the runs say about memory and compute ---------------------------------------------


@dataclass
class MemoryFacts:
    part_mib: float
    in_flight: int
    before_mib: float
    peak_mib: float

    @property
    def per_part_mib(self) -> float:
        return (self.peak_mib - self.before_mib) / max(1, self.in_flight)


def memory_facts(case: Case) -> MemoryFacts | None:
    """The transfer invocation with the highest peak RSS, per part in flight (one medium:
    the part size is the one prepare chose, read from its upload record)."""
    if case.run is None or not case.run.part_sizes:
        return None
    transfers = [i for i in case.run.of("transfer") if i.ok]
    if not transfers:
        return None
    worst = max(transfers, key=lambda i: i.peak_rss_mib - i.rss_before_mib)
    part = max(case.run.part_sizes.values())
    parts = -(-min(case.bytes, SLICE_BYTES) // part)
    return MemoryFacts(part / MIB, min(RANGES, parts), worst.rss_before_mib, worst.peak_rss_mib)


@dataclass
class Compute:
    """Lambda's billed measure for the bytes a run archived."""

    gb_archived: float
    transfer_gb_s: float
    other_gb_s: float
    transfer_cpu_s: float
    transfer_wall_s: float
    invocations: dict[str, int]

    @property
    def transfer_gb_s_per_gb(self) -> float:
        return self.transfer_gb_s / self.gb_archived if self.gb_archived else 0.0

    @property
    def all_gb_s_per_gb(self) -> float:
        total = self.transfer_gb_s + self.other_gb_s
        return total / self.gb_archived if self.gb_archived else 0.0

    @property
    def cpu_s_per_gib(self) -> float:
        return self.transfer_cpu_s / (self.gb_archived * 1e9 / GIB) if self.gb_archived else 0.0


def compute_facts(case: Case) -> Compute | None:
    if case.run is None or not case.run.bytes:
        return None
    inv: list[Invocation] = case.run.invocations
    counts: dict[str, int] = {}
    for i in inv:
        counts[i.fn] = counts.get(i.fn, 0) + 1
    transfers = [i for i in inv if i.fn == "transfer"]
    return Compute(case.run.bytes / 1e9, gb_seconds(inv), gb_seconds(inv, ("prepare", "finalize")),
                   sum(i.cpu_seconds for i in transfers), sum(i.seconds for i in transfers),
                   counts)
