"""The tracker's moves against DynamoDB (moto): each one conditional, as a row's life says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from cloudsync_core.contract import UploadPlan
from cloudsync_core.errors import LeaseLostError
from cloudsync_core.models import MediaItem
from cloudsync_core.tracker import (
    COMPLETED,
    DELETED_AT_SOURCE,
    FAILED,
    IN_PROGRESS,
    PENDING,
    QUEUED,
    Tracker,
    to_item,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def medium(media_id: str, name: str = "GX010001.MP4") -> MediaItem:
    return MediaItem(
        provider="gopro",
        media_id=media_id,
        filename=name,
        media_type="Video",
        captured_at=datetime(2025, 11, 10, 14, 23, tzinfo=UTC),
        created_at=None,
        file_size=1234,
    )


def claim(
    db: DynamoDBClient,
    tracker: Tracker,
    media_id: str,
    wake: int,
    claimed_at: str = "2026-11-24T02:00:00.000Z",
) -> None:
    """What the workflow's Claim state does (the same update, made here directly)."""
    db.update_item(
        TableName=tracker.table,
        Key=to_item({"provider": "gopro", "media_id": media_id}),
        UpdateExpression="SET #s = :busy, provider_status = :ps, claimed_at = :now, "
        "attempt = if_not_exists(attempt, :zero) + :one",
        ConditionExpression="(#s = :pending OR #s = :queued) AND wake = :wake",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item(
            {
                ":busy": IN_PROGRESS,
                ":ps": "gopro#IN_PROGRESS",
                ":now": claimed_at,
                ":pending": PENDING,
                ":queued": QUEUED,
                ":wake": wake,
                ":zero": 0,
                ":one": 1,
            }
        ),
    )


def test_a_new_row_never_clobbers_an_existing_one(tracker: Tracker) -> None:
    assert tracker.add_pending(medium("a" * 24), "run-1")
    assert not tracker.add_pending(medium("a" * 24, name="OTHER.MP4"), "run-2")
    row = tracker.get("gopro", "a" * 24)
    assert row is not None
    assert (row.status, row.wake, row.run_id, row.filename) == (PENDING, 1, "run-1", "GX010001.MP4")


def test_batch_get_reads_more_than_one_request_holds(tracker: Tracker) -> None:
    ids = [f"{i:024x}" for i in range(250)]
    for media_id in ids[::2]:
        tracker.add_pending(medium(media_id), "run-1")
    found = tracker.get_many("gopro", ids)
    assert sorted(found) == sorted(ids[::2])


def test_unprocessed_keys_are_asked_for_again(
    tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"{i:024x}" for i in range(5)]
    for media_id in ids:
        tracker.add_pending(medium(media_id), "run-1")
    real = tracker._db.batch_get_item
    calls: list[int] = []

    def flaky(**kwargs: Any) -> Any:
        calls.append(1)
        answer = real(**kwargs)
        if len(calls) == 1:  # DynamoDB answers part and leaves the rest unprocessed
            keys = kwargs["RequestItems"]["tracker"]["Keys"]
            answer["Responses"]["tracker"] = answer["Responses"]["tracker"][:2]
            kept = {i["media_id"]["S"] for i in answer["Responses"]["tracker"]}
            answer["UnprocessedKeys"] = {
                "tracker": {"Keys": [k for k in keys if k["media_id"]["S"] not in kept]}
            }
        return answer

    monkeypatch.setattr(tracker._db, "batch_get_item", flaky)
    assert sorted(tracker.get_many("gopro", ids)) == ids
    assert len(calls) == 2


def test_throttling_is_retried_then_typed(
    tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloudsync_core.errors import TransientError

    def throttled(**_: Any) -> Any:
        raise ClientError(
            {
                "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"},
                "ResponseMetadata": {"HTTPStatusCode": 400},  # type: ignore[typeddict-item]
            },
            "GetItem",
        )

    monkeypatch.setattr(tracker._db, "get_item", throttled)
    with pytest.raises(TransientError):
        tracker.get("gopro", "a" * 24)


def test_claimed_row_is_owned_only_by_its_wake(dynamodb: DynamoDBClient, tracker: Tracker) -> None:
    tracker.add_pending(medium("b" * 24), "run-1")
    claim(dynamodb, tracker, "b" * 24, wake=1)
    assert tracker.owned("gopro", "b" * 24, 1).status == IN_PROGRESS
    with pytest.raises(LeaseLostError):
        tracker.owned("gopro", "b" * 24, 2)
    with pytest.raises(ClientError):  # a duplicate delivery's claim loses
        claim(dynamodb, tracker, "b" * 24, wake=1)


def test_continuation_keeps_uploads_and_wakes_the_row(
    dynamodb: DynamoDBClient, tracker: Tracker
) -> None:
    tracker.add_pending(medium("c" * 24), "run-1")
    claim(dynamodb, tracker, "c" * 24, wake=1)
    uploads = {"source-1": UploadPlan(key="k", upload_id="u-1", size=10, part_size=5)}
    tracker.save_plan("gopro", "c" * 24, 1, uploads, parts_done=0)
    assert tracker.continue_later("gopro", "c" * 24, 1)
    row = tracker.get("gopro", "c" * 24)
    assert row is not None
    assert (row.status, row.wake, row.continuations, row.uploads) == (PENDING, 2, 1, uploads)
    assert not tracker.continue_later("gopro", "c" * 24, 1)  # the old wake owns nothing now


def test_finishing_counts_once_in_the_run_and_closes_it_once(
    dynamodb: DynamoDBClient, tracker: Tracker
) -> None:
    tracker.start_run("run-1", "gopro", "test")
    for media_id in ("d" * 24, "e" * 24, "f" * 24):
        tracker.add_pending(medium(media_id), "run-1")
        claim(dynamodb, tracker, media_id, wake=1)
    assert not tracker.end_listing("run-1", queued=3)  # nothing finished yet

    assert tracker.finish(
        "gopro",
        "d" * 24,
        1,
        COMPLETED,
        run_id="run-1",
        objects=[{"key": "k", "size": 5}],
        bytes_archived=5,
    )
    assert not tracker.finish("gopro", "d" * 24, 1, COMPLETED, run_id="run-1", bytes_archived=5)
    assert tracker.finish(
        "gopro",
        "e" * 24,
        1,
        FAILED,
        run_id="run-1",
        error_type="SizeMismatchError",
        error_message="expected 5, got 4",
    )
    assert not tracker.claim_run_completion("run-1")
    assert tracker.finish("gopro", "f" * 24, 1, DELETED_AT_SOURCE, run_id="run-1")
    assert tracker.claim_run_completion("run-1")
    assert not tracker.claim_run_completion("run-1")

    run = tracker.get_run("run-1")
    assert run is not None
    assert (run.queued, run.completed, run.failed, run.deleted, run.bytes) == (3, 1, 1, 1, 5)
    failed = tracker.get("gopro", "e" * 24)
    assert failed is not None and (failed.failures, failed.error_type) == (1, "SizeMismatchError")
    assert [r.media_id for r in tracker.by_status("gopro", FAILED)] == ["e" * 24]


def test_a_run_still_listing_is_never_done(dynamodb: DynamoDBClient, tracker: Tracker) -> None:
    tracker.start_run("run-2", "gopro", "test")
    tracker.add_pending(medium("1" * 24), "run-2")
    claim(dynamodb, tracker, "1" * 24, wake=1)
    tracker.finish("gopro", "1" * 24, 1, COMPLETED, run_id="run-2")
    assert not tracker.claim_run_completion("run-2")  # the lister may queue more
    assert tracker.end_listing("run-2", queued=1)  # all done already: the lister closes it
    assert not tracker.claim_run_completion("run-2")  # and nobody else does


def test_slots_bound_holders_and_release(dynamodb: DynamoDBClient, tracker: Tracker) -> None:
    """The TakeSlot condition of the workflow, run against DynamoDB's size() of a map."""
    tracker.ensure_slot_row()
    tracker.ensure_slot_row()  # idempotent

    def take(media_id: str) -> bool:
        try:
            dynamodb.update_item(
                TableName="tracker",
                Key=to_item({"provider": "#slots", "media_id": "transfers"}),
                UpdateExpression="SET holders.#h = :since",
                ConditionExpression="attribute_exists(holders.#h) OR size(holders) < :max",
                ExpressionAttributeNames={"#h": f"gopro/{media_id}"},
                ExpressionAttributeValues=to_item(
                    {":since": "2026-11-24T02:00:00.000Z", ":max": 2}
                ),
            )
        except ClientError:
            return False
        return True

    assert take("m1") and take("m2")
    assert not take("m3")
    assert take("m1")  # a holder may take its own slot again
    tracker.release_slot("gopro", "m1")
    assert take("m3")
    assert set(tracker.slot_holders()) == {"gopro/m2", "gopro/m3"}


def test_queued_rows_are_woken_oldest_first(tracker: Tracker, dynamodb: DynamoDBClient) -> None:
    for media_id in ("2" * 24, "3" * 24):
        tracker.add_pending(medium(media_id), "run-1")
        row = tracker.get("gopro", media_id)
        assert row is not None
        dynamodb.update_item(
            TableName="tracker",
            Key=to_item({"provider": "gopro", "media_id": media_id}),
            UpdateExpression="SET #s = :q, provider_status = :ps",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=to_item({":q": QUEUED, ":ps": "gopro#QUEUED"}),
        )
    assert tracker.wake_queued("gopro", limit=1) == 1
    states = {m: tracker.get("gopro", m) for m in ("2" * 24, "3" * 24)}
    assert sorted(r.status for r in states.values() if r) == [PENDING, QUEUED]


def test_a_medium_taken_over_by_a_later_run_lets_its_old_run_close(
    dynamodb: DynamoDBClient, tracker: Tracker
) -> None:
    tracker.start_run("run-a", "gopro", "test")
    for media_id in ("4" * 24, "5" * 24):
        tracker.add_pending(medium(media_id), "run-a")
        claim(dynamodb, tracker, media_id, wake=1)
    assert not tracker.end_listing("run-a", queued=2)
    assert tracker.finish("gopro", "4" * 24, 1, FAILED, run_id="run-a", error_type="X")
    stuck = tracker.get("gopro", "5" * 24)  # its execution died: the next run takes it
    assert stuck is not None
    tracker.start_run("run-b", "gopro", "test")
    assert tracker.requeue(stuck, "run-b")
    assert not tracker.requeue(stuck, "run-b")  # once
    run_a = tracker.get_run("run-a")
    assert run_a is not None and (run_a.moved, run_a.done) == (1, True)
    assert tracker.claim_run_completion("run-a")
    moved = tracker.get("gopro", "5" * 24)
    assert moved is not None and (moved.status, moved.run_id) == (PENDING, "run-b")


def test_requeue_without_the_old_run_record_still_moves_the_row(
    dynamodb: DynamoDBClient, tracker: Tracker
) -> None:
    tracker.add_pending(medium("6" * 24), "never-recorded")
    claim(dynamodb, tracker, "6" * 24, wake=1)
    row = tracker.get("gopro", "6" * 24)
    assert row is not None and tracker.requeue(row, "run-c")
