"""`cloudsync sync --dry-run`: the lister's own decisions, with every write only written down.

The dry run runs the very lister code (sweep, listing, selection, queue order, ``--limit``) on a
tracker whose writes record what they would do and report success, so the plan is what a real
run would queue. That tracker stands on a client that refuses every DynamoDB write: a write the
rehearsal forgot to intercept fails loudly instead of happening.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from ..errors import RehearsalWriteError
from ..models import MediaItem
from ..tracker import MediaRow, Pause, Tracker

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

READS: Final = frozenset({"get_item", "batch_get_item", "query", "scan", "describe_table"})


class ReadOnlyClient:
    """A DynamoDB client that only reads."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta = client.meta
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        if name not in READS:
            raise RehearsalWriteError(f"a dry run must not call DynamoDB {name}")
        return getattr(self._client, name)


@dataclass
class Intent:
    """One write a real run would make."""

    action: str  # "queue" (new), "requeue", "release slot", "finish"
    media_id: str
    row: MediaRow | None = None
    item: MediaItem | None = None
    detail: str = ""


class Rehearsal(Tracker):
    """A tracker that reads for real and writes nothing (``intents`` says what it would)."""

    def __init__(self, client: Any, table: str) -> None:
        super().__init__(cast("DynamoDBClient", ReadOnlyClient(client)), table)
        self.intents: list[Intent] = []

    def start_run(self, run_id: str, provider: str, trigger: str, **counts: int) -> None:
        return None

    def end_listing(self, run_id: str, **counts: int) -> bool:
        return False  # no run record: nothing to close, no summary to send

    def claim_run_completion(self, run_id: str) -> bool:
        return False

    def ensure_slot_row(self) -> dict[str, str]:
        return self.slot_holders()

    def add_pending(self, item: MediaItem, run_id: str) -> bool:
        self.intents.append(Intent("queue", item.media_id, item=item))
        return True

    def update_listing(self, item: MediaItem) -> bool:
        return True  # bookkeeping of listing facts: nothing a person needs to see

    def requeue(self, row: MediaRow, run_id: str, *, overwrite: bool = False,
                reset_failures: bool = False, timed_out: bool = False) -> bool:
        why = "its execution timed out" if timed_out else f"was {row.status}"
        self.intents.append(Intent("requeue", row.media_id, row=row, detail=why))
        return True

    def release_slot(self, provider: str, media_id: str, holder: str | None = None) -> None:
        self.intents.append(Intent("release slot", media_id))

    def finish(self, provider: str, media_id: str, wake: int, status: str, *,
               run_id: str | None, objects: Sequence[Mapping[str, Any]] = (),
               bytes_archived: int = 0, error_type: str | None = None,
               error_message: str | None = None, timed_out: bool = False) -> bool:
        self.intents.append(Intent("finish", media_id, detail=f"{status} ({error_type})"))
        return True

    def clear_pause(self, since: str | None = None) -> Pause | None:
        return None
