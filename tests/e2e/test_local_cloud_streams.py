"""The local cloud's event source mapping, alone: filter criteria and batch-failure semantics.

A scripted stream stands in for DynamoDB Streams so every batch boundary is deterministic.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from cloudsync_core.schema import PENDING_FILTER_PATTERN
from cloudsync_local.cloud import StreamPlayer, filter_matches, lambda_record
from cloudsync_local.cloud.filters import validate
from cloudsync_local.cloud.streams import DeliveryOutcome

ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/t/stream/2026"


class ScriptedStream:
    """describe_stream / get_shard_iterator / get_records over a list, one shard."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, media_id: str, status: str = "PENDING", event: str = "INSERT",
            event_id: str | None = None) -> str:
        with self.lock:
            sequence = str(1000 + len(self.records))
            self.records.append({
                "eventID": event_id or f"ev-{sequence}",
                "eventName": event,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                    "Keys": {"provider": {"S": "gopro"}, "media_id": {"S": media_id}},
                    "NewImage": {"media_id": {"S": media_id}, "status": {"S": status}},
                    "SequenceNumber": sequence,
                    "SizeBytes": 10,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            })
            return sequence

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER":  # the stall check's probe
            with self.lock:
                after = [i for i, r in enumerate(self.records)
                         if r["dynamodb"]["SequenceNumber"] == kwargs["SequenceNumber"]]
            return {"ShardIterator": str(after[0] + 1)}
        assert kwargs["ShardIteratorType"] == "TRIM_HORIZON"
        return {"ShardIterator": "0"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        with self.lock:
            start = int(ShardIterator)
            batch = self.records[start:start + Limit]
            return {"Records": batch, "NextShardIterator": str(start + len(batch))}


class Recorder:
    """The start function's stand-in: records batches, answers from a script."""

    def __init__(self, answer: Any = None) -> None:
        self.batches: list[list[str]] = []
        self.answer = answer or (lambda batch, n: DeliveryOutcome(None, {"batchItemFailures": []}))

    def __call__(self, records: list[dict[str, Any]]) -> DeliveryOutcome:
        ids = [r["dynamodb"]["NewImage"]["media_id"]["S"] for r in records]
        self.batches.append(ids)
        outcome: DeliveryOutcome = self.answer(records, len(self.batches))
        return outcome


def play(stream: ScriptedStream, recorder: Recorder, **kwargs: Any) -> StreamPlayer:
    kwargs.setdefault("filter_patterns", [PENDING_FILTER_PATTERN])
    player = StreamPlayer(
        stream, ARN, recorder, region="eu-central-1", poll_interval_s=0.01,
        idle_interval_s=0.01, retry_delay_s=0.0, **kwargs,
    )
    player.start()
    try:
        assert player.wait_caught_up(10)
    finally:
        player.stop()
    return player


def test_filter_pattern_passes_only_rows_that_became_pending() -> None:
    validate(PENDING_FILTER_PATTERN)

    def record(event: str, status: str | None) -> dict[str, Any]:
        image = {"status": {"S": status}} if status else {}
        return {"eventName": event, "dynamodb": {"NewImage": image}}

    assert filter_matches(PENDING_FILTER_PATTERN, record("INSERT", "PENDING"))
    assert filter_matches(PENDING_FILTER_PATTERN, record("MODIFY", "PENDING"))
    assert not filter_matches(PENDING_FILTER_PATTERN, record("REMOVE", "PENDING"))
    assert not filter_matches(PENDING_FILTER_PATTERN, record("MODIFY", "COMPLETED"))
    assert not filter_matches(PENDING_FILTER_PATTERN, record("MODIFY", None))
    assert not filter_matches(PENDING_FILTER_PATTERN, {"eventName": "REMOVE", "dynamodb": {}})


def test_filter_operators_and_refusals() -> None:
    event = {"a": {"n": 5, "s": "gopro#FAILED", "l": ["x", "y"]}}
    assert filter_matches({"a": {"n": [{"numeric": [">", 1, "<=", 5]}]}}, event)
    assert not filter_matches({"a": {"n": [{"numeric": [">", 5]}]}}, event)
    assert filter_matches({"a": {"s": [{"prefix": "gopro#"}]}}, event)
    assert filter_matches({"a": {"s": [{"anything-but": ["gopro#DONE"]}]}}, event)
    assert filter_matches({"a": {"l": ["y"]}}, event)  # any element of an array
    assert filter_matches({"a": {"zz": [{"exists": False}]}}, event)
    assert not filter_matches({"a": {"zz": [{"exists": True}]}}, event)
    with pytest.raises(ValueError):
        validate({"a": [{"wildcard": "*"}]})
    with pytest.raises(ValueError):
        validate({"a": "PENDING"})


def test_records_have_the_lambda_event_shape() -> None:
    stream = ScriptedStream()
    stream.add("m1")
    raw = stream.records[0]
    raw["dynamodb"]["NewImage"]["blob"] = {"B": b"\x00\x01"}
    shaped = lambda_record(raw, ARN, "eu-central-1")
    assert shaped["eventSourceARN"] == ARN
    assert shaped["awsRegion"] == "eu-central-1"
    assert shaped["dynamodb"]["ApproximateCreationDateTime"] == 1767323045
    assert shaped["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}
    assert shaped["dynamodb"]["SequenceNumber"] == "1000"


def test_batches_respect_the_batch_size_and_skip_filtered_records() -> None:
    stream = ScriptedStream()
    for i in range(25):
        stream.add(f"m{i}")
        stream.add(f"done{i}", status="COMPLETED")
    recorder = Recorder()
    player = play(stream, recorder, batch_size=10)
    assert [len(b) for b in recorder.batches] == [10, 10, 5]
    assert [m for batch in recorder.batches for m in batch] == [f"m{i}" for i in range(25)]
    assert player.filtered_out == 25 and player.delivered_records == 25


def test_partial_failure_retries_from_the_lowest_failed_sequence_number() -> None:
    stream = ScriptedStream()
    sequences = [stream.add(f"m{i}") for i in range(6)]

    def answer(records: list[dict[str, Any]], n: int) -> DeliveryOutcome:
        if n == 1:  # m4 and m2 failed: checkpoint before m2
            failed = [{"itemIdentifier": sequences[4]}, {"itemIdentifier": sequences[2]}]
            return DeliveryOutcome(None, {"batchItemFailures": failed})
        return DeliveryOutcome(None, {"batchItemFailures": []})

    recorder = Recorder(answer)
    player = play(stream, recorder, batch_size=10)
    assert recorder.batches == [[f"m{i}" for i in range(6)], ["m2", "m3", "m4", "m5"]]
    assert player.failures == []


def test_malformed_identifier_fails_the_whole_batch() -> None:
    stream = ScriptedStream()
    for i in range(3):
        stream.add(f"m{i}")

    def answer(records: list[dict[str, Any]], n: int) -> DeliveryOutcome:
        failed = [{"itemIdentifier": ""}] if n == 1 else []
        return DeliveryOutcome(None, {"batchItemFailures": failed})

    recorder = Recorder(answer)
    play(stream, recorder)
    assert recorder.batches == [["m0", "m1", "m2"], ["m0", "m1", "m2"]]


def test_function_error_bisects_then_gives_up_on_the_poison_record_only() -> None:
    stream = ScriptedStream()
    for i in range(4):
        stream.add(f"m{i}")

    def answer(records: list[dict[str, Any]], n: int) -> DeliveryOutcome:
        ids = [r["dynamodb"]["NewImage"]["media_id"]["S"] for r in records]
        if "m2" in ids:
            return DeliveryOutcome("TypeError", None)
        return DeliveryOutcome(None, None)

    recorder = Recorder(answer)
    player = play(stream, recorder, batch_size=4, max_retry_attempts=2)
    assert recorder.batches == [
        ["m0", "m1", "m2", "m3"], ["m0", "m1"], ["m2", "m3"], ["m2"], ["m2"], ["m2"], ["m3"],
    ]
    assert len(player.failures) == 1
    info = player.failures[0]["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == "1002"
    assert info["streamArn"] == ARN


def test_a_record_read_twice_is_delivered_once() -> None:
    stream = ScriptedStream()
    stream.add("m0", event_id="same")
    stream.add("m0", event_id="same")  # moto may hand out a record twice
    stream.add("m1")
    recorder = Recorder()
    play(stream, recorder)
    assert [m for batch in recorder.batches for m in batch] == ["m0", "m1"]
