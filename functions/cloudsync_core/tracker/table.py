"""What every tracker store shares: the client, the conditional-write discipline, the write token.

Every move between states is a conditional write (UpdateItem, PutItem or TransactWriteItems
with a ``ConditionExpression``): a write whose condition fails changed nothing, and the store
reports that instead of raising. Writes are retried (``with_retries``), and a retry can fail
its condition against what its own first attempt stored when that attempt's answer was lost.
So every retried conditional write stores a fresh token (``WRITE_TOKEN``), and a failed
condition is followed by a consistent read: the token still there means the write was ours.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .. import schema
from ..aws import error_code, translate, with_retries
from ..errors import TransientError
from .clock import utc_now_iso
from .codec import from_item, to_item
from .status import status_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

WRITE_TOKEN = "write_token"  # noqa: S105 (an attribute name)


class TableAccess:
    """One table through a low-level client (thread-safe), with injectable clock and sleep."""

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

    def _key(self, provider: str, media_id: str) -> dict[str, Any]:
        return to_item({schema.PARTITION_KEY: provider, schema.SORT_KEY: media_id})

    def _read(self, provider: str, media_id: str, what: str) -> dict[str, Any] | None:
        """One row by key, read consistently, as plain values."""
        answer = with_retries(
            lambda: self._db.get_item(
                TableName=self.table, Key=self._key(provider, media_id), ConsistentRead=True
            ),
            what,
            sleep=self._sleep,
        )
        item = answer.get("Item")
        return from_item(item) if item else None

    def _update(
        self, what: str, *, confirm: Callable[[], bool] | None = None, **kwargs: Any
    ) -> dict[str, Any] | None:
        """An UpdateItem; ``None`` when its condition failed.

        ``confirm`` recognises this call's own earlier success: a retry after a write whose
        answer was lost fails its condition against what the write itself stored.
        """
        try:
            answer = with_retries(
                lambda: self._db.update_item(TableName=self.table, **kwargs),
                what,
                sleep=self._sleep,
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return {} if confirm is not None and confirm() else None
            raise translate(e, what) from e
        return from_item(answer.get("Attributes", {}))

    def _transact(
        self, what: str, items: list[dict[str, Any]], confirm: Callable[[], bool] | None = None
    ) -> bool:
        """A TransactWriteItems; False when a condition failed (and ``confirm`` says the
        transaction is not this call's own, applied before its answer was lost)."""
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
                    return confirm is not None and confirm()
                raise TransientError(f"{what}: transaction cancelled, try again") from e
            raise translate(e, what) from e
        return True

    def _wrote(self, provider: str, media_id: str, token: str) -> Callable[[], bool]:
        """A check that the row still carries ``token``: the write that stored it was ours."""

        def check() -> bool:
            answer = with_retries(
                lambda: self._db.get_item(
                    TableName=self.table,
                    Key=self._key(provider, media_id),
                    ConsistentRead=True,
                    ProjectionExpression="#t",
                    ExpressionAttributeNames={"#t": WRITE_TOKEN},
                ),
                "read back tracker row",
                sleep=self._sleep,
            )
            stored = answer.get("Item", {}).get(WRITE_TOKEN, {}).get("S")
            return stored == token

        return check

    def _status_fields(self, provider: str, status: str) -> dict[str, Any]:
        return {
            "status": status,
            schema.STATUS_INDEX_PARTITION: status_key(provider, status),
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
