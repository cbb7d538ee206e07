"""``python -m bench`` (``make bench``): every benchmark side by side in one run.

Writes docs/BENCHMARKS.md and docs/cost-chart.png, prints the same tables, and ends with one line:
``throughput: engine X.XX of limit, Y.YY x seed, Z.ZZ x rclone; peak RSS N MiB for 1 GiB``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudsync_cli import cost

from . import lister, scaling
from .child import fake_aws_env
from .procs import ROOT, ChildError, S3rver, py_child, python_env, run_transfer_child, start_s3rver
from .report import fmt, machine, ratio, table
from .throughput import (
    LIMIT_CONFIG,
    MIB,
    SEED_CHUNK_SIZE,
    ListPartsShim,
    Result,
    Sink,
    engine,
    fetch_bytes,
    limit,
    measure,
    naive_upload_fileobj,
    rclone_copyurl,
    rclone_path,
    rclone_version,
    seed,
)

GIB = 1024 * MIB
READ_CHUNK_MIB = 1  # HttpRangeSource's iter_content chunk
ALLOCATOR_SLACK_MIB = 32
CONTENDERS = ("limit", "engine", "seed", "upload_fileobj", "rclone")
LABELS = {
    "limit": "(a) limit: bytes from memory, boto3 tuned",
    "engine": "(b) engine: transfer_file",
    "seed": "(c) seed: 100 MB chunk, then upload",
    "upload_fileobj": "(d) upload_fileobj over the stream",
    "rclone": "(e) rclone copyurl",
}


@dataclass
class Config:
    file_size: int = GIB
    rounds: int = 2
    s3rver: bool = True
    moto_as_shipped: bool = True
    rclone: bool = True
    scaling_size: int = 256 * MIB
    scaling_part_mib: int = 16
    scaling_cap: float = 20 * MIB
    parallels: tuple[int, ...] = (1, 2, 4, 8)
    memory_sizes: tuple[int, ...] = (GIB, 4 * GIB)
    lister_media: int = 10_000
    output: Path | None = ROOT / "docs" / "BENCHMARKS.md"
    chart: Path | None = ROOT / "docs" / "cost-chart.png"
    s3rver_cache: Path = Path.home() / ".cache" / "cloudsync-bench"
    command: str = "make bench  (.venv/bin/python -m bench)"
    echo: Callable[[str], None] = print

    @classmethod
    def smoke(cls, out_dir: Path) -> Config:
        """A few seconds of the same code paths (tests/bench)."""
        return cls(file_size=24 * MIB, rounds=1, s3rver=False, moto_as_shipped=False,
                   scaling_size=32 * MIB, scaling_part_mib=8, scaling_cap=40 * MIB,
                   parallels=(1, 4), memory_sizes=(24 * MIB,), lister_media=250,
                   output=out_dir / "BENCHMARKS.md", chart=out_dir / "cost-chart.png",
                   command="tests/bench (smoke)", echo=lambda _s: None)


@dataclass
class Outcome:
    """Everything measured, for the report, the last line and the smoke test."""

    throughput: dict[str, dict[str, Result]] = field(default_factory=dict)  # sink -> best
    points: list[scaling.ScalingPoint] = field(default_factory=list)
    aws: list[scaling.AwsEstimate] = field(default_factory=list)
    capped: dict[str, Result] = field(default_factory=dict)  # one-connection contenders
    memory: list[dict[str, Any]] = field(default_factory=list)
    lister: dict[str, Any] = field(default_factory=dict)
    usage: cost.Usage = field(default_factory=cost.Usage)
    notes: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    last_line: str = ""
    seconds: float = 0.0

    def ratio(self, sink: str, a: str, b: str) -> float | None:
        results = self.throughput.get(sink, {})
        ra, rb = results.get(a), results.get(b)
        return ratio(ra.mib_s if ra else None, rb.mib_s if rb else None)


def _best(a: Result | None, b: Result) -> Result:
    if a is None or a.mib_s is None:
        return b
    if b.mib_s is None:
        return a
    return b if b.mib_s > a.mib_s else a


def run_throughput(cfg: Config, sink: Sink, url: str, data: bytes,
                   contenders: Sequence[str] = CONTENDERS, rounds: int | None = None
                   ) -> dict[str, Result]:
    size = cfg.file_size
    fns: dict[str, Callable[[str], float | tuple[float, str]]] = {
        "limit": lambda key: limit(sink, data, key),
        "engine": lambda key: engine(sink, url, key),
        "seed": lambda key: seed(sink, url, key, size),
        "upload_fileobj": lambda key: naive_upload_fileobj(sink, url, key, size),
        "rclone": lambda key: rclone_copyurl(sink, url, key, size),
    }
    if not cfg.rclone:
        fns["rclone"] = lambda key: _not_installed()
    measure("warm-up", sink, size, "warm-up", lambda: limit(sink, data, "warm-up"))
    best: dict[str, Result] = {}
    order = [c for c in CONTENDERS if c in contenders]
    for r in range(rounds or cfg.rounds):
        for name in order if r % 2 == 0 else list(reversed(order)):
            key = f"{name}-{r}"
            res = measure(name, sink, size, key, lambda name=name, key=key: fns[name](key))  # type: ignore[misc]
            best[name] = _best(best.get(name), res)
            cfg.echo(f"  {sink.name:<14} {name:<15} {fmt(res.mib_s, '.1f'):>7} MiB/s"
                     f"{'  ' + res.note if res.note else ''}")
    return best


def throughput_section(out: Outcome, size: int) -> str:
    lines = [f"## 1. Throughput: one {size / MIB:,.0f} MiB file into a loopback S3\n",
             "Best of the rounds (order alternated), end to end: from the first request to the "
             "verified object. `data` is the part of it until the last part was in (boto3 "
             "contenders only), `complete` the sink's CompleteMultipartUpload, which is "
             "O(size) in moto and s3rver (copies the parts) but not in S3.\n"]
    for sink_name, results in out.throughput.items():
        lim = results.get("limit")
        rows = []
        for name in CONTENDERS:
            r = results.get(name)
            if r is None:
                continue
            rows.append([LABELS[name], fmt(r.mib_s, ".1f"),
                         fmt(ratio(r.mib_s, lim.mib_s if lim else None)),
                         fmt(r.data_mib_s, ".1f"),
                         fmt(ratio(r.data_mib_s, lim.data_mib_s if lim else None)),
                         fmt(r.complete_seconds, ".2f"), r.parts or "-", r.note or ""])
        lines.append(f"### sink: {sink_name}\n")
        lines.append(table(["contender", "MiB/s", "x limit", "data MiB/s", "data x limit",
                            "complete s", "parts", "note"], rows))
        lines.append("")
        eng, sd, rc = (results.get(k) for k in ("engine", "seed", "rclone"))
        lines.append(
            f"engine: {fmt(ratio(eng.mib_s if eng else None, lim.mib_s if lim else None))} "
            f"of limit, {fmt(ratio(eng.mib_s if eng else None, sd.mib_s if sd else None))} x "
            f"seed, {fmt(ratio(eng.mib_s if eng else None, rc.mib_s if rc else None))} x "
            f"rclone\n")
    lines.append(
        f"(a) uses `TransferConfig(multipart_chunksize={LIMIT_CONFIG.multipart_chunksize // MIB}"
        f" MiB, max_concurrency={LIMIT_CONFIG.max_request_concurrency})` over a BytesIO and "
        "boto3's default CRC32 checksums (the engine sends CRC32 too); (c) reads "
        f"{SEED_CHUNK_SIZE:,}-byte chunks with `iter_content` and uploads each before reading "
        "the next, as seed-design.md Component 3 (with its SSE-KMS header); (d) is "
        "`upload_fileobj(response.raw)` with boto3's defaults (8 MiB x 10); (e) is rclone's "
        "defaults (5 MiB chunks x 4).")
    return "\n".join(lines)


def _not_installed() -> float:
    raise FileNotFoundError("rclone")


def run_scaling(cfg: Config, out: Outcome, sink: Sink) -> str:
    with py_child("sim", "--file", str(cfg.scaling_size), "--rate", str(cfg.scaling_cap),
                  name="simulator (capped)") as sim:
        url = sim.info["links"][str(cfg.scaling_size)]
        out.points = scaling.run(sink, url, cfg.scaling_size, cfg.parallels,
                                 cfg.scaling_part_mib)
        size = cfg.scaling_size
        out.capped = {
            "seed": measure("seed", sink, size, "capped-seed",
                            lambda: seed(sink, url, "capped-seed", size)),
            "rclone": measure("rclone", sink, size, "capped-rclone",
                              (lambda: rclone_copyurl(sink, url, "capped-rclone", size))
                              if cfg.rclone else _not_installed),
        }
    for pt in out.points:
        cfg.echo(f"  scaling x{pt.parallel}: {fmt(pt.mib_s, '.1f')} MiB/s")
    cap = cfg.scaling_cap / MIB
    out.aws = scaling.estimate(out.points, cap)
    base = out.points[0].mib_s if out.points else None
    rows = [[pt.parallel, fmt(pt.mib_s, ".1f"), fmt(ratio(pt.mib_s, base)),
             fmt(ratio(pt.mib_s, cap * pt.parallel)), fmt(pt.result.data_mib_s, ".1f")]
            for pt in out.points]
    for name, r in out.capped.items():
        rows.append([f"{LABELS[name][4:]}", fmt(r.mib_s, ".1f"), fmt(ratio(r.mib_s, base)),
                     fmt(ratio(r.mib_s, cap)), fmt(r.data_mib_s, ".1f")])
    best = max((pt.mib_s or 0.0 for pt in out.points), default=0.0)
    seed_capped = out.capped["seed"].mib_s
    seed_s = scaling.seed_seconds()
    est_rows = [["seed: one stream", "1", "-", f"{scaling.SEED_MBIT_S:.0f}",
                 f"{seed_s / 60:.1f} min", "no (> 5 min)", "yes, barely"]]
    for e in out.aws:
        est_rows.append([f"engine, {e.parallel} ranges", str(e.parallel), f"{e.efficiency:.2f}",
                         f"{e.mbit_s:.0f} ({e.bound})", f"{e.seconds / 60:.1f} min",
                         "yes" if e.seconds < scaling.EXPRESS_LIMIT_S else "no (continues)",
                         "yes" if e.seconds < scaling.LAMBDA_LIMIT_S else "no"])
    return "\n".join([
        f"## 2. Parallel ranges under a per-connection cap of {cap:.0f} MiB/s\n",
        f"The simulator caps every CDN connection at {cap:.0f} MiB/s (as CDNs do); "
        f"{cfg.scaling_size / MIB:.0f} MiB file, {cfg.scaling_part_mib} MiB parts, sink: "
        f"{sink.name}.\n",
        table(["ranges", "MiB/s", "x 1 range", "of N x cap", "data MiB/s"], rows),
        "",
        f"Under the cap the engine's best is {fmt(ratio(best, seed_capped))} x the seed's "
        "approach (one connection, whatever its chunk size); without a cap (section 1) the "
        "loopback source is so fast that reading 100 MB before uploading it costs little.\n",
        "### A 4 GB video in AWS (estimate)\n",
        f"Each connection at the seed's observed {scaling.SEED_MBIT_S:.0f} Mbit/s (its one "
        f"stream; a CDN's per-connection rate), times the ranges, times the efficiency measured "
        f"above, capped at one Lambda's ~{scaling.LAMBDA_MBIT_S:.0f} Mbit/s (aws-facts.md). "
        f"One transfer invocation; the workflow's Map runs up to 4 slices of 512 MiB at once, "
        f"so a single medium can go faster still.\n",
        table(["approach", "connections", "efficiency", "Mbit/s", "4 GB takes",
               "fits Express (5 min)", "fits Lambda (15 min)"], est_rows),
    ])


def run_memory(cfg: Config, out: Outcome, endpoint: str, bucket: str) -> str:
    sizes = cfg.memory_sizes
    with py_child("sim", *[a for s in sizes for a in ("--file", str(s))],
                  name="simulator (memory)") as sim:
        for size in sizes:
            url = sim.info["links"][str(size)]
            key = f"memory-{size}"
            try:
                rep = run_transfer_child(url, endpoint, bucket, key)
            except (ChildError, subprocess.TimeoutExpired) as e:
                out.notes.append(f"memory run for {size} bytes failed: {e}")
                continue
            from cloudsync_core.transfer import choose_part_size

            part = choose_part_size(size)
            in_flight = min(8, -(-size // part))
            rep.update(size_bytes=size, part_size=part, parallel=in_flight,
                       bound_mib=rep["ready_mib"] + in_flight * (2 * part / MIB + READ_CHUNK_MIB)
                       + ALLOCATOR_SLACK_MIB)
            out.memory.append(rep)
            cfg.echo(f"  memory {size / MIB:,.0f} MiB: peak RSS {rep['peak_rss_mib']:.0f} MiB "
                     f"(bound {rep['bound_mib']:.0f})")
    rows = []
    for m in out.memory:
        rows.append([f"{m['size_bytes'] / MIB:,.0f} MiB", f"{m['part_size'] / MIB:.0f} MiB",
                     m["parallel"], f"{m['ready_mib']:.0f}", f"{m['peak_rss_mib']:.0f}",
                     f"{m['sampled_peak_mib']:.0f}",
                     f"{(m['peak_rss_mib'] - m['ready_mib']) / m['parallel']:.1f}",
                     f"{m['bound_mib']:.0f}",
                     "holds" if m["peak_rss_mib"] <= m["bound_mib"] else "EXCEEDED",
                     f"{m['size_bytes'] / MIB / m['seconds']:.0f}"])
    return "\n".join([
        "## 3. Memory: peak RSS of one transfer (its own process)\n",
        "Bound = RSS before the first byte (interpreter, boto3, the source) + parts in flight "
        f"x (2 x part size + {READ_CHUNK_MIB} MiB) + {ALLOCATOR_SLACK_MIB} MiB: each range in "
        "flight is read in 1 MiB chunks into one preallocated buffer that is then copied into "
        "`bytes` for UploadPart (a brief second copy, see HttpRangeSource.read_range); the last "
        "term is glibc's allocator keeping freed part buffers (its mmap threshold rises up to "
        "32 MiB after a free). The file size does not appear in it. `per part` is (peak - "
        "before) / parts in flight. Peak = the kernel's high-water mark of the process "
        "(VmHWM; `ru_maxrss` is not used: Linux carries the parent's peak into it across "
        "fork + exec); `sampled` polls VmRSS every 50 ms.\n",
        table(["file", "part", "in flight", "RSS before MiB", "peak RSS MiB", "sampled MiB",
               "per part MiB", "bound MiB", "bound", "MiB/s"], rows),
    ])


def run_lister(cfg: Config, out: Outcome, endpoint: str) -> str:
    with py_child("sim", "--library", str(cfg.lister_media), name="simulator (library)",
                  ready_timeout=300) as sim:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.child", "lister", "--endpoint", endpoint, "--sim",
             json.dumps(sim.info)], capture_output=True, text=True, env=python_env(),
            cwd=str(ROOT), timeout=1200, check=False, stdin=subprocess.DEVNULL)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{"media"')]
    if proc.returncode != 0 or not lines:
        raise ChildError(f"lister run failed: {proc.stderr[-2000:]}")
    res: dict[str, Any] = json.loads(lines[-1])
    out.lister = res
    media = res["media"]
    per = 1000 / media
    seed_counts = lister.seed_design_counts(media)
    seed_per = 1000 / seed_counts["listed_per_run"]
    rows = []
    for label in ("first", "unchanged"):
        r = res[label]
        db = r["dynamodb"]
        reqs = db["requests"]
        rows.append([
            "cloudsync, " + ("first run (all new)" if label == "first" else "unchanged library"),
            f"{r['seconds']:.1f}", f"{r['seconds'] * per:.2f}", f"{r['api']['total'] * per:.1f}",
            f"{r['api']['search'] * per:.1f}", f"{db['total'] * per:.1f}",
            f"{reqs.get('BatchGetItem', 0) * per:.1f}", f"{reqs.get('GetItem', 0) * per:.1f}",
            f"{reqs.get('PutItem', 0) * per:.1f}", f"{reqs.get('Query', 0) * per:.1f}",
            f"{db['read_units'] * per:.0f}", f"{db['write_units'] * per:.0f}",
        ])
    pages = f"{seed_counts['search_calls'] * seed_per:.1f}"
    rows.append(["seed design (every run)", "-", "-", pages, pages, f"{1000:.1f}", "0.0",
                 f"{1000:.1f}", "0.0", "0.0", f"{seed_counts['read_units'] * seed_per:.0f}", "0"])
    for label in ("first", "unchanged"):
        cfg.echo(f"  lister {label}: {res[label]['seconds']:.1f} s, "
                 f"{res[label]['dynamodb']['total']} DynamoDB requests")
    first_db = res["first"]["dynamodb"]["requests"]
    return "\n".join([
        f"## 4. Lister scale: a {media:,}-medium library\n",
        "Exact counts (simulator counters; a botocore hook on the DynamoDB client, which also "
        "asks for ConsumedCapacity). `first` starts from an empty tracker; `unchanged` runs "
        "again after every row was set COMPLETED (a normal night). Wall time is loopback and "
        "moto: only the counts carry over to AWS. All but seconds are per 1,000 media.\n",
        table(["run", "seconds", "s / 1k", "GoPro calls", "search pages", "DynamoDB requests",
               "BatchGetItem", "GetItem", "PutItem", "Query", "read units", "write units"], rows),
        "",
        f"First-run requests in total: {json.dumps(first_db, sort_keys=True)}. The seed's "
        f"lister (Component 2) reads one item per video (GetItem) on every run and stops at "
        f"MAX_VIDEOS = 1,000 a run, so a {media:,}-medium library takes "
        f"{-(-media // 1000)} nights to be seen once. BatchGetItem cuts requests ~100x; "
        "read units stay one per medium (consistent reads), which is what DynamoDB bills.",
    ])


def run_cost(cfg: Config, out: Outcome) -> str:
    prices = cost.load_prices()
    text = [cost.report_markdown(prices, out.usage)]
    if cfg.chart is not None:
        path = cost.draw_chart(cfg.chart, prices, out.usage)
        text.append(f"\n![cumulative cost over 12 months]({path.name})")
    return "## 5. Cost model (`cloudsync cost`)\n\n" + "\n".join(text)


def _measured_usage(out: Outcome) -> cost.Usage:
    """The cost model's request counts, from what this run measured."""
    usage = cost.Usage()
    eng = out.throughput.get("moto", {}).get("engine")
    if eng is not None and eng.parts:
        usage = usage.replace(parts_per_gib=eng.parts * GIB / eng.size)
    if out.lister:
        media = out.lister["media"]
        first = out.lister["first"]["dynamodb"]
        again = out.lister["unchanged"]["dynamodb"]
        usage = usage.replace(
            lister_read_units_per_medium=again["read_units"] / media,
            lister_write_units_per_new_medium=first["write_units"] / media,
            gopro_calls_per_medium=out.lister["unchanged"]["api"]["total"] / media,
        )
    eight = next((e for e in out.aws if e.parallel == 8), None)
    if eight is not None:
        usage = usage.replace(transfer_mbit_s=eight.mbit_s)
    return usage


@contextmanager
def fake_aws() -> Iterator[None]:
    """Fake credentials for the bench's own clients (restored afterwards)."""
    saved = dict(os.environ)
    fake = fake_aws_env()
    os.environ.clear()
    os.environ.update(fake)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run(cfg: Config) -> Outcome:
    with fake_aws():
        return _run(cfg)


def _run(cfg: Config) -> Outcome:
    started = time.perf_counter()
    out = Outcome()
    rclone = rclone_version() if cfg.rclone and rclone_path() else "not installed"
    cfg.rclone = cfg.rclone and rclone_path() is not None
    s3rver_note = "not run"
    srv: S3rver | None = None
    with py_child("moto", "--streaming-crc", name="moto") as moto:
        main = Sink("moto", moto.info["endpoint"])
        main.prepare()
        with py_child("sim", "--file", str(cfg.file_size), name="simulator") as sim:
            url = sim.info["links"][str(cfg.file_size)]
            data = fetch_bytes(url, cfg.file_size)
            cfg.echo("1. throughput")
            out.throughput["moto"] = run_throughput(cfg, main, url, data)
            if cfg.moto_as_shipped:
                with py_child("moto", name="moto (as shipped)") as plain:
                    shipped = Sink("moto (as shipped)", plain.info["endpoint"])
                    shipped.prepare()
                    out.throughput[shipped.name] = run_throughput(
                        cfg, shipped, url, data, ("limit", "engine"), rounds=1)
            if cfg.s3rver:
                srv, s3rver_note = start_s3rver(cfg.s3rver_cache)
                if srv is not None:
                    try:
                        other = Sink("s3rver", srv.endpoint, verifies_checksums=False,
                                     access_key="S3RVER", secret_key="S3RVER",  # noqa: S106
                                     shim=ListPartsShim())
                        other.prepare(versioning=False)
                        out.throughput["s3rver"] = run_throughput(cfg, other, url, data)
                    finally:
                        srv.stop()
                else:
                    out.notes.append(s3rver_note)
            del data
        cfg.echo("2. scaling")
        scaling_md = run_scaling(cfg, out, main)
        cfg.echo("3. memory")
        memory_md = run_memory(cfg, out, main.endpoint, main.bucket)
        cfg.echo("4. lister")
        lister_md = run_lister(cfg, out, main.endpoint)
    out.usage = _measured_usage(out)
    cfg.echo("5. cost")
    cost_md = run_cost(cfg, out)
    out.seconds = time.perf_counter() - started

    env_rows = machine(rclone, s3rver_note)
    header = "\n".join([
        "# Benchmarks\n",
        "Written by `make bench` (bench/, `python -m bench`); every comparison below was "
        "measured side by side in the same run, on loopback, and is read as a ratio or a "
        "count, never as an absolute speed of AWS.\n",
        table(["", ""], [*env_rows, ("command", f"`{cfg.command}`"),
                         ("bench wall time", f"{out.seconds:.0f} s")]),
        "",
        "Sinks: `moto` is moto's ThreadedMotoServer in its own process with one change made by "
        "the bench: CompleteMultipartUpload computes a FULL_OBJECT CRC32 as it goes instead of "
        "after two extra copies of the object (bench/child.py, `streaming_full_object_crc`). "
        "`moto (as shipped)` shows the unpatched cost. The GoPro simulator runs in a third "
        "process; the client in the bench's own.",
    ])
    out.sections = [header, throughput_section(out, cfg.file_size), scaling_md, memory_md,
                    lister_md, cost_md]
    if out.notes:
        out.sections.append("## Notes\n\n" + "\n".join(f"- {n}" for n in out.notes))
    out.last_line = last_line(out)
    out.sections.append("## Summary\n\n```\n" + out.last_line + "\n```")
    text = "\n\n".join(out.sections) + "\n"
    if cfg.output is not None:
        cfg.output.parent.mkdir(parents=True, exist_ok=True)
        cfg.output.write_text(text, encoding="utf-8")
    return out


def last_line(out: Outcome) -> str:
    rss = next((m["peak_rss_mib"] for m in out.memory if m["size_bytes"] == GIB), None)
    if rss is None and out.memory:
        rss = out.memory[0]["peak_rss_mib"]
    return (f"throughput: engine {fmt(out.ratio('moto', 'engine', 'limit'))} of limit, "
            f"{fmt(out.ratio('moto', 'engine', 'seed'))} x seed, "
            f"{fmt(out.ratio('moto', 'engine', 'rclone'))} x rclone; "
            f"peak RSS {fmt(rss, '.0f')} MiB for 1 GiB")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (a minute): for trying the bench, not for the docs")
    parser.add_argument("--no-write", action="store_true",
                        help="print only; leave docs/BENCHMARKS.md and the chart alone")
    args = parser.parse_args(argv)
    cfg = Config()
    if args.quick:
        cfg = Config(file_size=256 * MIB, rounds=1, memory_sizes=(256 * MIB,),
                     lister_media=1000, scaling_size=64 * MIB, scaling_part_mib=8)
    if args.no_write:
        cfg.output = None
        cfg.chart = None
    cfg.command = "make bench  (" + shlex.join([".venv/bin/python", "-m", "bench",
                                               *(argv if argv is not None else sys.argv[1:])]) + ")"
    out = run(cfg)
    print()
    print("\n\n".join(out.sections[:-1]))
    print()
    print(out.last_line)
    return 0
