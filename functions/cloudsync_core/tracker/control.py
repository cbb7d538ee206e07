"""The stack-wide pause: one control row set when an account problem stops every transfer.

While a pause lasts its first reason stands (``if_not_exists`` on every field), and exactly one
caller per pause wins the conditional write that lets it send the alert; a caller that could not
send it gives the claim back. Lifting the pause is an update, not a delete: the functions that
lift it are allowed to update the table, not to delete from it.
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from ..aws import error_code, translate, with_retries
from .clock import utc_now_iso
from .codec import from_item, to_item
from .rows import Pause
from .table import WRITE_TOKEN, TableAccess

# The pause flag: one control row, under a reserved provider name no provider can take.
CONTROL_PROVIDER = "#control"
PAUSE_ID = "pause"


class ControlStore(TableAccess):
    """Reads and writes of the pause flag."""

    def get_pause(self) -> Pause | None:
        values = self._read(CONTROL_PROVIDER, PAUSE_ID, "read the pause flag")
        return Pause.from_values(values) if values and "since" in values else None

    def pause(self, provider: str, error_type: str, reason: str) -> Pause:
        """Pause the stack; while a pause lasts its first reason stands. The pause as stored."""
        answer = self._update(
            "set the pause flag",
            Key=self._key(CONTROL_PROVIDER, PAUSE_ID),
            UpdateExpression="SET since = if_not_exists(since, :now), "
            "reason = if_not_exists(reason, :r), error_type = if_not_exists(error_type, :e), "
            "paused_provider = if_not_exists(paused_provider, :p)",
            ExpressionAttributeValues=to_item(
                {":now": utc_now_iso(self._clock), ":r": reason, ":e": error_type, ":p": provider}
            ),
            ReturnValues="ALL_NEW",
        )
        return Pause.from_values(answer or {})

    def claim_pause_alert(self, since: str) -> bool:
        """True for exactly one caller per pause: the one that sends its alert."""
        return self._alert_flag(since, sent=True) is not None

    def release_pause_alert(self, since: str) -> None:
        """The alert could not be sent: let the next caller try."""
        self._alert_flag(since, sent=False)

    def _alert_flag(self, since: str, *, sent: bool) -> dict[str, Any] | None:
        # A retry that finds the flag already moved reads the token back: was the move ours?
        token = uuid.uuid4().hex
        return self._update(
            "mark the pause alert",
            confirm=self._wrote(CONTROL_PROVIDER, PAUSE_ID, token),
            Key=self._key(CONTROL_PROVIDER, PAUSE_ID),
            UpdateExpression="SET alerted = :to, #tok = :tok",
            ConditionExpression="since = :since AND "
            + ("(attribute_not_exists(alerted) OR alerted = :from)" if sent else "alerted = :from"),
            ExpressionAttributeNames={"#tok": WRITE_TOKEN},
            ExpressionAttributeValues=to_item(
                {":to": sent, ":from": not sent, ":since": since, ":tok": token}),
        )

    def clear_pause(self, since: str | None = None) -> Pause | None:
        """Lift the pause (only the one that began at ``since``, if given); what was lifted.

        An update, not a delete: the functions that lift it may update the table, not delete."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(CONTROL_PROVIDER, PAUSE_ID),
            "UpdateExpression": "REMOVE since, reason, error_type, paused_provider, alerted",
            "ConditionExpression": "attribute_exists(since)",
            "ReturnValues": "ALL_OLD",
        }
        if since:
            kwargs["ConditionExpression"] += " AND since = :since"
            kwargs["ExpressionAttributeValues"] = to_item({":since": since})
        try:
            answer = with_retries(
                lambda: self._db.update_item(**kwargs),
                "lift the pause",
                sleep=self._sleep,
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return None
            raise translate(e, "lift the pause") from e
        old = answer.get("Attributes")
        return Pause.from_values(from_item(old)) if old else None
