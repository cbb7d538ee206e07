"""The tracker table, as plain data: the Pulumi program and the local cloud both build it from here.

One table, keyed by provider + media_id (the seed's multi-provider model). Besides media rows it
holds two kinds of bookkeeping rows under reserved provider names that no provider can take
(they start with ``#``): run records (``#run``) and the transfer-slot row (``#slots``).
"""

from __future__ import annotations

from typing import Final

PARTITION_KEY: Final = "provider"
SORT_KEY: Final = "media_id"

# GSI: every row by provider#status, newest change first (recent failures, the queued ones...).
STATUS_INDEX: Final = "by-status"
STATUS_INDEX_PARTITION: Final = "provider_status"
STATUS_INDEX_SORT: Final = "status_changed_at"

STREAM_VIEW_TYPE: Final = "NEW_AND_OLD_IMAGES"

RUN_PROVIDER: Final = "#run"
SLOTS_PROVIDER: Final = "#slots"
SLOTS_ID: Final = "transfers"

# Attribute definitions (only keys and index keys are declared in DynamoDB).
ATTRIBUTES: Final[dict[str, str]] = {
    PARTITION_KEY: "S",
    SORT_KEY: "S",
    STATUS_INDEX_PARTITION: "S",
    STATUS_INDEX_SORT: "S",
}

# The event source mapping only lets rows that became PENDING through to the starter.
PENDING_FILTER_PATTERN: Final[dict[str, object]] = {
    "eventName": ["INSERT", "MODIFY"],
    "dynamodb": {"NewImage": {"status": {"S": ["PENDING"]}}},
}
