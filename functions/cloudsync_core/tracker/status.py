"""The states a tracker row moves through, and the one way to spell its status-index key.

The states are exactly "A tracker row's life" in ARCHITECTURE.md. The status index (GSI) is
partitioned by ``provider#status``; ``status_key`` is the only place that key is built, so the
writers (every move) and the readers (``by_status``, ``count_by_status``) cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A tracker row's state. A ``str``: stored, compared and printed as its plain name."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    DELETED_AT_SOURCE = "DELETED_AT_SOURCE"
    SKIPPED = "SKIPPED"  # not a medium to archive (an edit project, a share render): reason kept


PENDING = Status.PENDING
QUEUED = Status.QUEUED
IN_PROGRESS = Status.IN_PROGRESS
COMPLETED = Status.COMPLETED
FAILED = Status.FAILED
DELETED_AT_SOURCE = Status.DELETED_AT_SOURCE
SKIPPED = Status.SKIPPED
STATUSES: tuple[Status, ...] = tuple(Status)
TERMINAL: tuple[Status, ...] = (COMPLETED, FAILED, DELETED_AT_SOURCE, SKIPPED)


def status_key(provider: str, status: str) -> str:
    """The status index's partition value of a row of ``provider`` in ``status``."""
    return f"{provider}#{Status(status).value}"
