"""The event source mapping, played: DynamoDB stream -> filter -> batches -> the start function.

What Lambda's mapping does for the tracker stream, and what this player does too:
- reads every shard from TRIM_HORIZON in order, one batch in flight per shard, new shards
  picked up as they appear (moto keeps one shard per table; closed shards are finished);
- drops records the filter criteria do not match before batching;
- gives the function ``{"Records": [...]}`` in the Lambda event shape (``eventSourceARN``,
  ``ApproximateCreationDateTime`` in epoch seconds, binary values base64);
- partial batch failures (``ReportBatchItemFailures``): ``batchItemFailures`` checkpoints before
  the lowest failed sequence number and retries from there; a malformed answer fails the batch;
- a function error (an exception) with ``bisect`` splits the batch in two and retries each half
  (a split does not count as a retry); ``max_retry_attempts`` retries at most, then the records
  go to the on-failure list (``DDBStreamBatchInfo``, as Lambda's destination gets) and the
  player moves on.
Delivered events are remembered by ``eventID`` so moto re-reading a record (its sequence numbers
can repeat under concurrent writes) does not start it twice.

A stream that stops delivering while the table goes on writing is a stall, and is said: when a
shard's iterator has brought nothing for ``stall_check_s``, a fresh iterator from the last
sequence number read looks ahead; if it finds records the old iterator missed (moto's rolled-back
transactions leave iterators on a dead shard object; an iterator can expire), the player logs a
warning, counts the stall (:attr:`StreamPlayer.stalls`, ``on_stall``) and follows the table's
current shard from where it was.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import filters

log = logging.getLogger("cloudsync_local.cloud")

_SEEN_LIMIT = 100_000


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one invocation with a batch answered."""

    function_error: str | None  # errorType when the function raised
    response: Any  # the function's return value when it did not


Deliver = Callable[[list[dict[str, Any]]], DeliveryOutcome]


def _plain_attribute(value: Any) -> Any:
    """boto3's low-level attribute value -> Lambda's JSON (bytes become base64 text)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: _plain_attribute(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain_attribute(v) for v in value]
    return value


def lambda_record(record: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it to a function."""
    dynamodb = dict(record.get("dynamodb", {}))
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    out: dict[str, Any] = {
        "eventID": record.get("eventID"),
        "eventName": record.get("eventName"),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": record.get("eventSource", "aws:dynamodb"),
        "awsRegion": region,  # moto always says us-east-1
        "dynamodb": _plain_attribute(dynamodb),
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:
        out["userIdentity"] = record["userIdentity"]
    return out


class StreamPlayer:
    """A poller thread that plays one event source mapping."""

    def __init__(
        self,
        streams_client: Any,
        stream_arn: str,
        deliver: Deliver,
        *,
        region: str,
        filter_patterns: list[Mapping[str, Any]] | None = None,
        batch_size: int = 10,
        max_retry_attempts: int = 3,
        bisect_on_error: bool = True,
        poll_interval_s: float = 0.05,
        idle_interval_s: float = 0.2,
        retry_delay_s: float = 0.2,
        stall_check_s: float = 2.0,
        on_stall: Callable[[str], None] | None = None,
    ) -> None:
        for pattern in filter_patterns or []:
            filters.validate(pattern)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._client = streams_client
        self._arn = stream_arn
        self._deliver = deliver
        self._region = region
        self._patterns = list(filter_patterns or [])
        self._batch_size = batch_size
        self._max_retries = max_retry_attempts
        self._bisect = bisect_on_error
        self._poll_s = poll_interval_s
        self._idle_s = idle_interval_s
        self._retry_delay_s = retry_delay_s
        self._iterators: dict[str, str | None] = {}  # shard id -> next iterator (None: closed)
        self._last_sequence: dict[str, str] = {}  # shard id -> last sequence number read
        self._quiet_since: dict[str, float] = {}  # shard id -> when its reads last brought any
        self._stall_check_s = stall_check_s
        self._on_stall = on_stall
        self.stalls = 0  # times the player found its iterator behind the table and followed it
        self.last_stall: str | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._cycles = 0  # completed read cycles that found nothing new
        self._delivered_batches = 0
        self._thread: threading.Thread | None = None
        self._last_shard_scan = 0.0
        self.failures: list[dict[str, Any]] = []  # the on-failure destination
        self.errors: list[str] = []  # poller-level errors (reading the stream)
        self.delivered_records = 0
        self.filtered_out = 0

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._scan_shards()
        self._thread = threading.Thread(target=self._run, name="esm-player", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- quiescence ----------------------------------------------------------------------

    @property
    def activity(self) -> tuple[int, int]:
        """(empty cycles, batches delivered): both grow; compare snapshots to see progress."""
        with self._cond:
            return self._cycles, self._delivered_batches

    def wait_caught_up(self, timeout: float) -> bool:
        """Until a read cycle that started after this call found nothing new to deliver."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._cycles + 2  # the cycle running now may have started before the call
            while self._cycles < target:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return False
                self._cond.wait(left)
            return True

    # --- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                found = self._cycle()
            except Exception as e:  # noqa: BLE001 - the poller never dies; it reports
                message = f"{type(e).__name__}: {e}"
                log.warning("stream poller: %s", message)
                self.errors.append(message)
                found = False
            if not found:
                with self._cond:
                    self._cycles += 1
                    self._cond.notify_all()
            self._stop.wait(self._poll_s if found else self._idle_s)

    def _scan_shards(self) -> None:
        self._last_shard_scan = time.monotonic()
        stream = self._client.describe_stream(StreamArn=self._arn)["StreamDescription"]
        for shard in stream.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                iterator = self._client.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                self._iterators[shard_id] = iterator

    def _cycle(self) -> bool:
        """One pass over every open shard; True when records arrived."""
        if time.monotonic() - self._last_shard_scan > 2.0:
            self._scan_shards()
        found = False
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None or self._stop.is_set():
                continue
            raw = self._read_shard(shard_id, iterator)
            records = [lambda_record(r, self._arn, self._region) for r in raw]
            fresh = [r for r in records if self._first_time(str(r["eventID"]))]
            if not fresh:
                continue
            found = True
            wanted = [r for r in fresh if self._wanted(r)]
            self.filtered_out += len(fresh) - len(wanted)
            for start in range(0, len(wanted), self._batch_size):
                if self._stop.is_set():
                    return True
                self._deliver_batch(shard_id, wanted[start:start + self._batch_size], 0)
        return found

    def _read_shard(self, shard_id: str, iterator: str) -> list[dict[str, Any]]:
        """One GetRecords on the shard; a stalled or broken iterator is replaced and said."""
        try:
            answer = self._client.get_records(ShardIterator=iterator, Limit=1000)
        except Exception as e:  # noqa: BLE001 - an expired or unknown iterator: reopen, say so
            self._stalled(shard_id, f"reading the shard failed ({type(e).__name__})")
            return []
        self._iterators[shard_id] = answer.get("NextShardIterator")
        self._forget_iterator(iterator)
        records: list[dict[str, Any]] = list(answer.get("Records", []))
        now = time.monotonic()
        if records:
            self._last_sequence[shard_id] = str(records[-1]["dynamodb"]["SequenceNumber"])
            self._quiet_since[shard_id] = now
        elif now - self._quiet_since.setdefault(shard_id, now) >= self._stall_check_s:
            self._quiet_since[shard_id] = now
            if self._behind(shard_id):
                self._stalled(shard_id, "its iterator saw no record the table had written")
        return records

    def _fresh_iterator(self, shard_id: str) -> str:
        last = self._last_sequence.get(shard_id)
        kwargs: dict[str, Any] = {"StreamArn": self._arn, "ShardId": shard_id}
        if last is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=last)
        return str(self._client.get_shard_iterator(**kwargs)["ShardIterator"])

    def _behind(self, shard_id: str) -> bool:
        """Whether the shard, read afresh from the last record seen, holds more."""
        probe = self._fresh_iterator(shard_id)
        answer = self._client.get_records(ShardIterator=probe, Limit=1)
        self._forget_iterator(probe)
        next_iterator = answer.get("NextShardIterator")
        if next_iterator:
            self._forget_iterator(str(next_iterator))
        return bool(answer.get("Records"))

    def _stalled(self, shard_id: str, why: str) -> None:
        message = (
            f"stream stalled on {shard_id}: {why}; following the table's current shard from "
            f"sequence number {self._last_sequence.get(shard_id, 'TRIM_HORIZON')}"
        )
        log.warning("%s", message)
        self.stalls += 1
        self.last_stall = message
        self._iterators[shard_id] = self._fresh_iterator(shard_id)
        if self._on_stall is not None:
            self._on_stall(message)

    def _forget_iterator(self, iterator: str) -> None:
        """moto keeps every iterator it hands out; drop the ones already used (in-process)."""
        try:
            from moto.dynamodbstreams.models import dynamodbstreams_backends

            for account in list(dynamodbstreams_backends.values()):
                for backend in list(account.values()):
                    backend.shard_iterators.pop(iterator, None)
        except Exception as e:  # noqa: BLE001 - only a memory nicety
            log.debug("could not prune a used shard iterator: %s", e)

    def _first_time(self, event_id: str) -> bool:
        if event_id in self._seen:
            return False
        self._seen[event_id] = None
        if len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True

    def _wanted(self, record: Mapping[str, Any]) -> bool:
        return not self._patterns or any(filters.matches(p, record) for p in self._patterns)

    def _deliver_batch(self, shard_id: str, batch: list[dict[str, Any]], retries: int) -> None:
        while batch and not self._stop.is_set():
            outcome = self._deliver(batch)
            with self._cond:
                self._delivered_batches += 1
            if outcome.function_error is not None:
                if self._bisect and len(batch) > 1:
                    half = len(batch) // 2
                    self._deliver_batch(shard_id, batch[:half], retries)
                    self._deliver_batch(shard_id, batch[half:], retries)
                    return
                failed_from, reason = 0, f"function error {outcome.function_error}"
            else:
                first, reason = self._first_failure(batch, outcome.response)
                if first is None:
                    self.delivered_records += len(batch)
                    return
                failed_from = first
            self.delivered_records += failed_from
            batch = batch[failed_from:]
            retries += 1
            if retries > self._max_retries:
                self._give_up(shard_id, batch, reason)
                return
            log.info(
                "stream batch of %d: %s; retry %d/%d", len(batch), reason, retries,
                self._max_retries,
            )
            self._stop.wait(self._retry_delay_s * retries)

    @staticmethod
    def _first_failure(
        batch: list[dict[str, Any]], response: Any
    ) -> tuple[int | None, str]:
        """Index of the first record to retry (None: all done) and why."""
        if not isinstance(response, Mapping) or not response.get("batchItemFailures"):
            return None, ""
        failures = response["batchItemFailures"]
        positions = {str(r["dynamodb"].get("SequenceNumber")): i for i, r in enumerate(batch)}
        if not isinstance(failures, list):
            return 0, "malformed batchItemFailures: the whole batch failed"
        indexes: list[int] = []
        for failure in failures:
            ident = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
            if not ident or str(ident) not in positions:
                return 0, f"unknown itemIdentifier {ident!r}: the whole batch failed"
            indexes.append(positions[str(ident)])
        first = min(indexes)
        return first, f"{len(indexes)} record(s) reported failed"

    def _give_up(self, shard_id: str, batch: list[dict[str, Any]], reason: str) -> None:
        info = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "reason": reason},
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": batch[0]["dynamodb"].get("SequenceNumber"),
                "endSequenceNumber": batch[-1]["dynamodb"].get("SequenceNumber"),
                "batchSize": len(batch),
                "streamArn": self._arn,
            },
            "records": batch,
        }
        self.failures.append(info)
        log.warning(
            "stream batch of %d record(s) dropped after %d retries (%s); kept as on-failure",
            len(batch), self._max_retries, reason,
        )
