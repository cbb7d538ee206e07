"""The local cloud runs the REAL transfer ASL in moto, with small fake handlers.

The fakes behave like the real functions at their edges (they read their settings from the
environment, use boto3 against ``AWS_ENDPOINT_URL``, raise the real error classes, start
executions the way the starter does), so these tests check the local cloud and the workflow
definition, not the handlers: slot and claim on DynamoDB, Retry and Catch by error name, Map
concurrency, the stream mapping with its filter and batch-failure semantics, the schedule, the
invoke seam over HTTP, and ``cloudsync local up``'s ready line.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloudsync_core import schema
from cloudsync_core.errors import InvalidMediaError, LeaseLostError, TransientError
from cloudsync_defs import stack as stack_contract
from cloudsync_defs.functions import FUNCTIONS
from cloudsync_defs.lifecycle import DEFAULT_POLICY, POLICIES, lifecycle_rules
from cloudsync_defs.workflow import StateRetryPolicy, render_transfer_definition
from cloudsync_local.cloud import LocalCloud

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
FAST_RETRY = StateRetryPolicy(interval_s=1, max_attempts=2, backoff_rate=1.0, max_delay_s=1)
MAX_MEDIA = 2
MAP_CONCURRENCY = 2
SLOT_KEY = {"provider": {"S": schema.SLOTS_PROVIDER}, "media_id": {"S": schema.SLOTS_ID}}


# --- fake handlers ------------------------------------------------------------------------


class Fakes:
    """Fake functions with a script, thread-safe, recording what happened.

    Behaviour by media id: ``flaky-*`` raises TransientError on its first prepare;
    ``broken-*`` raises InvalidMediaError; ``slow-*`` transfers slowly (slot bound);
    ``nostart-*`` makes the starter report the record failed every time; ``hiccup-*`` makes it
    report it failed once; ``badslice-*`` fails one slice for good; ``leaselost-*`` raises
    LeaseLostError in prepare; ``hold-*`` transfers until ``release`` is set.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.started: Counter[str] = Counter()  # media id -> executions started
        self.started_wake: Counter[tuple[str, int]] = Counter()  # (media id, wake) -> starts
        self.start_failures: Counter[str] = Counter()
        self.active_media: set[str] = set()
        self.max_active_media = 0
        self.active_slices: defaultdict[str, int] = defaultdict(int)
        self.max_active_slices = 0
        self.woken: list[str] = []
        self.list_events: list[Any] = []
        self.duplicate_starts = False
        self.release = threading.Event()
        self.holding = threading.Event()

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def handlers(self) -> dict[str, Callable[[Any, Any], Any]]:
        return {
            "list": self.list_media,
            "start": self.start,
            "prepare": self.prepare,
            "transfer": self.transfer,
            "finalize": self.finalize,
            "mark_failed": self.mark_failed,
            "notify": self.notify,
        }

    def _count(self, name: str, media_id: str) -> int:
        with self.lock:
            self.calls[(name, media_id)] += 1
            return self.calls[(name, media_id)]

    # -- the functions --

    def list_media(self, event: Any, context: Any) -> dict[str, Any]:
        self.list_events.append(event)
        assert context.function_name.endswith("-list")
        run_id = "run-scheduled"
        put_run(run_id, total=2)
        for media_id in ("sched-a", "sched-b"):
            put_pending(media_id, run_id)
        return {"run_id": run_id}

    def start(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Like the real starter: one execution per record, unique name per delivery."""
        sfn = boto3.client("stepfunctions")
        failures: list[dict[str, str]] = []
        for record in event["Records"]:
            image = record["dynamodb"]["NewImage"]
            media_id = image["media_id"]["S"]
            wake = int(image["wake"]["N"])
            run_id = image.get("run_id", {}).get("S", "")
            sequence = record["dynamodb"]["SequenceNumber"]
            with self.lock:
                fail = media_id.startswith("nostart-") or (
                    media_id.startswith("hiccup-") and not self.start_failures[media_id]
                )
                if fail:
                    self.start_failures[media_id] += 1
            if fail:
                failures.append({"itemIdentifier": sequence})
                continue
            body = json.dumps({
                "provider": image["provider"]["S"], "media_id": media_id, "wake": wake,
                "run_id": run_id, "correlation_id": f"{run_id}/{media_id}/w{wake}",
            })
            copies = 2 if self.duplicate_starts else 1  # a duplicated delivery
            for copy in range(copies):
                digest = hashlib.sha256(f"{record['eventID']}/{copy}".encode()).hexdigest()[:12]
                sfn.start_execution(
                    stateMachineArn=os.environ["CLOUDSYNC_STATE_MACHINE_ARN"],
                    name=f"{media_id}-w{wake}-{digest}", input=body,
                )
                with self.lock:
                    self.started[media_id] += 1
                    self.started_wake[(media_id, wake)] += 1
        return {"batchItemFailures": failures}

    def prepare(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        media_id = event["media_id"]
        assert set(event) >= {"provider", "media_id", "wake", "run_id", "correlation_id"}
        assert 0 < context.get_remaining_time_in_millis() <= 120_000
        attempt = self._count("prepare", media_id)
        if media_id.startswith("flaky-") and attempt == 1:
            raise TransientError("the source hiccuped")
        if media_id.startswith("broken-"):
            raise InvalidMediaError("this medium cannot be archived")
        if media_id.startswith("leaselost-"):
            raise LeaseLostError("another execution owns this medium")
        with self.lock:
            self.active_media.add(media_id)
            self.max_active_media = max(self.max_active_media, len(self.active_media))
        return {"slices": [{"index": i} for i in range(4)], "deadline": time.time() + 60}

    def transfer(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        media_id = event["media_id"]
        self._count("transfer", media_id)
        with self.lock:
            self.active_slices[media_id] += 1
            self.max_active_slices = max(self.max_active_slices, self.active_slices[media_id])
        try:
            if media_id.startswith("badslice-") and event["slice"]["index"] == 2:
                raise InvalidMediaError("slice 2 refused")
            if media_id.startswith("hold-"):
                self.holding.set()
                assert self.release.wait(30)
            time.sleep(0.3 if media_id.startswith("slow-") else 0.05)
        finally:
            with self.lock:
                self.active_slices[media_id] -= 1
        return {"slice": event["slice"]["index"]}

    def finalize(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        media_id = event["media_id"]
        self._count("finalize", media_id)
        table().update_item(
            TableName=table_name(), Key=key(media_id),
            UpdateExpression="SET #s = :done, provider_status = :ps",
            ConditionExpression="#s = :busy AND wake = :wake",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":done": {"S": "COMPLETED"}, ":busy": {"S": "IN_PROGRESS"},
                ":ps": {"S": "gopro#COMPLETED"}, ":wake": {"N": str(event["wake"])},
            },
        )
        with self.lock:
            self.active_media.discard(media_id)
        return self._finish(media_id, event["run_id"])

    def mark_failed(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        media_id = event["media_id"]
        self._count("mark_failed", media_id)
        error = event["error"]
        cause = json.loads(error["Cause"])
        table().update_item(
            TableName=table_name(), Key=key(media_id),
            UpdateExpression="SET #s = :failed, provider_status = :ps, error_type = :t, "
                             "error_message = :m",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":failed": {"S": "FAILED"}, ":ps": {"S": "gopro#FAILED"},
                ":t": {"S": error["Error"]}, ":m": {"S": cause["errorMessage"]},
            },
        )
        with self.lock:
            self.active_media.discard(media_id)
        return self._finish(media_id, event["run_id"])

    def notify(self, event: dict[str, Any], context: Any) -> None:
        run = table().get_item(
            TableName=table_name(), Key=run_key(event["run_id"]), ConsistentRead=True
        )["Item"]
        failed = [
            item["media_id"]["S"]
            for item in table().scan(TableName=table_name())["Items"]
            if item.get("run_id", {}).get("S") == event["run_id"]
            and item.get("status", {}).get("S") == "FAILED"
        ]
        boto3.client("sns").publish(
            TopicArn=os.environ["CLOUDSYNC_TOPIC_ARN"],
            Subject=f"cloudsync run {event['run_id']}",
            Message=json.dumps({"run_id": event["run_id"], "finished": int(run["finished"]["N"]),
                                "failed": sorted(failed)}),
        )

    # -- shared by finalize and mark_failed: release the slot, wake a queued one, fan-in --

    def _finish(self, media_id: str, run_id: str) -> dict[str, Any]:
        table().update_item(
            TableName=table_name(), Key=SLOT_KEY, UpdateExpression="REMOVE holders.#h",
            ExpressionAttributeNames={"#h": f"gopro/{media_id}"},
        )
        queued = table().query(
            TableName=table_name(), IndexName=schema.STATUS_INDEX,
            KeyConditionExpression="provider_status = :q",
            ExpressionAttributeValues={":q": {"S": "gopro#QUEUED"}}, Limit=1,
        )["Items"]
        for item in queued:
            try:
                table().update_item(
                    TableName=table_name(), Key=key(item["media_id"]["S"]),
                    UpdateExpression="SET #s = :p, provider_status = :ps ADD wake :one",
                    ConditionExpression="#s = :q",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":p": {"S": "PENDING"}, ":ps": {"S": "gopro#PENDING"},
                        ":q": {"S": "QUEUED"}, ":one": {"N": "1"},
                    },
                )
                with self.lock:
                    self.woken.append(item["media_id"]["S"])
            except table().exceptions.ConditionalCheckFailedException:
                pass
        run = table().update_item(
            TableName=table_name(), Key=run_key(run_id), UpdateExpression="ADD finished :one",
            ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW",
        )["Attributes"]
        return {"run_complete": int(run["finished"]["N"]) >= int(run["total"]["N"])}


def table() -> Any:
    return boto3.client("dynamodb")


def table_name() -> str:
    return os.environ["CLOUDSYNC_TABLE"]


def key(media_id: str) -> dict[str, Any]:
    return {"provider": {"S": "gopro"}, "media_id": {"S": media_id}}


def run_key(run_id: str) -> dict[str, Any]:
    return {"provider": {"S": schema.RUN_PROVIDER}, "media_id": {"S": run_id}}


def put_run(run_id: str, total: int) -> None:
    table().put_item(
        TableName=table_name(),
        Item={**run_key(run_id), "total": {"N": str(total)}, "finished": {"N": "0"}},
    )


def put_pending(media_id: str, run_id: str, wake: int = 1) -> None:
    table().put_item(
        TableName=table_name(),
        Item={
            **key(media_id), "status": {"S": "PENDING"}, "wake": {"N": str(wake)},
            "run_id": {"S": run_id}, "provider_status": {"S": "gopro#PENDING"},
            "status_changed_at": {"S": time.strftime("%Y-%m-%dT%H:%M:%S")},
        },
    )


def row(media_id: str) -> dict[str, Any]:
    item: dict[str, Any] = table().get_item(
        TableName=table_name(), Key=key(media_id), ConsistentRead=True
    )["Item"]
    return item


def holders() -> dict[str, Any]:
    item = table().get_item(TableName=table_name(), Key=SLOT_KEY, ConsistentRead=True)["Item"]
    value: dict[str, Any] = item["holders"]["M"]
    return value


# --- fixtures -----------------------------------------------------------------------------

FAKES = Fakes()


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(
        handlers=FAKES.handlers(), retry=FAST_RETRY, max_concurrent_media=MAX_MEDIA,
        map_concurrency=MAP_CONCURRENCY, stack="e2e", async_retry_delay_s=0.1,
        stream_retry_delay_s=0.05,
    ) as running:
        # The slot row exists before any medium moves (the stack's first run creates it).
        running.client("dynamodb").put_item(
            TableName=running.outputs()["table"],
            Item={**SLOT_KEY, "holders": {"M": {}}},
        )
        yield running


@pytest.fixture
def fakes(cloud: LocalCloud) -> Iterator[Fakes]:
    FAKES.reset()
    yield FAKES
    cloud.wait_idle(30)


def run_media(cloud: LocalCloud, run_id: str, media: list[str], timeout: float = 60) -> None:
    put_run(run_id, total=len(media))
    for media_id in media:
        put_pending(media_id, run_id)
    cloud.wait_idle(timeout)


# --- the stack ----------------------------------------------------------------------------


def test_outputs_name_every_resource_and_are_published_in_ssm(cloud: LocalCloud) -> None:
    out = cloud.outputs()
    for name in ("endpoint_url", "bucket", "table", "state_machine_arn", "secret_id",
                 "topic_arn", "region", "alerts_queue_url", "list_function"):
        assert out[name], name
    assert out["endpoint_url"].startswith("http://127.0.0.1:")
    ssm = boto3.client("ssm", endpoint_url=out["endpoint_url"], region_name=out["region"])
    published = json.loads(
        ssm.get_parameter(Name="/cloudsync/e2e/outputs")["Parameter"]["Value"]
    )
    # the stack contract's key case, the Pulumi program's (camelCase): one reader for both
    assert published == stack_contract.outputs_document(out)
    assert {"stateMachineArn", "secretId", "listFunction"} <= set(published)


def test_resources_come_from_the_shared_definitions(cloud: LocalCloud) -> None:
    out = cloud.outputs()
    # Standard tools see everything: a fresh boto3 client on the endpoint, nothing else.
    session = boto3.session.Session(region_name=out["region"])

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=out["endpoint_url"])  # type: ignore[call-overload]

    described = client("dynamodb").describe_table(TableName=out["table"])["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in described["KeySchema"]} == {
        schema.PARTITION_KEY: "HASH", schema.SORT_KEY: "RANGE"
    }
    assert [i["IndexName"] for i in described["GlobalSecondaryIndexes"]] == [schema.STATUS_INDEX]
    assert described["StreamSpecification"] == {
        "StreamEnabled": True, "StreamViewType": schema.STREAM_VIEW_TYPE
    }
    backups = client("dynamodb").describe_continuous_backups(TableName=out["table"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"

    s3 = client("s3")
    assert s3.get_bucket_versioning(Bucket=out["bucket"])["Status"] == "Enabled"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=out["bucket"])["Rules"]
    assert rules == lifecycle_rules(POLICIES[DEFAULT_POLICY], ["gopro-videos/"])

    secret = client("secretsmanager").describe_secret(SecretId=out["secret_id"])
    assert not secret.get("VersionIdsToStages")  # empty until `cloudsync login`

    functions = {f["FunctionName"] for f in client("lambda").list_functions()["Functions"]}
    assert functions >= {f"cloudsync-e2e-{spec.name}" for spec in FUNCTIONS}

    machine = client("stepfunctions").describe_state_machine(
        stateMachineArn=out["state_machine_arn"]
    )
    assert machine["type"] == "EXPRESS"
    assert machine["definition"] == render_transfer_definition(
        function_arns=cloud.function_arns, table_name=out["table"],
        max_concurrent_media=MAX_MEDIA, map_concurrency=MAP_CONCURRENCY, retry=FAST_RETRY,
    )
    topics = client("sns").list_topics()["Topics"]
    assert {"TopicArn": out["topic_arn"]} in topics


# --- the workflow, through the stream -----------------------------------------------------


def test_happy_path_claims_transfers_and_releases_the_slot(
    cloud: LocalCloud, fakes: Fakes
) -> None:
    run_media(cloud, "run-happy", ["happy-1"])
    item = row("happy-1")
    assert item["status"]["S"] == "COMPLETED"
    assert item["attempt"]["N"] == "1"  # the Claim counted it
    assert fakes.started["happy-1"] == 1
    assert fakes.calls[("transfer", "happy-1")] == 4  # one per slice
    assert fakes.calls[("finalize", "happy-1")] == 1
    assert "gopro/happy-1" not in holders()


def test_transient_error_is_retried_by_the_workflow(cloud: LocalCloud, fakes: Fakes) -> None:
    run_media(cloud, "run-flaky", ["flaky-1"])
    assert fakes.calls[("prepare", "flaky-1")] == 2
    assert row("flaky-1")["status"]["S"] == "COMPLETED"
    assert fakes.calls[("mark_failed", "flaky-1")] == 0


def test_permanent_error_is_caught_recorded_and_reported(
    cloud: LocalCloud, fakes: Fakes
) -> None:
    cloud.messages()  # drain
    run_media(cloud, "run-broken", ["broken-1", "fine-1"])
    assert fakes.calls[("prepare", "broken-1")] == 1  # not retried: not a transient name
    item = row("broken-1")
    assert item["status"]["S"] == "FAILED"
    assert item["error_type"]["S"] == "InvalidMediaError"
    assert item["error_message"]["S"] == "this medium cannot be archived"
    assert row("fine-1")["status"]["S"] == "COMPLETED"
    messages = cloud.messages(wait_s=5)
    assert len(messages) == 1  # the last medium of the run notified, once
    assert messages[0]["Subject"] == "cloudsync run run-broken"
    assert json.loads(messages[0]["Message"]) == {
        "run_id": "run-broken", "finished": 2, "failed": ["broken-1"]
    }
    assert holders() == {}


def test_slot_bound_queues_and_wakes_without_stranding(cloud: LocalCloud, fakes: Fakes) -> None:
    media = [f"slow-{i}" for i in range(5)]
    run_media(cloud, "run-slots", media, timeout=90)
    assert fakes.max_active_media <= MAX_MEDIA
    assert fakes.woken, "some media should have queued and been woken"
    for media_id in media:
        assert row(media_id)["status"]["S"] == "COMPLETED", media_id
        assert fakes.calls[("finalize", media_id)] == 1
    assert holders() == {}


def test_map_runs_slices_with_bounded_concurrency(cloud: LocalCloud, fakes: Fakes) -> None:
    run_media(cloud, "run-map", ["slow-map"])
    assert fakes.calls[("transfer", "slow-map")] == 4
    assert fakes.max_active_slices == MAP_CONCURRENCY


def test_duplicate_delivery_transfers_once(cloud: LocalCloud, fakes: Fakes) -> None:
    fakes.duplicate_starts = True
    run_media(cloud, "run-dup", ["dup-1", "dup-2"])
    for media_id in ("dup-1", "dup-2"):
        assert fakes.started[media_id] == 2
        assert fakes.calls[("prepare", media_id)] == 1
        assert fakes.calls[("finalize", media_id)] == 1
        assert row(media_id)["status"]["S"] == "COMPLETED"


def test_lost_race_claim_succeeds_quietly(cloud: LocalCloud, fakes: Fakes) -> None:
    run_media(cloud, "run-race", ["race-1"])
    sfn = cloud.client("stepfunctions")
    # A stale execution (an old wake-up of a medium that has moved on) loses the claim.
    arn = sfn.start_execution(
        stateMachineArn=cloud.outputs()["state_machine_arn"], name="race-1-stale",
        input=json.dumps({"provider": "gopro", "media_id": "race-1", "wake": 1,
                          "run_id": "run-race", "correlation_id": "x"}),
    )["executionArn"]
    cloud.wait_idle(30)
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=arn)["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert entered == ["Stamp", "TakeSlot", "Claim", "ReleaseLostSlot", "NotOurs"]
    assert fakes.calls[("prepare", "race-1")] == 1
    assert row("race-1")["status"]["S"] == "COMPLETED"


def test_a_failed_slice_fails_the_map_with_its_own_error_name(
    cloud: LocalCloud, fakes: Fakes
) -> None:
    run_media(cloud, "run-badslice", ["badslice-1"])
    assert fakes.calls[("mark_failed", "badslice-1")] == 1
    item = row("badslice-1")
    assert item["status"]["S"] == "FAILED"
    assert item["error_type"]["S"] == "InvalidMediaError"
    assert holders() == {}


def test_lease_lost_ends_quietly_without_marking_failed(cloud: LocalCloud, fakes: Fakes) -> None:
    try:
        run_media(cloud, "run-lease", ["leaselost-1"])
        assert fakes.calls[("prepare", "leaselost-1")] == 1
        assert fakes.calls[("mark_failed", "leaselost-1")] == 0
        assert row("leaselost-1")["status"]["S"] == "IN_PROGRESS"  # the new owner's business
    finally:  # the slot entry belongs to the medium's new owner, which this test lacks
        table().update_item(
            TableName=table_name(), Key=SLOT_KEY, UpdateExpression="REMOVE holders.#h",
            ExpressionAttributeNames={"#h": "gopro/leaselost-1"},
        )


def test_a_losing_duplicate_keeps_the_winners_slot(cloud: LocalCloud, fakes: Fakes) -> None:
    sfn = cloud.client("stepfunctions")
    body = json.dumps({"provider": "gopro", "media_id": "hold-1", "wake": 1,
                       "run_id": "run-hold", "correlation_id": "x"})
    put_run("run-hold", total=1)
    put_pending("hold-1", "run-hold")
    try:
        assert fakes.holding.wait(30)  # the winner is transferring, holding its slot
        assert "gopro/hold-1" in holders()
        arn = sfn.start_execution(
            stateMachineArn=cloud.outputs()["state_machine_arn"], name="hold-1-duplicate",
            input=body,
        )["executionArn"]
        deadline = time.monotonic() + 30
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "gopro/hold-1" in holders()
    finally:
        fakes.release.set()
        cloud.wait_idle(30)
        table().update_item(
            TableName=table_name(), Key=SLOT_KEY, UpdateExpression="REMOVE holders.#h",
            ExpressionAttributeNames={"#h": "gopro/hold-1"},
        )


# --- the event source mapping -------------------------------------------------------------


def test_partial_batch_failure_is_retried_from_the_failed_record(
    cloud: LocalCloud, fakes: Fakes
) -> None:
    run_media(cloud, "run-hiccup", ["ok-before", "hiccup-1", "ok-after"])
    assert fakes.start_failures["hiccup-1"] == 1
    # Retried from the failed record on: the one before it is not started again; the one
    # after it may be (Lambda redelivers from the checkpoint), which the claim makes harmless.
    assert fakes.started_wake[("ok-before", 1)] == 1
    assert fakes.started_wake[("hiccup-1", 1)] == 1
    assert 1 <= fakes.started_wake[("ok-after", 1)] <= 2
    for media_id in ("ok-before", "hiccup-1", "ok-after"):
        assert row(media_id)["status"]["S"] == "COMPLETED"


def test_a_record_failing_every_time_goes_to_the_on_failure_list(
    cloud: LocalCloud, fakes: Fakes
) -> None:
    before = len(cloud.stream_failures)
    put_run("run-nostart", total=1)
    put_pending("nostart-1", "run-nostart")
    cloud.wait_idle(30)
    assert fakes.start_failures["nostart-1"] == 1 + 3  # the first try and three retries
    dropped = cloud.stream_failures[before:]
    assert len(dropped) == 1
    info = dropped[0]["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == cloud.outputs()["stream_arn"]
    assert row("nostart-1")["status"]["S"] == "PENDING"  # the next run sweeps it up


def test_filter_lets_only_pending_rows_through(cloud: LocalCloud, fakes: Fakes) -> None:
    table().put_item(
        TableName=table_name(), Item={**key("done-1"), "status": {"S": "COMPLETED"},
                                      "wake": {"N": "1"}},
    )
    table().delete_item(TableName=table_name(), Key=key("done-1"))
    cloud.wait_idle(30)
    assert fakes.calls[("prepare", "done-1")] == 0
    assert "done-1" not in fakes.started


# --- schedule and invokes -----------------------------------------------------------------


def test_schedule_invokes_list_asynchronously(cloud: LocalCloud, fakes: Fakes) -> None:
    cloud.trigger_schedule()  # returns nothing, like the scheduler
    cloud.wait_idle(60)
    assert fakes.list_events == [{"trigger": "schedule"}]
    assert row("sched-a")["status"]["S"] == "COMPLETED"
    assert row("sched-b")["status"]["S"] == "COMPLETED"


def test_invokes_over_http_reach_the_handlers(cloud: LocalCloud, fakes: Fakes) -> None:
    out = cloud.outputs()
    lam = boto3.client("lambda", endpoint_url=out["endpoint_url"], region_name=out["region"])
    answer = lam.invoke(
        FunctionName=out["functions"]["transfer"],
        Payload=json.dumps({"media_id": "http-1", "slice": {"index": 7}}).encode(),
    )
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"slice": 7}

    failed = lam.invoke(
        FunctionName=out["functions"]["prepare"],
        Payload=json.dumps({"provider": "gopro", "media_id": "broken-http", "wake": 1,
                            "run_id": "r", "correlation_id": "c"}).encode(),
    )
    assert failed["FunctionError"] == "Unhandled"
    document = json.loads(failed["Payload"].read())
    assert document["errorType"] == "InvalidMediaError"
    assert document["errorMessage"] == "this medium cannot be archived"

    queued = lam.invoke(FunctionName=out["list_function"], InvocationType="Event", Payload=b"{}")
    assert queued["StatusCode"] == 202
    cloud.wait_idle(60)
    assert fakes.list_events == [{}]


# --- cloudsync local up -------------------------------------------------------------------


def test_main_prints_one_ready_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env["PYTHONPATH"] = os.pathsep.join(str(REPO / p) for p in ("functions", "local", "."))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudsync_local.cloud", "--port", "0", "--stack", "sub",
         "--gopro-api-url", "http://127.0.0.1:9"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        ready = json.loads(line)
        for name in ("endpoint_url", "bucket", "table", "state_machine_arn", "secret_id",
                     "topic_arn", "region", "log_file"):
            assert ready[name], name
        assert ready["state"].startswith("in memory: it ends with this process")
        ddb = boto3.client(
            "dynamodb", endpoint_url=ready["endpoint_url"], region_name=ready["region"],
            aws_access_key_id="x", aws_secret_access_key="x",
        )
        assert ddb.describe_table(TableName=ready["table"])["Table"]["TableStatus"] == "ACTIVE"
        lam = boto3.client(
            "lambda", endpoint_url=ready["endpoint_url"], region_name=ready["region"],
            aws_access_key_id="x", aws_secret_access_key="x",
        )
        config = lam.get_function_configuration(FunctionName=ready["list_function"])
        assert config["Environment"]["Variables"]["GOPRO_API_URL"] == "http://127.0.0.1:9"
        # a handler that logs, run inside `local up`: its line goes to the log file, never to
        # the terminal (stderr has the one ready sentence)
        notify = ready["list_function"].removesuffix("list") + "notify"
        lam.invoke(FunctionName=notify, Payload=b'{"run_id": "no-such-run"}')
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert proc.stdout.read() == ""  # nothing after the ready line
        assert proc.stderr is not None
        [sentence] = proc.stderr.read().splitlines()
        assert "Its state is in memory" in sentence and ready["log_file"] in sentence
        assert "run finished cleanly" in Path(ready["log_file"]).read_text(encoding="utf-8")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
