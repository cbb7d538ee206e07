"""The per-medium workflow as the state machine runs it, over warm containers (bench.container).

Each medium goes Claim (the workflow's own conditional update) -> prepare -> a Map of transfer
invocations (at most ``map_concurrency`` at once) -> finalize, and round again when finalize
leaves it to a continuation; at most ``media_at_once`` media are in flight (the stack's slot
bound). Transient errors are retried as the workflow's Retry lists do (the same error names,
shorter waits); anything else ends the medium as failed, counted in the result. Every
invocation runs in a container process of its own: the bench process only dispatches.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from queue import Queue
from typing import Any

import boto3
from botocore.config import Config

from .procs import Child, ChildError, py_child

PROVIDER = "gopro"
RETRIES = 4
RETRY_WAIT_S = 0.2


@dataclass(frozen=True)
class Invocation:
    fn: str
    media_id: str
    ok: bool
    seconds: float
    cpu_seconds: float
    memory_mb: int
    rss_before_mib: float
    peak_rss_mib: float
    result: Any = None
    error_type: str = ""
    message: str = ""
    requests: tuple[tuple[str, float], ...] = ()  # (service.Operation, seconds), in order


class Pool:
    """Warm containers, one invocation each at a time (Lambda's model); grows when all are busy."""

    def __init__(self, size: int) -> None:
        self._idle: Queue[Child] = Queue()
        self._all: list[Child] = []
        self._lock = threading.Lock()
        with ThreadPoolExecutor(min(size, 8)) as pool:
            for child in pool.map(lambda _i: self._start(), range(size)):
                self._idle.put(child)

    def _start(self) -> Child:
        child = py_child("lambda", name="lambda container", ready_timeout=180)
        child.start()
        with self._lock:
            self._all.append(child)
        return child

    def invoke(self, fn: str, event: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
        child = self._idle.get_nowait() if not self._idle.empty() else self._start()
        proc = child.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"fn": fn, "event": event, "env": env}) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise ChildError(f"a {fn} container died: {child.stderr_tail()}")
        self._idle.put(child)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def warm(self, env: dict[str, str]) -> list[float]:
        """Build every idle container's clients for ``env``; each one's seconds (a cold start)."""
        idle = []
        while not self._idle.empty():
            idle.append(self._idle.get_nowait())

        def one(child: Child) -> float:
            proc = child.proc
            assert proc is not None and proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps({"warm": True, "env": env}) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            if not line:
                raise ChildError(f"a container died: {child.stderr_tail()}")
            return float(json.loads(line)["seconds"])

        try:
            with ThreadPoolExecutor(max(1, len(idle))) as pool:
                return list(pool.map(one, idle))
        finally:
            for child in idle:
                self._idle.put(child)

    def close(self) -> None:
        for child in self._all:
            child.stop()


@dataclass
class Stack:
    """One deployment's worth of resources in the sink, and the functions' environment."""

    endpoint: str  # the sink: S3
    name: str
    gopro_api_url: str
    bucket: str = "archive"
    parallel_ranges: int = 8
    part_size_mib: int = 0
    control_endpoint: str = ""  # DynamoDB, Secrets Manager, SNS ("": the sink's endpoint)

    @property
    def control(self) -> str:
        return self.control_endpoint or self.endpoint

    @property
    def table(self) -> str:
        return f"{self.name}-tracker"

    @property
    def secret(self) -> str:
        return f"{self.name}/gopro"

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.control,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "CLOUDSYNC_TABLE": self.table,
            "CLOUDSYNC_BUCKET": self.bucket,
            "CLOUDSYNC_SECRET_ID": self.secret,
            "CLOUDSYNC_TOPIC_ARN": f"arn:aws:sns:us-east-1:123456789012:{self.name}",
            "CLOUDSYNC_ENVIRONMENT": "bench",
            "GOPRO_API_URL": self.gopro_api_url,
            "CLOUDSYNC_PARALLEL_RANGES": str(self.parallel_ranges),
            "CLOUDSYNC_PART_SIZE_MIB": str(self.part_size_mib),
            "POWERTOOLS_SERVICE_NAME": "cloudsync-bench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }

    def client(self, service: str) -> Any:
        config = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=20)
        endpoint = self.endpoint if service == "s3" else self.control
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",  # type: ignore[call-overload]
                            config=config)

    def create(self, sim_info: dict[str, Any]) -> None:
        """Table, secret (the simulator's tokens), topic, slot row; the bucket if missing."""
        from cloudsync_core.credentials import StoredCredentials
        from cloudsync_core.tracker import Tracker
        from cloudsync_defs.table import create_table_request

        dynamodb = self.client("dynamodb")
        dynamodb.create_table(**create_table_request(self.table))
        creds = StoredCredentials(provider=PROVIDER, mode="oauth",
                                  access_token=sim_info["access_token"],
                                  refresh_token=sim_info["refresh_token"],
                                  expires_at=time.time() + 5 * 3600, updated_at=time.time())
        self.client("secretsmanager").create_secret(Name=self.secret,
                                                    SecretString=creds.to_json())
        self.client("sns").create_topic(Name=self.name)
        Tracker(dynamodb, self.table).ensure_slot_row()
        s3 = self.client("s3")
        try:
            s3.create_bucket(Bucket=self.bucket)
            s3.put_bucket_versioning(Bucket=self.bucket,
                                     VersioningConfiguration={"Status": "Enabled"})
        except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            pass


@dataclass
class RunResult:
    """One workflow run over a set of media."""

    seconds: float
    bytes: int
    completed: int
    failed: list[str] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    part_sizes: dict[str, int] = field(default_factory=dict)  # key -> the part size it used

    def of(self, fn: str) -> list[Invocation]:
        return [i for i in self.invocations if i.fn == fn]


class Workflow:
    """Drives media through the real functions as the state machine does."""

    def __init__(self, pool: Pool, stack: Stack, *, map_concurrency: int = 4,
                 media_at_once: int = 5, record_part_sizes: bool = True) -> None:
        from cloudsync_core.errors import transient_error_names

        self.pool, self.stack = pool, stack
        self.map_concurrency, self.media_at_once = map_concurrency, media_at_once
        self.record_part_sizes = record_part_sizes
        self.transient = frozenset(transient_error_names())
        self.dynamodb = stack.client("dynamodb")
        self.invocations: list[Invocation] = []
        self.part_sizes: dict[str, int] = {}
        self._queued: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def list_library(self) -> dict[str, Any]:
        """The lister function (the nightly job): new media become PENDING rows."""
        answer = self._call("list", {"trigger": "bench"}, "-")
        return dict(answer or {})

    def pending(self) -> list[str]:
        from cloudsync_core.tracker import Tracker

        rows = Tracker(self.dynamodb, self.stack.table).by_status(PROVIDER, "PENDING")
        # What the stream record hands the start function (wake, run): no read on the chain.
        self._queued = {r.media_id: (int(r.wake), r.run_id or "") for r in rows}
        return sorted(self._queued)

    def run(self, media_ids: Sequence[str]) -> RunResult:
        self.invocations = []
        self.part_sizes = {}
        failed: list[str] = []
        moved = 0
        started = time.perf_counter()
        with ThreadPoolExecutor(self.media_at_once) as pool:
            for media_id, outcome in zip(media_ids, pool.map(self._archive, media_ids),
                                         strict=True):
                if outcome is None:
                    failed.append(media_id)
                else:
                    moved += outcome
        seconds = time.perf_counter() - started
        return RunResult(seconds, moved, len(media_ids) - len(failed), failed,
                         list(self.invocations), dict(self.part_sizes))

    def _part_sizes(self, media_id: str) -> dict[str, int]:
        """The part size prepare chose for each original (its upload record, where it has one)."""
        uploads = self._row(media_id).get("uploads", {}).get("M", {})
        out = {}
        for record in uploads.values():
            fields = record.get("M", {})
            key, part = fields.get("key", {}).get("S"), fields.get("part_size", {}).get("N")
            if key and part:
                out[key] = int(part)
        return out

    # one medium ------------------------------------------------------------------------------
    def _archive(self, media_id: str) -> int | None:
        """Bytes archived, or None when the medium failed."""
        for round_ in range(20):  # continuations
            if round_ == 0 and media_id in self._queued:
                wake, run_id = self._queued[media_id]
            else:  # a continuation's new stream record: the row as finalize left it
                row = self._row(media_id)
                wake, run_id = int(row["wake"]["N"]), row.get("run_id", {}).get("S", "")
            self._claim(media_id, wake)
            step = {"provider": PROVIDER, "media_id": media_id, "wake": wake, "run_id": run_id,
                    "correlation_id": uuid.uuid4().hex,
                    "started_at": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
            plan = self._call("prepare", step, media_id)
            if plan is None:
                return None
            if self.record_part_sizes:  # a read the workflow does not make: only when asked
                sizes = self._part_sizes(media_id)  # the plan is in the row until finalize
                with self._lock:
                    self.part_sizes.update(sizes)
            events = [{"provider": PROVIDER, "media_id": media_id, "wake": wake,
                       "correlation_id": step["correlation_id"], "deadline": plan["deadline"],
                       "slice": s} for s in plan["slices"]]
            with ThreadPoolExecutor(self.map_concurrency) as pool:
                results = list(pool.map(lambda e: self._call("transfer", e, media_id), events))
            if any(r is None for r in results):
                return None
            final = {k: step[k] for k in ("provider", "media_id", "wake", "run_id",
                                          "correlation_id")}
            outcome = self._call("finalize", final, media_id)
            if outcome is None:
                return None
            if outcome.get("status") == "COMPLETED":
                return int(plan.get("bytes", 0))
            if outcome.get("status") != "CONTINUED":
                return None
        return None

    def _row(self, media_id: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(TableName=self.stack.table, ConsistentRead=True,
                                      Key={"provider": {"S": PROVIDER},
                                           "media_id": {"S": media_id}})["Item"]
        return dict(item)

    def _claim(self, media_id: str, wake: int) -> None:
        """The workflow's Claim state (transfer.asl.json), the same conditional update."""
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self.dynamodb.update_item(
            TableName=self.stack.table,
            Key={"provider": {"S": PROVIDER}, "media_id": {"S": media_id}},
            UpdateExpression="SET #status = :busy, provider_status = :ps, status_changed_at = "
                             ":now, claimed_at = :now, attempt = if_not_exists(attempt, :zero) "
                             "+ :one",
            ConditionExpression="(#status = :pending OR #status = :queued) AND wake = :wake",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":busy": {"S": "IN_PROGRESS"}, ":pending": {"S": "PENDING"},
                ":queued": {"S": "QUEUED"}, ":ps": {"S": f"{PROVIDER}#IN_PROGRESS"},
                ":now": {"S": now}, ":wake": {"N": str(wake)}, ":zero": {"N": "0"},
                ":one": {"N": "1"}},
        )

    def _call(self, fn: str, event: dict[str, Any], media_id: str) -> Any:
        """One Task state: the invocation, retried on the transient errors the ASL retries."""
        for attempt in range(RETRIES + 1):
            answer = self.pool.invoke(fn, event, self.stack.env())
            inv = Invocation(fn, media_id, bool(answer["ok"]), float(answer["seconds"]),
                             float(answer.get("cpu_seconds", 0.0)), int(answer["memory_mb"]),
                             float(answer["rss_before_mib"]), float(answer["peak_rss_mib"]),
                             answer.get("result"), str(answer.get("error_type", "")),
                             str(answer.get("message", "")),
                             tuple((str(n), float(t)) for n, t in answer.get("requests", [])))
            with self._lock:
                self.invocations.append(inv)
            if inv.ok:
                return inv.result
            if inv.error_type not in self.transient or attempt == RETRIES:
                return None
            time.sleep(RETRY_WAIT_S * 2**attempt)
        return None


def errors(invocations: Iterable[Invocation]) -> list[str]:
    return [f"{i.fn} {i.media_id}: {i.error_type}: {i.message}" for i in invocations if not i.ok]


def gb_seconds(invocations: Iterable[Invocation], fns: Sequence[str] = ("transfer",)) -> float:
    """Lambda's billed measure: configured memory x wall time, over the given functions."""
    return sum(i.memory_mb / 1024 * i.seconds for i in invocations if i.fn in fns)


Clock = Callable[[], float]
