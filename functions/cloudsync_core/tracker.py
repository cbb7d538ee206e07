"""The tracker table: one row per medium, each move between states a conditional write.

The moves are exactly "A tracker row's life" in ARCHITECTURE.md. A row carries ``wake``, which
every move to PENDING increments; the execution started for that wake-up carries it and the
claim (in the workflow) requires it, so a duplicated stream delivery or a stale execution can
never take a medium twice. Steps after the claim prove ownership with ``status = IN_PROGRESS
AND wake = :wake``; a step that has lost the medium raises ``LeaseLostError`` and writes nothing.

Run records (``#run``) count how many media a run queued and how many finished; the finishing
move and the counter increment are one transaction, so the last medium to finish knows it is
last exactly once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from . import schema
from .aws import error_code, translate, with_retries
from .errors import LeaseLostError, TransientError
from .models import MediaItem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PENDING = "PENDING"
QUEUED = "QUEUED"
IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
DELETED_AT_SOURCE = "DELETED_AT_SOURCE"
STATUSES = (PENDING, QUEUED, IN_PROGRESS, COMPLETED, FAILED, DELETED_AT_SOURCE)
TERMINAL = (COMPLETED, FAILED, DELETED_AT_SOURCE)

BATCH_GET_LIMIT = 100
_ser = TypeSerializer()
_de = TypeDeserializer()


def utc_now_iso(clock: Callable[[], float] = time.time) -> str:
    """The timestamp format Step Functions uses for ``$$.State.EnteredTime``."""
    stamp = datetime.fromtimestamp(clock(), UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def parse_iso(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def plain(value: Any) -> Any:
    """DynamoDB's Decimals back into ints and floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(_dynamo_value(v)) for k, v in values.items()}


def _dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamo_value(v) for v in value]
    return value


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: plain(_de.deserialize(v)) for k, v in item.items()}


@dataclass(frozen=True)
class MediaRow:
    provider: str
    media_id: str
    status: str
    wake: int
    attempt: int = 0
    failures: int = 0
    run_id: str | None = None
    filename: str | None = None
    media_type: str | None = None
    captured_at: str | None = None
    listed_size: int | None = None
    claimed_at: str | None = None
    status_changed_at: str | None = None
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: list[dict[str, Any]] = field(default_factory=list)
    bytes_archived: int = 0
    error_type: str | None = None
    error_message: str | None = None
    overwrite: bool = False
    continuations: int = 0
    progress_parts: int = 0

    @classmethod
    def from_values(cls, v: Mapping[str, Any]) -> MediaRow:
        return cls(
            provider=str(v["provider"]),
            media_id=str(v["media_id"]),
            status=str(v.get("status", PENDING)),
            wake=int(v.get("wake", 0)),
            attempt=int(v.get("attempt", 0)),
            failures=int(v.get("failures", 0)),
            run_id=v.get("run_id"),
            filename=v.get("filename"),
            media_type=v.get("media_type"),
            captured_at=v.get("captured_at"),
            listed_size=v.get("listed_size"),
            claimed_at=v.get("claimed_at"),
            status_changed_at=v.get("status_changed_at"),
            uploads=dict(v.get("uploads") or {}),
            objects=list(v.get("objects") or []),
            bytes_archived=int(v.get("bytes_archived", 0)),
            error_type=v.get("error_type"),
            error_message=v.get("error_message"),
            overwrite=bool(v.get("overwrite", False)),
            continuations=int(v.get("continuations", 0)),
            progress_parts=int(v.get("progress_parts", 0)),
        )

    def run_left_behind(self, new_run: str) -> str | None:
        """The run that still counts on this medium, if moving it to ``new_run`` takes it away."""
        if self.run_id and self.run_id != new_run and self.status not in TERMINAL:
            return self.run_id
        return None

    def lease_expired(self, lease_s: int, now: float) -> bool:
        claimed = parse_iso(self.claimed_at)
        return claimed is None or claimed.timestamp() + lease_s < now


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    provider: str
    trigger: str
    started_at: str
    queued: int
    completed: int = 0
    failed: int = 0
    deleted: int = 0
    moved: int = 0  # media a later run took over before they finished here
    bytes: int = 0
    notified: bool = False
    finished_at: str | None = None
    listed: int = 0
    new: int = 0
    requeued: int = 0
    skipped: int = 0
    listing: bool = False  # still counting what it queues: never "done" before that ends
    expected_bytes: int = 0

    @property
    def finished(self) -> int:
        return self.completed + self.failed + self.deleted + self.moved

    @property
    def done(self) -> bool:
        return not self.listing and self.finished >= self.queued

    @classmethod
    def from_values(cls, v: Mapping[str, Any]) -> RunRecord:
        return cls(
            run_id=str(v["media_id"]),
            provider=str(v.get("run_provider", "")),
            trigger=str(v.get("trigger", "")),
            started_at=str(v.get("started_at", "")),
            queued=int(v.get("queued", 0)),
            completed=int(v.get("completed", 0)),
            failed=int(v.get("failed", 0)),
            deleted=int(v.get("deleted", 0)),
            moved=int(v.get("moved", 0)),
            bytes=int(v.get("bytes", 0)),
            notified=bool(v.get("notified", False)),
            finished_at=v.get("finished_at"),
            listed=int(v.get("listed", 0)),
            new=int(v.get("new", 0)),
            requeued=int(v.get("requeued", 0)),
            skipped=int(v.get("skipped", 0)),
            listing=bool(v.get("listing", False)),
            expected_bytes=int(v.get("expected_bytes", 0)),
        )


@dataclass(frozen=True)
class Outcome:
    """What a finishing step reports back into the workflow (small, nothing secret)."""

    status: str
    run_complete: bool

    def as_payload(self) -> dict[str, Any]:
        return {"status": self.status, "run_complete": self.run_complete}


class Tracker:
    """All reads and writes of the tracker table. Thread-safe (uses a low-level client)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = client
        self.table = table
        self._clock = clock
        self._sleep = sleep

    # --- low-level helpers -------------------------------------------------------------

    def _key(self, provider: str, media_id: str) -> dict[str, Any]:
        return to_item({schema.PARTITION_KEY: provider, schema.SORT_KEY: media_id})

    def _update(self, what: str, **kwargs: Any) -> dict[str, Any] | None:
        """An UpdateItem; ``None`` when its condition failed."""
        try:
            answer = with_retries(
                lambda: self._db.update_item(TableName=self.table, **kwargs),
                what,
                sleep=self._sleep,
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return None
            raise translate(e, what) from e
        return from_item(answer.get("Attributes", {}))

    def _transact(self, what: str, items: list[dict[str, Any]]) -> bool:
        """A TransactWriteItems; False when a condition failed."""
        try:
            with_retries(
                lambda: self._db.transact_write_items(TransactItems=items),  # type: ignore[arg-type]
                what,
                sleep=self._sleep,
            )
        except ClientError as e:
            if error_code(e) == "TransactionCanceledException":
                reasons = e.response.get("CancellationReasons", [])
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                    return False
                raise TransientError(f"{what}: transaction cancelled, try again") from e
            raise translate(e, what) from e
        return True

    def _status_fields(self, provider: str, status: str) -> dict[str, Any]:
        return {
            "status": status,
            schema.STATUS_INDEX_PARTITION: f"{provider}#{status}",
            schema.STATUS_INDEX_SORT: utc_now_iso(self._clock),
        }

    @staticmethod
    def _set_clause(
        values: Mapping[str, Any], prefix: str = "v"
    ) -> tuple[str, dict[str, str], dict[str, Any]]:
        names: dict[str, str] = {}
        vals: dict[str, Any] = {}
        parts: list[str] = []
        for i, (name, value) in enumerate(values.items()):
            names[f"#{prefix}{i}"] = name
            vals[f":{prefix}{i}"] = value
            parts.append(f"#{prefix}{i} = :{prefix}{i}")
        return ", ".join(parts), names, vals

    # --- reads ------------------------------------------------------------------------

    def get(self, provider: str, media_id: str) -> MediaRow | None:
        answer = with_retries(
            lambda: self._db.get_item(
                TableName=self.table, Key=self._key(provider, media_id), ConsistentRead=True
            ),
            "read tracker row",
            sleep=self._sleep,
        )
        item = answer.get("Item")
        return MediaRow.from_values(from_item(item)) if item else None

    def get_many(self, provider: str, media_ids: Iterable[str]) -> dict[str, MediaRow]:
        """BatchGetItem, 100 keys a request, UnprocessedKeys retried with jitter."""
        ids = list(dict.fromkeys(media_ids))
        found: dict[str, MediaRow] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [self._key(provider, m) for m in ids[start : start + BATCH_GET_LIMIT]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(10):
                answer = with_retries(
                    lambda pending=request: self._db.batch_get_item(RequestItems=pending),  # type: ignore[misc]
                    "read tracker rows",
                    sleep=self._sleep,
                )
                for item in answer.get("Responses", {}).get(self.table, []):
                    row = MediaRow.from_values(from_item(item))
                    found[row.media_id] = row
                request = dict(answer.get("UnprocessedKeys") or {})
                if not request:
                    break
                self._sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))
            else:
                raise TransientError("read tracker rows: DynamoDB kept keys unprocessed")
        return found

    def by_status(self, provider: str, status: str, limit: int | None = None) -> Iterator[MediaRow]:
        """Rows in one state, oldest change first (the GSI)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": schema.STATUS_INDEX,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": schema.STATUS_INDEX_PARTITION},
            "ExpressionAttributeValues": {":p": {"S": f"{provider}#{status}"}},
        }
        seen = 0
        while True:
            if limit is not None:
                kwargs["Limit"] = max(1, limit - seen)
            answer = with_retries(
                lambda: self._db.query(**kwargs), "query tracker", sleep=self._sleep
            )
            for item in answer.get("Items", []):
                yield MediaRow.from_values(from_item(item))
                seen += 1
                if limit is not None and seen >= limit:
                    return
            last = answer.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def failed_in_run(self, provider: str, run_id: str) -> Iterator[MediaRow]:
        """The media of one provider that failed, last, in this run."""
        return (row for row in self.by_status(provider, FAILED) if row.run_id == run_id)

    def owned(self, provider: str, media_id: str, wake: int) -> MediaRow:
        """The row, if this execution (``wake``) still owns it; else ``LeaseLostError``."""
        row = self.get(provider, media_id)
        if row is None or row.status != IN_PROGRESS or row.wake != wake:
            raise LeaseLostError(f"{provider}/{media_id} is no longer claimed by this execution")
        return row

    # --- listing: new rows and re-queues ----------------------------------------------

    def add_pending(self, item: MediaItem, run_id: str) -> bool:
        """A newly listed medium becomes PENDING; an existing row is never clobbered."""
        values: dict[str, Any] = {
            schema.PARTITION_KEY: item.provider,
            schema.SORT_KEY: item.media_id,
            **self._status_fields(item.provider, PENDING),
            "wake": 1,
            "attempt": 0,
            "failures": 0,
            "run_id": run_id,
            "listed_at": utc_now_iso(self._clock),
        }
        optional = {
            "filename": item.filename,
            "media_type": item.media_type,
            "captured_at": item.captured_at.isoformat() if item.captured_at else None,
            "listed_size": item.file_size,
            "item_count": item.item_count,
        }
        values.update({k: v for k, v in optional.items() if v is not None})
        try:
            with_retries(
                lambda: self._db.put_item(
                    TableName=self.table,
                    Item=to_item(values),
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": schema.PARTITION_KEY},
                ),
                "add tracker row",
                sleep=self._sleep,
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return False
            raise translate(e, "add tracker row") from e
        return True

    def requeue(
        self,
        row: MediaRow,
        run_id: str,
        *,
        overwrite: bool = False,
        reset_failures: bool = False,
    ) -> bool:
        """Any state → PENDING for a new wake-up, if the row is still as ``row`` saw it.

        A row its old run still waits for (not yet finished there) moves to the new run in the
        same transaction that counts it as ``moved`` in the old one, so the old run can close
        (and send its summary) instead of waiting forever for a medium that left it.
        """
        fields = {**self._status_fields(row.provider, PENDING), "run_id": run_id}
        if overwrite:
            fields["overwrite"] = True
        if reset_failures:
            fields["failures"] = 0
        clause, names, values = self._set_clause(fields)
        names["#st"] = "status"
        values.update({":old": row.status, ":w": row.wake, ":one": 1})
        update: dict[str, Any] = {
            "Key": self._key(row.provider, row.media_id),
            "UpdateExpression": f"SET {clause}, wake = wake + :one",
            "ConditionExpression": "#st = :old AND wake = :w",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
        }
        old_run = row.run_left_behind(run_id)
        if old_run:
            moved = {
                "TableName": self.table,
                "Key": self._key(schema.RUN_PROVIDER, old_run),
                "UpdateExpression": "ADD moved :one",
                "ConditionExpression": "attribute_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": schema.PARTITION_KEY},
                "ExpressionAttributeValues": to_item({":one": 1}),
            }
            items = [{"Update": {"TableName": self.table, **update}}, {"Update": moved}]
            if self._transact("re-queue medium", items):
                return True
            if self.get_run(old_run) is not None:
                return False  # the row changed under us
            # no record of the old run (never written, or deleted): just move the row
        return self._update("re-queue medium", **update) is not None

    # --- steps of a transfer ----------------------------------------------------------

    def save_plan(
        self, provider: str, media_id: str, wake: int, uploads: Mapping[str, Any], parts_done: int
    ) -> None:
        answer = self._update(
            "record upload plan",
            Key=self._key(provider, media_id),
            UpdateExpression="SET uploads = :u, progress_parts = :p",
            ConditionExpression="#st = :busy AND wake = :w",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues=to_item(
                {":u": dict(uploads), ":p": parts_done, ":busy": IN_PROGRESS, ":w": wake}
            ),
        )
        if answer is None:
            raise LeaseLostError(f"{provider}/{media_id} is no longer claimed by this execution")

    def continue_later(self, provider: str, media_id: str, wake: int) -> bool:
        """IN_PROGRESS → PENDING keeping the uploads: the stream starts a continuation."""
        fields = self._status_fields(provider, PENDING)
        clause, names, values = self._set_clause(fields)
        names["#st"] = "status"
        values.update({":busy": IN_PROGRESS, ":w": wake, ":one": 1, ":zero": 0})
        answer = self._update(
            "continue medium later",
            Key=self._key(provider, media_id),
            UpdateExpression=(
                f"SET {clause}, wake = wake + :one, "
                "continuations = if_not_exists(continuations, :zero) + :one"
            ),
            ConditionExpression="#st = :busy AND wake = :w",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )
        return answer is not None

    def finish(
        self,
        provider: str,
        media_id: str,
        wake: int,
        status: str,
        *,
        run_id: str | None,
        objects: Sequence[Mapping[str, Any]] = (),
        bytes_archived: int = 0,
        error_type: str | None = None,
        error_message: str | None = None,
    ) -> bool:
        """IN_PROGRESS → a terminal state, and the run's counter, in one transaction."""
        if status not in TERMINAL:
            raise ValueError(f"{status} is not a terminal state")
        fields: dict[str, Any] = {**self._status_fields(provider, status)}
        removals: list[str] = []
        if status == COMPLETED:
            fields.update(
                {
                    "objects": [dict(o) for o in objects],
                    "bytes_archived": bytes_archived,
                    "sync_timestamp": utc_now_iso(self._clock),
                    "overwrite": False,
                }
            )
            removals = ["uploads", "error_type", "error_message"]
        else:
            fields.update({"error_type": error_type or "", "error_message": error_message or ""})
        clause, names, values = self._set_clause(fields)
        names["#st"] = "status"
        values.update({":busy": IN_PROGRESS, ":w": wake, ":one": 1, ":zero": 0})
        update = f"SET {clause}"
        if status == FAILED:
            update += ", failures = if_not_exists(failures, :zero) + :one"
        if removals:
            update += " REMOVE " + ", ".join(removals)
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._key(provider, media_id),
                    "UpdateExpression": update,
                    "ConditionExpression": "#st = :busy AND wake = :w",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": to_item(values),
                }
            }
        ]
        if run_id:
            counter = {COMPLETED: "completed", FAILED: "failed", DELETED_AT_SOURCE: "deleted"}
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(schema.RUN_PROVIDER, run_id),
                        "UpdateExpression": "ADD #c :one, #b :bytes",
                        "ExpressionAttributeNames": {"#c": counter[status], "#b": "bytes"},
                        "ExpressionAttributeValues": to_item({":one": 1, ":bytes": bytes_archived}),
                    }
                }
            )
        return self._transact(f"mark medium {status}", items)

    # --- runs -------------------------------------------------------------------------

    def start_run(self, run_id: str, provider: str, trigger: str, **counts: int) -> None:
        values = {
            schema.PARTITION_KEY: schema.RUN_PROVIDER,
            schema.SORT_KEY: run_id,
            schema.STATUS_INDEX_PARTITION: schema.RUN_PROVIDER,
            schema.STATUS_INDEX_SORT: utc_now_iso(self._clock),
            "run_provider": provider,
            "trigger": trigger,
            "started_at": utc_now_iso(self._clock),
            "queued": 0,
            "listing": True,
            **counts,
        }
        with_retries(
            lambda: self._db.put_item(TableName=self.table, Item=to_item(values)),
            "write run record",
            sleep=self._sleep,
        )

    def end_listing(self, run_id: str, **counts: int) -> bool:
        """The run's final counts; from now on the run can be done.

        True when every medium it queued had already finished, and this call closed the run:
        the caller then owes the summary (no finishing medium will send it).
        """
        clause, names, values = self._set_clause({**counts, "listing": False})
        self._update(
            "update run record",
            Key=self._key(schema.RUN_PROVIDER, run_id),
            UpdateExpression=f"SET {clause}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )
        return self.claim_run_completion(run_id)

    def get_run(self, run_id: str) -> RunRecord | None:
        answer = with_retries(
            lambda: self._db.get_item(
                TableName=self.table,
                Key=self._key(schema.RUN_PROVIDER, run_id),
                ConsistentRead=True,
            ),
            "read run record",
            sleep=self._sleep,
        )
        item = answer.get("Item")
        return RunRecord.from_values(from_item(item)) if item else None

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        answer = with_retries(
            lambda: self._db.query(
                TableName=self.table,
                IndexName=schema.STATUS_INDEX,
                KeyConditionExpression="#p = :p",
                ExpressionAttributeNames={"#p": schema.STATUS_INDEX_PARTITION},
                ExpressionAttributeValues={":p": {"S": schema.RUN_PROVIDER}},
                ScanIndexForward=False,
                Limit=limit,
            ),
            "list runs",
            sleep=self._sleep,
        )
        return [RunRecord.from_values(from_item(i)) for i in answer.get("Items", [])]

    def claim_run_completion(self, run_id: str) -> bool:
        """True for exactly one caller, once every medium the run queued has finished."""
        run = self.get_run(run_id)
        if run is None or not run.done or run.notified:
            return False
        answer = self._update(
            "close run",
            Key=self._key(schema.RUN_PROVIDER, run_id),
            UpdateExpression="SET notified = :t, finished_at = :now",
            ConditionExpression="attribute_not_exists(notified) OR notified = :f",
            ExpressionAttributeValues=to_item(
                {":t": True, ":f": False, ":now": utc_now_iso(self._clock)}
            ),
        )
        return answer is not None

    # --- transfer slots ---------------------------------------------------------------

    def ensure_slot_row(self) -> dict[str, str]:
        """The slot holders, creating the slot row if it is missing (read first: a refused put
        still costs a write)."""
        existing = self._slot_row()
        if existing is not None:
            return self._holders(existing)
        try:
            with_retries(
                lambda: self._db.put_item(
                    TableName=self.table,
                    Item=to_item(
                        {
                            schema.PARTITION_KEY: schema.SLOTS_PROVIDER,
                            schema.SORT_KEY: schema.SLOTS_ID,
                            "holders": {},
                        }
                    ),
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": schema.PARTITION_KEY},
                ),
                "create slot row",
                sleep=self._sleep,
            )
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise translate(e, "create slot row") from e
            return self.slot_holders()  # created meanwhile by someone else
        return {}

    def slot_holders(self) -> dict[str, str]:
        return self._holders(self._slot_row() or {})

    @staticmethod
    def _holders(values: Mapping[str, Any]) -> dict[str, str]:
        return {str(k): str(v) for k, v in (values.get("holders") or {}).items()}

    def _slot_row(self) -> dict[str, Any] | None:
        answer = with_retries(
            lambda: self._db.get_item(
                TableName=self.table,
                Key=self._key(schema.SLOTS_PROVIDER, schema.SLOTS_ID),
                ConsistentRead=True,
            ),
            "read slots",
            sleep=self._sleep,
        )
        item = answer.get("Item")
        return from_item(item) if item else None

    def release_slot(self, provider: str, media_id: str, holder: str | None = None) -> None:
        """Give back this medium's transfer slot (only if still held by ``holder``, if given)."""
        kwargs: dict[str, Any] = {
            "Key": self._key(schema.SLOTS_PROVIDER, schema.SLOTS_ID),
            "UpdateExpression": "REMOVE holders.#h",
            "ExpressionAttributeNames": {"#h": f"{provider}/{media_id}"},
        }
        if holder is not None:
            kwargs["ConditionExpression"] = "holders.#h = :holder"
            kwargs["ExpressionAttributeValues"] = to_item({":holder": holder})
        self._update("release transfer slot", **kwargs)

    def wake_queued(self, provider: str, limit: int = 1) -> int:
        """QUEUED → PENDING for the oldest queued media (same run); the stream starts them."""
        woken = 0
        for row in self.by_status(provider, QUEUED, limit=limit * 4):
            if self.requeue(row, row.run_id or ""):
                woken += 1
                if woken >= limit:
                    break
        return woken
