"""Media rows: reading them, adding what the listing found, and waking them up (→ PENDING).

A row carries ``wake``, which every move to PENDING increments; the execution started for that
wake-up carries it and the claim (in the workflow) requires it, so a duplicated stream delivery
or a stale execution can never take a medium twice. Every move here is a conditional write on
the state the caller saw (``status`` and ``wake``), with a write token for lost answers. The
moves of a claimed medium (IN_PROGRESS onwards) are in ``claimed``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError

from .. import schema
from ..aws import error_code, translate, with_retries
from ..errors import LeaseLostError, TransientError
from ..models import MediaItem
from .clock import utc_now_iso
from .codec import from_item, to_item
from .rows import MediaRow
from .runs import RunStore
from .status import COMPLETED, FAILED, IN_PROGRESS, PENDING, QUEUED, status_key
from .table import WRITE_TOKEN

BATCH_GET_LIMIT = 100


class MediaStore(RunStore):
    """Reads of media rows, and the moves that (re)start them."""

    def get(self, provider: str, media_id: str) -> MediaRow | None:
        values = self._read(provider, media_id, "read tracker row")
        return MediaRow.from_values(values) if values else None

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
        kwargs = self._status_query(provider, status)
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

    def count_by_status(self, provider: str, status: str) -> int:
        """How many rows are in one state: a Select=COUNT query on the status index (paged:
        COUNT stops at 1 MB too)."""
        query = self._status_query(provider, status, Select="COUNT")
        return sum(int(a.get("Count", 0)) for a in self._pages(query, "count tracker rows"))

    def values_by_status(
        self, provider: str, status: str, fields: Sequence[str]
    ) -> Iterator[dict[str, Any]]:
        """Only ``fields`` of the rows in one state, as plain values (a projection: a caller
        reading every archived row reads what it needs, not the upload records)."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        kwargs = self._status_query(provider, status, ProjectionExpression=", ".join(names))
        kwargs["ExpressionAttributeNames"].update(names)
        for answer in self._pages(kwargs, "query tracker"):
            yield from (from_item(item) for item in answer.get("Items", []))

    def _status_query(self, provider: str, status: str, **extra: Any) -> dict[str, Any]:
        """A Query of the status index for one provider's rows in one state."""
        return {
            "TableName": self.table,
            "IndexName": schema.STATUS_INDEX,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": schema.STATUS_INDEX_PARTITION},
            "ExpressionAttributeValues": {":p": {"S": status_key(provider, status)}},
            **extra,
        }

    def _pages(self, kwargs: dict[str, Any], what: str) -> Iterator[dict[str, Any]]:
        """Every page of a Query, following ``LastEvaluatedKey``."""
        while True:
            answer = with_retries(lambda: self._db.query(**kwargs), what, sleep=self._sleep)
            yield dict(answer)
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
            WRITE_TOKEN: uuid.uuid4().hex,
        }
        optional = {
            "filename": item.filename,
            "media_type": item.media_type,
            "captured_at": item.captured_at.isoformat() if item.captured_at else None,
            "listed_size": item.file_size,
            "item_count": item.item_count,
            "facts": dict(item.facts) or None,
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
                return self._wrote(item.provider, item.media_id, values[WRITE_TOKEN])()
            raise translate(e, "add tracker row") from e
        return True

    def update_listing(self, item: MediaItem) -> bool:
        """What the listing says of a known, not archived medium now (item count, provider
        facts, size): a medium retried for being incomplete is judged by today's listing."""
        fields = {
            "item_count": item.item_count,
            "facts": dict(item.facts),
            "listed_size": item.file_size,
        }
        clause, names, values = self._set_clause({k: v for k, v in fields.items() if v is not None})
        names["#st"] = "status"
        values.update({":done": COMPLETED, ":busy": IN_PROGRESS})  # never under a transfer
        return (
            self._update(
                "record listing facts",
                Key=self._key(item.provider, item.media_id),
                UpdateExpression=f"SET {clause}",
                ConditionExpression="attribute_exists(wake) AND #st <> :done AND #st <> :busy",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
            )
            is not None
        )

    def requeue(
        self,
        row: MediaRow,
        run_id: str,
        *,
        overwrite: bool = False,
        reset_failures: bool = False,
        timed_out: bool = False,
    ) -> bool:
        """Any state → PENDING for a new wake-up, if the row is still as ``row`` saw it.

        ``timed_out``: its execution died at the time limit; that counts as a failure of the
        medium (retry budget) and as ``timed_out`` in the run it leaves.

        A row its old run still waits for (not yet finished there) moves to the new run in the
        same transaction that counts it as ``moved`` in the old one, so the old run can close
        (and send its summary) instead of waiting forever for a medium that left it.
        """
        token = uuid.uuid4().hex
        fields = {**self._status_fields(row.provider, PENDING), "run_id": run_id}
        fields[WRITE_TOKEN] = token
        confirm = self._wrote(row.provider, row.media_id, token)
        if overwrite:
            fields["overwrite"] = True
        if reset_failures:
            fields["failures"] = 0
        if timed_out:
            fields["failures"] = row.failures + 1  # exact: the condition pins the wake
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
            moved = self._moved_from(old_run, run_id, timed_out=timed_out)
            items = [{"Update": {"TableName": self.table, **update}}, {"Update": moved}]
            if self._transact("re-queue medium", items, confirm):
                return True
            if self.get_run(old_run) is not None:
                return False  # the row changed under us
            # no record of the old run (never written, or deleted): just move the row
        return self._update("re-queue medium", confirm=confirm, **update) is not None

    def _moved_from(self, old_run: str, run_id: str, *, timed_out: bool) -> dict[str, Any]:
        """The update that counts a medium as ``moved`` (to ``run_id``) in the run it left."""
        return {
            "TableName": self.table,
            "Key": self._key(schema.RUN_PROVIDER, old_run),
            "UpdateExpression": "ADD moved :one"
            + (", moved_to :to" if run_id else "")
            + (", timed_out :one" if timed_out else ""),
            "ConditionExpression": "attribute_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": schema.PARTITION_KEY},
            "ExpressionAttributeValues": to_item(
                {":one": 1, **({":to": {run_id}} if run_id else {})}
            ),
        }

    def wake_queued(self, provider: str, limit: int = 1) -> int:
        """QUEUED → PENDING for the oldest queued media (same run); the stream starts them."""
        woken = 0
        for row in self.by_status(provider, QUEUED, limit=limit * 4):
            if self.requeue(row, row.run_id or ""):
                woken += 1
                if woken >= limit:
                    break
        return woken
