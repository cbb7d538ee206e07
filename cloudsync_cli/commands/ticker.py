"""A progress line for the commands that read the archive (verify --read-data, get).

On a terminal one line is redrawn in place; piped, a line at most every few seconds, so logs
stay readable; with ``--json`` a JSON object per line (``{"event": "progress", ...}``). Always on
stderr: stdout keeps the result (and stays valid JSON).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TextIO


class Ticker:
    def __init__(self, stream: TextIO, *, as_json: bool = False, every_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.as_json, self.every_s, self.clock = stream, as_json, every_s, clock
        self.tty = bool(getattr(stream, "isatty", lambda: False)()) and not as_json
        self._last = float("-inf")
        self._text = ""
        self._width = 0

    def update(self, text: str, *, force: bool = False, **fields: Any) -> None:
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = max(self._width, len(text))
            self.stream.flush()
            return
        now = self.clock()
        if text != self._text and (force or now - self._last >= self.every_s):
            self._last, self._text = now, text
            line = json.dumps({"event": "progress", "text": text, **fields}, sort_keys=True) \
                if self.as_json else text
            self.stream.write(line + "\n")
            self.stream.flush()

    def done(self, text: str | None = None, **fields: Any) -> None:
        if text is not None:
            self.update(text, force=True, **fields)
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def fraction_bar(fraction: float, width: int = 24) -> str:
    """'[#####...]' for a fraction in 0..1."""
    filled = round(min(1.0, max(0.0, fraction)) * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"
