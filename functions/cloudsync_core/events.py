"""The events functions receive, parsed into types: a malformed event is a clear typed error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import BadEventError


def _str(event: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = event.get(name, default)
    if not isinstance(value, str) or not value:
        raise BadEventError(f"event field {name!r} must be a non-empty string")
    return value


def _int(event: Mapping[str, Any], name: str) -> int:
    value = event.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise BadEventError(f"event field {name!r} must be a whole number")
    return int(value)


def _mapping(event: object) -> Mapping[str, Any]:
    if not isinstance(event, Mapping):
        raise BadEventError("the event must be a JSON object")
    return event


@dataclass(frozen=True)
class MediumStep:
    """Input of prepare and finalize: which medium, which wake-up, which run."""

    provider: str
    media_id: str
    wake: int
    run_id: str
    correlation_id: str
    started_at: str | None = None

    @classmethod
    def parse(cls, raw: object) -> MediumStep:
        event = _mapping(raw)
        started = event.get("started_at")
        return cls(
            provider=_str(event, "provider"),
            media_id=_str(event, "media_id"),
            wake=_int(event, "wake"),
            run_id=str(event.get("run_id") or ""),
            correlation_id=str(event.get("correlation_id") or ""),
            started_at=started if isinstance(started, str) else None,
        )


@dataclass(frozen=True)
class WorkUnit:
    """Parts ``first..last`` of one original (``file_id``)."""

    file_id: str
    first: int
    last: int

    def as_payload(self) -> dict[str, Any]:
        return {"file": self.file_id, "first": self.first, "last": self.last}


@dataclass(frozen=True)
class TransferSlice:
    """Input of one transfer invocation: a few units of work and the time to stop by."""

    provider: str
    media_id: str
    wake: int
    correlation_id: str
    deadline: float  # epoch seconds
    units: tuple[WorkUnit, ...]

    @classmethod
    def parse(cls, raw: object) -> TransferSlice:
        event = _mapping(raw)
        slice_ = _mapping(event.get("slice"))
        units_raw = slice_.get("units")
        if not isinstance(units_raw, list) or not units_raw:
            raise BadEventError("event field 'slice.units' must be a non-empty list")
        units = []
        for unit in units_raw:
            unit = _mapping(unit)
            units.append(WorkUnit(_str(unit, "file"), _int(unit, "first"), _int(unit, "last")))
        deadline = event.get("deadline")
        if isinstance(deadline, bool) or not isinstance(deadline, (int, float)):
            raise BadEventError("event field 'deadline' must be a number (epoch seconds)")
        return cls(
            provider=_str(event, "provider"),
            media_id=_str(event, "media_id"),
            wake=_int(event, "wake"),
            correlation_id=str(event.get("correlation_id") or ""),
            deadline=float(deadline),
            units=tuple(units),
        )


@dataclass(frozen=True)
class StepFailure:
    """Input of mark_failed: the medium and the error the workflow caught."""

    step: MediumStep
    error_type: str
    cause: str

    @classmethod
    def parse(cls, raw: object) -> StepFailure:
        event = _mapping(raw)
        error = event.get("error")
        error = error if isinstance(error, Mapping) else {}
        return cls(
            step=MediumStep.parse(event),
            error_type=str(error.get("Error") or "UnknownError"),
            cause=str(error.get("Cause") or ""),
        )


@dataclass(frozen=True)
class RunEvent:
    """Input of notify."""

    run_id: str
    correlation_id: str

    @classmethod
    def parse(cls, raw: object) -> RunEvent:
        event = _mapping(raw)
        return cls(_str(event, "run_id"), str(event.get("correlation_id") or ""))


@dataclass(frozen=True)
class ListRequest:
    """Input of the lister: the schedule sends nothing or ``{"trigger": ...}``."""

    provider: str
    trigger: str
    run_id: str | None

    @classmethod
    def parse(cls, raw: object) -> ListRequest:
        event = _mapping(raw or {})
        run_id = event.get("run_id")
        return cls(
            provider=str(event.get("provider") or "gopro"),
            trigger=str(event.get("trigger") or "schedule"),
            run_id=run_id if isinstance(run_id, str) and run_id else None,
        )
