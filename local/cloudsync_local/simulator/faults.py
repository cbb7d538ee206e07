"""Switchable faults: set from Python (``sim.faults.add(...)``) or over HTTP (POST /__sim/faults).

A fault has a kind (what goes wrong), a target (which endpoint), an optional media id, and a
count ("the next N matching requests"; None = until cleared). ``after`` lets the first matching
requests through, so "the 3rd CDN GET fails" is expressible. A request consumes only faults whose
kind makes sense for its endpoint, so a CDN-only fault never burns its count on a listing call.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

# kind -> what the server does
KINDS: dict[str, str] = {
    "rate_limit": "429 with Retry-After (seconds or HTTP-date form)",
    "error": "an HTTP error status (default 503), optionally with Retry-After",
    "reset": "headers and part of the body, then a TCP reset",
    "truncate": "Content-Length says N, fewer bytes are sent, then the connection closes",
    "ignore_range": "CDN answers 200 with the whole body to a ranged GET",
    "expired_link": "CDN answers 403 even though the signature is fine",
    "not_found": "404 (download: 'deleted after listing'; CDN: object gone)",
    "overlap": "a search page (page > 1) repeats the last item of the previous page",
    "stale_listing": "search still lists media removed with Library.remove()",
    "unauthorized": "401 as if the token had been revoked",
    "revoke": "revoke the login for good (refresh tokens blacklisted, access tokens dead), 401",
    "forbidden": "403 from the API, as bot blocking answers",
    "slow": "sleep delay_s before answering (combines with other faults)",
    # the CDN-side fault proxy: what a CDN in front of a changing origin can do
    "change": "CDN: the file becomes a new version before this answer (other bytes, same size, "
              "new ETag and Last-Modified), and stays so",
    "drip": "CDN: the body trickles, drip_bytes every delay_s seconds (default 1 byte / 20 s)",
    "silence": "CDN: headers and after_bytes of the body (default 0), then nothing for delay_s "
               "(default: until the client hangs up)",
    "wrong_total": "CDN: a 206 whose Content-Range total is not the file's size",
}

# endpoint -> target names that reach it
TARGETS: dict[str, tuple[str, ...]] = {
    "search": ("search", "api", "any"),
    "download": ("download", "api", "any"),
    "media": ("media", "api", "any"),
    "user": ("user", "api", "any"),
    "token": ("token", "any"),
    "cdn_get": ("cdn_get", "cdn", "any"),
    "cdn_head": ("cdn_head", "cdn", "any"),
}
ALL_TARGETS = frozenset(t for names in TARGETS.values() for t in names)

_COMMON = frozenset({"rate_limit", "error", "reset", "truncate", "slow"})
_API = _COMMON | {"unauthorized", "revoke", "forbidden"}
# endpoint -> fault kinds it can exhibit
APPLICABLE: dict[str, frozenset[str]] = {
    "search": _API | {"overlap", "stale_listing"},
    "download": _API | {"not_found"},
    "media": _API | {"not_found"},
    "user": _API,
    "token": _COMMON,
    "cdn_get": _COMMON | {"ignore_range", "expired_link", "not_found", "change", "drip",
                          "silence", "wrong_total"},
    "cdn_head": _COMMON | {"expired_link", "not_found", "change"},
}


@dataclass
class Fault:
    kind: str
    target: str = "any"
    count: int | None = 1  # None: every matching request until removed
    media_id: str | None = None  # only requests about this medium (download, CDN, media)
    after: int = 0  # let this many matching requests pass first
    status: int = 503  # for kind="error"
    retry_after: float | None = None  # seconds; rate_limit defaults to 1, error sends none
    retry_after_form: str = "seconds"  # "seconds" | "date"
    after_bytes: int | None = None  # reset/truncate: body bytes sent first (default: half)
    delay_s: float = 0.0  # slow; drip: seconds between drops; silence: how long
    drip_bytes: int = 1  # drip
    id: int = 0
    seen: int = 0  # matching requests so far
    hits: int = 0  # times it fired

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {sorted(KINDS)}")
        if self.target not in ALL_TARGETS:
            raise ValueError(f"unknown target {self.target!r}; one of {sorted(ALL_TARGETS)}")
        if self.retry_after_form not in ("seconds", "date"):
            raise ValueError("retry_after_form must be 'seconds' or 'date'")
        if self.count is not None and self.count < 0:
            raise ValueError("count must be >= 0 or None")
        if self.kind == "error" and not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status")

    @property
    def remaining(self) -> int | None:
        return None if self.count is None else max(0, self.count - self.hits)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)} - {"id", "seen", "hits"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}")
        fault = cls(**dict(data))
        fault.validate()
        return fault


class FaultSet:
    """Thread-safe list of armed faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 0

    def add(self, kind: str, target: str = "any", **options: Any) -> Fault:
        """Arm a fault, e.g. ``add("rate_limit", "cdn_get", count=2, retry_after=3)``."""
        return self.add_fault(Fault.from_dict({"kind": kind, "target": target, **options}))

    def add_fault(self, fault: Fault) -> Fault:
        fault.validate()
        with self._lock:
            self._next_id += 1
            fault.id = self._next_id
            self._faults.append(fault)
        return fault

    def remove(self, fault_id: int) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if f.id != fault_id]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def active(self) -> list[Fault]:
        return [f for f in self.all() if f.remaining != 0]

    def take(
        self, endpoint: str, media_id: str | None = None, exclude: frozenset[str] = frozenset()
    ) -> list[Fault]:
        """Faults that fire for this request (each one's count is consumed); kinds in
        ``exclude`` cannot apply to this particular request and stay armed."""
        targets = TARGETS[endpoint]
        kinds = APPLICABLE[endpoint] - exclude
        fired: list[Fault] = []
        with self._lock:
            for f in self._faults:
                if f.target not in targets or f.kind not in kinds or f.remaining == 0:
                    continue
                if f.media_id is not None and f.media_id != media_id:
                    continue
                f.seen += 1
                if f.seen <= f.after:
                    continue
                f.hits += 1
                fired.append(f)
        return fired


def first(faults: list[Fault], kind: str) -> Fault | None:
    return next((f for f in faults if f.kind == kind), None)
