"""The one timestamp format of the tracker, and its parser.

Rows store ISO-8601 UTC strings in the format Step Functions uses for
``$$.State.EnteredTime``, so a row's times and the workflow's compare as strings and as times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


def utc_now_iso(clock: Callable[[], float] = time.time) -> str:
    """The timestamp format Step Functions uses for ``$$.State.EnteredTime``."""
    stamp = datetime.fromtimestamp(clock(), UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def parse_iso(value: object) -> datetime | None:
    """A stored timestamp as an aware datetime; ``None`` for a missing or malformed one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
