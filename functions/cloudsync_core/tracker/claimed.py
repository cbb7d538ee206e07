"""The moves of a claimed medium: progress, continuation, finishing, parking.

Steps after the claim prove ownership with ``status = IN_PROGRESS AND wake = :wake``; a step
that has lost the medium raises ``LeaseLostError`` (or gets False) and writes nothing. The
finishing move and its run's counter increment are one transaction, so the last medium to
finish knows it is last exactly once; parking (the stack-wide pause) moves the medium out of its
run in the same way, counted there as ``moved``, so the run can still close.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from .. import schema
from ..contract import UploadPlan
from ..errors import LeaseLostError
from .clock import utc_now_iso
from .codec import to_item
from .runs import RunStore, finish_counter_update
from .status import COMPLETED, FAILED, IN_PROGRESS, PENDING, QUEUED, TERMINAL
from .table import WRITE_TOKEN


class ClaimedStore(RunStore):
    """Writes to a media row its execution owns (IN_PROGRESS at the execution's wake)."""

    def save_plan(
        self, provider: str, media_id: str, wake: int, uploads: Mapping[str, UploadPlan],
        parts_done: int,
    ) -> None:
        """Store every original's upload record and the parts done so far."""
        stored = {file_id: plan.as_payload() for file_id, plan in uploads.items()}
        answer = self._update(
            "record upload plan",
            Key=self._key(provider, media_id),
            UpdateExpression="SET uploads = :u, progress_parts = :p",
            ConditionExpression="#st = :busy AND wake = :w",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues=to_item(
                {":u": stored, ":p": parts_done, ":busy": IN_PROGRESS, ":w": wake}
            ),
        )
        if answer is None:
            raise LeaseLostError(f"{provider}/{media_id} is no longer claimed by this execution")

    def update_upload(
        self, provider: str, media_id: str, wake: int, file_id: str, fields: Mapping[str, Any],
        *, md5s: Mapping[int, str] | None = None,
    ) -> None:
        """Set fields of one file's upload record, and per-part MD5s into its ``md5`` map
        (written by transfer steps running side by side: each sets only its own paths)."""
        items: list[tuple[tuple[str, ...], Any]] = [
            (("md5", str(n)), v) for n, v in sorted((md5s or {}).items())
        ]
        items += [((name,), v) for name, v in fields.items()]
        for i in range(0, len(items), 100):  # well within DynamoDB's 4 KB expression limit
            chunk = items[i : i + 100]
            names = {"#st": "status", "#f": file_id}
            values: dict[str, Any] = {":busy": IN_PROGRESS, ":w": wake}
            sets = []
            for j, (path, value) in enumerate(chunk):
                names[f"#k{j}"] = path[-1]
                values[f":v{j}"] = value
                if len(path) == 2:
                    names["#m"] = "md5"
                where = "uploads.#f." + ("#m." if len(path) == 2 else "")
                sets.append(f"{where}#k{j} = :v{j}")
            answer = self._update(
                "record upload progress",
                Key=self._key(provider, media_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#st = :busy AND wake = :w",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
            )
            if answer is None:
                raise LeaseLostError(
                    f"{provider}/{media_id} is no longer claimed by this execution"
                )

    def continue_later(self, provider: str, media_id: str, wake: int) -> bool:
        """IN_PROGRESS → PENDING keeping the uploads: the stream starts a continuation."""
        token = uuid.uuid4().hex
        fields = {**self._status_fields(provider, PENDING), WRITE_TOKEN: token}
        clause, names, values = self._set_clause(fields)
        names["#st"] = "status"
        values.update({":busy": IN_PROGRESS, ":w": wake, ":one": 1, ":zero": 0})
        answer = self._update(
            "continue medium later",
            confirm=self._wrote(provider, media_id, token),
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
        timed_out: bool = False,
    ) -> bool:
        """IN_PROGRESS → a terminal state, and the run's counter, in one transaction
        (``timed_out``: also the run's ``timed_out`` counter; the sweep of a dead execution)."""
        if status not in TERMINAL:
            raise ValueError(f"{status} is not a terminal state")
        token = uuid.uuid4().hex
        fields, removals = self._finish_fields(
            provider, status, token, objects, bytes_archived, error_type, error_message
        )
        items = [self._finish_update(provider, media_id, wake, status, fields, removals)]
        if run_id:
            items.append(
                finish_counter_update(
                    self.table,
                    self._key(schema.RUN_PROVIDER, run_id),
                    status,
                    bytes_archived=bytes_archived,
                    objects=objects,
                    timed_out=timed_out,
                )
            )
        return self._transact(
            f"mark medium {status}", items, self._wrote(provider, media_id, token)
        )

    def _finish_fields(
        self,
        provider: str,
        status: str,
        token: str,
        objects: Sequence[Mapping[str, Any]],
        bytes_archived: int,
        error_type: str | None,
        error_message: str | None,
    ) -> tuple[dict[str, Any], list[str]]:
        """What a finished row sets, and the attributes it drops."""
        fields: dict[str, Any] = {**self._status_fields(provider, status), WRITE_TOKEN: token}
        if status != COMPLETED:
            fields.update({"error_type": error_type or "", "error_message": error_message or ""})
            return fields, []
        fields.update(
            {
                "objects": [dict(o) for o in objects],
                "bytes_archived": bytes_archived,
                "sync_timestamp": utc_now_iso(self._clock),
                "overwrite": False,
            }
        )
        return fields, ["uploads", "error_type", "error_message"]

    def _finish_update(
        self,
        provider: str,
        media_id: str,
        wake: int,
        status: str,
        fields: Mapping[str, Any],
        removals: Sequence[str],
    ) -> dict[str, Any]:
        """The transaction item that finishes the row, if this execution still owns it."""
        clause, names, values = self._set_clause(fields)
        names["#st"] = "status"
        values.update({":busy": IN_PROGRESS, ":w": wake, ":one": 1, ":zero": 0})
        update = f"SET {clause}"
        if status == FAILED:
            update += ", failures = if_not_exists(failures, :zero) + :one"
        if removals:
            update += " REMOVE " + ", ".join(removals)
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._key(provider, media_id),
                "UpdateExpression": update,
                "ConditionExpression": "#st = :busy AND wake = :w",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_item(values),
            }
        }

    def park(self, provider: str, media_id: str, wake: int, *, run_id: str | None) -> bool:
        """IN_PROGRESS → QUEUED for the next run, as if the claim never happened: the claim's
        attempt is given back, failures stay, uploads are kept for resuming. The medium leaves
        its run (counted there as ``moved``) so the run can close; the next run adopts it."""
        token = uuid.uuid4().hex
        fields = {**self._status_fields(provider, QUEUED), WRITE_TOKEN: token}
        clause, names, values = self._set_clause(fields)
        names["#st"] = "status"
        values.update({":busy": IN_PROGRESS, ":w": wake, ":one": 1})
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(provider, media_id),
            "UpdateExpression": f"SET {clause}, attempt = if_not_exists(attempt, :one) - :one "
            "REMOVE run_id",
            "ConditionExpression": "#st = :busy AND wake = :w",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
        }
        confirm = self._wrote(provider, media_id, token)
        if run_id and self.get_run(run_id) is not None:
            moved = {
                "TableName": self.table,
                "Key": self._key(schema.RUN_PROVIDER, run_id),
                "UpdateExpression": "ADD moved :one",
                "ExpressionAttributeValues": to_item({":one": 1}),
            }
            return self._transact("park medium", [{"Update": update}, {"Update": moved}], confirm)
        update.pop("TableName")
        return self._update("park medium", confirm=confirm, **update) is not None
