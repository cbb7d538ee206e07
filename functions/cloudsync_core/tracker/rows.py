"""The tracker's rows as typed values: media, run records, the pause flag.

Each row type reads itself from plain values (``from_values``, after the codec) and never
touches DynamoDB: the stores write, these describe. Timestamps stay strings as stored (the
format of ``clock.utc_now_iso``); the properties that parse them are here so callers do not.
A media row's ``uploads`` are the workflow's typed upload records (``contract.UploadPlan``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..contract import UploadPlan, uploads_from_payload
from .clock import parse_iso
from .status import PENDING, TERMINAL


@dataclass(frozen=True)
class MediaRow:
    provider: str
    media_id: str
    status: str
    wake: int
    attempt: int = 0
    failures: int = 0
    run_id: str | None = None
    filename: str | None = None
    media_type: str | None = None
    captured_at: str | None = None
    listed_size: int | None = None
    claimed_at: str | None = None
    status_changed_at: str | None = None
    uploads: dict[str, UploadPlan] = field(default_factory=dict)  # file id -> its upload
    objects: list[dict[str, Any]] = field(default_factory=list)
    bytes_archived: int = 0
    error_type: str | None = None
    error_message: str | None = None
    overwrite: bool = False
    continuations: int = 0
    progress_parts: int = 0
    item_count: int | None = None  # what the listing said; the originals must account for it
    facts: dict[str, str] = field(default_factory=dict)  # the provider's listing facts

    @classmethod
    def from_values(cls, v: Mapping[str, Any]) -> MediaRow:
        return cls(
            provider=str(v["provider"]),
            media_id=str(v["media_id"]),
            status=str(v.get("status", PENDING)),
            wake=int(v.get("wake", 0)),
            attempt=int(v.get("attempt", 0)),
            failures=int(v.get("failures", 0)),
            run_id=v.get("run_id"),
            filename=v.get("filename"),
            media_type=v.get("media_type"),
            captured_at=v.get("captured_at"),
            listed_size=v.get("listed_size"),
            claimed_at=v.get("claimed_at"),
            status_changed_at=v.get("status_changed_at"),
            uploads=uploads_from_payload(v.get("uploads")),
            objects=list(v.get("objects") or []),
            bytes_archived=int(v.get("bytes_archived", 0)),
            error_type=v.get("error_type"),
            error_message=v.get("error_message"),
            overwrite=bool(v.get("overwrite", False)),
            continuations=int(v.get("continuations", 0)),
            progress_parts=int(v.get("progress_parts", 0)),
            item_count=int(v["item_count"]) if v.get("item_count") is not None else None,
            facts={str(k): str(x) for k, x in (v.get("facts") or {}).items()},
        )

    def run_left_behind(self, new_run: str) -> str | None:
        """The run that still counts on this medium, if moving it to ``new_run`` takes it away."""
        if self.run_id and self.run_id != new_run and self.status not in TERMINAL:
            return self.run_id
        return None

    @property
    def claimed(self) -> datetime | None:
        """When the current execution claimed the medium (``claimed_at`` parsed)."""
        return parse_iso(self.claimed_at)

    @property
    def captured(self) -> datetime | None:
        """When the medium was shot, as the listing said (``captured_at`` parsed)."""
        return parse_iso(self.captured_at)

    @property
    def status_changed(self) -> datetime | None:
        """When the row last changed state (``status_changed_at`` parsed)."""
        return parse_iso(self.status_changed_at)

    def lease_expired(self, lease_s: int, now: float) -> bool:
        claimed = self.claimed
        return claimed is None or claimed.timestamp() + lease_s < now


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    provider: str
    trigger: str
    started_at: str
    queued: int
    completed: int = 0
    failed: int = 0
    deleted: int = 0
    moved: int = 0  # media a later run took over before they finished here
    moved_to: tuple[str, ...] = ()  # the runs that took them over (``sync --wait`` follows)
    skipped_media: int = 0  # media that ended SKIPPED (not media to archive)
    origin_match: int = 0  # archived objects whose bytes reproduce GoPro's own ETag
    origin_unknown: int = 0  # archived objects GoPro's ETag could not decide (see their rows)
    timed_out: int = 0  # executions that outlived the workflow's time limit (swept later)
    bytes: int = 0
    notified: bool = False
    finished_at: str | None = None
    listed: int = 0
    new: int = 0
    requeued: int = 0
    skipped: int = 0
    listing: bool = False  # still counting what it queues: never "done" before that ends
    expected_bytes: int = 0

    @property
    def finished(self) -> int:
        return self.completed + self.failed + self.deleted + self.moved + self.skipped_media

    @property
    def done(self) -> bool:
        return not self.listing and self.finished >= self.queued

    @classmethod
    def from_values(cls, v: Mapping[str, Any]) -> RunRecord:
        return cls(
            run_id=str(v["media_id"]),
            provider=str(v.get("run_provider", "")),
            trigger=str(v.get("trigger", "")),
            started_at=str(v.get("started_at", "")),
            queued=int(v.get("queued", 0)),
            completed=int(v.get("completed", 0)),
            failed=int(v.get("failed", 0)),
            deleted=int(v.get("deleted", 0)),
            moved=int(v.get("moved", 0)),
            moved_to=tuple(sorted(str(r) for r in v.get("moved_to") or ())),
            skipped_media=int(v.get("skipped_media", 0)),
            origin_match=int(v.get("origin_match", 0)),
            origin_unknown=int(v.get("origin_unknown", 0)),
            timed_out=int(v.get("timed_out", 0)),
            bytes=int(v.get("bytes", 0)),
            notified=bool(v.get("notified", False)),
            finished_at=v.get("finished_at"),
            listed=int(v.get("listed", 0)),
            new=int(v.get("new", 0)),
            requeued=int(v.get("requeued", 0)),
            skipped=int(v.get("skipped", 0)),
            listing=bool(v.get("listing", False)),
            expected_bytes=int(v.get("expected_bytes", 0)),
        )


@dataclass(frozen=True)
class Pause:
    """The stack is paused by an account problem: since when, why, and whether the one alert
    for it went out."""

    since: str
    reason: str
    error_type: str
    provider: str = ""
    alerted: bool = False

    @classmethod
    def from_values(cls, v: Mapping[str, Any]) -> Pause:
        return cls(
            since=str(v.get("since", "")),
            reason=str(v.get("reason", "")),
            error_type=str(v.get("error_type", "")),
            provider=str(v.get("paused_provider", "")),
            alerted=bool(v.get("alerted", False)),
        )

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since, "reason": self.reason, "error_type": self.error_type,
                "provider": self.provider, "alerted": self.alerted}
