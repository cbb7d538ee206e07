"""Progress by the byte: what a run has archived so far, measured where the bytes are.

The workflow's own state says nothing until a medium ends, so the meter reads the stores
instead: the run record's ``bytes`` for finished media, and for each medium in flight the
files already finished (``done`` in its upload record) plus the parts S3 already holds for the
others (ListParts: the truth, whoever wrote them). Bytes shown never go down (a medium that
finishes between two reads is counted once it lands in the run record).

Besides the numbers the meter notices what a person waiting wants to hear about: a medium
retried after earlier failures, a file started again because the source changed, a medium whose
bytes stood still for a while (the workflow is retrying the source), a failure, the stack's
pause. Three views show the same snapshots: ``RichView`` (a live bar on a terminal),
``PlainView`` (a line every few seconds when piped), ``JsonView`` (JSON lines, ``--json``).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TextIO

from cloudsync_core.errors import CloudSyncError
from cloudsync_core.tracker import IN_PROGRESS, MediaRow, RunRecord, Tracker, parse_iso
from cloudsync_core.transfer import uploaded_parts

from .output import human_bytes, plural

STALL_S = 30.0  # no new byte for this long in a medium in flight: say so
RATE_WINDOW_S = 20.0  # the rate is measured over this much recent time


@dataclass(frozen=True)
class Snapshot:
    """One look at a run: media by state and bytes stored so far."""

    run_id: str
    queued: int
    archived: int
    failed: int
    deleted: int
    other: int  # moved to a later run, or skipped (not media to archive)
    in_flight: int
    bytes: int
    expected_bytes: int
    elapsed_s: float
    rate: float | None = None  # bytes per second, recent
    listing: bool = False
    done: bool = False

    @property
    def finished(self) -> int:
        return self.archived + self.failed + self.deleted + self.other

    @property
    def waiting(self) -> int:
        return max(0, self.queued - self.finished - self.in_flight)

    @property
    def eta_s(self) -> float | None:
        if not self.rate or not self.expected_bytes or self.bytes >= self.expected_bytes:
            return None
        return (self.expected_bytes - self.bytes) / self.rate

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "waiting": self.waiting, "eta_s": self.eta_s}


@dataclass(frozen=True)
class Note:
    """Something worth a line of its own: ``kind`` is retry, restart, stalled, failed, paused."""

    kind: str
    text: str
    media: str | None = None


def in_flight_bytes(s3: Any, bucket: str, row: MediaRow) -> int:
    """Bytes of ``row`` already stored: finished files whole, the others' uploaded parts."""
    total = 0
    for upload in row.uploads.values():
        if upload.done is not None:
            total += upload.done.size
        elif upload.upload_id:
            try:
                parts = uploaded_parts(s3, bucket, upload.key, upload.upload_id)
            except CloudSyncError:  # completed (or aborted) since the row was read
                continue
            total += sum(p.size for p in parts.values())
    return total


@dataclass
class RunMeter:
    """Measures a run again and again; remembers enough to say what changed."""

    tracker: Tracker
    s3: Any
    bucket: str
    providers: tuple[str, ...]
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    stall_s: float = STALL_S
    _started: float | None = None
    _peak: int = 0
    _samples: deque[tuple[float, int]] = field(default_factory=deque)
    _media: dict[str, tuple[int, float]] = field(default_factory=dict)  # bytes, since
    _said: set[str] = field(default_factory=set)
    _failed: int = 0

    def measure(self, run: RunRecord) -> tuple[Snapshot, list[Note]]:
        now = self.clock()
        if self._started is None:
            self._started = now - self._run_age(run)
        rows = [] if run.done else self._in_flight(run.run_id)
        notes = self._row_notes(rows, now)
        stored = run.bytes + sum(self._media[f"{r.provider}/{r.media_id}"][0] for r in rows)
        self._peak = max(self._peak, stored)
        snap = Snapshot(
            run.run_id, run.queued, run.completed, run.failed, run.deleted,
            run.moved + run.skipped_media, len(rows), self._peak, run.expected_bytes,
            self._run_age(run) if run.finished_at else now - self._started, self._rate(now),
            run.listing, run.done,
        )
        notes += self._run_notes(run)
        return snap, notes

    def _run_age(self, run: RunRecord) -> float:
        """How long the run has been going (or went), by its record: a watch that joins late
        shows the run's own time, not its own."""
        start, end = parse_iso(run.started_at), parse_iso(run.finished_at)
        if start is None:
            return 0.0
        return max(0.0, (end.timestamp() if end else self.wall()) - start.timestamp())

    def _in_flight(self, run_id: str) -> list[MediaRow]:
        return [row for provider in self.providers
                for row in self.tracker.by_status(provider, IN_PROGRESS) if row.run_id == run_id]

    def _row_notes(self, rows: list[MediaRow], now: float) -> list[Note]:
        notes: list[Note] = []
        for row in rows:
            name = f"{row.provider}/{row.media_id}"
            stored = in_flight_bytes(self.s3, self.bucket, row)
            before, since = self._media.get(name, (-1, now))
            self._media[name] = (stored, now if stored > before else since)
            notes += self._once(f"retry:{name}:{row.failures}", row.failures > 0, Note(
                "retry", f"{name} ({row.filename or '-'}): retrying, it failed "
                f"{plural(row.failures, 'time', 'times')} before ({row.error_type or 'error'})",
                name))
            restarts = sum(u.restarts for u in row.uploads.values())
            notes += self._once(f"restart:{name}:{restarts}", restarts > 0, Note(
                "restart", f"{name}: the source changed, its file starts again "
                f"({plural(restarts, 'restart', 'restarts')})", name))
            stalled = now - self._media[name][1] >= self.stall_s
            notes += self._once(f"stall:{name}:{self._media[name][1]}", stalled, Note(
                "stalled", f"{name}: no new bytes for {int(now - self._media[name][1])} s "
                "(the source is slow or failing; the workflow retries it)", name))
        return notes

    def _run_notes(self, run: RunRecord) -> list[Note]:
        notes: list[Note] = []
        if run.failed > self._failed:
            for provider in self.providers:
                for row in self.tracker.failed_in_run(provider, run.run_id):
                    name = f"{row.provider}/{row.media_id}"
                    notes += self._once(f"failed:{name}", True, Note(
                        "failed", f"{name} ({row.filename or '-'}) failed: "
                        f"{row.error_type or 'error'}", name))
            self._failed = run.failed
        pause = None if run.done else self.tracker.get_pause()
        if pause is not None:
            notes += self._once(f"paused:{pause.since}", True, Note(
                "paused", f"the stack is paused since {pause.since} ({pause.error_type}): media "
                "wait for the account; `cloudsync login` lifts the pause"))
        return notes

    def _once(self, key: str, when: bool, note: Note) -> list[Note]:
        if not when or key in self._said:
            return []
        self._said.add(key)
        return [note]

    def _rate(self, now: float) -> float | None:
        self._samples.append((now, self._peak))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW_S:
            self._samples.popleft()
        t0, b0 = self._samples[0]
        return (self._peak - b0) / (now - t0) if now - t0 >= 1.0 else None


# --- the words --------------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    """75 -> '1m15s'; None -> '?'."""
    if seconds is None:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def media_text(s: Snapshot) -> str:
    text = (f"{s.archived} archived, {s.in_flight} in flight, {s.waiting} queued, "
            f"{s.failed} failed")
    if s.deleted:
        text += f", {s.deleted} deleted at source"
    if s.other:
        text += f", {s.other} moved or skipped"
    return text + (" (still listing)" if s.listing else "")


def bytes_text(s: Snapshot) -> str:
    text = human_bytes(s.bytes)
    if s.expected_bytes:
        text += f" of ~{human_bytes(s.expected_bytes)}"
    rate = f"{human_bytes(s.rate)}/s" if s.rate is not None else "-/s"
    return f"{text}  {rate}  ETA {duration(s.eta_s)}"


def progress_line(s: Snapshot) -> str:
    """'12.0 MiB of ~40.0 MiB  3.1 MiB/s  ETA 9s | 1 archived, 2 in flight, 3 queued, 0 failed'."""
    return f"{bytes_text(s)} | {media_text(s)}"


def end_line(s: Snapshot) -> str:
    """The last line: failures counted as failures, never as 'done'."""
    verdict = "FAILED" if s.failed else "finished"
    parts = [f"{s.archived} archived"]
    if s.failed:
        parts.append(f"{s.failed} FAILED")
    if s.deleted:
        parts.append(f"{s.deleted} deleted at source")
    if s.other:
        parts.append(f"{s.other} moved or skipped")
    rate = s.bytes / s.elapsed_s if s.elapsed_s >= 1 else None
    speed = f" ({human_bytes(rate)}/s)" if rate else ""
    return (f"Run {s.run_id} {verdict}: {', '.join(parts)} of "
            f"{plural(s.queued, 'medium', 'media')}; {human_bytes(s.bytes)} in "
            f"{duration(s.elapsed_s)}{speed}")


# --- the views --------------------------------------------------------------------------------


class View(Protocol):
    def show(self, snap: Snapshot, notes: list[Note]) -> None: ...

    def end(self, snap: Snapshot | None) -> None: ...


class PlainView:
    """A line every ``every_s`` seconds (and at once for a note): logs stay readable."""

    def __init__(self, stream: TextIO, every_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.every_s, self.clock = stream, every_s, clock
        self._last = float("-inf")

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def show(self, snap: Snapshot, notes: list[Note]) -> None:
        for note in notes:
            self._write(f"  ! {note.text}")
        now = self.clock()
        if now - self._last >= self.every_s:
            self._last = now
            self._write(f"[{duration(snap.elapsed_s):>6}] {progress_line(snap)}")

    def end(self, snap: Snapshot | None) -> None:
        if snap is not None:
            self._write(end_line(snap))


class JsonView:
    """One JSON object per line: ``{"event": "progress" | <note kind> | "end", ...}``."""

    def __init__(self, stream: TextIO, every_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.plain = PlainView(stream, every_s, clock)

    def _event(self, event: str, **fields: Any) -> None:
        self.plain._write(json.dumps({"event": event, **fields}, sort_keys=True))

    def show(self, snap: Snapshot, notes: list[Note]) -> None:
        for note in notes:
            self._event(note.kind, text=note.text, media=note.media, run_id=snap.run_id)
        now = self.plain.clock()
        if now - self.plain._last >= self.plain.every_s:
            self.plain._last = now
            self._event("progress", **snap.as_dict())

    def end(self, snap: Snapshot | None) -> None:
        if snap is not None:
            self._event("end", text=end_line(snap), **snap.as_dict())


class RichView:
    """A live bar on a terminal: bytes, rate, ETA, media by state; notes scroll above it."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=stream, highlight=False)
        self.live = Live(console=self.console, refresh_per_second=4, transient=True)
        self._started = False

    def _render(self, snap: Snapshot) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        grid = Table.grid(padding=(0, 1))
        total = snap.expected_bytes or None
        grid.add_row(ProgressBar(total=total, completed=snap.bytes, width=30),
                     bytes_text(snap))
        grid.add_row("", media_text(snap))
        return grid

    def show(self, snap: Snapshot, notes: list[Note]) -> None:
        if not self._started:
            self.live.start()
            self._started = True
        for note in notes:
            self.console.print(f"[yellow]![/yellow] {note.text}", markup=True)
        self.live.update(self._render(snap))

    def end(self, snap: Snapshot | None) -> None:
        if self._started:
            self.live.stop()
            self._started = False
        if snap is not None:
            style = "red" if snap.failed else "green"
            self.console.print(f"[{style}]{end_line(snap)}[/{style}]", markup=True)


def view_for(stream: TextIO, *, as_json: bool, every_s: float | None = None) -> View:
    """JSON lines with ``--json``; a live bar on a terminal; plain lines otherwise."""
    if as_json:
        return JsonView(stream, every_s if every_s is not None else 0.0)
    if bool(getattr(stream, "isatty", lambda: False)()):
        return RichView(stream)
    return PlainView(stream, every_s if every_s is not None else 5.0)


@dataclass
class Watch:
    """What ``follow_run`` reports to: measures each run record it sees (a meter per run, as
    media moved to a later run are followed there), shows it."""

    make_meter: Callable[[], RunMeter]
    view: View
    last: Snapshot | None = None
    _meters: dict[str, RunMeter] = field(default_factory=dict)

    def seen(self, run: RunRecord) -> None:
        meter = self._meters.setdefault(run.run_id, self.make_meter())
        self.last, notes = meter.measure(run)
        self.view.show(self.last, notes)

    def ended(self, run: RunRecord | None) -> None:
        """The run is over (its last state shown, then the end line), or the wait stopped
        short (None: no end line). A run already over when the watch began shows only its
        end line."""
        if run is None:
            self.view.end(None)
            return
        if self.last is not None:
            self.seen(run)
        else:
            self.last, _ = self._meters.setdefault(run.run_id, self.make_meter()).measure(run)
        self.view.end(self.last)
