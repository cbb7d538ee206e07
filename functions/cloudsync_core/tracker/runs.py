"""Run records (``#run`` rows): what a run queued, and how many of those finished.

The finishing move of a medium and its run's counter increment are one transaction (see
``claimed.finish``), so the last medium to finish knows it is last exactly once; closing the run
(``claim_run_completion``) is one more conditional write that only one caller wins, and it
stores a write token so a retry whose answer was lost still knows it won.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from .. import schema
from ..aws import with_retries
from .clock import utc_now_iso
from .codec import from_item, to_item
from .rows import RunRecord
from .status import COMPLETED, DELETED_AT_SOURCE, FAILED, SKIPPED
from .table import WRITE_TOKEN, TableAccess

# The run record's counter for each way a medium can finish.
FINISH_COUNTERS: dict[str, str] = {
    COMPLETED: "completed",
    FAILED: "failed",
    DELETED_AT_SOURCE: "deleted",
    SKIPPED: "skipped_media",
}


def origin_counts(objects: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Origin-checksum verdicts of archived objects, as the run record's ADD values."""
    verdicts = [o.get("origin") for o in objects]
    return {":om": verdicts.count("match"), ":ou": verdicts.count("unknown")}


def finish_counter_update(
    table: str,
    key: dict[str, Any],
    status: str,
    *,
    bytes_archived: int,
    objects: Sequence[Mapping[str, Any]],
    timed_out: bool,
) -> dict[str, Any]:
    """The transaction item that counts one finished medium in its run record."""
    return {
        "Update": {
            "TableName": table,
            "Key": key,
            "UpdateExpression": "ADD #c :one, #b :bytes"
            + (", timed_out :one" if timed_out else "")
            + ", origin_match :om, origin_unknown :ou",
            "ExpressionAttributeNames": {"#c": FINISH_COUNTERS[status], "#b": "bytes"},
            "ExpressionAttributeValues": to_item(
                {":one": 1, ":bytes": bytes_archived, **origin_counts(objects)}
            ),
        }
    }


class RunStore(TableAccess):
    """Reads and writes of run records."""

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

    def claim_delivery(self, run_id: str, channel: str, *, release: bool = False) -> bool:
        """True for exactly one caller per run and alert channel: the one that posts the run's
        summary there (a retried notify posts nothing twice). ``release`` hands the claim back
        after a failed delivery, so a later retry may try again."""
        names = {"#k": schema.SORT_KEY, "#d": f"delivered_{channel}"}
        if release:
            answer = self._update(
                "release alert delivery", Key=self._key(schema.RUN_PROVIDER, run_id),
                UpdateExpression="REMOVE #d", ConditionExpression="attribute_exists(#k)",
                ExpressionAttributeNames=names,
            )
        else:  # a retry that finds the claim taken reads its token back: was it ours?
            token = uuid.uuid4().hex
            answer = self._update(
                "claim alert delivery", Key=self._key(schema.RUN_PROVIDER, run_id),
                confirm=self._wrote(schema.RUN_PROVIDER, run_id, token),
                UpdateExpression="SET #d = :now, #tok = :tok",
                ConditionExpression="attribute_exists(#k) AND attribute_not_exists(#d)",
                ExpressionAttributeNames={**names, "#tok": WRITE_TOKEN},
                ExpressionAttributeValues=to_item(
                    {":now": utc_now_iso(self._clock), ":tok": token}),
            )
        return answer is not None

    def claim_run_completion(self, run_id: str) -> bool:
        """True for exactly one caller, once every medium the run queued has finished."""
        run = self.get_run(run_id)
        if run is None or not run.done or run.notified:
            return False
        token = uuid.uuid4().hex
        answer = self._update(
            "close run",
            confirm=self._wrote(schema.RUN_PROVIDER, run_id, token),
            Key=self._key(schema.RUN_PROVIDER, run_id),
            UpdateExpression="SET notified = :t, finished_at = :now, #tok = :tok",
            ConditionExpression="attribute_not_exists(notified) OR notified = :f",
            ExpressionAttributeNames={"#tok": WRITE_TOKEN},
            ExpressionAttributeValues=to_item(
                {":t": True, ":f": False, ":now": utc_now_iso(self._clock), ":tok": token}
            ),
        )
        return answer is not None
