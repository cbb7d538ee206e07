"""The local cloud keeps every acknowledged write and its stream when a transaction fails.

moto restores a table from a copy when a TransactWriteItems fails its condition (see
``moto_rollback_repro.py`` beside this file): writes made meanwhile by other threads were
undone, and the stream reader was left on a dead shard. The local cloud guards moto
(``dynamo_guard``) and its stream mapping says, and recovers, when it finds itself behind.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from cloudsync_cli.main import main
from cloudsync_core.tracker import to_item
from cloudsync_local.cloud import LocalCloud, dynamo_guard
from cloudsync_local.cloud.app import health_parameter_name

pytestmark = pytest.mark.e2e

WRITES = 900


def _failing_transaction(db: Any, table: str) -> str:
    from botocore.exceptions import ClientError

    try:
        db.transact_write_items(TransactItems=[{"Update": {
            "TableName": table,
            "Key": to_item({"provider": "#test", "media_id": "absent"}),
            "UpdateExpression": "SET x = :one",
            "ConditionExpression": "attribute_exists(provider)",
            "ExpressionAttributeValues": to_item({":one": 1}),
        }}])
    except ClientError as e:
        return str(e.response["Error"]["Code"])
    return "none"


def _pending_row(media_id: str) -> dict[str, Any]:
    return to_item({"provider": "chaos", "media_id": media_id, "status": "PENDING",
                    "provider_status": "chaos#PENDING", "status_changed_at": "2026", "wake": 1,
                    "run_id": "r"})


def _recording_start(seen: list[str]) -> Callable[[Any, Any], Any]:
    def start(event: Any, context: Any) -> Any:
        seen.extend(r["dynamodb"]["Keys"]["media_id"]["S"] for r in event["Records"])
        return {"batchItemFailures": []}

    return start


def _wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_acknowledged_writes_survive_failing_transactions(
    make_local_cloud: Callable[..., LocalCloud],
) -> None:
    seen: list[str] = []
    cloud = make_local_cloud(handlers={"start": _recording_start(seen)})
    db, table = cloud.client("dynamodb"), cloud.outputs()["table"]
    done = threading.Event()
    answers: list[str] = []

    def spoil() -> None:
        while not done.wait(0.02):
            answers.append(_failing_transaction(db, table))

    def write(first: int) -> None:
        for i in range(first, WRITES, 6):
            db.put_item(TableName=table, Item=_pending_row(f"w-{i:04d}"))

    spoiler = threading.Thread(target=spoil)
    spoiler.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    spoiler.join()

    stored = {i["media_id"]["S"] for p in db.get_paginator("scan").paginate(TableName=table)
              for i in p["Items"] if i["provider"]["S"] == "chaos"}
    assert len(stored) == WRITES
    assert answers and set(answers) == {"TransactionCanceledException"}
    # and every one of them reached the stream mapping, once
    assert _wait_for(lambda: len(seen) >= WRITES, 30)
    assert sorted(seen) == sorted(stored)
    assert cloud.stream_stalls == 0


def test_the_stream_flows_on_after_a_failed_transaction(
    make_local_cloud: Callable[..., LocalCloud],
) -> None:
    seen: list[str] = []
    cloud = make_local_cloud(handlers={"start": _recording_start(seen)})
    db, table = cloud.client("dynamodb"), cloud.outputs()["table"]
    db.put_item(TableName=table, Item=_pending_row("before"))
    assert _wait_for(lambda: seen == ["before"], 10)
    assert _failing_transaction(db, table) == "TransactionCanceledException"
    db.put_item(TableName=table, Item=_pending_row("after"))
    assert _wait_for(lambda: seen == ["before", "after"], 10), seen
    assert cloud.stream_stalls == 0


def test_a_stalled_stream_is_said_and_followed(
    make_local_cloud: Callable[..., LocalCloud],
) -> None:
    """Without the guard moto strands the reader on a dead shard: the mapping notices."""
    seen: list[str] = []
    cloud = make_local_cloud(handlers={"start": _recording_start(seen)})
    db, table = cloud.client("dynamodb"), cloud.outputs()["table"]
    db.put_item(TableName=table, Item=_pending_row("before"))
    assert _wait_for(lambda: seen == ["before"], 10)
    dynamo_guard.uninstall()
    try:
        _failing_transaction(db, table)
        db.put_item(TableName=table, Item=_pending_row("after"))
        assert _wait_for(lambda: seen == ["before", "after"], 15), seen
    finally:
        dynamo_guard.install()
    assert cloud.stream_stalls == 1
    health = json.loads(cloud.client("ssm").get_parameter(
        Name=health_parameter_name(cloud.stack))["Parameter"]["Value"])
    assert health["stream_stalls"] == 1 and "stream stalled" in health["last_stall"]
    out, err = io.StringIO(), io.StringIO()
    assert main(["status"], out=out, err=err) == 0, err.getvalue()
    assert "Local cloud: its stream mapping stalled 1 time(s)" in out.getvalue()
