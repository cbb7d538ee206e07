"""A write that succeeded but whose answer was lost: the retry recognises its own success.

The fault lets the call reach DynamoDB (moto) and then raises a 500, as a proxy or a dropped
connection does after the write was applied. Without the read-back, the retry fails its
condition and the finishing medium answers NOT_OURS: its slot stays taken, the queued medium
is never woken and the run never closes.
"""

from __future__ import annotations

from typing import Any

import pytest

from cloudsync_core.models import MediaItem
from cloudsync_core.services import Services
from cloudsync_core.sync.summary import after_finish
from cloudsync_core.tracker import COMPLETED, FAILED, IN_PROGRESS, PENDING, QUEUED, Tracker, to_item
from cloudsync_local.cloud.chaos import FaultPlan


def medium(media_id: str) -> MediaItem:
    return MediaItem(
        provider="gopro", media_id=media_id, filename="GX010001.MP4", media_type="Video",
        captured_at=None, created_at=None, file_size=1234,
    )


def claim(db: Any, tracker: Tracker, media_id: str, wake: int) -> None:
    """The workflow's Claim state, made directly."""
    db.update_item(
        TableName=tracker.table,
        Key=to_item({"provider": "gopro", "media_id": media_id}),
        UpdateExpression="SET #s = :busy, provider_status = :ps, claimed_at = :now",
        ConditionExpression="(#s = :pending OR #s = :queued) AND wake = :wake",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item({
            ":busy": IN_PROGRESS, ":ps": "gopro#IN_PROGRESS", ":now": "2026-11-30T02:00:00.000Z",
            ":pending": PENDING, ":queued": QUEUED, ":wake": wake,
        }),
    )


@pytest.fixture
def services(moto: None, monkeypatch: pytest.MonkeyPatch) -> Services:
    monkeypatch.setenv("CLOUDSYNC_TABLE", "tracker")
    built = Services.from_env()
    from cloudsync_defs.table import create_table_request

    built.dynamodb.create_table(**create_table_request("tracker"))
    return built


def _take_slot(services: Services, media_id: str) -> None:
    services.dynamodb.update_item(
        TableName="tracker",
        Key=to_item({"provider": "#slots", "media_id": "transfers"}),
        UpdateExpression="SET holders.#h = :me",
        ExpressionAttributeNames={"#h": f"gopro/{media_id}"},
        ExpressionAttributeValues=to_item({":me": "2026-11-30T02:00:00.000Z|exec"}),
    )


def _queue(services: Services, media_id: str) -> None:
    services.dynamodb.update_item(
        TableName="tracker",
        Key=to_item({"provider": "gopro", "media_id": media_id}),
        UpdateExpression="SET #s = :q, provider_status = :ps",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item({":q": QUEUED, ":ps": "gopro#QUEUED"}),
    )


def test_a_lost_finish_answer_still_frees_the_slot_wakes_the_queue_and_closes_the_run(
    services: Services,
) -> None:
    tracker, db = services.tracker, services.dynamodb
    first, second = "a" * 24, "b" * 24
    tracker.ensure_slot_row()
    tracker.start_run("run-1", "gopro", "test")
    for media_id in (first, second):
        tracker.add_pending(medium(media_id), "run-1")
    tracker.end_listing("run-1", queued=2)
    _take_slot(services, first)
    claim(db, tracker, first, wake=1)
    _queue(services, second)

    plan = FaultPlan()
    plan.attach(db)
    plan.add("dynamodb", "TransactWriteItems", kind="lost", count=1)
    assert tracker.finish("gopro", first, 1, COMPLETED, run_id="run-1", bytes_archived=7)
    assert plan.fired[("dynamodb", "TransactWriteItems", "lost")] == 1
    outcome = after_finish(services, "gopro", first, COMPLETED, "run-1")

    assert tracker.slot_holders() == {}
    woken = tracker.get("gopro", second)
    assert woken is not None and (woken.status, woken.wake) == (PENDING, 2)
    assert not outcome.run_complete  # one medium still to go

    _take_slot(services, second)
    claim(db, tracker, second, wake=2)
    plan.add("dynamodb", "TransactWriteItems", kind="lost", count=1)
    plan.add("dynamodb", "UpdateItem", kind="lost", count=2)  # the release and the close
    assert tracker.finish("gopro", second, 2, FAILED, run_id="run-1", error_type="X")
    outcome = after_finish(services, "gopro", second, FAILED, "run-1")
    plan.clear()
    assert outcome.run_complete  # the close's answer was lost too: still exactly one closer
    assert not tracker.claim_run_completion("run-1")
    run = tracker.get_run("run-1")
    assert run is not None and (run.completed, run.failed, run.bytes) == (1, 1, 7)
    assert tracker.slot_holders() == {}


def test_a_condition_lost_to_someone_else_is_still_refused(services: Services) -> None:
    tracker, db = services.tracker, services.dynamodb
    tracker.add_pending(medium("c" * 24), "run-1")
    claim(db, tracker, "c" * 24, wake=1)
    assert tracker.finish("gopro", "c" * 24, 1, COMPLETED, run_id=None)
    assert not tracker.finish("gopro", "c" * 24, 1, FAILED, run_id=None, error_type="X")
    row = tracker.get("gopro", "c" * 24)
    assert row is not None and row.status == COMPLETED


@pytest.mark.parametrize("code", ["InternalServerError", "ReadTimeout"])
def test_lost_answers_on_every_retried_conditional_move(services: Services, code: str) -> None:
    tracker: Tracker = services.tracker
    db = services.dynamodb
    plan = FaultPlan()
    plan.attach(db)
    plan.add("dynamodb", "PutItem", kind="lost", code=code, count=1)
    item: MediaItem = medium("d" * 24)
    assert tracker.add_pending(item, "run-1")  # the lister counts it as new, once

    claim(db, tracker, "d" * 24, wake=1)
    plan.add("dynamodb", "UpdateItem", kind="lost", code=code, count=1)
    assert tracker.continue_later("gopro", "d" * 24, 1)
    row = tracker.get("gopro", "d" * 24)
    assert row is not None and (row.status, row.wake, row.continuations) == (PENDING, 2, 1)

    claim(db, tracker, "d" * 24, wake=2)
    row = tracker.get("gopro", "d" * 24)
    assert row is not None and row.status == IN_PROGRESS
    plan.add("dynamodb", "UpdateItem", kind="lost", code=code, count=1)
    assert tracker.requeue(row, "run-1")  # a resync: the same run, a plain update
    row = tracker.get("gopro", "d" * 24)
    assert row is not None and (row.status, row.wake) == (PENDING, 3)
    assert sum(plan.fired.values()) == 3


def test_a_lost_answer_to_an_alert_claim_still_sends_the_alert(services: Services) -> None:
    """Without the read-back the retried claim finds the claim taken (by itself) and the alert
    (a run summary to Slack, the one pause email) is never sent."""
    tracker, db = services.tracker, services.dynamodb
    tracker.start_run("run-1", "gopro", "test")
    pause = tracker.pause("gopro", "AccountRefusedError", "refused")
    plan = FaultPlan()
    plan.attach(db)
    plan.add("dynamodb", "UpdateItem", kind="lost", count=2)

    assert tracker.claim_delivery("run-1", "webhook")
    assert tracker.claim_pause_alert(pause.since)
    assert plan.fired[("dynamodb", "UpdateItem", "lost")] == 2
    plan.clear()
    # and each claim is still had once only
    assert not tracker.claim_delivery("run-1", "webhook")
    assert not tracker.claim_pause_alert(pause.since)
