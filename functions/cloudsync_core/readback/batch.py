"""One invocation's share of a read-back: the objects the CLI sent, within a time budget.

The event names objects (media id, key, version), never what they should contain: the expected
size and checksums come from the tracker's rows, so a caller cannot make a damaged object pass.
The CLI cuts the archive into batches and sends several at once; an object this invocation had
no time to start comes back ``not_reached`` and the CLI sends it again. Objects are read a few
at a time, each as parallel ranges, so memory stays a few chunks per reader whatever the size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..errors import BadEventError
from ..keys import check_media_id
from ..services import Services
from ..tracker import MediaRow
from .check import NOT_REACHED, UNCHECKED, ReadResult, check_object

MAX_ITEMS = 500  # keeps the answer far below Lambda's 6 MB
OBJECTS_AT_ONCE = 4
RATE_FLOOR = 40 * 1024 * 1024  # bytes/s assumed when deciding whether an object still fits
DEFAULT_BUDGET_S = 240.0


@dataclass(frozen=True)
class ReadItem:
    media_id: str
    key: str
    version_id: str | None

    @classmethod
    def parse(cls, value: object) -> ReadItem:
        if not isinstance(value, Mapping) or not isinstance(value.get("key"), str):
            raise BadEventError("each object needs a media_id and a key")
        version = value.get("version_id")
        return cls(check_media_id(value.get("media_id")), str(value["key"]),
                   str(version) if version else None)


@dataclass(frozen=True)
class ReadRequest:
    provider: str
    items: tuple[ReadItem, ...]
    budget_s: float = DEFAULT_BUDGET_S

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ReadRequest:
        items = event.get("objects")
        if not isinstance(items, list) or not 0 < len(items) <= MAX_ITEMS:
            raise BadEventError(f"objects must be a list of 1 to {MAX_ITEMS} objects")
        try:
            budget = float(event.get("budget_s") or DEFAULT_BUDGET_S)
        except (TypeError, ValueError) as e:
            raise BadEventError("budget_s must be a number of seconds") from e
        return cls(str(event.get("provider") or "gopro"),
                   tuple(ReadItem.parse(i) for i in items), max(1.0, budget))


def _record(row: MediaRow | None, item: ReadItem) -> dict[str, Any] | None:
    for record in row.objects if row else []:
        values = dict(record)
        version = values.get("version_id")
        if values.get("key") == item.key and (str(version) if version else None) == (
                item.version_id):
            return values
    return None


def read_back(svc: Services, request: ReadRequest, deadline: float,
              clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Check each object of the request; those that no longer fit before ``deadline`` (a
    ``clock()`` value) are answered ``not_reached``."""
    end = min(deadline, clock() + request.budget_s)
    rows = {m: svc.tracker.get(request.provider, m)
            for m in dict.fromkeys(i.media_id for i in request.items)}

    def one(item: ReadItem) -> ReadResult:
        record = _record(rows[item.media_id], item)
        if record is None:
            return ReadResult(item.media_id, item.key, item.version_id, None).fail(
                UNCHECKED, "no tracker row records this version of the object")
        size = int(record.get("size") or 0)
        if clock() + size / RATE_FLOOR > end:
            return ReadResult(item.media_id, item.key, item.version_id, size, NOT_REACHED)
        return check_object(svc.s3, svc.settings.bucket, item.media_id, record)

    with ThreadPoolExecutor(max_workers=OBJECTS_AT_ONCE) as pool:
        results = list(pool.map(one, request.items))
    return {"provider": request.provider, "results": [r.as_payload() for r in results]}
