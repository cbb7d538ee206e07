"""The transfer slots: one ``#slots`` row whose ``holders`` map caps transfers running at once.

A transfer takes a slot before it starts and gives it back when it ends; a slot is held under
``provider/media_id``, and giving it back can be conditional on the holder (an execution that
lost its medium must not free the slot its successor took). The row is created on first use;
it is read before the conditional put because a refused put still costs a write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from .. import schema
from ..aws import error_code, translate, with_retries
from .codec import to_item
from .table import TableAccess


class SlotStore(TableAccess):
    """Reads and writes of the slot row."""

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
        return self._read(schema.SLOTS_PROVIDER, schema.SLOTS_ID, "read slots")

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
