"""The tracker table: one row per medium, each move between states a conditional write.

``Tracker`` is the one class every caller uses; it is made of stores split by what they store:

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

from ..contract import Outcome
from .claimed import ClaimedStore
from .clock import parse_iso, utc_now_iso
from .codec import from_item, plain, to_item
from .control import CONTROL_PROVIDER, PAUSE_ID, ControlStore
from .media import BATCH_GET_LIMIT, MediaStore
from .rows import MediaRow, Pause, RunRecord
from .runs import origin_counts
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
from .table import WRITE_TOKEN

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


class Tracker(MediaStore, ClaimedStore, SlotStore, ControlStore):
    """All reads and writes of the tracker table. Thread-safe (uses a low-level client).

    The stores are its bases, so each method is written once, in the module of what it
    stores, and a caller needs only this one class. Each store is a ``RunStore`` or a plain
    ``TableAccess``; no two define the same method (a unit test holds that).
    """
