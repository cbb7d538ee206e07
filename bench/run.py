"""``python -m bench`` (``make bench``): every benchmark side by side in one run.

Writes docs/BENCHMARKS.md and docs/cost-chart.png, prints the same tables, and ends with one line:
``production: medium X.XXx limit, library X.XXx limit, Y.YYx seed under a 20 MiB/s cap; peak RSS
N MiB per part in flight``.
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

from . import lister, production
from .child import fake_aws_env
from .procs import ROOT, ChildError, py_child, python_env
from .production import GIB, MIB, Case, Compute, Env, MemoryFacts, Point
from .report import fmt, machine, ratio, table
from .throughput import Sink, rclone_path, rclone_version
from .workflow import Pool

HEADLINE_CAP_MIB = 20.0
SEED_MBIT_S = 48.0  # seed-design.md Component 3's observed throughput (one stream, one CDN link)
LAMBDA_MBIT_S = 600.0  # aws-facts.md: one Lambda sustains ~600 Mbit/s whatever its memory
LAMBDA_MB_PER_VCPU = 1769  # aws-facts.md: 1,769 MB is one vCPU
TRANSFER_MEMORY_MB = 1024  # cloudsync_defs.functions: the transfer function's memory
ARM64_GB_SECOND = 0.0000133334  # cloudsync_cli/prices.json: the functions run on arm64


@dataclass
class Config:
    medium_size: int = GIB
    library_scale: float = 0.5  # 64 KiB to 512 MiB, 1 GiB in all (time)
    library_media: int = 40
    caps_mib: tuple[float, ...] = (HEADLINE_CAP_MIB, 5.0, 50.0, 0.0)
    other_cap_scale: float = 0.125  # sizes under the other caps, to keep the run short
    other_contenders: tuple[str, ...] = ("limit", "product", "seed")  # rclone: headline only
    big_size: int = 0  # an extra medium (4 GiB) under the headline cap, product and limit
    demo_scale: int = 4  # the local cloud's demo library (issue 13's hand measurement); 0: none
    scaling_size: int = 128 * MIB
    ranges: tuple[int, ...] = (1, 2, 4, 8)
    media_at_once: tuple[int, ...] = (1, 5)
    scaling_library_scale: float = 0.125
    containers: int = 21  # 5 media x 4 transfer invocations + the lister
    lister_media: int = 10_000  # issue 15: listing cost per night on a 10,000-medium library
    output: Path | None = ROOT / "docs" / "BENCHMARKS.md"
    chart: Path | None = ROOT / "docs" / "cost-chart.png"
    command: str = "make bench  (.venv/bin/python -m bench)"
    echo: Callable[[str], None] = print

    @classmethod
    def smoke(cls, out_dir: Path) -> Config:
        """A few seconds of the same code paths (tests/bench). The cap is low enough that it,
        not a busy machine's sink, bounds one range (so four must beat one)."""
        return cls(medium_size=24 * MIB, library_scale=1 / 64, library_media=4,
                   caps_mib=(16.0,), scaling_size=32 * MIB, ranges=(1, 4), media_at_once=(),
                   scaling_library_scale=1 / 64, containers=4, lister_media=100, demo_scale=0,
                   output=out_dir / "BENCHMARKS.md", chart=None,
                   command="tests/bench (smoke)", echo=lambda _s: None)


@dataclass
class Outcome:
    """Everything measured, for the report, the last line and the smoke test."""

    cases: list[Case] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    cold_starts: list[float] = field(default_factory=list)
    memory: MemoryFacts | None = None
    compute: Compute | None = None
    lister: dict[str, Any] = field(default_factory=dict)
    usage: cost.Usage = field(default_factory=cost.Usage)
    notes: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    last_line: str = ""
    bounds: list[str] = field(default_factory=list)  # what holds the library back, with a model
    seconds: float = 0.0

    def case(self, scenario: str, cap_mib: float) -> Case | None:
        return next((c for c in self.cases if c.scenario == scenario
                     and abs(c.cap / MIB - cap_mib) < 1e-6), None)


# --- production cases ---------------------------------------------------------------------------


def run_cases(cfg: Config, out: Outcome, pool: Pool) -> None:
    for cap_mib in cfg.caps_mib:
        first = cap_mib == cfg.caps_mib[0]
        scale = 1.0 if first else cfg.other_cap_scale
        contenders = production.CONTENDERS if first else cfg.other_contenders
        with py_child("moto", "--streaming-crc", name="moto") as moto, \
                py_child("moto", name="moto (control plane)") as control:
            sink = Sink("moto", moto.info["endpoint"], bucket="archive")
            sink.prepare()
            env = Env(pool, sink, cfg.echo, sink_pid=int(moto.info.get("pid", 0)),
                      control_endpoint=control.info["endpoint"],
                      control_pid=int(control.info.get("pid", 0)))
            cap = cap_mib * MIB
            medium = production.medium_spec(_mib_round(cfg.medium_size * scale))
            library = production.library_spec(cfg.library_scale * scale)[:cfg.library_media]
            # rclone (one connection, like the seed) runs where it differs from it: many files
            out.cases.append(production.run_case(env, "medium", medium, cap,
                                                 cfg.other_contenders))
            out.cases.append(production.run_case(env, "library", library, cap, contenders))
            if cfg.demo_scale and first:
                out.cases.append(production.run_case(
                    env, "demo", [{"kind": "demo", "scale": cfg.demo_scale}], cap,
                    cfg.other_contenders))
            if cfg.big_size and first:
                out.cases.append(production.run_case(
                    env, "medium", production.medium_spec(cfg.big_size), cap,
                    ("limit", "product")))
            if first:
                out.points += production.scale_ranges(env, cfg.scaling_size, cap, cfg.ranges)
                if cfg.media_at_once:
                    out.points += production.scale_media(env, cfg.scaling_library_scale, cap,
                                                         cfg.media_at_once)
            out.cold_starts += env.cold_starts


def _mib_round(size: float) -> int:
    return max(MIB, int(size) // MIB * MIB)


def _cap_label(cap: float) -> str:
    return f"{cap / MIB:g} MiB/s" if cap else "uncapped"


def cases_section(out: Outcome, cfg: Config) -> str:
    rows = []
    for c in out.cases:
        lim = c.limit_mib_s
        prod = c.speed("product")
        rows.append([
            c.scenario, _cap_label(c.cap), f"{c.media} / {c.files}",
            f"{c.bytes / MIB:,.0f}", fmt(prod, ".1f"), fmt(c.speed("seed"), ".1f"),
            fmt(c.speed("rclone"), ".1f") if "rclone" in c.results else "-",
            fmt(c.sink_mib_s, ".1f"),
            f"{c.connections} x {c.cap / MIB:g} = {c.connections * c.cap / MIB:,.0f}"
            if c.cap else "-",
            f"{fmt(lim, '.1f')} ({c.bound_by})",
            fmt(ratio(prod, lim)), fmt(ratio(prod, c.speed("seed"))),
            fmt(ratio(lim, c.speed("seed"))), fmt(ratio(prod, c.speed("rclone"))),
        ])
    notes = [f"- {c.scenario}, {_cap_label(c.cap)}, {name}: {r.note}"
             for c in out.cases for name, r in c.results.items() if r.note]
    return "\n".join([
        "## 1. The production path: one medium and a library under a per-connection cap\n",
        "Each row ran every contender one after another against the same sink (moto, its own "
        "process) and the same source (the GoPro simulator, its own process, capping each CDN "
        "connection). `product` is the real workflow: the lister function queued the media, "
        "then Claim -> prepare -> Map of transfer invocations (4 at once, 8 ranges each) -> "
        "finalize per medium, 5 media at once, every invocation in a warm container process of "
        "its own (bench/workflow.py, bench/container.py); its time runs from the first claim "
        "to the last finalize and includes each case's cold clients (a new stack's first "
        "invocation in each container builds its boto3 clients, as a nightly run's cold "
        "containers do). `seed` is seed-design.md Component 3 per original, 5 media at once; "
        "`rclone` is `rclone copyurl` per original, 5 media at once. `sink` is the sink's "
        "own ingest of the same sizes from memory (boto3 tuned, 5 files at once); the limit is "
        "the smaller of it and N x cap. All in MiB/s.\n",
        table(["scenario", "cap", "media / files", "MiB", "product", "seed", "rclone", "sink",
               "N x cap", "limit (bound)", "product / limit", "x seed", "limit / seed",
               "x rclone"], rows),
        "",
        "`limit / seed` is the most `x seed` can be in that row: where the seed's few capped "
        "connections already come near the sink's limit, no design can beat it by more.\n",
        *verdicts(out),
        "",
        *(["Notes:", *notes, ""] if notes else []),
        f"The library: 29 videos (two chaptered), 10 photos (two with a RAW sidecar) and a "
        f"burst of five 64 KiB frames, 64 KiB to {1024 * cfg.library_scale:,.0f} MiB, after "
        "the mix of a real library in ../shared/gopro-api.md. "
        + (f"`demo` is the local cloud's demo library at scale {cfg.demo_scale} "
           f"(`cloudsync_local.simulator --demo-library --demo-scale {cfg.demo_scale}`), the "
           "library of issue 13's hand measurement in the local cloud (9 media, 416 MiB in "
           "9.1 s, 46 MiB/s, every handler in one process beside moto). "
           if cfg.demo_scale else "")
        + "Under the other caps both "
        f"scenarios are scaled by {cfg.other_cap_scale:g}, and rclone runs only on the "
        "headline library (on one medium it is one connection, as the seed is), to keep the "
        "run short.",
    ])


def verdicts(out: Outcome) -> list[str]:
    """Issue 13's targets, per headline case: met, or what bounds it."""
    lines = []
    for c in out.cases:
        if c.cap / MIB != HEADLINE_CAP_MIB or c.speed("product") is None:
            continue
        of_limit = ratio(c.speed("product"), c.limit_mib_s) or 0.0
        x_seed = ratio(c.speed("product"), c.speed("seed")) or 0.0
        ceiling = ratio(c.limit_mib_s, c.speed("seed")) or 0.0
        bound = (f"the sink ({fmt(c.sink_mib_s, '.0f')} MiB/s from memory)"
                 if c.bound_by == "sink" else f"{c.connections} connections x the cap")
        text = (f"- {c.scenario} under {HEADLINE_CAP_MIB:g} MiB/s: {of_limit:.2f} of the limit "
                f"({'meets' if of_limit >= 0.8 else 'misses'} 0.8), bound by {bound}")
        if c.scenario == "library":
            text += (f"; {x_seed:.2f}x the seed ({'meets' if x_seed >= 3 else 'misses'} 3x; "
                     f"the limit allows at most {ceiling:.2f}x here)")
        lines.append(text + ".")
        if c.scenario != "medium" and of_limit < 0.8:
            lines.append("  " + fixed_bound(c))
    return lines


def fixed_bound(c: Case) -> str:
    """What holds a library back where the bytes do not: the fixed requests per medium, with
    the time they took here and a model of the run at AWS's answer times."""
    work = production.fixed_work(c)
    if work is None or not c.limit_mib_s:
        return ""
    modeled = c.bytes / MIB / work.modeled_s if work.modeled_s else None
    idle = f" (moto idle: {c.idle_ms:.0f} ms)" if c.idle_ms is not None else ""
    return (f"What bounds it: the fixed work of each medium, {work.per_medium:.1f} requests "
            "(tracker, secret, GoPro API, upload bookkeeping; prepare and finalize are two of "
            "its three invocations), answered here in a median "
            f"{work.median_s * 1000:.0f} ms{idle}: they kept the {work.slots} media slots "
            f"waiting {work.wait_s / work.slots:.1f} s of the run's {work.measured_s:.1f} s. "
            f"Model, not measured: at {production.AWS_REQUEST_S * 1000:.0f} ms a request "
            f"(AWS's order) the run would take {work.modeled_s:.1f} s, "
            f"{fmt(ratio(modeled, c.limit_mib_s))} of the limit.")


def steps_section(out: Outcome) -> str:
    cold = sorted(out.cold_starts)
    cold_text = ("Cold starts are apart: before each run the bench builds every container's "
                 "clients for the new stack (`services()`, five boto3 clients), as a "
                 "container's first invocation of a night does; that took "
                 f"{cold[len(cold) // 2]:.2f} s (median of {len(cold)}, longest "
                 f"{cold[-1]:.2f} s) on this machine and is not in the product's time.\n"
                 if cold else "")
    rows = []
    for c in out.cases:
        if c.run is None:
            continue
        for fn in ("prepare", "transfer", "finalize"):
            inv = c.run.of(fn)
            if not inv:
                continue
            secs = sorted(i.seconds for i in inv)
            rows.append([c.scenario, _cap_label(c.cap), fn, len(inv),
                         f"{secs[len(secs) // 2]:.2f}", f"{secs[-1]:.2f}",
                         f"{sum(secs):.1f}", f"{sum(i.cpu_seconds for i in inv):.1f}"])
    cpu_rows = []
    for c in out.cases:
        if c.run is None or not c.cpu:
            continue
        total = sum(c.cpu.values())
        cpu_rows.append([c.scenario, _cap_label(c.cap), f"{c.run.seconds:.1f}",
                         f"{c.cpu.get('functions', 0):.1f}", f"{c.cpu.get('sink', 0):.1f}",
                         f"{c.cpu.get('control', 0):.1f}",
                         f"{c.cpu.get('source', 0):.1f}", f"{total / max(1, c.media):.2f}",
                         f"{total / (os.cpu_count() or 1) / c.run.seconds:.0%}"])
    return "\n".join([
        "### Where the product's time goes\n",
        "Per function: invocations, median and longest wall time, and the sums (wall and CPU "
        "seconds). Prepare and finalize are a fixed cost per medium (the requests below: "
        "DynamoDB, S3's upload bookkeeping, Secrets Manager, GoPro's API); for a library of "
        "small files they, not the bytes, set the pace.",
        cold_text,
        table(["scenario", "cap", "function", "calls", "median s", "max s", "sum s",
               "CPU s"], rows),
        "",
        "CPU seconds the product's run cost: the functions (every invocation), the sink (moto's "
        "S3), the control plane (a second moto: DynamoDB, Secrets Manager, SNS) and the source "
        "(the simulator), read from /proc; `of the cores` is that total over "
        "the wall time and this machine's cores. Near 100% the run is bound by this machine's "
        "CPU, which in AWS each Lambda, S3 and DynamoDB bring their own of: what more media or "
        "ranges at once would gain there, they cannot show here.\n",
        table(["scenario", "cap", "wall s", "functions CPU s", "sink CPU s",
               "control plane CPU s", "source CPU s", "CPU s per medium", "of the cores"],
              cpu_rows),
        "",
        requests_section(out),
    ])


def requests_section(out: Outcome) -> str:
    """The headline library's requests: what each function asked (timed by the function), and
    what the sink and the control plane spent serving the product's run."""
    c = next((c for c in out.cases if c.scenario == "library"), None)  # the headline cap's
    if c is None or c.run is None:
        return ""
    asked = [[fn, op, f"{n:.2f}", f"{t * 1000:.0f}",
              "fixed" if production.is_fixed(op) else "data"]
             for fn, op, n, t in production.request_rows(c.run, c.media)]
    served = [[where, op, int(n), f"{cpu * 1000 / max(1, n):.1f}", f"{cpu:.2f}",
               f"{wall * 1000 / max(1, n):.0f}"]
              for where, ops in c.served.items()
              for op, (n, wall, cpu) in sorted(ops.items(), key=lambda kv: -kv[1][2])]
    idle = (f" The control plane, idle after the run, answered a small DynamoDB request in "
            f"{c.idle_ms:.1f} ms (median of 20): the rest of a request's time during the run is "
            "waiting for this machine's two cores." if c.idle_ms is not None else "")
    return "\n".join([
        f"#### The library's requests ({_cap_label(c.cap)})\n",
        "Every request the functions made, timed in the function (botocore's "
        "`Endpoint.make_request`, requests' `HTTPAdapter.send`), per medium; `fixed` requests "
        "are the same for a 64 KiB photo and a 512 MiB video.\n",
        table(["function", "request", "per medium", "median ms", "kind"], asked),
        "",
        "What moto spent serving the product's run, per operation: the sink (S3) and the "
        "control plane (DynamoDB, Secrets Manager, SNS) are two moto processes, as S3 and "
        "DynamoDB are two services in AWS; CPU is the serving thread's own (`thread_time`)."
        + idle + "\n",
        table(["moto", "operation", "requests", "CPU ms each", "CPU s", "wall ms each"],
              served),
        "",
        "The sink's CPU seconds per GiB stored, by contender, in every case: what each way of "
        "writing the same bytes costs the one process they all share (the product's "
        "includes its S3 bookkeeping: create, ListParts, complete, verify).\n",
        table(["scenario", "cap", *[f"{n} CPU s / GiB" for n in production.CONTENDERS]],
              [[x.scenario, _cap_label(x.cap),
                *[fmt(x.sink_cpu[n] / (x.bytes / GIB), ".1f") if n in x.sink_cpu else "-"
                  for n in production.CONTENDERS]] for x in out.cases]),
    ])


def scaling_section(out: Outcome, cfg: Config) -> str:
    rows = []
    for kind in ("ranges", "media"):
        pts = [p for p in out.points if p.what == kind]
        base = pts[0].mib_s if pts else None
        for p in pts:
            ncap = p.cap_mib_s * p.connections
            rows.append([kind, p.n, p.connections, fmt(p.mib_s, ".1f"),
                         fmt(ratio(p.mib_s, base)), f"{ncap:,.0f}", fmt(ratio(p.mib_s, ncap)),
                         fmt(p.transfer_mib_s, ".1f"), fmt(ratio(p.transfer_mib_s, ncap))])
    return "\n".join([
        f"## 2. Scaling under a {cfg.caps_mib[0]:g} MiB/s cap\n",
        f"`ranges`: one {cfg.scaling_size / MIB:,.0f} MiB medium (one slice, so one transfer "
        "invocation) with parallelRanges = N. `media`: the library scaled by "
        f"{cfg.scaling_library_scale:g} with N media at once (maxConcurrentMedia). Connections "
        "are the most the product opens at once. `MiB/s` runs from the claim to finalize "
        "(prepare and finalize are a fixed cost per medium); `transfer MiB/s` is the bytes "
        "over the transfer invocation alone (the data path).\n",
        table(["what", "N", "connections", "MiB/s", "x N=first", "N x cap", "of N x cap",
               "transfer MiB/s", "transfer of N x cap"], rows),
    ])


def memory_section(out: Outcome) -> str:
    m, c = out.memory, out.compute
    lines = ["## 3. Memory and compute of the transfer function\n"]
    if m is not None:
        lines += [
            "Peak RSS of a transfer invocation, in its own container process: the kernel's "
            "high-water mark (VmHWM), reset before each invocation (`/proc/self/clear_refs`), "
            "less the RSS the warm container had before it; per part = that / parts in "
            "flight.\n",
            table(["part size MiB", "parts in flight", "RSS before MiB", "peak RSS MiB",
                   "per part in flight MiB", "per part / part size"],
                  [[f"{m.part_mib:g}", m.in_flight, f"{m.before_mib:.0f}", f"{m.peak_mib:.0f}",
                    f"{m.per_part_mib:.1f}", f"{m.per_part_mib / m.part_mib:.2f}"]]),
            "",
        ]
    if c is not None:
        lines += [compute_text(c, out.cases[0].cap / MIB if out.cases else HEADLINE_CAP_MIB), ""]
    return "\n".join(lines)


def aws_transfer_mbit_s(ranges: int = production.RANGES, per_connection: float = SEED_MBIT_S
                        ) -> float:
    """One transfer invocation in AWS: N CDN connections at the seed's observed rate, at most
    one Lambda's network (aws-facts.md: ~600 Mbit/s, whatever the memory size)."""
    return min(ranges * per_connection, LAMBDA_MBIT_S)


def compute_text(c: Compute, cap_mib: float) -> str:
    mbit = aws_transfer_mbit_s()
    seconds_per_gb = 8e3 / mbit
    need_vcpu = c.cpu_s_per_gib / (GIB / 1e9) * (mbit / 8e3)  # CPU s per GB x GB/s
    rows = []
    for mb in (512, 1024, 1769):
        vcpu = mb / LAMBDA_MB_PER_VCPU
        rows.append([mb, f"{vcpu:.2f}", f"{need_vcpu / vcpu:.0%}",
                     f"{mb / 1024 * seconds_per_gb:.1f}",
                     f"{mb / 1024 * seconds_per_gb * ARM64_GB_SECOND * 1000:.2f}"])
    return "\n".join([
        f"Measured here at a {cap_mib:g} MiB/s cap (medium): the transfer "
        f"invocations billed {c.transfer_gb_s_per_gb:.1f} GB-s per GB archived at their "
        f"configured {TRANSFER_MEMORY_MB} MB ({c.all_gb_s_per_gb:.1f} with prepare and "
        f"finalize), and used {c.cpu_s_per_gib:.2f} CPU seconds per GiB moved (ranged GETs, "
        "CRC32 and MD5 of every byte, UploadPart). The loopback wall time is bound by the "
        "sink, not by Lambda; in AWS one invocation moves at most "
        f"{production.RANGES} x {SEED_MBIT_S:g} Mbit/s (the seed's observed per-connection "
        f"rate), capped by one Lambda's network ({LAMBDA_MBIT_S:g} Mbit/s, aws-facts.md): "
        f"{mbit:.0f} Mbit/s, {seconds_per_gb:.0f} s per GB. At that rate it needs "
        f"{need_vcpu:.2f} vCPU (Lambda gives 1 vCPU per {LAMBDA_MB_PER_VCPU} MB):\n",
        table(["memory MB", "vCPU", "CPU busy at that rate", "GB-s per GB", "$ per 1,000 GB"],
              rows),
        "",
        "Lambda's network share does not grow with memory above ~1 GB (aws-facts.md), and "
        "peak RSS stays far below 512 MB, so memory buys CPU only: the size to choose is the "
        "smallest whose CPU stays under ~50% busy at the transfer rate (CPU seconds measured "
        "on this machine's x86 cores; Lambda's Graviton cores are of the same order). "
        + recommendation(need_vcpu),
    ])


def recommendation(need_vcpu: float) -> str:
    for mb in (512, 1024, 1769):
        if need_vcpu / (mb / LAMBDA_MB_PER_VCPU) <= 0.5:
            return (f"On these numbers that is {mb} MB"
                    + (" (the deployed 1,024 MB buys nothing more)." if mb < 1024 else "."))
    return "On these numbers not even 1,769 MB (one vCPU) keeps up: CPU bounds the transfer."


def run_lister(cfg: Config, out: Outcome) -> str:
    with py_child("moto", name="moto (lister)") as moto, \
            py_child("sim", "--library", str(cfg.lister_media), name="simulator (library)",
                     ready_timeout=300) as sim:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.child", "lister", "--endpoint", moto.info["endpoint"],
             "--sim", json.dumps(sim.info)], capture_output=True, text=True, env=python_env(),
            cwd=str(ROOT), timeout=1200, check=False, stdin=subprocess.DEVNULL)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{"media"')]
    if proc.returncode != 0 or not lines:
        raise ChildError(f"lister run failed: {proc.stderr[-2000:]}")
    res: dict[str, Any] = json.loads(lines[-1])
    out.lister = res
    return lister.section(res)


def run_cost(cfg: Config, out: Outcome) -> str:
    prices = cost.load_prices()
    text = [cost.report_markdown(prices, out.usage)]
    if cfg.chart is not None:
        path = cost.draw_chart(cfg.chart, prices, out.usage)
        text.append(f"\n![cumulative cost over 12 months]({path.name})")
    return "## 5. Cost model (`cloudsync cost`)\n\n" + "\n".join(text)


def measured_usage(out: Outcome) -> cost.Usage:
    """The cost model's counts, from what this run measured."""
    usage = cost.Usage().replace(transfer_mbit_s=aws_transfer_mbit_s())
    if out.compute is not None and out.compute.transfer_gb_s_per_gb:
        usage = usage.replace(transfer_cpu_s_per_gib=out.compute.cpu_s_per_gib)
    if out.memory is not None:
        usage = usage.replace(parts_per_gib=1024 / out.memory.part_mib)
    if out.lister:
        media = out.lister["media"]
        usage = usage.replace(
            lister_read_units_per_medium=out.lister["unchanged"]["dynamodb"]["read_units"] / media,
            lister_write_units_per_new_medium=out.lister["first"]["dynamodb"]["write_units"]
            / media,
            gopro_calls_per_medium=out.lister["unchanged"]["api"]["total"] / media,
        )
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
    rclone = rclone_version() if rclone_path() else "not installed"
    cfg.echo(f"1. production path ({cfg.containers} container processes)")
    pool = Pool(cfg.containers)
    try:
        run_cases(cfg, out, pool)
    finally:
        pool.close()
    headline = out.case("medium", HEADLINE_CAP_MIB) or (out.cases[0] if out.cases else None)
    if headline is not None:
        out.memory = production.memory_facts(headline)
        out.compute = production.compute_facts(headline)
    cfg.echo("4. lister")
    lister_md = run_lister(cfg, out)
    out.usage = measured_usage(out)
    cfg.echo("5. cost")
    cost_md = run_cost(cfg, out)
    out.seconds = time.perf_counter() - started
    header = "\n".join([
        "# Benchmarks\n",
        "Written by `make bench` (bench/, `python -m bench`); every comparison below was "
        "measured side by side in the same run, on loopback, and is read as a ratio or a "
        "count, never as an absolute speed of AWS.\n",
        table(["", ""], [*machine(rclone, "not run"), ("load average at the end",
                                                        _load()),
                         ("command", f"`{cfg.command}`"),
                         ("bench wall time", f"{out.seconds:.0f} s")]),
        "",
        "The sink is moto's ThreadedMotoServer in its own process with one change made by the "
        "bench: CompleteMultipartUpload computes a FULL_OBJECT CRC32 as it goes instead of "
        "after two extra copies of the object (bench/child.py, `streaming_full_object_crc`). "
        "moto's S3 is a single Python process: it is the slowest part of this machine, so "
        "`limit` is measured against it in the same run. The functions' DynamoDB, Secrets "
        "Manager and SNS are a second moto process (the control plane), as they are other "
        "services in AWS: on one process the tracker's requests took the sink's CPU (its "
        "TransactWriteItems alone cost 88 ms of CPU each, moto copying the whole table; both "
        "motos run the local cloud's `dynamo_guard`, which copies only the touched items).",
    ])
    out.sections = [header, cases_section(out, cfg), steps_section(out), scaling_section(out, cfg),
                    memory_section(out), lister_md, cost_md]
    if out.notes:
        out.sections.append("## Notes\n\n" + "\n".join(f"- {n}" for n in out.notes))
    out.last_line = last_line(out)
    out.bounds = [b for b in (fixed_bound(c) for c in out.cases if c.scenario == "library"
                              and c.cap / MIB == HEADLINE_CAP_MIB) if b]
    out.sections.append("## Summary\n\n```\n" + out.last_line + "\n```"
                        + "".join(f"\n\n{b}" for b in out.bounds))
    text = "\n\n".join(out.sections) + "\n"
    if cfg.output is not None:
        cfg.output.parent.mkdir(parents=True, exist_ok=True)
        cfg.output.write_text(text, encoding="utf-8")
    return out


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores"
    except OSError:
        return "?"


def last_line(out: Outcome) -> str:
    cap = HEADLINE_CAP_MIB
    medium, library = out.case("medium", cap), out.case("library", cap)
    if medium is None:  # the smoke run has one other cap
        medium = next((c for c in out.cases if c.scenario == "medium"), None)
        library = next((c for c in out.cases if c.scenario == "library"), None)
        cap = medium.cap / MIB if medium and medium.cap else cap

    def vs(case: Case | None, other: str) -> float | None:
        if case is None:
            return None
        return ratio(case.speed("product"), case.limit_mib_s if other == "limit"
                     else case.speed(other))

    per_part = out.memory.per_part_mib if out.memory else None
    part = out.memory.part_mib if out.memory else None
    return (f"production: medium {fmt(vs(medium, 'limit'))}x limit, library "
            f"{fmt(vs(library, 'limit'))}x limit, {fmt(vs(library, 'seed'))}x seed under a "
            f"{cap:g} MiB/s cap; peak RSS {fmt(per_part, '.0f')} MiB per part in flight "
            f"({fmt(part, '.0f')} MiB parts)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (a few minutes): for trying the bench, not the docs")
    parser.add_argument("--big", action="store_true",
                        help="also a 4 GiB medium under the 20 MiB/s cap (product and limit)")
    parser.add_argument("--no-write", action="store_true",
                        help="print only; leave docs/BENCHMARKS.md and the chart alone")
    args = parser.parse_args(argv)
    cfg = Config()
    if args.quick:
        cfg = Config(medium_size=256 * MIB, library_scale=0.25, caps_mib=(HEADLINE_CAP_MIB,),
                     scaling_size=64 * MIB, media_at_once=(1, 5), scaling_library_scale=1 / 16,
                     lister_media=1000)
    if args.big:
        cfg.big_size = 4 * GIB
    if args.no_write:
        cfg.output = None
        cfg.chart = None
    cfg.command = "make bench  (" + shlex.join([".venv/bin/python", "-m", "bench",
                                               *(argv if argv is not None else sys.argv[1:])]) + ")"
    out = run(cfg)
    print()
    print("\n\n".join(out.sections[:-1]))
    print()
    for bound in out.bounds:
        print(bound)
    print(out.last_line)
    return 0
