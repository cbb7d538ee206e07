"""The workflow's contract: every value that crosses a step boundary, typed, in one place.

The per-medium workflow (``cloudsync_defs/transfer.asl.json``) passes JSON between its steps,
and the steps pass records to each other through the tracker row (``uploads``, ``objects``).
Each of those shapes is one frozen dataclass here, with exactly one ``from_payload`` (JSON or
plain tracker values in, ``BadEventError`` when malformed) and one ``as_payload`` (the same
shape out, byte for byte what the ASL's JSONPaths and the stored rows expect). Nothing here
does I/O or imports another cloudsync module but ``errors`` and ``keys``: the steps, the
tracker and the tests all read the same definitions. docs/INTERNALS.md documents them; a unit
test keeps the two in step.

Nothing secret is ever part of a payload: links and tokens are fetched inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import BadEventError
from .keys import check_media_id

# --- checks shared by every from_payload ---------------------------------------------------


def require_object(raw: object, what: str = "the event") -> Mapping[str, Any]:
    """``raw`` as a JSON object, or ``BadEventError``."""
    if not isinstance(raw, Mapping):
        raise BadEventError(f"{what} must be a JSON object")
    return raw


def require_text(values: Mapping[str, Any], name: str) -> str:
    """A non-empty string field."""
    value = values.get(name)
    if not isinstance(value, str) or not value:
        raise BadEventError(f"event field {name!r} must be a non-empty string")
    return value


def require_whole(values: Mapping[str, Any], name: str) -> int:
    """A whole-number field (a float that is whole counts: JSON and Step Functions say 3.0)."""
    value = values.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise BadEventError(f"event field {name!r} must be a whole number")
    return int(value)


def optional_text(values: Mapping[str, Any], name: str) -> str | None:
    """A string field that may be missing or null."""
    value = values.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadEventError(f"event field {name!r} must be a string")
    return value


def optional_whole(values: Mapping[str, Any], name: str) -> int | None:
    """A whole-number field that may be missing or null."""
    return None if values.get(name) is None else require_whole(values, name)


def optional_flag(values: Mapping[str, Any], name: str, default: bool) -> bool:
    """A boolean field; missing or null is ``default``."""
    value = values.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadEventError(f"event field {name!r} must be true or false")
    return value


def _number(values: Mapping[str, Any], name: str, what: str) -> float:
    value = values.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadEventError(f"event field {name!r} must be a number ({what})")
    return float(value)


def _loose_text(values: Mapping[str, Any], name: str) -> str:
    """An optional field read as text, empty when missing (run ids, correlation ids)."""
    return str(values.get(name) or "")


# --- the execution and its steps' inputs ---------------------------------------------------


@dataclass(frozen=True)
class ExecutionInput:
    """The execution's input (written by ``sync.starter``) and the input of prepare, finalize and
    mark_failed: which medium, which wake-up of its row, which run. The ASL adds
    ``started_at`` (the execution's start) for prepare only."""

    provider: str
    media_id: str
    wake: int
    run_id: str
    correlation_id: str
    started_at: str | None = None

    @classmethod
    def from_payload(cls, raw: object) -> ExecutionInput:
        event = require_object(raw)
        started = event.get("started_at")
        return cls(
            provider=require_text(event, "provider"),
            media_id=require_text(event, "media_id"),
            wake=require_whole(event, "wake"),
            run_id=_loose_text(event, "run_id"),
            correlation_id=_loose_text(event, "correlation_id"),
            started_at=started if isinstance(started, str) else None,
        )

    def as_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"provider": self.provider, "media_id": self.media_id,
                               "wake": self.wake, "run_id": self.run_id,
                               "correlation_id": self.correlation_id}
        if self.started_at is not None:
            out["started_at"] = self.started_at
        return out


@dataclass(frozen=True)
class WorkUnit:
    """Parts ``first..last`` of one original (``file_id``)."""

    file_id: str
    first: int
    last: int

    @classmethod
    def from_payload(cls, raw: object) -> WorkUnit:
        unit = require_object(raw, "a unit of work")
        return cls(require_text(unit, "file"), require_whole(unit, "first"),
                   require_whole(unit, "last"))

    def as_payload(self) -> dict[str, Any]:
        return {"file": self.file_id, "first": self.first, "last": self.last}


@dataclass(frozen=True)
class Slice:
    """One Map item: a few units of work, about one transfer invocation's share."""

    units: tuple[WorkUnit, ...]

    @classmethod
    def from_payload(cls, raw: object) -> Slice:
        units = require_object(raw, "event field 'slice'").get("units")
        if not isinstance(units, list) or not units:
            raise BadEventError("event field 'slice.units' must be a non-empty list")
        return cls(tuple(WorkUnit.from_payload(u) for u in units))

    def as_payload(self) -> dict[str, Any]:
        return {"units": [u.as_payload() for u in self.units]}


@dataclass(frozen=True)
class TransferSlice:
    """Input of one transfer invocation (the Map's ItemSelector): a slice and the deadline."""

    provider: str
    media_id: str
    wake: int
    correlation_id: str
    deadline: float  # epoch seconds: no new part starts after it
    units: tuple[WorkUnit, ...]

    @classmethod
    def from_payload(cls, raw: object) -> TransferSlice:
        event = require_object(raw)
        return cls(
            provider=require_text(event, "provider"),
            media_id=require_text(event, "media_id"),
            wake=require_whole(event, "wake"),
            correlation_id=_loose_text(event, "correlation_id"),
            deadline=_number(event, "deadline", "epoch seconds"),
            units=Slice.from_payload(event.get("slice")).units,
        )

    def as_payload(self) -> dict[str, Any]:
        return {"provider": self.provider, "media_id": self.media_id, "wake": self.wake,
                "correlation_id": self.correlation_id, "deadline": self.deadline,
                "slice": Slice(self.units).as_payload()}


@dataclass(frozen=True)
class StepFailure:
    """Input of mark_failed: the execution's input and the error the workflow caught."""

    step: ExecutionInput
    error_type: str
    cause: str

    @classmethod
    def from_payload(cls, raw: object) -> StepFailure:
        event = require_object(raw)
        error = event.get("error")
        error = error if isinstance(error, Mapping) else {}
        return cls(
            step=ExecutionInput.from_payload(event),
            error_type=str(error.get("Error") or "UnknownError"),
            cause=str(error.get("Cause") or ""),
        )

    def as_payload(self) -> dict[str, Any]:
        return {**self.step.as_payload(), "error": {"Error": self.error_type, "Cause": self.cause}}


@dataclass(frozen=True)
class RunEvent:
    """Input of notify: the run whose last medium has finished."""

    run_id: str
    correlation_id: str

    @classmethod
    def from_payload(cls, raw: object) -> RunEvent:
        event = require_object(raw)
        return cls(require_text(event, "run_id"), _loose_text(event, "correlation_id"))

    def as_payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IndexRequest:
    """Input of index (from the workflow, or ``cloudsync index``). An unsafe media id is an
    ``InvalidMediaError`` (``keys.check_media_id``), as it always was for this step."""

    provider: str
    media_id: str
    correlation_id: str

    @classmethod
    def from_payload(cls, raw: object) -> IndexRequest:
        event = require_object(raw)
        return cls(str(event.get("provider") or "gopro"), check_media_id(event.get("media_id")),
                   _loose_text(event, "correlation_id"))

    def as_payload(self) -> dict[str, Any]:
        return asdict(self)


# --- the steps' results --------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedMedium:
    """Prepare's result (``$.plan``): the Map's items, the deadline, and what the medium holds."""

    slices: tuple[Slice, ...]
    deadline: float  # epoch seconds: the execution's start plus the time budget
    files: int
    bytes: int

    @classmethod
    def from_payload(cls, raw: object) -> PreparedMedium:
        plan = require_object(raw, "the prepared medium")
        slices = plan.get("slices")
        if not isinstance(slices, list):
            raise BadEventError("event field 'slices' must be a list")
        return cls(tuple(Slice.from_payload(s) for s in slices),
                   _number(plan, "deadline", "epoch seconds"), require_whole(plan, "files"),
                   require_whole(plan, "bytes"))

    def as_payload(self) -> dict[str, Any]:
        return {"slices": [s.as_payload() for s in self.slices], "deadline": self.deadline,
                "files": self.files, "bytes": self.bytes}


@dataclass(frozen=True)
class TransferResult:
    """One transfer invocation's result (dropped by the Map: ListParts is the truth)."""

    parts: int
    bytes: int
    stopped_by_deadline: bool

    @classmethod
    def from_payload(cls, raw: object) -> TransferResult:
        result = require_object(raw, "the transfer result")
        return cls(require_whole(result, "parts"), require_whole(result, "bytes"),
                   optional_flag(result, "stopped_by_deadline", False))

    def as_payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """What a finishing step (finalize, mark_failed) reports back (``$.outcome``): the state the
    medium ended in and whether it was the last of its run (then Notify runs)."""

    status: str
    run_complete: bool

    @classmethod
    def from_payload(cls, raw: object) -> Outcome:
        outcome = require_object(raw, "the outcome")
        return cls(require_text(outcome, "status"),
                   optional_flag(outcome, "run_complete", False))

    def as_payload(self) -> dict[str, Any]:
        return asdict(self)


# --- the records the steps leave each other in the tracker row ------------------------------


@dataclass(frozen=True)
class ArchivedRecord:
    """One archived original (an entry of the row's ``objects``, and of ``uploads[*].done``
    until the medium is COMPLETED): where it lies and what was proved about its bytes."""

    file_id: str
    key: str
    version_id: str | None
    size: int
    crc32: str | None = None  # the object's full-object CRC32 (base64), as S3 reports it
    origin: str | None = None  # match | unknown: the origin ETag's verdict
    origin_why: str | None = None  # why it is unknown

    @classmethod
    def from_payload(cls, raw: object) -> ArchivedRecord:
        record = require_object(raw, "an archived record")
        return cls(
            file_id=require_text(record, "file_id"),
            key=require_text(record, "key"),
            version_id=optional_text(record, "version_id"),
            size=require_whole(record, "size"),
            crc32=optional_text(record, "crc32"),
            origin=optional_text(record, "origin"),
            origin_why=optional_text(record, "origin_why"),
        )

    def as_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file_id": self.file_id, "key": self.key,
                               "version_id": self.version_id, "size": self.size}
        if self.crc32 is not None:
            out["crc32"] = self.crc32
        if self.origin is not None:
            out["origin"] = self.origin
        if self.origin_why:
            out["origin_why"] = self.origin_why
        return out


def _md5s(raw: object) -> dict[int, str] | None:
    if raw is None:
        return None
    md5 = require_object(raw, "event field 'md5'")
    try:
        return {int(n): str(v) for n, v in md5.items()}
    except ValueError as e:
        raise BadEventError("event field 'md5' must map part numbers to MD5s") from e


@dataclass(frozen=True)
class UploadPlan:
    """One original's upload, planned by prepare (``uploads[file_id]`` on the row).

    ``upload_id`` None: the file is smaller than a part and goes up as one PutObject written by
    a transfer step. ``ranges``: whether the source honours Range (else one sequential pass).
    ``origin_etag`` / ``last_modified``: the version probed; every read is pinned to it.
    ``origin_part``: the origin's part size the upload is cut on (then ``md5`` records each
    part's MD5, written by the transfer steps, and ``origin_guess`` says whether that size was
    one of several possible); ``origin_why``: why the origin's checksum can prove nothing.
    ``source_changed``: a transfer step saw the source change and aborted the upload;
    ``restarts``: how many times in a row that happened. ``done``: finalize's record of the
    archived object, kept until the whole medium is COMPLETED.
    """

    key: str
    size: int
    part_size: int
    upload_id: str | None = None
    ranges: bool = True
    origin_etag: str | None = None
    last_modified: str | None = None
    origin_part: int | None = None
    origin_guess: bool = False
    md5: Mapping[int, str] | None = field(default=None, hash=False)
    origin_why: str | None = None
    source_changed: bool = False
    restarts: int = 0
    done: ArchivedRecord | None = None

    @classmethod
    def from_payload(cls, raw: object) -> UploadPlan:
        plan = require_object(raw, "an upload record")
        done = plan.get("done")
        return cls(
            key=require_text(plan, "key"),
            size=require_whole(plan, "size"),
            part_size=require_whole(plan, "part_size"),
            upload_id=optional_text(plan, "upload_id") or None,
            ranges=optional_flag(plan, "ranges", True),
            origin_etag=optional_text(plan, "origin_etag"),
            last_modified=optional_text(plan, "last_modified"),
            origin_part=optional_whole(plan, "origin_part") or None,
            origin_guess=optional_flag(plan, "origin_guess", False),
            md5=_md5s(plan.get("md5")),
            origin_why=optional_text(plan, "origin_why") or None,
            source_changed=optional_flag(plan, "source_changed", False),
            restarts=optional_whole(plan, "restarts") or 0,
            done=ArchivedRecord.from_payload(done) if done else None,
        )

    def as_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key, "size": self.size, "part_size": self.part_size,
            "ranges": self.ranges, "upload_id": self.upload_id, "origin_etag": self.origin_etag,
            "last_modified": self.last_modified, "restarts": self.restarts,
        }
        if self.origin_part is not None:
            out.update(origin_part=self.origin_part, origin_guess=self.origin_guess)
        if self.md5 is not None:
            out["md5"] = {str(n): v for n, v in sorted(self.md5.items())}
        if self.origin_why:
            out["origin_why"] = self.origin_why
        if self.source_changed:
            out["source_changed"] = True
        if self.done is not None:
            out["done"] = self.done.as_payload()
        return out

    @property
    def moves_whole(self) -> bool:
        """Smaller than a part: one PutObject by a transfer step, no multipart upload."""
        return self.upload_id is None

    @property
    def md5_numbers(self) -> set[int] | None:
        """Parts whose MD5 is recorded, or None when this file's parts need no MD5."""
        if not self.origin_part or self.md5 is None:
            return None
        return set(self.md5)


def uploads_from_payload(raw: object) -> dict[str, UploadPlan]:
    """The row's ``uploads`` map (file id -> record)."""
    if raw is None:
        return {}
    return {str(k): UploadPlan.from_payload(v) for k, v in require_object(raw, "uploads").items()}


def uploads_as_payload(uploads: Mapping[str, UploadPlan]) -> dict[str, Any]:
    """The row's ``uploads`` map as stored."""
    return {file_id: plan.as_payload() for file_id, plan in uploads.items()}


# Every payload type, in the order docs/INTERNALS.md documents them (a unit test checks it).
PAYLOADS: tuple[type, ...] = (
    ExecutionInput, WorkUnit, Slice, TransferSlice, StepFailure, RunEvent, IndexRequest,
    PreparedMedium, TransferResult, Outcome, ArchivedRecord, UploadPlan,
)
