"""Request counters, so tests and benchmarks can count API calls and bytes."""

from __future__ import annotations

import threading
from collections import Counter

# Keys written by the server (others may appear, e.g. per-status counters "status_429").
KEYS = (
    "requests", "search", "download", "media", "user", "token", "token_password",
    "token_refresh", "token_refused", "cdn_get", "cdn_head", "cdn_206", "cdn_403",
    "bytes_served", "missing_accept", "unauthorized", "faults_fired", "control",
)


class Stats:
    """Thread-safe counters; ``stats["search"]`` is 0 until something is counted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def incr(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def __getitem__(self, key: str) -> int:
        with self._lock:
            return self._counts[key]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def __repr__(self) -> str:
        return f"Stats({self.snapshot()!r})"
