"""The lister's sweep of TIMED_OUT executions against moto's DynamoDB (and SNS for the summary).

An Express execution that reaches the workflow's TimeoutSeconds ends TIMED_OUT: no Catch runs,
its row stays IN_PROGRESS holding a transfer slot and its run waits for it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import boto3

from cloudsync_core.sync.listing import (
    EXECUTION_LIFE_S,
    SWEEP_MARGIN_S,
    TIMED_OUT_ERROR,
    ListingReport,
    _Run,
    sweep,
)
from cloudsync_core.sync.summary import send_summary, summary_text
from cloudsync_core.tracker import FAILED, IN_PROGRESS, PENDING, Tracker, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CLAIMED = "2026-11-24T02:00:00.000Z"
CLAIMED_AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC).timestamp()
OLD_RUN = "20261124T020000Z-schedule-aaaaaa"
NEW_RUN = "20261125T020000Z-schedule-bbbbbb"
DEAD = CLAIMED_AT + EXECUTION_LIFE_S + SWEEP_MARGIN_S + 1


def stuck(db: DynamoDBClient, tracker: Tracker, media_id: str, failures: int = 0) -> None:
    """What a TIMED_OUT execution leaves: a claimed row, its slot held, its run waiting."""
    db.put_item(TableName=tracker.table, Item=to_item({
        "provider": "gopro", "media_id": media_id, "status": IN_PROGRESS,
        "provider_status": "gopro#IN_PROGRESS", "status_changed_at": CLAIMED,
        "claimed_at": CLAIMED, "wake": 1, "attempt": 1, "failures": failures,
        "run_id": OLD_RUN, "filename": "GX010001.MP4", "listed_size": 1234}))
    tracker.start_run(OLD_RUN, "gopro", "schedule")
    tracker.end_listing(OLD_RUN, queued=1)
    tracker.ensure_slot_row()
    db.update_item(TableName=tracker.table,
                   Key=to_item({"provider": "#slots", "media_id": "transfers"}),
                   UpdateExpression="SET holders.#h = :v",
                   ExpressionAttributeNames={"#h": f"gopro/{media_id}"},
                   ExpressionAttributeValues=to_item({":v": f"{CLAIMED}|exec-1"}))


def run_sweep(tracker: Tracker, now: float, lease_s: int = 360, budget: int = 3) -> ListingReport:
    report = ListingReport(run_id=NEW_RUN, provider="gopro")
    sweep(tracker, "gopro", _Run(tracker, report, "schedule"), report,
          holders=tracker.slot_holders(), lease_s=lease_s, retry_budget=budget, now=now)
    return report


def test_a_timed_out_execution_frees_its_slot_counts_in_its_run_and_is_queued_again(
    dynamodb: DynamoDBClient, tracker: Tracker
) -> None:
    stuck(dynamodb, tracker, "m1")
    report = run_sweep(tracker, DEAD)
    assert (report.timed_out, report.requeued, report.swept_slots) == (1, 1, 1)
    assert report.earlier_runs == [OLD_RUN]
    assert tracker.slot_holders() == {}
    row = tracker.get("gopro", "m1")
    assert row is not None
    assert (row.status, row.run_id, row.wake, row.failures) == (PENDING, NEW_RUN, 2, 1)
    old = tracker.get_run(OLD_RUN)
    assert old is not None and (old.timed_out, old.moved, old.done) == (1, 1, True)


def test_a_live_execution_is_left_alone(dynamodb: DynamoDBClient, tracker: Tracker) -> None:
    stuck(dynamodb, tracker, "m1")
    report = run_sweep(tracker, CLAIMED_AT + EXECUTION_LIFE_S - 10)
    assert (report.timed_out, report.requeued, report.swept_slots) == (0, 0, 0)
    row = tracker.get("gopro", "m1")
    assert row is not None and row.status == IN_PROGRESS
    assert list(tracker.slot_holders()) == ["gopro/m1"]


def test_a_long_configured_lease_does_not_delay_the_sweep(
    dynamodb: DynamoDBClient, tracker: Tracker
) -> None:
    """An execution cannot outlive its time limit, whatever leaseSeconds says."""
    stuck(dynamodb, tracker, "m1")
    report = run_sweep(tracker, DEAD, lease_s=3600)
    assert (report.timed_out, report.swept_slots) == (1, 1)
    row = tracker.get("gopro", "m1")
    assert row is not None and row.status == PENDING


def test_when_the_retry_budget_is_spent_it_fails_as_states_timeout(
    dynamodb: DynamoDBClient, tracker: Tracker
) -> None:
    stuck(dynamodb, tracker, "m1", failures=2)
    report = run_sweep(tracker, DEAD, budget=3)
    assert (report.timed_out, report.requeued) == (1, 0)
    row = tracker.get("gopro", "m1")
    assert row is not None
    assert (row.status, row.error_type, row.failures) == (FAILED, TIMED_OUT_ERROR, 3)
    assert tracker.slot_holders() == {}
    old = tracker.get_run(OLD_RUN)
    assert old is not None and (old.failed, old.timed_out, old.done) == (1, 1, True)
    # the FAILED sweep that follows in the same run leaves it failed: budget spent
    assert run_sweep(tracker, DEAD + 1, budget=3).requeued == 0


def test_the_run_summary_tells_of_the_timeout(
    dynamodb: DynamoDBClient, tracker: Tracker
) -> None:
    stuck(dynamodb, tracker, "m1")
    run_sweep(tracker, DEAD)
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    assert tracker.claim_run_completion(OLD_RUN)
    assert send_summary(tracker, sns, topic, OLD_RUN)  # nothing failed, yet a person should know
    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert body["Subject"] == "GoPro Sync Complete"
    assert "Timed out: 1 workflow execution(s) reached the time limit" in body["Message"]


def test_a_run_without_timeouts_says_nothing_of_them(tracker: Tracker) -> None:
    tracker.start_run(NEW_RUN, "gopro", "schedule")
    run = tracker.get_run(NEW_RUN)
    assert run is not None
    assert "Timed out" not in summary_text(run, [])[1]
