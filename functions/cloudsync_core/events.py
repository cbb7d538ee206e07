"""The lister's event, parsed into a type: a malformed event is a clear typed error.

Everything the per-medium workflow passes between its steps is typed in ``contract``; this is
the one input from outside it (the schedule, or ``cloudsync sync``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .contract import require_object
from .errors import ConfigurationError
from .providers import DEFAULT_PROVIDER


@dataclass(frozen=True)
class ListOptions:
    """The one-off parts of a listing, from the list input (``cloudsync sync`` flags)."""

    selection: Mapping[str, Any] = field(default_factory=dict)  # keys replacing the stack's
    limit: int | None = None  # queue at most this many new media (in queue order)
    dry_run: bool = False  # decide everything, write nothing, answer with the plan
    full: bool = False  # a full listing even when an incremental one would do

    @classmethod
    def from_event(cls, event: object) -> ListOptions:
        raw = event if isinstance(event, Mapping) else {}
        selection, limit = raw.get("selection") or {}, raw.get("limit")
        if not isinstance(selection, Mapping):
            raise ConfigurationError("list input: selection must be a map")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise ConfigurationError("list input: limit must be a whole number >= 1")
        return cls(dict(selection), limit, bool(raw.get("dry_run")), bool(raw.get("full")))

    def as_event(self) -> dict[str, Any]:
        event: dict[str, Any] = {"selection": dict(self.selection)} if self.selection else {}
        if self.limit is not None:
            event["limit"] = self.limit
        return {**event, **({"dry_run": True} if self.dry_run else {}),
                **({"full": True} if self.full else {})}


@dataclass(frozen=True)
class ListRequest:
    """Input of the lister: the schedule sends nothing or ``{"trigger": ...}``; ``cloudsync
    sync`` adds a run id and its one-off ``options``."""

    provider: str
    trigger: str
    run_id: str | None
    options: ListOptions = field(default_factory=ListOptions)

    @classmethod
    def parse(cls, raw: object) -> ListRequest:
        event = require_object(raw or {})
        run_id = event.get("run_id")
        return cls(
            provider=str(event.get("provider") or DEFAULT_PROVIDER),
            trigger=str(event.get("trigger") or "schedule"),
            run_id=run_id if isinstance(run_id, str) and run_id else None,
            options=ListOptions.from_event(event),
        )
