"""How the CLI shows things: aligned tables, sizes, JSON, a simple progress line (a run's
progress by the byte is ``cloudsync_cli.progress``)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

Row = Sequence[object]


def human_bytes(n: int | float | None) -> str:
    """1536 -> '1.5 KiB'; None -> '-'."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def plural(n: int, one: str, many: str) -> str:
    """plural(1, "medium", "media") -> '1 medium'."""
    return f"{n} {one if n == 1 else many}"


def cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())


def table(headers: Sequence[str], rows: Sequence[Row], *, right: Sequence[int] = ()) -> str:
    """An aligned plain-text table; ``right`` lists the columns to right-align."""
    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(row) for row in text_rows)
    return "\n".join(out)


def key_values(pairs: Sequence[tuple[str, object]]) -> str:
    """'name: value' lines with the values aligned."""
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k + ':':<{width + 1}} {cell(v)}" for k, v in pairs)


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def bar(fraction: float, width: int = 24) -> str:
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


class Progress:
    """One progress line on a terminal (redrawn in place); elsewhere a line per change,
    at most every ``every_s`` seconds, so logs stay readable."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        every_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s
        self._clock = clock
        self._last_text = ""
        self._last_at = -1e9
        self._width = 0

    def update(self, text: str, *, force: bool = False) -> None:
        if self.tty:
            padded = text.ljust(self._width)
            self._width = max(self._width, len(text))
            self.stream.write("\r" + padded)
            self.stream.flush()
            self._last_text = text
            return
        now = self._clock()
        if text != self._last_text and (force or now - self._last_at >= self.every_s):
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last_text = text
            self._last_at = now

    def done(self, text: str | None = None) -> None:
        if text is not None:
            self.update(text, force=True)
        if self.tty and self._last_text:
            self.stream.write("\n")
            self.stream.flush()
        self._last_text = ""


def emit(stream: TextIO, text: str) -> None:
    stream.write(text + ("" if text.endswith("\n") else "\n"))
    stream.flush()


def mapping_rows(values: Mapping[str, object]) -> list[tuple[str, object]]:
    return list(values.items())


# How each tracker state reads to a person ("" for a medium the tracker has never seen).
STATUS_WORDS = {
    "": "new",
    "PENDING": "pending",
    "QUEUED": "queued (waiting for a slot)",
    "IN_PROGRESS": "transferring",
    "COMPLETED": "archived",
    "FAILED": "failed",
    "DELETED_AT_SOURCE": "deleted at source",
    "SKIPPED": "skipped (not media to archive)",
}
