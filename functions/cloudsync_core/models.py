"""The few value types every layer shares. Providers produce them; nothing here does I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class MediaItem:
    """One medium as the source lists it. Identity is (provider, media_id), never the filename."""

    provider: str
    media_id: str
    filename: str | None
    media_type: str | None
    captured_at: datetime | None
    created_at: datetime | None
    file_size: int | None  # the source's estimate over all files; the download is the truth
    item_count: int | None = None
    ready: bool = True
    # Provider-specific listing facts its selection needs again later (short, log-safe
    # strings, e.g. GoPro's ``play_as`` / ``composition``); kept in the tracker row.
    facts: Mapping[str, str] = field(default_factory=dict)
    camera: str | None = None  # the camera model as listed (selective sync: ``cameras``)


@dataclass(frozen=True)
class SourceFile:
    """One original file of a medium, with a short-lived link to its bytes.

    ``url`` is a pre-signed link: treat it as a secret (never log it, never put it in a
    workflow payload). ``file_id`` is stable across fresh download answers, so a later
    invocation can find the same original again.
    """

    file_id: str  # e.g. "source-1", "frame-0007", "raw_photo-1"
    item_number: int
    label: str
    filename: str  # the original name as the source gives it (unsafe; see keys.safe_name)
    url: str = field(repr=False)
    head_url: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Selection:
    """What a provider chose as a medium's originals from one fresh answer, and why.

    ``rule`` names the row of the provider's rule table that chose them (logs, tests).
    ``expected_bytes`` is set when the listing's size must be accounted for by these originals'
    sizes (checked after probing, with a tolerance: listed sizes drift a few KB).
    """

    originals: list[SourceFile]
    rule: str
    expected_bytes: int | None = None


@dataclass(frozen=True)
class ListFilters:
    """What the lister asks the source for."""

    media_types: tuple[str, ...] = ()
    processing_states: tuple[str, ...] = ("ready",)
    captured_after: datetime | None = None
    captured_before: datetime | None = None
    max_items: int | None = None
    # "captured": newest capture first; "uploaded": newest upload first (incremental listing)
    order: str = "captured"
