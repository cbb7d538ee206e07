"""Benchmark 4: the nightly lister over a big simulated library, requests counted exactly.

Runs ``list_library`` three times against the GoPro simulator and a DynamoDB in moto's server:
first over an empty tracker (every medium is new, a full listing), then twice over an unchanged
library whose rows are all COMPLETED (a normal night): once as a full listing (what every night
cost before the incremental listing, and what one night in ``fullListingDays`` still costs), once
as the incremental listing a normal night runs (newest uploads first, stopping at what the first
run saw). GoPro API calls come from the simulator's own counters; DynamoDB requests (and the
read/write units they consumed) from a botocore hook on the client. The seed's design, for
comparison, reads one item per video (GetItem) on every run.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import requests

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TABLE = "bench-tracker"
# Operations that accept ReturnConsumedCapacity (the hook asks for it, to count units).
_CAPACITY_OPS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem",
                           "BatchWriteItem", "Query", "Scan", "TransactWriteItems",
                           "TransactGetItems"})
_API_KEYS = ("search", "download", "media", "user", "token")


@dataclass
class RequestCounter:
    """Counts every DynamoDB request a client sends, and the capacity units consumed."""

    requests: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb", self._ask_capacity)
        client.meta.events.register("before-call.dynamodb", self._count)
        client.meta.events.register("after-call.dynamodb", self._units)

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in _CAPACITY_OPS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _count(self, model: Any, **_: Any) -> None:
        self.requests[model.name] += 1

    def _units(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        for c in entries:
            read = c.get("ReadCapacityUnits")
            write = c.get("WriteCapacityUnits")
            if read is None and write is None:  # only a total: reads and writes by operation
                total = float(c.get("CapacityUnits", 0.0))
                if model.name in ("GetItem", "BatchGetItem", "Query", "Scan",
                                  "TransactGetItems"):
                    self.read_units += total
                else:
                    self.write_units += total
            else:
                self.read_units += float(read or 0.0)
                self.write_units += float(write or 0.0)

    def reset(self) -> None:
        self.requests.clear()
        self.read_units = self.write_units = 0.0

    def snapshot(self) -> dict[str, Any]:
        return {"requests": dict(self.requests), "total": sum(self.requests.values()),
                "read_units": self.read_units, "write_units": self.write_units}


def _sim_stats(control_url: str) -> dict[str, int]:
    answer = requests.get(f"{control_url}/stats", timeout=10)
    answer.raise_for_status()
    stats = answer.json()
    assert isinstance(stats, dict)
    return {k: int(v) for k, v in stats.items()}


def _api_calls(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    diff = {k: after.get(k, 0) - before.get(k, 0) for k in _API_KEYS}
    # every request the simulator saw, less our own stats reads (one "control" each)
    control = after.get("control", 0) - before.get("control", 0)
    diff["total"] = after.get("requests", 0) - before.get("requests", 0) - control
    return diff


def mark_all_completed(client: DynamoDBClient, provider: str) -> int:
    """Rewrite every media row as COMPLETED (uncounted): the state after a finished night."""
    from cloudsync_core import schema

    done = 0
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        request: dict[str, Any] = {TABLE: pending[:]}
        while request:
            answer = client.batch_write_item(RequestItems=request)
            request = dict(answer.get("UnprocessedItems") or {})
        pending.clear()

    kwargs: dict[str, Any] = {"TableName": TABLE}
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            if item.get(schema.PARTITION_KEY, {}).get("S") != provider:
                continue
            item["status"] = {"S": "COMPLETED"}
            item[schema.STATUS_INDEX_PARTITION] = {"S": f"{provider}#COMPLETED"}
            pending.append({"PutRequest": {"Item": item}})
            done += 1
            if len(pending) == 25:
                flush()
        if not page.get("LastEvaluatedKey"):
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if pending:
        flush()
    return done


def run(endpoint: str, sim_info: dict[str, Any]) -> dict[str, Any]:
    """Both runs; the JSON-ready result (called in a child process: the lister logs a lot)."""
    from botocore.config import Config

    from cloudsync_core.credentials import AccessGrant, StoredCredentials
    from cloudsync_core.events import ListOptions
    from cloudsync_core.providers import create_provider
    from cloudsync_core.services import Services
    from cloudsync_core.settings import Settings
    from cloudsync_core.sync.listing import list_library
    from cloudsync_core.tracker import Tracker
    from cloudsync_defs.table import create_table_request

    config = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=10)
    session = boto3.session.Session(region_name="us-east-1")

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]

    dynamodb = client("dynamodb")
    dynamodb.create_table(**create_table_request(TABLE))
    counter = RequestCounter()
    counter.attach(dynamodb)
    settings = Settings(
        table=TABLE, bucket="bench", secret_id="bench/gopro",  # noqa: S106 - a name
        topic_arn="", state_machine_arn="",
        environment="bench", gopro_api_url=sim_info["base_url"], gopro_client_id="",
        gopro_client_secret="", max_concurrent_media=5, retry_budget=3, time_budget_s=240,
        lease_s=360, part_size_mib=0, parallel_ranges=8, media_types=(), max_items=None,
    )
    services = Services(settings=settings, dynamodb=dynamodb, s3=client("s3"),
                        secrets=client("secretsmanager"), sns=client("sns"),
                        sfn=client("stepfunctions"), tracker=Tracker(dynamodb, TABLE))
    creds = StoredCredentials(provider="gopro", mode="oauth",
                              access_token=sim_info["access_token"],
                              refresh_token=sim_info["refresh_token"],
                              expires_at=time.time() + 3 * 3600, updated_at=time.time())
    out: dict[str, Any] = {"media": sim_info["media"]}
    for label in ("first", "unchanged", "incremental"):
        if label == "unchanged":
            out["rows_completed"] = mark_all_completed(dynamodb, "gopro")
        provider = create_provider("gopro", settings=settings, grant=AccessGrant(creds))
        counter.reset()
        before = _sim_stats(sim_info["control_url"])
        started = time.perf_counter()
        report = list_library(services, provider, trigger="bench",
                              options=ListOptions(full=label == "unchanged"))
        seconds = time.perf_counter() - started
        after = _sim_stats(sim_info["control_url"])
        out[label] = {
            "seconds": seconds,
            "listed": report.listed,
            "new": report.new,
            "requeued": report.requeued,
            "mode": report.mode,
            "api": _api_calls(before, after),
            "dynamodb": counter.snapshot(),
        }
    return out


def main_child(endpoint: str, sim_json: str) -> int:
    print(json.dumps(run(endpoint, json.loads(sim_json))), flush=True)
    return 0


def seed_design_counts(media: int, page_size: int = 100, max_videos: int = 1000
                       ) -> dict[str, Any]:
    """The seed's lister as written (Component 2): pages of 100, one GetItem per video, at
    most MAX_VIDEOS (1,000) a run; the same on every night."""
    listed = min(media, max_videos)
    return {
        "listed_per_run": listed,
        "search_calls": -(-listed // page_size),
        "get_item": listed,
        "read_units": 0.5 * listed,  # eventually consistent reads of small items: 1/2 unit
    }


def night_counts(run: dict[str, Any]) -> dict[str, float]:
    """One night's cost: GoPro calls, search pages, DynamoDB requests and units, seconds."""
    db = run["dynamodb"]
    return {"gopro": run["api"]["total"], "search": run["api"]["search"],
            "requests": db["total"], "read_units": db["read_units"],
            "write_units": db["write_units"], "listed": run["listed"], "seconds": run["seconds"]}


def nightly_table(res: dict[str, Any], full_every_days: int = 7) -> str:
    """Per night on the unchanged library: a full listing, an incremental one, and the average
    of a week with one full listing every ``full_every_days`` nights."""
    from .report import table

    if "incremental" not in res:
        return ""
    full, inc = night_counts(res["unchanged"]), night_counts(res["incremental"])
    week = {k: (full[k] + (full_every_days - 1) * inc[k]) / full_every_days for k in full}
    rows = []
    ran = res["incremental"].get("mode", "incremental")
    for label, c in (("full listing", full),
                     ("incremental listing" + ("" if ran == "incremental" else f" (ran {ran})"),
                      inc),
                     (f"average night, a full listing every {full_every_days} days", week)):
        rows.append([label, f"{c['listed']:,.0f}", f"{c['gopro']:,.1f}", f"{c['search']:,.1f}",
                     f"{c['requests']:,.1f}", f"{c['read_units']:,.1f}",
                     f"{c['write_units']:,.1f}", f"{c['seconds']:.2f}"])
    media = res["media"]
    return "\n".join([
        f"Per night on the unchanged {media:,}-medium library (every row COMPLETED), absolute "
        "counts. The incremental listing asks GoPro for the newest uploads first "
        "(`order_by=created_at`) and stops once 20 media past the last complete listing's "
        "newest upload less a 48-hour overlap have shown the order; the full listing still runs "
        f"every `fullListingDays` (default {full_every_days}) nights.\n",
        table(["night", "media looked at", "GoPro calls", "search pages", "DynamoDB requests",
               "read units", "write units", "seconds"], rows),
    ])


def section(res: dict[str, Any]) -> str:
    """Benchmark 4's markdown: counts per 1,000 media, beside the seed design's."""
    from .report import table

    media = res["media"]
    per = 1000 / media
    seed_counts = seed_design_counts(media)
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
    first_db = res["first"]["dynamodb"]["requests"]
    return "\n".join([
        f"## 4. Lister scale: a {media:,}-medium library\n",
        nightly_table(res), "",
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
