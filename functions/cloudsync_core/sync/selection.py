"""Selective sync: which listed media a stack (or one `cloudsync sync`) archives, and in what order.

One parser for three places: the stack setting ``selection`` (validated once by the Pulumi
program, components/config.py), the lister (it reads the setting from its environment, and the
one-off flags of ``cloudsync sync`` from its input) and the CLI (``sync`` flags, ``library``).
A medium a selection leaves out is never queued and never FAILED: it gets no tracker row at
all, so widening the selection later finds it new on the next run (the listing state's
fingerprint makes that run a full listing, see ``listing_state``). Every reason a selection
gives is log-safe: it names the setting, never a value from the source.

Unknown facts never leave a medium out: a medium with no capture date, size or camera listed is
kept (archiving too much is mended by a narrower setting; a silent gap is not).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Final

from ..errors import ConfigurationError
from ..models import MediaItem
from ..settings import ENV_INCLUDE_RENDERS, ENV_MEDIA_TYPES, ENV_SELECTION, Settings

ORDERS: Final = ("newest", "oldest", "smallest", "largest")
KEYS: Final = ("capturedSince", "capturedUntil", "mediaTypes", "minSize", "maxSize", "cameras",
               "includeRenders", "order")
RENDER_FACT: Final = ("composition", "export")  # GoPro's share renders (gopro-api.md)
_UNITS: Final = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
                 "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_SIZE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$", re.IGNORECASE)
_FAR_PAST: Final = datetime.min.replace(tzinfo=UTC)


def parse_size(raw: object) -> int:
    """Bytes from a whole number or a text such as ``500MB`` or ``2 GiB``."""
    if isinstance(raw, bool):
        raise ValueError(f"not a size: {raw!r}")
    if isinstance(raw, int):
        if raw < 0:
            raise ValueError(f"a size is not negative: {raw}")
        return raw
    match = _SIZE.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise ValueError(f"not a size: {raw!r} (bytes, or e.g. '500MB', '2GiB')")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def parse_when(raw: object, *, end_of_day: bool = False) -> datetime:
    """A UTC instant from ISO 8601; a bare date means its start (or, for ``until``, its end)."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"not a date: {raw!r} (e.g. '2024-06-01' or '2024-06-01T12:00:00Z')")
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            when = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return when.replace(hour=23, minute=59, second=59, microsecond=999999) if (
                end_of_day) else when
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "zZ" else text)
    except ValueError as e:
        raise ValueError(f"not a date: {raw!r} (e.g. '2024-06-01')") from e
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def camera_key(name: str) -> str:
    """Camera names compare without case and extra spaces ('HERO12  black' = 'HERO12 Black')."""
    return " ".join(name.split()).casefold()


def _words(raw: object, key: str) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"{key} must be a list of names, not {raw!r}")
    return tuple(dict.fromkeys(i.strip() for i in items if i.strip()))


@dataclass(frozen=True)
class Selection:
    """What to archive. The default selection archives everything but share renders."""

    since: datetime | None = None  # captured at or after
    until: datetime | None = None  # captured at or before
    media_types: tuple[str, ...] = ()  # empty: every type
    min_size: int | None = None  # bytes, as listed (the total over a medium's files)
    max_size: int | None = None
    cameras: tuple[str, ...] = ()  # empty: every camera
    include_renders: bool = False
    order: str = "newest"  # the queue order of new media
    problems: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def leaves_out(self, item: MediaItem) -> str | None:
        """Why this selection leaves ``item`` out (log-safe), or None when it is archived."""
        when = item.captured_at
        if self.since is not None and when is not None and when < self.since:
            return "captured before capturedSince"
        if self.until is not None and when is not None and when > self.until:
            return "captured after capturedUntil"
        if self.media_types and item.media_type is not None and (
                item.media_type not in self.media_types):
            return "type not in mediaTypes"
        size = item.file_size
        if self.min_size is not None and size is not None and size < self.min_size:
            return "smaller than minSize"
        if self.max_size is not None and size is not None and size > self.max_size:
            return "larger than maxSize"
        camera = item.camera
        if self.cameras and camera and camera_key(camera) not in {
                camera_key(c) for c in self.cameras}:
            return "camera not in cameras"
        if not self.include_renders and item.facts.get(RENDER_FACT[0]) == RENDER_FACT[1]:
            return "a share render (includeRenders is false)"
        return None

    def queue_key(self) -> Callable[[MediaItem], tuple[Any, ...]]:
        """Sort key for new media in this selection's queue order (ties: the id)."""
        if self.order in ("smallest", "largest"):
            sign = 1 if self.order == "smallest" else -1
            return lambda m: (m.file_size is None, sign * (m.file_size or 0), m.media_id)

        def by_capture(m: MediaItem) -> tuple[Any, ...]:
            when = (m.captured_at or _FAR_PAST).timestamp()
            return (m.captured_at is None, -when if self.order == "newest" else when,
                    m.media_id)

        return by_capture

    def as_config(self) -> dict[str, Any]:
        """The setting as stack config / list input would say it (only what differs)."""
        out: dict[str, Any] = {
            "capturedSince": self.since.isoformat() if self.since else None,
            "capturedUntil": self.until.isoformat() if self.until else None,
            "mediaTypes": list(self.media_types) or None,
            "minSize": self.min_size,
            "maxSize": self.max_size,
            "cameras": list(self.cameras) or None,
            "includeRenders": self.include_renders or None,
            "order": None if self.order == "newest" else self.order,
        }
        return {k: v for k, v in out.items() if v is not None}

    def fingerprint(self) -> str:
        """Which media this selection takes (not their order): equal selections, equal prints."""
        which = {k: v for k, v in self.as_config().items() if k != "order"}
        if "cameras" in which:
            which["cameras"] = sorted(camera_key(c) for c in which["cameras"])
        if "mediaTypes" in which:
            which["mediaTypes"] = sorted(which["mediaTypes"])
        text = json.dumps(which, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self) -> str:
        """One line for people: what is archived."""
        config = self.as_config()
        if not config:
            return "everything but share renders, newest first"
        for key, when in (("capturedSince", self.since), ("capturedUntil", self.until)):
            if when is not None:
                config[key] = when.date().isoformat() if when.time() in (
                    datetime.min.time(), datetime.max.time()) else when.isoformat()
        for key in ("mediaTypes", "cameras"):
            if key in config:
                config[key] = ", ".join(config[key])
        return "; ".join(f"{k} {v}" for k, v in config.items())

    def checked(self) -> Selection:
        """This selection without its problem list (the caller reported them)."""
        return replace(self, problems=())

    def merged(self, overrides: Mapping[str, Any]) -> Selection:
        """This selection with some keys replaced (a one-off ``cloudsync sync --since ...``)."""
        return parse_selection({**self.as_config(), **overrides})


def _field(raw: Mapping[str, Any], key: str, parse: Callable[[Any], Any],
           problems: list[str]) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as e:
        problems.append(f"{key}: {e}")
        return None


def selection_problems(raw: object) -> Selection:
    """The selection in ``raw`` (a map of KEYS); ``.problems`` lists everything wrong with it."""
    if not isinstance(raw, Mapping):
        return Selection(problems=(f"must be a map of {', '.join(KEYS)}, not {raw!r}",))
    problems = [f"unknown key {k!r}; the keys are {', '.join(KEYS)}" for k in raw if k not in KEYS]
    since = _field(raw, "capturedSince", parse_when, problems)
    until = _field(raw, "capturedUntil", lambda v: parse_when(v, end_of_day=True), problems)
    types = _field(raw, "mediaTypes", lambda v: _words(v, "mediaTypes"), problems) or ()
    cameras = _field(raw, "cameras", lambda v: _words(v, "cameras"), problems) or ()
    low = _field(raw, "minSize", parse_size, problems)
    high = _field(raw, "maxSize", parse_size, problems)
    renders = raw.get("includeRenders", False)
    if not isinstance(renders, bool):
        problems.append(f"includeRenders must be true or false, not {renders!r}")
        renders = False
    order = raw.get("order") or "newest"
    if order not in ORDERS:
        problems.append(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
        order = "newest"
    if since and until and since > until:
        problems.append("capturedSince is after capturedUntil: nothing would be archived")
    if low is not None and high is not None and low > high:
        problems.append("minSize is larger than maxSize: nothing would be archived")
    return Selection(since, until, types, low, high, cameras, renders, order, tuple(problems))


def parse_selection(raw: object) -> Selection:
    """The selection in ``raw``, or ``ConfigurationError`` naming every problem."""
    selection = selection_problems(raw)
    if selection.problems:
        raise ConfigurationError("selection: " + "; ".join(selection.problems))
    return selection.checked()


def stack_selection(settings: Settings, env: Mapping[str, str] | None = None) -> Selection:
    """The stack's selection, as the Pulumi program put it into the function environment.

    The older settings ``mediaTypes`` and ``includeRenders`` (their own variables) fold in:
    the Pulumi program writes both from the one validated selection, so they agree.
    """
    raw_text = (os.environ if env is None else env).get(ENV_SELECTION, "").strip()
    try:
        raw: dict[str, Any] = json.loads(raw_text) if raw_text else {}
    except ValueError as e:
        raise ConfigurationError(f"{ENV_SELECTION} is not JSON") from e
    selection = parse_selection(raw)
    if settings.media_types and not selection.media_types:
        selection = replace(selection, media_types=tuple(settings.media_types))
    if settings.include_renders:
        selection = replace(selection, include_renders=True)
    return selection


def deployed_selection(env: Mapping[str, str]) -> Selection:
    """The selection a deployed lister works with, from its function environment."""
    types = tuple(t.strip() for t in env.get(ENV_MEDIA_TYPES, "").split(",") if t.strip())
    renders = env.get(ENV_INCLUDE_RENDERS, "").strip().lower() in ("true", "1", "yes", "on")
    older = Settings(table="", bucket="", secret_id="", topic_arn="", state_machine_arn="",
                     environment="", gopro_api_url="", gopro_client_id="",
                     gopro_client_secret="", max_concurrent_media=1, retry_budget=1,
                     time_budget_s=1, lease_s=1, part_size_mib=0, parallel_ranges=1,
                     media_types=types, max_items=None, include_renders=renders)
    return stack_selection(older, env)


def selection_environment(selection: Selection) -> dict[str, str]:
    """The function environment that carries ``selection`` (empty for the default one)."""
    config = selection.as_config()
    return {ENV_SELECTION: json.dumps(config, sort_keys=True)} if config else {}
