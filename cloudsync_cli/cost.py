"""``cloudsync cost``: what archiving a library costs, one-time and monthly, per lifecycle policy.

The model (prices in ``prices.json``, us-east-1, with the date they were taken and the source of
each number; counts in ``Usage``, measured by ``make bench`` where a benchmark measures them):

- Storage follows the policy's lifecycle schedule (``cloudsync_defs.lifecycle.POLICIES``, the
  same rules the stack deploys), day by day, in 30-day months as the seed's own estimate does.
  A transition at day 0 happens at the first midnight UTC after the upload: one day in Standard.
  Objects under 128 KiB never transition (``TransitionDefaultMinimumObjectSize``, see
  ``cloudsync_defs.lifecycle``): they stay in Standard whatever the policy.
- Minimum storage durations (Glacier IR 90 days, Deep Archive 180): leaving a class early, by a
  transition as much as by a delete, bills the rest of the minimum, pro-rated, at that moment.
- Per-object overhead: Deep Archive bills 40 KB more per object (8 KB at the Standard rate,
  32 KB at its own); Glacier IR bills at least 128 KB per object.
- Requests: CreateMultipartUpload + UploadPart per part + CompleteMultipartUpload (PUT class),
  ListParts (LIST, priced as PUT), HeadObject (GET); lifecycle transitions per object.
- Compute: Lambda GB-seconds of the transfer (at the throughput ``make bench`` estimates for
  AWS) and of the small steps; Express executions (64 MB, billed by duration) per medium.
- DynamoDB: on-demand read/write units, as the lister benchmark measured them.
- Fixed monthly: KMS key, secret, custom metrics, alarm metrics, dashboard (free up to three),
  for the stack's monitoring choice (stack config ``customMetrics`` and ``alarms``; the default
  stack has no custom metrics and the four essential alarms: the alarms catalog,
  ``cloudsync_defs.alarms``, counted per function of ``cloudsync_defs.functions``).
Data transfer INTO S3 is free: the seed's estimate billed it as "data transfer out".
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from cloudsync_core import metrics
from cloudsync_defs import alarms as alarm_defs
from cloudsync_defs.alarms import ALARM_SETS
from cloudsync_defs.functions import FUNCTIONS
from cloudsync_defs.lifecycle import (
    MINIMUM_STORAGE_DAYS,
    POLICIES,
    LifecyclePolicy,
    transitions_apply,
)
from cloudsync_defs.stack import LAMBDA_ARCHITECTURE

PRICES_FILE: Final = Path(__file__).with_name("prices.json")
MONTH_DAYS: Final = 30
KB: Final = 1 / (1024 * 1024)  # in GB (S3 bills binary GB)
GIB_PER_GB: Final = 1.0  # storage "GB" in S3 pricing is GiB-sized; the model keeps one unit
POLICY_NAMES: Final = ("seed", "default", "deep-archive-now")
STANDARD_SIZES: Final = ((1_000, 100.0), (30_000, 3_000.0))  # (videos, GB): the seed's ratio
MB_PER_VIDEO: Final = 100.0  # the seed's example: 100 GB in 1,000 videos
MAX_MONTHS: Final = 120  # ten years of cumulative cost
MAX_LIBRARY_GB: Final = 1e9  # an exabyte: beyond, the counts stop being numbers

# The functions' architecture (cloudsync_defs.stack): arm64 is Graviton's GB-second price.
LAMBDA_GB_SECOND: Final = f"lambda_gb_second_{LAMBDA_ARCHITECTURE}"
LAMBDA_MB_PER_VCPU: Final = 1769  # aws-facts.md: 1,769 MB is one vCPU
MEMORY_SIZES_MB: Final = (512, 1024, 1769)
CPU_HEADROOM: Final = 0.5  # the memory size to choose keeps the CPU at most half busy

_PRICE_OF_CLASS: Final = {
    "STANDARD": "s3_standard_gb_month",
    "GLACIER_IR": "s3_glacier_ir_gb_month",
    "DEEP_ARCHIVE": "s3_deep_archive_gb_month",
}
_TRANSITION_PRICE: Final = {
    "GLACIER_IR": "s3_transition_glacier_ir_per_1000",
    "DEEP_ARCHIVE": "s3_transition_deep_archive_per_1000",
}


# --- prices -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    values: dict[str, float]
    sources: dict[str, str]
    taken: str
    region: str
    seed_values: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        return self.values[name]


def load_prices(path: Path | None = None) -> Prices:
    raw = json.loads((path or PRICES_FILE).read_text(encoding="utf-8"))
    prices = raw["prices"]
    seed = raw.get("seed_estimate_prices", {})
    return Prices(
        values={k: float(v["value"]) for k, v in prices.items()},
        sources={k: str(v["source"]) for k, v in prices.items()},
        taken=str(raw["taken"]),
        region=str(raw["region"]),
        seed_values={k: float(v["value"]) for k, v in seed.items()},
    )


# --- what a library needs (counts) ---------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """Counts per object, medium, GiB or night. ``measured`` ones come from ``make bench``;
    the rest are assumptions, named as such in the report."""

    # measured by make bench (benchmarks 1, 3 and 4); the defaults are its figures
    parts_per_gib: float = 64.0  # the engine's 16 MiB parts
    transfer_mbit_s: float = 384.0  # one transfer invocation in AWS: 8 ranges x 48 Mbit/s
    transfer_cpu_s_per_gib: float = 5.21  # CPU seconds the transfer function spends per GiB
    lister_read_units_per_medium: float = 1.0  # BatchGetItem, consistent reads, every night
    lister_write_units_per_new_medium: float = 1.0  # the conditional PutItem of a new row
    gopro_calls_per_medium: float = 0.01  # one search page per 100 media (not an AWS cost)
    # assumptions (from the code's design, not measured here)
    s3_put_per_object: float = 2.0  # CreateMultipartUpload + CompleteMultipartUpload
    s3_list_per_object: float = 3.0  # ListParts: transfer start, before completing, Finalize
    s3_get_per_object: float = 2.0  # HeadObject: the verification and an idempotency check
    originals_per_video: float = 1.0
    transfer_memory_gb: float = 1.0  # the transfer function's 1,024 MB
    step_memory_gb: float = 0.5  # prepare / finalize: 512 MB
    step_seconds: float = 1.5  # each small step's duration
    small_steps_per_medium: float = 3.0  # start (stream batch), prepare, finalize
    slice_gib: float = 0.5  # one transfer invocation's share (SLICE_TARGET_BYTES)
    time_budget_s: float = 240.0  # an execution continues anew after this
    express_overhead_s: float = 5.0  # claim, prepare, finalize around the transfer
    writes_per_transferred_medium: float = 7.0  # slot, claim, plan, finish, run counters
    lister_seconds_per_1000: float = 15.0  # in AWS: ~10 search pages at ~1 s, 10 BatchGets
    lister_memory_gb: float = 0.5
    nights_per_month: float = 30.0
    secret_calls_per_medium: float = 2.0
    log_kb_per_medium: float = 20.0
    log_kb_per_night: float = 10.0
    # the stack's monitoring (stack config customMetrics and alarms; the defaults are the
    # default stack's)
    custom_metrics_on: bool = False
    alarm_set: str = "essential"
    # metric-months: every custom metric per provider, SyncFailures per error type too
    custom_metric_count: int = field(default_factory=metrics.series_per_month)
    # what the per-function alarms of ``alarms: all`` each read: the function catalog
    functions: int = field(default_factory=lambda: len(FUNCTIONS))
    dashboards: int = 1
    dashboard_billable: bool = False  # the first three dashboards of an account are free
    kms_keys: int = 1
    secrets: int = 2  # the credentials, and the Slack / webhook alert URLs (notify secret)

    def replace(self, **changes: Any) -> Usage:
        return replace(self, **changes)

    def stack(self, *, custom_metrics: bool, alarms: str) -> Usage:
        """The stack deployed with these ``customMetrics`` and ``alarms`` settings."""
        if alarms not in ALARM_SETS:
            raise ValueError(f"alarms is one of {', '.join(ALARM_SETS)}, not {alarms!r}")
        return replace(self, custom_metrics_on=custom_metrics, alarm_set=alarms)

    @property
    def custom_metrics(self) -> int:
        """Metric-months of custom metrics."""
        return self.custom_metric_count if self.custom_metrics_on else 0

    @property
    def alarm_metrics(self) -> int:
        """Metrics the alarms read (CloudWatch bills an alarm per metric it reads)."""
        return alarm_metric_count(self.alarm_set, self.custom_metrics_on, self.functions)

    def stack_label(self) -> str:
        metrics = "custom metrics on" if self.custom_metrics_on else "no custom metrics"
        return f"alarms {self.alarm_set} ({self.alarm_metrics} alarm metrics), {metrics}"


def alarm_metric_count(alarm_set: str, custom_metrics: bool, functions: int | None = None) -> int:
    """How many metrics the stack's alarms read, for a monitoring choice (the alarms catalog,
    ``cloudsync_defs.alarms``, which components.monitoring builds from too)."""
    return alarm_defs.metric_count(alarm_set, custom_metrics,
                                   len(FUNCTIONS) if functions is None else functions)


@dataclass(frozen=True)
class Library:
    videos: int
    gb: float

    @classmethod
    def of(cls, videos: int | None, gb: float | None) -> Library:
        if videos is None and gb is None:
            raise ValueError("give videos or GB")
        if videos is not None and videos < 1:
            raise ValueError(f"--videos must be at least 1, not {videos}")
        if gb is not None and not (math.isfinite(gb) and 0 < gb <= MAX_LIBRARY_GB):
            raise ValueError(f"--gb must be more than 0 and at most {MAX_LIBRARY_GB:,.0f}, "
                             f"not {gb:g}")
        if gb is None:
            gb = (videos or 0) * MB_PER_VIDEO / 1000
        if videos is None:
            videos = max(1, round(gb * 1000 / MB_PER_VIDEO))
        return cls(videos, gb)

    def label(self) -> str:
        size = f"{self.gb / 1000:g} TB" if self.gb >= 1000 else f"{self.gb:g} GB"
        return f"{size}, {self.videos:,} videos"


# --- the model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    storage_class: str
    start: float  # days after the upload
    end: float  # math.inf for the last one


def schedule(policy: LifecyclePolicy) -> list[Segment]:
    """Where an object is, day by day. Day-0 transitions land at the first midnight: day 1."""
    segments: list[Segment] = []
    current, since = "STANDARD", 0.0
    for t in policy.transitions:
        day = max(float(t.days), 1.0)
        if day > since:
            segments.append(Segment(current, since, day))
        current, since = t.storage_class, day
    segments.append(Segment(current, since, math.inf))
    return segments


@dataclass
class Charges:
    """Line items ($) by name, added up as events and days fall into a window."""

    items: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, dollars: float) -> None:
        if dollars:
            self.items[name] = self.items.get(name, 0.0) + dollars

    def merge(self, other: Charges) -> None:
        for k, v in other.items.items():
            self.add(k, v)

    @property
    def total(self) -> float:
        return sum(self.items.values())


class Model:
    def __init__(self, prices: Prices, usage: Usage, library: Library,
                 policy: LifecyclePolicy) -> None:
        self.p = prices
        self.u = usage
        self.lib = library
        self.policy = policy
        self.objects = library.videos * usage.originals_per_video
        self.object_gb = library.gb / self.objects
        # Objects under 128 KiB never transition (the stack's deliberate lifecycle setting).
        small = not transitions_apply(self.object_gb * 1024**3)
        self.segments = [Segment("STANDARD", 0.0, math.inf)] if small else schedule(policy)

    # storage --------------------------------------------------------------------------------
    def billable_gb(self, storage_class: str) -> dict[str, float]:
        """GB billed at each class's rate while the library sits in ``storage_class``."""
        if storage_class == "DEEP_ARCHIVE":
            return {"STANDARD": self.objects * 8 * KB,
                    "DEEP_ARCHIVE": self.lib.gb + self.objects * 32 * KB}
        if storage_class == "GLACIER_IR":
            return {"GLACIER_IR": self.objects * max(self.object_gb, 128 * KB)}
        return {storage_class: self.lib.gb}

    def _storage(self, seg: Segment, start: float, end: float, out: Charges) -> None:
        lo, hi = max(seg.start, start), min(seg.end, end)
        if hi <= lo:
            return
        for cls, gb in self.billable_gb(seg.storage_class).items():
            name = f"storage: {_class_label(cls)}"
            if seg.storage_class == "DEEP_ARCHIVE" and cls == "STANDARD":
                name = "storage: Deep Archive overhead (8 KB/object at Standard)"
            out.add(name, gb * self.p[_PRICE_OF_CLASS[cls]] * (hi - lo) / MONTH_DAYS)

    def _transition_events(self, start: float, end: float, out: Charges) -> None:
        for prev, seg in zip(self.segments, self.segments[1:], strict=False):
            if not start <= seg.start < end:
                continue
            out.add(f"transitions to {_class_label(seg.storage_class)}",
                    self.objects * self.p[_TRANSITION_PRICE[seg.storage_class]] / 1000)
            minimum = MINIMUM_STORAGE_DAYS.get(prev.storage_class, 0)
            stayed = prev.end - prev.start
            if prev.storage_class in _PRICE_OF_CLASS and stayed < minimum:
                for cls, gb in self.billable_gb(prev.storage_class).items():
                    out.add(f"early transition: rest of {_class_label(prev.storage_class)}'s "
                            f"{minimum}-day minimum",
                            gb * self.p[_PRICE_OF_CLASS[cls]] * (minimum - stayed) / MONTH_DAYS)

    def storage(self, start: float, end: float) -> Charges:
        out = Charges()
        for seg in self.segments:
            self._storage(seg, start, end, out)
        self._transition_events(start, end, out)
        return out

    # one-time: archiving the library -----------------------------------------------------------
    def one_time(self) -> Charges:
        p, u = self.p, self.u
        out = Charges()
        object_gib = self.object_gb * GIB_PER_GB
        parts = max(1.0, math.ceil(object_gib * u.parts_per_gib - 1e-9))
        if parts > 1:
            puts = self.objects * (u.s3_put_per_object + parts)
        else:
            puts = self.objects  # one PutObject
        out.add("S3 PUT requests (create, parts, complete)", puts * p["s3_put_per_1000"] / 1000)
        out.add("S3 LIST/GET requests (ListParts, HeadObject)",
                self.objects * (u.s3_list_per_object * p["s3_put_per_1000"]
                                + u.s3_get_per_object * p["s3_get_per_1000"]) / 1000)
        out.add("data transfer in", self.lib.gb * p["data_transfer_in_gb"])
        seconds_per_object = object_gib * 8 * 1024**3 / (u.transfer_mbit_s * 1e6)
        transfer_gb_s = self.objects * seconds_per_object * u.transfer_memory_gb
        slices = max(1.0, math.ceil(object_gib / u.slice_gib - 1e-9))
        steps_gb_s = self.lib.videos * u.small_steps_per_medium * u.step_seconds * u.step_memory_gb
        invocations = self.objects * slices + self.lib.videos * u.small_steps_per_medium
        out.add("Lambda GB-seconds (transfer)", transfer_gb_s * p[LAMBDA_GB_SECOND])
        out.add("Lambda GB-seconds (other steps)", steps_gb_s * p[LAMBDA_GB_SECOND])
        out.add("Lambda requests", invocations * p["lambda_request_per_million"] / 1e6)
        per_medium_s = seconds_per_object * u.originals_per_video
        executions = self.lib.videos * max(1.0, math.ceil(per_medium_s / u.time_budget_s))
        express_s = self.lib.videos * per_medium_s + executions * u.express_overhead_s
        out.add("Express executions", executions * p["express_request_per_million"] / 1e6)
        out.add("Express GB-seconds (64 MB)", express_s * 0.0625 * p["express_gb_second"])
        writes = self.lib.videos * (u.lister_write_units_per_new_medium
                                    + u.writes_per_transferred_medium)
        out.add("DynamoDB writes", writes * p["dynamodb_write_unit_per_million"] / 1e6)
        out.add("Secrets Manager calls",
                self.lib.videos * u.secret_calls_per_medium * p["secret_calls_per_10000"] / 1e4)
        out.add("CloudWatch Logs", self.lib.videos * u.log_kb_per_medium * KB
                * p["cloudwatch_logs_ingest_gb"])
        return out

    # every month ------------------------------------------------------------------------------
    def monthly_fixed(self) -> Charges:
        p, u = self.p, self.u
        out = Charges()
        out.add("KMS key", u.kms_keys * p["kms_key_month"])
        out.add("Secrets Manager secret", u.secrets * p["secret_month"])
        out.add("CloudWatch custom metrics", u.custom_metrics * p["cloudwatch_metric_month"])
        out.add("CloudWatch alarms", u.alarm_metrics * p["cloudwatch_alarm_metric_month"])
        if u.dashboard_billable:
            out.add("CloudWatch dashboard", u.dashboards * p["cloudwatch_dashboard_month"])
        return out

    def monthly_nights(self) -> Charges:
        """The nightly lister over the whole library (nothing new to archive)."""
        p, u = self.p, self.u
        out = Charges()
        nights = u.nights_per_month
        seconds = u.lister_seconds_per_1000 * self.lib.videos / 1000 + 1.0
        out.add("nightly lister: Lambda",
                nights * (seconds * u.lister_memory_gb * p[LAMBDA_GB_SECOND]
                          + 2 * p["lambda_request_per_million"] / 1e6))
        out.add("nightly lister: DynamoDB reads",
                nights * self.lib.videos * u.lister_read_units_per_medium
                * p["dynamodb_read_unit_per_million"] / 1e6)
        out.add("nightly lister: secret reads, logs",
                nights * (2 * p["secret_calls_per_10000"] / 1e4
                          + u.log_kb_per_night * KB * p["cloudwatch_logs_ingest_gb"]))
        return out

    def month(self, index: int) -> Charges:
        """Month ``index`` (1-based) after the upload on day 0."""
        out = Charges()
        if index == 1:
            out.merge(self.one_time())
        out.merge(self.storage((index - 1) * MONTH_DAYS, index * MONTH_DAYS))
        out.merge(self.monthly_fixed())
        out.merge(self.monthly_nights())
        return out

    def steady(self) -> Charges:
        """A month long after the upload (every object in its final class)."""
        return self.month(24)

    def cumulative(self, months: int = 12) -> list[float]:
        total, out = 0.0, [0.0]
        for m in range(1, months + 1):
            total += self.month(m).total
            out.append(total)
        return out


def _class_label(storage_class: str) -> str:
    return {"STANDARD": "Standard", "GLACIER_IR": "Glacier IR",
            "DEEP_ARCHIVE": "Deep Archive"}.get(storage_class, storage_class)


def model(prices: Prices, usage: Usage, library: Library, policy: str) -> Model:
    return Model(prices, usage, library, POLICIES[policy])


# --- the seed's own estimate ----------------------------------------------------------------


@dataclass(frozen=True)
class SeedLine:
    service: str
    usage: str
    listed: float  # what seed-design.md prints
    recomputed: float  # its own quantity x its own unit price
    corrected: float  # the same month under this model's rules (100 GB, 1,000 videos)
    why: str = ""


def _seed_compute_and_s3(first: dict[str, float], lambda_ours: float) -> list[SeedLine]:
    """The seed's Lambda, Step Functions and S3 lines."""
    ir_min = sum(v for k, v in first.items() if "Glacier IR" in k)
    return [
        SeedLine("Lambda", "invocations 3,000", 0.001, 3000 * 0.20 / 1e6,
                 first.get("Lambda requests", 0.0)),
        SeedLine("Lambda", "compute 250 GB-s", 4.17, 250 * 0.0000166667, lambda_ours,
                 "250 GB-s cost $0.004, not $4.17 (off 1,000x); its own '512 MB, 5 min avg' x "
                 "3,000 would be 450,000 GB-s = $7.50"),
        SeedLine("Step Functions", "30 executions", 0.15, 0.15,
                 first.get("Express executions", 0.0)
                 + first.get("Express GB-seconds (64 MB)", 0.0),
                 "Express per medium (billed by duration), not Standard transitions"),
        SeedLine("S3", "Standard 7 days", 0.54, 100 * 0.023 * 7 / 30,
                 first.get("storage: Standard", 0.0)),
        SeedLine("S3", "Glacier IR 7 days", 0.09, 100 * 0.004 * 7 / 30, ir_min,
                 "IR bills 90 days: 7 stored + 83 charged at the early transition (and S3 "
                 "refuses the rule: Deep Archive must wait 90 days after IR)"),
        SeedLine("S3", "Deep Archive 16 days", 0.05, 100 * 0.00099 * 16 / 30,
                 first.get("storage: Deep Archive", 0.0)
                 + first.get("storage: Deep Archive overhead (8 KB/object at Standard)", 0.0)),
        SeedLine("S3", "PUT requests 1,000", 0.005, 1000 * 0.005 / 1000,
                 first.get("S3 PUT requests (create, parts, complete)", 0.0)
                 + first.get("transitions to Glacier IR", 0.0)
                 + first.get("transitions to Deep Archive", 0.0),
                 "multipart: one request per part, plus lifecycle transitions per object"),
    ]


def _seed_services(sp: dict[str, float], first: dict[str, float], nights: dict[str, float],
                   functions: int) -> list[SeedLine]:
    """The seed's DynamoDB, Secrets Manager, CloudWatch, SNS, transfer and KMS lines."""
    return [
        SeedLine("DynamoDB", "writes 3,000", 0.004, 3000 * sp.get("dynamodb_write_per_million",
                                                                   1.25) / 1e6,
                 first.get("DynamoDB writes", 0.0), "on-demand is $0.625/M units now"),
        SeedLine("DynamoDB", "reads 1,000", 0.0003, 1000 * sp.get("dynamodb_read_per_million",
                                                                  0.25) / 1e6,
                 nights.get("nightly lister: DynamoDB reads", 0.0),
                 "the lister reads every medium every night"),
        SeedLine("DynamoDB", "storage 1 GB", 0.25, 0.25, 0.0,
                 "1,000 rows are ~1 MB, inside the 25 GB free"),
        SeedLine("Secrets Manager", "1 secret", 0.40, 0.40,
                 first.get("Secrets Manager secret", 0.0)),
        SeedLine("CloudWatch", "logs 5 GB", 2.50, 2.50,
                 first.get("CloudWatch Logs", 0.0)
                 + nights.get("nightly lister: secret reads, logs", 0.0),
                 "~20 KB of logs per medium"),
        SeedLine("CloudWatch", "20 custom metrics", 6.00, 6.00,
                 first.get("CloudWatch custom metrics", 0.0)),
        SeedLine("CloudWatch", "7 alarms", 0.70, 0.70, first.get("CloudWatch alarms", 0.0),
                 f"alarms bill per metric: the per-function ones read {functions} each"),
        SeedLine("SNS", "10 notifications", 0.00001, 0.00001, 0.0),
        SeedLine("Data transfer", "100 GB 'out'", 9.00, 100 * 0.09,
                 first.get("data transfer in", 0.0),
                 "it is ingress: data transfer INTO S3 is free"),
        SeedLine("KMS", "(missing)", 0.0, 0.0, first.get("KMS key", 0.0),
                 "the customer-managed key the seed's bucket uses: $1/month"),
    ]


def seed_lines(prices: Prices, usage: Usage) -> list[SeedLine]:
    """seed-design.md 'Cost Estimation' (100 GB, 1,000 videos), line by line."""
    ours = model(prices, usage, Library(1_000, 100.0), "seed")
    first = ours.month(1).items
    nights = ours.monthly_nights().items
    lambda_ours = (first.get("Lambda GB-seconds (transfer)", 0.0)
                   + first.get("Lambda GB-seconds (other steps)", 0.0)
                   + nights.get("nightly lister: Lambda", 0.0))
    lines = [*_seed_compute_and_s3(first, lambda_ours),
             *_seed_services(prices.seed_values, first, nights, usage.functions)]
    shown = sum(line.corrected for line in lines)
    lines.append(SeedLine("(this model only)", "the rest of its first month", 0.0, 0.0,
                          ours.month(1).total - shown,
                          "S3 LIST/GET, nightly-lister secret reads, ..."))
    return lines


SEED_TOTAL: Final = 23.87
SEED_ONGOING: Final = 14.27


# --- rendering --------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    cells = [list(headers)] + [list(r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
              for r in cells[1:]]
    return "\n".join(lines)


def money(value: float) -> str:
    if value == 0:
        return "$0"
    if abs(value) < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"


def comparison_markdown(prices: Prices, usage: Usage,
                        libraries: Sequence[Library], policies: Sequence[str] = POLICY_NAMES,
                        months: int = 12) -> str:
    rows = []
    for lib in libraries:
        for name in policies:
            m = model(prices, usage, lib, name)
            first, steady = m.month(1), m.steady()
            storage_steady = sum(v for k, v in steady.items.items() if k.startswith("storage"))
            fixed = m.monthly_fixed().total
            rows.append([lib.label(), name, money(first.total), money(m.one_time().total),
                         money(steady.total), money(storage_steady), money(fixed),
                         money(m.cumulative(months)[-1])])
    return _table(["library", "policy", "first month", "of it one-time", "steady month",
                   "of it storage", "of it fixed", f"{months} months"], rows)


def breakdown_markdown(prices: Prices, usage: Usage, lib: Library, policy: str) -> str:
    m = model(prices, usage, lib, policy)
    first, steady = m.month(1), m.steady()
    names = list(dict.fromkeys([*first.items, *steady.items]))
    rows = [[n, money(first.items.get(n, 0.0)), money(steady.items.get(n, 0.0))] for n in names]
    rows.append(["**total**", f"**{money(first.total)}**", f"**{money(steady.total)}**"])
    return _table(["item", "first month", "steady month"], rows)


def seed_markdown(prices: Prices, usage: Usage) -> str:
    lines = seed_lines(prices, usage)
    listed = sum(line.listed for line in lines)
    recomputed = sum(line.recomputed for line in lines)
    corrected = sum(line.corrected for line in lines)
    rows = [[line.service, line.usage, money(line.listed), money(line.recomputed),
             money(line.corrected), line.why] for line in lines]
    rows.append(["**total**", "", f"**{money(listed)}**", f"**{money(recomputed)}**",
                 f"**{money(corrected)}**", f"the seed prints ${SEED_TOTAL}"])
    ongoing = (0.10, 4.17, 10.0)
    steady = model(prices, usage, Library(1_000, 100.0), "seed").steady().total
    return "\n".join([
        _table(["service", "seed's usage", "seed lists", "its arithmetic", "this model",
                "where the seed is off"], rows),
        "",
        f"The seed's 'ongoing' ${SEED_ONGOING}/month is ${ongoing[0]:.2f} Deep Archive storage + "
        f"${ongoing[1]:.2f} Lambda (the 1,000x slip above) + ~${ongoing[2]:.0f} 'other services' "
        "(metrics $6, logs $2.50, alarms $0.70, secret $0.40, DynamoDB storage $0.25): mostly "
        "fixed costs, not storage. This model's steady month for the same library under the "
        f"seed's policy: {money(steady)}.",
    ])


def _value(value: object) -> str:
    if isinstance(value, bool | str):
        return str(value).lower() if isinstance(value, bool) else value
    return f"{value:g}" if isinstance(value, float | int) else str(value)


def usage_markdown(usage: Usage) -> str:
    measured = ("parts_per_gib", "transfer_mbit_s", "transfer_cpu_s_per_gib",
                "lister_read_units_per_medium",
                "lister_write_units_per_new_medium", "gopro_calls_per_medium")
    rows = [[name, _value(getattr(usage, name)), "measured (make bench)" if name in measured
             else "assumed"] for name in usage.__dataclass_fields__]
    return _table(["count", "value", "from"], rows)


def transfer_gb_s_per_gb(usage: Usage, memory_mb: float | None = None) -> float:
    """Lambda GB-seconds the transfer function bills per GB archived (memory x wall time)."""
    memory_gb = memory_mb / 1024 if memory_mb else usage.transfer_memory_gb
    return memory_gb * 8e3 / usage.transfer_mbit_s


def cpu_busy(usage: Usage, memory_mb: float) -> float:
    """The share of its vCPU the transfer function keeps busy at the transfer rate."""
    gib_per_s = usage.transfer_mbit_s * 1e6 / 8 / 1024**3
    return usage.transfer_cpu_s_per_gib * gib_per_s / (memory_mb / LAMBDA_MB_PER_VCPU)


def recommended_memory_mb(usage: Usage) -> int:
    """The smallest size whose CPU keeps up with headroom (the network share does not grow
    with memory above ~1 GB, and the transfer's peak RSS is far below 512 MB)."""
    for mb in MEMORY_SIZES_MB:
        if cpu_busy(usage, mb) <= CPU_HEADROOM:
            return mb
    return MEMORY_SIZES_MB[-1]


def compute_markdown(prices: Prices, usage: Usage) -> str:
    rows = [[f"{mb:,}", f"{mb / LAMBDA_MB_PER_VCPU:.2f}", f"{cpu_busy(usage, mb):.0%}",
             f"{transfer_gb_s_per_gb(usage, mb):.1f}",
             money(transfer_gb_s_per_gb(usage, mb) * 1000 * prices[LAMBDA_GB_SECOND])]
            for mb in MEMORY_SIZES_MB]
    best = recommended_memory_mb(usage)
    return "\n".join([
        f"One transfer invocation moves {usage.transfer_mbit_s:g} Mbit/s and spends "
        f"{usage.transfer_cpu_s_per_gib:.2f} CPU seconds per GiB (make bench):",
        "",
        _table(["memory MB", "vCPU", "CPU busy", "GB-s per GB archived", "per 1,000 GB"], rows),
        "",
        f"Recommended transfer memory: {best:,} MB (the smallest that keeps its CPU at most "
        f"{CPU_HEADROOM:.0%} busy; deployed: {usage.transfer_memory_gb * 1024:,.0f} MB, "
        "stack config functions.transfer.memoryMb).",
    ])


def stack_choices_markdown(prices: Prices, usage: Usage, lib: Library) -> str:
    """The fixed monthly cost of each monitoring choice (the default first)."""
    rows = []
    for custom, alarms in ((False, "essential"), (True, "essential"), (False, "all"),
                           (True, "all")):
        u = usage.stack(custom_metrics=custom, alarms=alarms)
        fixed = model(prices, u, lib, "default").monthly_fixed()
        rows.append([f"`customMetrics: {str(custom).lower()}`, `alarms: {alarms}`"
                     + (" (default)" if not custom and alarms == "essential" else ""),
                     str(u.custom_metrics), str(u.alarm_metrics), money(fixed.total)])
    return _table(["stack monitoring", "custom metrics", "alarm metrics", "fixed a month"], rows)


def report_markdown(prices: Prices, usage: Usage,
                    libraries: Sequence[Library] | None = None) -> str:
    libs = list(libraries or [Library(v, g) for v, g in STANDARD_SIZES])
    return "\n".join([
        f"Prices: {prices.region}, taken {prices.taken} (cloudsync_cli/prices.json, with the "
        "source of each). Upload on day 0, nothing new afterwards; 30-day months. Policies are "
        "cloudsync_defs.lifecycle's: `seed` Glacier IR at day 7 then Deep Archive at day 14 "
        "(as written; S3 refuses it), `default` Deep Archive at day 14, `deep-archive-now` "
        "Deep Archive from the first night.\n",
        comparison_markdown(prices, usage, libs),
        "",
        f"### Where the money goes: {libs[-1].label()}, policy `default`\n",
        breakdown_markdown(prices, usage, libs[-1], "default"),
        "",
        "### The seed's own estimate, reproduced (100 GB, 1,000 videos, first month)\n",
        seed_markdown(prices, usage),
        "",
        f"### Fixed monthly cost per monitoring choice (now: {usage.stack_label()})\n",
        stack_choices_markdown(prices, usage, libs[-1]),
        "",
        "### Lambda compute per GB archived, and the transfer function's memory\n",
        compute_markdown(prices, usage),
        "",
        "### Counts behind the model\n",
        usage_markdown(usage),
    ])


def draw_chart(path: Path, prices: Prices, usage: Usage,
               libraries: Sequence[Library] | None = None, months: int = 12) -> Path:
    """Cumulative cost over ``months`` per policy, one panel per library size (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    libs = list(libraries or [Library(v, g) for v, g in STANDARD_SIZES])
    fig, axes = plt.subplots(1, len(libs), figsize=(5.5 * len(libs), 4.2), squeeze=False)
    styles = {"seed": ("tab:red", "--"), "default": ("tab:blue", "-"),
              "deep-archive-now": ("tab:green", "-.")}
    for ax, lib in zip(axes[0], libs, strict=True):
        for name in POLICY_NAMES:
            color, style = styles[name]
            series = model(prices, usage, lib, name).cumulative(months)
            ax.plot(range(months + 1), series, style, color=color, marker="o", markersize=3,
                    label=f"{name}: ${series[-1]:,.0f}")
        ax.set_title(lib.label())
        ax.set_xlabel("months after the upload")
        ax.set_ylabel("cumulative cost (USD)")
        ax.set_xlim(0, months)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(title=f"policy: {months} months")
    # two lines: one panel is 5.5 inches wide, too narrow for the whole title on one
    fig.suptitle(f"cloudsync: cumulative cost per lifecycle policy\n{prices.region}, prices of "
                 f"{prices.taken}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- the CLI ----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--videos", type=int, default=None,
                        help="videos in the library (default: GB x 10, the seed's 100 MB each)")
    parser.add_argument("--gb", type=float, default=None,
                        help="library size in GB (default: videos / 10)")
    parser.add_argument("--policy", choices=POLICY_NAMES, default=None,
                        help="show this policy's line items (all three are compared anyway)")
    parser.add_argument("--months", type=int, default=12,
                        help=f"months of cumulative cost (1 to {MAX_MONTHS})")
    parser.add_argument("--chart", type=Path, default=None,
                        help="also draw the cumulative-cost chart (PNG) here")
    parser.add_argument("--seed-estimate", action="store_true",
                        help="reproduce the seed design's own estimate, line by line")
    parser.add_argument("--custom-metrics", action=argparse.BooleanOptionalAction,
                        default=False,
                        help="a stack deployed with customMetrics true (about $4 a month more); "
                             "the default stack has none")
    parser.add_argument("--alarms", choices=ALARM_SETS, default="essential",
                        help="the stack's alarms setting (all: per-function errors and "
                             "throttles too, two alarm metrics per function)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _libraries(args: argparse.Namespace) -> list[Library]:
    """The library asked for (``--videos``, ``--gb``; 0 is an answer, not "not given"), or the
    standard sizes; ``ValueError`` saying what is wrong."""
    if not 1 <= args.months <= MAX_MONTHS:
        raise ValueError(f"--months must be between 1 and {MAX_MONTHS}, not {args.months}")
    if args.videos is None and args.gb is None:
        return [Library(v, g) for v, g in STANDARD_SIZES]
    return [Library.of(args.videos, args.gb)]


def _given(args: argparse.Namespace) -> bool:
    return args.videos is not None or args.gb is not None


def run(args: argparse.Namespace) -> int:
    prices = load_prices()
    usage = Usage().stack(custom_metrics=args.custom_metrics, alarms=args.alarms)
    try:
        libs = _libraries(args)
    except ValueError as e:
        print(f"cloudsync cost: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_as_json(prices, usage, libs, args.months), indent=2))
    else:
        _print_text(args, prices, usage, libs)
    return 0


def _as_json(prices: Prices, usage: Usage, libs: Sequence[Library],
             months: int) -> dict[str, Any]:
    from . import options_cost  # it builds on this module

    out: list[dict[str, Any]] = []
    for lib in libs:
        for name in POLICY_NAMES:
            m = model(prices, usage, lib, name)
            out.append({"videos": lib.videos, "gb": lib.gb, "policy": name,
                        "first_month": round(m.month(1).total, 4),
                        "one_time": round(m.one_time().total, 4),
                        "steady_month": round(m.steady().total, 4),
                        "cumulative": [round(v, 4) for v in m.cumulative(months)],
                        "first_month_items": {k: round(v, 6)
                                              for k, v in m.month(1).items.items()}})
    options = [{"option": c.name, "fixed_month": round(c.fixed_month, 4),
                "first_month": round(c.first_month.total, 4),
                "steady_month": round(c.steady_month.total, 4), "rates": c.rates}
               for c in options_cost.option_costs(prices, usage, libs[-1])]
    return {"prices_taken": prices.taken, "region": prices.region, "stack": usage.stack_label(),
            "transfer_gb_s_per_gb": round(transfer_gb_s_per_gb(usage), 3),
            "recommended_transfer_memory_mb": recommended_memory_mb(usage),
            "estimates": out, "options": options}


def _print_text(args: argparse.Namespace, prices: Prices, usage: Usage,
                libs: Sequence[Library]) -> None:
    from . import options_cost  # it builds on this module

    print(f"cloudsync cost: {prices.region}, prices taken {prices.taken}; upload on day 0, "
          f"30-day months")
    print()
    print(comparison_markdown(prices, usage, libs, months=args.months))
    print()
    print(f"Stack: {usage.stack_label()}; fixed cost per monitoring choice "
          f"({libs[-1].label()}):")
    print(stack_choices_markdown(prices, usage, libs[-1]))
    print()
    print("Optional features, each off by default (stack config vpc, audit, fis; "
          "docs/DEPLOY.md), when on:")
    print(options_cost.options_markdown(prices, usage, libs[-1]))
    print()
    print("Lambda compute per GB archived:")
    print(compute_markdown(prices, usage))
    if args.policy:
        for lib in libs:
            print()
            print(f"{lib.label()}, policy {args.policy}:")
            print(breakdown_markdown(prices, usage, lib, args.policy))
    if args.seed_estimate or not _given(args):
        print()
        print("The seed's own estimate (100 GB, 1,000 videos), and where it is off:")
        print(seed_markdown(prices, usage))
    if args.chart is not None:
        path = draw_chart(args.chart, prices, usage, libs, args.months)
        print()
        print(f"chart: {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cloudsync_cli.cost`` (the CLI's ``cloudsync cost`` calls ``run``)."""
    parser = argparse.ArgumentParser(prog="cloudsync cost", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
