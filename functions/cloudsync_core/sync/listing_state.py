"""Incremental listing: list only what was uploaded lately, and prove it often enough.

What the API allows (gopro-api.md, and the public clients): ``/media/search`` sorts by
``order_by`` (``captured_at`` in rclone's backend and our full listing; ``created_at``, the
upload time, in dustin/gopro-plus, whose incremental fetch stops at the first page holding a
medium it knows). Its only range filter is ``captured_range``: there is no upload-time range, and
no client documents the sort direction (rclone's backend scans everything for that reason). A
captured-date watermark would miss a late upload of old footage, so the nightly listing pages by
upload time, newest first, and stops at the media uploaded before the mark (the newest upload the
last complete listing saw) less an overlap (media still processing when that listing ran show up
later with an older upload time), once a few media past that point have shown the order.
Nothing proves the source sorts as asked, so:

- a page out of upload order, or a medium without an upload time, turns the night's listing
  into a full one (it goes on to the last page);
- a full listing runs anyway every ``fullListingDays`` (a stack setting), and whenever the
  selection changed (its fingerprint), and when no state exists yet;
- the state advances only after a complete listing under the stack's own selection that left
  nothing new unqueued (not a dry run, not ``--limit``, not a one-off selection), and is written
  only when a full listing ran or a newer upload was seen: an unchanged night writes nothing.

The state is one row per provider under the reserved provider name ``#listing``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ..errors import ConfigurationError
from ..models import MediaItem
from ..settings import ENV_FULL_LISTING_DAYS
from ..tracker import parse_iso, to_item, utc_now_iso
from ..tracker.table import TableAccess

LISTING_PROVIDER: Final = "#listing"
DEFAULT_FULL_LISTING_DAYS: Final = 7
OVERLAP: Final = timedelta(hours=48)  # uploads still processing when the mark was taken
# Media past the cutoff read (in order) before stopping: evidence that the source sorts as
# asked (they are on the page already fetched, so they cost no GoPro call).
ORDER_EVIDENCE: Final = 20
FULL: Final = "full"
INCREMENTAL: Final = "incremental"


def full_listing_days(env: Mapping[str, str] | None = None) -> int:
    """Days between full listings (0: every listing is full)."""
    raw = (os.environ if env is None else env).get(ENV_FULL_LISTING_DAYS, "").strip()
    if not raw:
        return DEFAULT_FULL_LISTING_DAYS
    try:
        days = int(raw)
    except ValueError as e:
        raise ConfigurationError(f"{ENV_FULL_LISTING_DAYS} must be a whole number") from e
    if days < 0:
        raise ConfigurationError(f"{ENV_FULL_LISTING_DAYS} must be 0 or more")
    return days


@dataclass(frozen=True)
class ListingState:
    """What the last complete listings established, for one provider."""

    selection: str  # the fingerprint of the selection they listed under
    mark: str | None = None  # the newest upload time they saw (ISO)
    full_at: str | None = None  # when the last complete full listing ended
    full_run: str | None = None
    incremental_at: str | None = None  # the last incremental listing that saw a newer upload

    @classmethod
    def from_values(cls, v: Mapping[str, Any]) -> ListingState:
        def text(name: str) -> str | None:
            value = v.get(name)
            return str(value) if value else None

        return cls(str(v.get("selection", "")), text("mark"), text("full_at"), text("full_run"),
                   text("incremental_at"))

    def as_dict(self) -> dict[str, Any]:
        return {"selection": self.selection, "mark": self.mark, "full_at": self.full_at,
                "full_run": self.full_run, "incremental_at": self.incremental_at}


class ListingStateStore(TableAccess):
    """The ``#listing`` rows: read consistently, written with one plain update."""

    def get_state(self, provider: str) -> ListingState | None:
        values = self._read(LISTING_PROVIDER, provider, "read the listing state")
        return ListingState.from_values(values) if values else None

    def put_state(self, provider: str, state: ListingState) -> None:
        values = {k: v for k, v in state.as_dict().items() if v is not None}
        clause, names, vals = self._set_clause(values)
        self._update("record the listing state", Key=self._key(LISTING_PROVIDER, provider),
                     UpdateExpression=f"SET {clause}", ExpressionAttributeNames=names,
                     ExpressionAttributeValues=to_item(vals))


@dataclass(frozen=True)
class ListingPlan:
    """How tonight lists: ``mode`` and why; for an incremental listing, where it may stop."""

    mode: str
    reason: str
    cutoff: datetime | None = None  # incremental: stop after a page ending before this


def plan_listing(
    state: ListingState | None, fingerprint: str, *, every_days: int, now: float,
    full_asked: bool = False, one_off: bool = False,
) -> ListingPlan:
    """Full or incremental tonight, and why."""
    if full_asked:
        return ListingPlan(FULL, "asked for")
    if one_off:
        return ListingPlan(FULL, "a one-off selection")
    if every_days == 0:
        return ListingPlan(FULL, "fullListingDays is 0")
    if state is None or state.mark is None:
        return ListingPlan(FULL, "no earlier complete listing")
    if state.selection != fingerprint:
        return ListingPlan(FULL, "the selection changed")
    full_at, mark = parse_iso(state.full_at), parse_iso(state.mark)
    if full_at is None or mark is None:
        return ListingPlan(FULL, "no earlier full listing")
    if full_at.timestamp() + every_days * 86400 <= now:
        return ListingPlan(FULL, f"the last full listing is {every_days}+ days old")
    return ListingPlan(INCREMENTAL, f"uploads since {mark - OVERLAP:%Y-%m-%d %H:%M} UTC",
                       cutoff=mark - OVERLAP)


class UploadOrder:
    """Watches an incremental listing: where it may stop, and whether the order can be trusted."""

    def __init__(self, cutoff: datetime | None) -> None:
        self.cutoff = cutoff
        self.trusted = cutoff is not None
        self.newest: datetime | None = None  # the newest upload time seen (the next mark)
        self._last: datetime | None = None
        self.old = 0  # media uploaded before the cutoff seen so far (all in order)

    def see(self, item: MediaItem) -> None:
        when = item.created_at
        if when is None:
            self.trusted = False  # cannot place it: list everything
            return
        if self.newest is None or when > self.newest:
            self.newest = when
        if self._last is not None and when > self._last:
            self.trusted = False  # not newest upload first: list everything
        self._last = when
        if self.cutoff is not None and when < self.cutoff:
            self.old += 1

    def may_stop(self) -> bool:
        """Everything later was uploaded before the cutoff (so listed before), as far as
        ``ORDER_EVIDENCE`` media in upload order past the cutoff can show it."""
        return self.trusted and self.old >= ORDER_EVIDENCE


def next_state(
    old: ListingState | None, fingerprint: str, plan_mode: str, order: UploadOrder, *,
    run_id: str, now: float,
) -> ListingState:
    """The state after a complete listing."""
    stamp = utc_now_iso(lambda: now)
    marks = [m for m in (order.newest, parse_iso(old.mark) if old else None) if m is not None]
    mark = max(marks).astimezone(UTC).isoformat() if marks else (
        datetime.fromtimestamp(now, UTC).isoformat())
    if plan_mode == FULL:
        return ListingState(fingerprint, mark, full_at=stamp, full_run=run_id,
                            incremental_at=old.incremental_at if old else None)
    assert old is not None  # an incremental listing needs an earlier state
    return ListingState(fingerprint, mark, old.full_at, old.full_run, incremental_at=stamp)
