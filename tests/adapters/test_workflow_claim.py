"""The workflow's own DynamoDB steps, as rendered, against DynamoDB (moto): re-sends are safe.

Step Functions re-sends a task whose answer it did not get (a 500 after the write, a timeout).
The Claim, the Queue and the Unclaim are conditional writes: a re-send of one that was applied
must pass its own condition, or the execution ends NotOurs with the row held until its lease
expires. The rendered Parameters are resolved here for one execution's input.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from cloudsync_core.tracker import IN_PROGRESS, PENDING, QUEUED, to_item
from cloudsync_defs.workflow import FUNCTIONS_IN_WORKFLOW, render_transfer_definition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ARNS = {n: f"arn:aws:lambda:us-east-1:123456789012:function:cs-{n}" for n in FUNCTIONS_IN_WORKFLOW}
MEDIA = "m" * 13
WAKE = 3


def _states() -> dict[str, Any]:
    definition = json.loads(render_transfer_definition(
        function_arns=ARNS, table_name="tracker", max_concurrent_media=2, map_concurrency=2))
    states: dict[str, Any] = definition["States"]
    return states


def _resolve(value: Any, execution: str) -> Any:
    """The Parameters' paths and intrinsics this test knows; any other one fails it."""
    known = {
        "$.provider": "gopro",
        "$.media_id": MEDIA,
        "$$.State.EnteredTime": "2026-11-30T02:00:00.000Z",
        "$$.Execution.Name": execution,
        "States.Format('{}', $.wake)": str(WAKE),
        "States.Format('{}#IN_PROGRESS', $.provider)": "gopro#IN_PROGRESS",
        "States.Format('{}#QUEUED', $.provider)": "gopro#QUEUED",
    }
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k.endswith(".$"):
                out[k[:-2]] = known[v]
            else:
                out[k] = _resolve(v, execution)
        return out
    return value


def _send(db: DynamoDBClient, state: str, execution: str) -> None:
    params = _resolve(_states()[state]["Parameters"], execution)
    db.update_item(**params)


def _row(db: DynamoDBClient) -> dict[str, Any]:
    item = db.get_item(TableName="tracker", Key=to_item({"provider": "gopro",
                                                          "media_id": MEDIA}),
                       ConsistentRead=True)["Item"]
    return {k: next(iter(v.values())) for k, v in item.items()}


@pytest.fixture
def pending(dynamodb: DynamoDBClient) -> DynamoDBClient:
    dynamodb.put_item(TableName="tracker", Item=to_item({
        "provider": "gopro", "media_id": MEDIA, "status": PENDING, "wake": WAKE,
        "provider_status": "gopro#PENDING"}))
    return dynamodb


def _refused(db: DynamoDBClient, state: str, execution: str) -> None:
    with pytest.raises(ClientError) as caught:
        _send(db, state, execution)
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_a_resent_claim_recognises_its_own_claim(pending: DynamoDBClient) -> None:
    _send(pending, "Claim", "exec-1")
    _send(pending, "Claim", "exec-1")  # the first answer was lost: Step Functions re-sends
    row = _row(pending)
    assert (row["status"], row["claimed_by"]) == (IN_PROGRESS, "exec-1")


def test_another_execution_still_loses_the_claim(pending: DynamoDBClient) -> None:
    _send(pending, "Claim", "exec-1")
    _refused(pending, "Claim", "exec-duplicate")  # a duplicate delivery of the same wake-up
    assert _row(pending)["claimed_by"] == "exec-1"


def test_a_resent_queue_finds_its_own_queued_row(pending: DynamoDBClient) -> None:
    _send(pending, "Queue", "exec-1")
    _send(pending, "Queue", "exec-1")
    assert _row(pending)["status"] == QUEUED


def test_unclaim_parks_only_its_own_claim_for_the_next_run(pending: DynamoDBClient) -> None:
    _refused(pending, "Unclaim", "exec-1")  # never claimed: the row stays PENDING (swept)
    assert _row(pending)["status"] == PENDING
    _send(pending, "Claim", "exec-1")
    _refused(pending, "Unclaim", "exec-other")
    _send(pending, "Unclaim", "exec-1")
    assert _row(pending)["status"] == QUEUED
