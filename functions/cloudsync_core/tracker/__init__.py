"""The tracker table: one row per medium, each move between states a conditional write.

``Tracker`` is the one front every caller uses; behind it the table is split by what it stores:

- ``media``: media rows, read and (re)started (→ PENDING, with the ``wake`` counter);
- ``claimed``: the moves of a claimed medium (IN_PROGRESS at its wake onwards);
- ``runs``: run records (``#run``) and their counters;
- ``slots``: the transfer-slot row (``#slots``);
- ``control``: the stack-wide pause flag (``#control``);

and the plain parts they share: ``status`` (the states and the status-index key), ``rows`` (the
typed rows), ``codec`` (DynamoDB values), ``clock`` (the timestamp format), ``table`` (the
conditional-write discipline and the write token that recognises a write whose answer was lost).
The moves are exactly "A tracker row's life" in ARCHITECTURE.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..models import MediaItem
from .claimed import ClaimedStore
from .clock import parse_iso, utc_now_iso
from .codec import from_item, plain, to_item
from .control import CONTROL_PROVIDER, PAUSE_ID, ControlStore
from .media import BATCH_GET_LIMIT, MediaStore
from .rows import MediaRow, Outcome, Pause, RunRecord
from .runs import RunStore, origin_counts
from .slots import SlotStore
from .status import (
    COMPLETED,
    DELETED_AT_SOURCE,
    FAILED,
    IN_PROGRESS,
    PENDING,
    QUEUED,
    SKIPPED,
    STATUSES,
    TERMINAL,
    Status,
    status_key,
)
from .table import WRITE_TOKEN, TableAccess

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "BATCH_GET_LIMIT",
    "COMPLETED",
    "CONTROL_PROVIDER",
    "DELETED_AT_SOURCE",
    "FAILED",
    "IN_PROGRESS",
    "PAUSE_ID",
    "PENDING",
    "QUEUED",
    "SKIPPED",
    "STATUSES",
    "TERMINAL",
    "WRITE_TOKEN",
    "MediaRow",
    "Outcome",
    "Pause",
    "RunRecord",
    "Status",
    "Tracker",
    "from_item",
    "origin_counts",
    "parse_iso",
    "plain",
    "status_key",
    "to_item",
    "utc_now_iso",
]


class Tracker(TableAccess):
    """All reads and writes of the tracker table. Thread-safe (uses a low-level client)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(client, table, clock=clock, sleep=sleep)
        self.runs = RunStore(client, table, clock=clock, sleep=sleep)
        self.media = MediaStore(client, table, self.runs, clock=clock, sleep=sleep)
        self.claimed = ClaimedStore(client, table, self.runs, clock=clock, sleep=sleep)
        self.slots = SlotStore(client, table, clock=clock, sleep=sleep)
        self.control = ControlStore(client, table, clock=clock, sleep=sleep)

    # --- media rows (media.py) ----------------------------------------------------------

    def get(self, provider: str, media_id: str) -> MediaRow | None:
        return self.media.get(provider, media_id)

    def get_many(self, provider: str, media_ids: Iterable[str]) -> dict[str, MediaRow]:
        return self.media.get_many(provider, media_ids)

    def by_status(self, provider: str, status: str, limit: int | None = None) -> Iterator[MediaRow]:
        return self.media.by_status(provider, status, limit)

    def count_by_status(self, provider: str, status: str) -> int:
        return self.media.count_by_status(provider, status)

    def values_by_status(
        self, provider: str, status: str, fields: Sequence[str]
    ) -> Iterator[dict[str, Any]]:
        return self.media.values_by_status(provider, status, fields)

    def failed_in_run(self, provider: str, run_id: str) -> Iterator[MediaRow]:
        return self.media.failed_in_run(provider, run_id)

    def owned(self, provider: str, media_id: str, wake: int) -> MediaRow:
        return self.media.owned(provider, media_id, wake)

    def add_pending(self, item: MediaItem, run_id: str) -> bool:
        return self.media.add_pending(item, run_id)

    def update_listing(self, item: MediaItem) -> bool:
        return self.media.update_listing(item)

    def requeue(
        self,
        row: MediaRow,
        run_id: str,
        *,
        overwrite: bool = False,
        reset_failures: bool = False,
        timed_out: bool = False,
    ) -> bool:
        return self.media.requeue(
            row, run_id, overwrite=overwrite, reset_failures=reset_failures, timed_out=timed_out
        )

    def wake_queued(self, provider: str, limit: int = 1) -> int:
        return self.media.wake_queued(provider, limit)

    # --- a claimed medium (claimed.py) --------------------------------------------------

    def save_plan(
        self, provider: str, media_id: str, wake: int, uploads: Mapping[str, Any], parts_done: int
    ) -> None:
        self.claimed.save_plan(provider, media_id, wake, uploads, parts_done)

    def update_upload(
        self, provider: str, media_id: str, wake: int, file_id: str, fields: Mapping[str, Any],
        *, md5s: Mapping[int, str] | None = None,
    ) -> None:
        self.claimed.update_upload(provider, media_id, wake, file_id, fields, md5s=md5s)

    def continue_later(self, provider: str, media_id: str, wake: int) -> bool:
        return self.claimed.continue_later(provider, media_id, wake)

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
        return self.claimed.finish(
            provider, media_id, wake, status, run_id=run_id, objects=objects,
            bytes_archived=bytes_archived, error_type=error_type,
            error_message=error_message, timed_out=timed_out,
        )

    def park(self, provider: str, media_id: str, wake: int, *, run_id: str | None) -> bool:
        return self.claimed.park(provider, media_id, wake, run_id=run_id)

    # --- run records (runs.py) ----------------------------------------------------------

    def start_run(self, run_id: str, provider: str, trigger: str, **counts: int) -> None:
        self.runs.start_run(run_id, provider, trigger, **counts)

    def end_listing(self, run_id: str, **counts: int) -> bool:
        return self.runs.end_listing(run_id, **counts)

    def get_run(self, run_id: str) -> RunRecord | None:
        return self.runs.get_run(run_id)

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        return self.runs.recent_runs(limit)

    def claim_run_completion(self, run_id: str) -> bool:
        return self.runs.claim_run_completion(run_id)

    # --- transfer slots (slots.py) ------------------------------------------------------

    def ensure_slot_row(self) -> dict[str, str]:
        return self.slots.ensure_slot_row()

    def slot_holders(self) -> dict[str, str]:
        return self.slots.slot_holders()

    def release_slot(self, provider: str, media_id: str, holder: str | None = None) -> None:
        self.slots.release_slot(provider, media_id, holder)

    # --- the stack-wide pause (control.py) ----------------------------------------------

    def get_pause(self) -> Pause | None:
        return self.control.get_pause()

    def pause(self, provider: str, error_type: str, reason: str) -> Pause:
        return self.control.pause(provider, error_type, reason)

    def claim_pause_alert(self, since: str) -> bool:
        return self.control.claim_pause_alert(since)

    def release_pause_alert(self, since: str) -> None:
        self.control.release_pause_alert(since)

    def clear_pause(self, since: str | None = None) -> Pause | None:
        return self.control.clear_pause(since)
