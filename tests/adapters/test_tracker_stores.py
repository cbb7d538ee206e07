"""The tracker's stores behind its front: counting by state, the status-index key, row times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from cloudsync_core.models import MediaItem
from cloudsync_core.tracker import (
    COMPLETED,
    FAILED,
    PENDING,
    QUEUED,
    STATUSES,
    Status,
    Tracker,
    from_item,
    status_key,
    to_item,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def medium(media_id: str) -> MediaItem:
    return MediaItem(
        provider="gopro", media_id=media_id, filename=f"{media_id}.MP4", media_type="Video",
        captured_at=datetime(2025, 11, 10, 14, 23, tzinfo=UTC), created_at=None, file_size=10,
    )


def set_status(db: DynamoDBClient, media_id: str, status: str) -> None:
    """Move a row directly, as another writer (the workflow) would."""
    db.update_item(
        TableName="tracker",
        Key=to_item({"provider": "gopro", "media_id": media_id}),
        UpdateExpression="SET #s = :s, provider_status = :ps",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item({":s": status, ":ps": f"gopro#{status}"}),
    )


def test_count_by_status_counts_each_state_and_nothing_else(
    tracker: Tracker, dynamodb: DynamoDBClient
) -> None:
    for n in range(5):
        assert tracker.add_pending(medium(f"m{n}"), "run-1")
    set_status(dynamodb, "m0", FAILED)
    set_status(dynamodb, "m1", FAILED)
    set_status(dynamodb, "m2", QUEUED)
    tracker.add_pending(MediaItem(provider="other", media_id="x", filename=None,
                                  media_type=None, captured_at=None, created_at=None,
                                  file_size=None), "run-1")

    counts = {status: tracker.count_by_status("gopro", status) for status in STATUSES}

    assert counts == {**dict.fromkeys(STATUSES, 0), PENDING: 2, FAILED: 2, QUEUED: 1}
    assert tracker.count_by_status("other", PENDING) == 1


def test_count_by_status_follows_every_page(
    tracker: Tracker, dynamodb: DynamoDBClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(4):
        tracker.add_pending(medium(f"m{n}"), "run-1")
    real = dynamodb.query
    pages: list[int] = []

    def one_per_page(**kwargs: Any) -> Any:
        answer = real(**{**kwargs, "Limit": 1})
        pages.append(int(answer.get("Count", 0)))
        return answer

    monkeypatch.setattr(dynamodb, "query", one_per_page)

    assert tracker.count_by_status("gopro", PENDING) == 4
    assert len(pages) >= 4


def test_by_status_and_count_agree(tracker: Tracker) -> None:
    for n in range(3):
        tracker.add_pending(medium(f"m{n}"), "run-1")

    rows = list(tracker.by_status("gopro", PENDING))

    assert sorted(r.media_id for r in rows) == ["m0", "m1", "m2"]
    assert tracker.count_by_status("gopro", PENDING) == len(rows)
    assert tracker.count_by_status("gopro", COMPLETED) == 0


def test_rows_store_the_status_and_its_index_key_as_plain_strings(
    tracker: Tracker, dynamodb: DynamoDBClient
) -> None:
    tracker.add_pending(medium("m0"), "run-1")

    item = dynamodb.get_item(
        TableName="tracker", Key=to_item({"provider": "gopro", "media_id": "m0"})
    )["Item"]

    assert item["status"] == {"S": "PENDING"}
    assert item["provider_status"] == {"S": "gopro#PENDING"}
    assert from_item(item)["provider_status"] == status_key("gopro", Status.PENDING)


def test_status_key_refuses_an_unknown_state() -> None:
    assert status_key("gopro", "FAILED") == "gopro#FAILED"
    with pytest.raises(ValueError):
        status_key("gopro", "BROKEN")


def test_row_times_are_parsed_by_the_row(tracker: Tracker, dynamodb: DynamoDBClient) -> None:
    tracker.add_pending(medium("m0"), "run-1")
    dynamodb.update_item(
        TableName="tracker",
        Key=to_item({"provider": "gopro", "media_id": "m0"}),
        UpdateExpression="SET claimed_at = :c",
        ExpressionAttributeValues=to_item({":c": "2026-11-24T02:00:00.000Z"}),
    )

    row = tracker.get("gopro", "m0")

    assert row is not None
    assert row.claimed == datetime(2026, 11, 24, 2, tzinfo=UTC)
    assert row.status_changed is not None
    assert row.lease_expired(60, datetime(2026, 11, 24, 2, 1, 1, tzinfo=UTC).timestamp())
    assert not row.lease_expired(60, datetime(2026, 11, 24, 2, 0, 59, tzinfo=UTC).timestamp())


def test_values_by_status_reads_only_the_fields_asked_for(
    tracker: Tracker, dynamodb: DynamoDBClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        tracker.add_pending(medium(f"m{n}"), "run-1")
    set_status(dynamodb, "m2", FAILED)
    real = dynamodb.query
    monkeypatch.setattr(dynamodb, "query", lambda **kw: real(**{**kw, "Limit": 1}))

    values = list(tracker.values_by_status("gopro", PENDING, ["media_id", "filename"]))

    assert sorted(values, key=lambda v: v["media_id"]) == [
        {"media_id": "m0", "filename": "m0.MP4"},
        {"media_id": "m1", "filename": "m1.MP4"},
    ]
