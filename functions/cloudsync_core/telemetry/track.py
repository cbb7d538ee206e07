"""Where and when a medium was shot, from its GPMF samples: the facts ``cloudsync find`` needs.

Per medium: the camera (``DVNM`` of the first device), the UTC time of the first GPS fix
(``GPSU``: the satellites' clock, more trustworthy than a camera clock nobody set), start and
end position, bounding box, distance, maximum speed and the track itself, thinned to about one
point a second so an hour of footage stays a small JSON object.

Only fixes worth trusting count: ``GPSF`` >= 2 (a 2D or 3D fix) and ``GPSP`` (dilution of
precision x 100) under ``MAX_DOP``. Distance is summed over the thinned track, so a camera
standing still does not walk away on GPS jitter; speed is the receiver's own 2D ground speed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import gpmf

MAX_DOP = 1000  # GPSP is DOP x 100; GoPro calls under 500 good, 1000 still usable
MAX_SPEED_MPS = 300.0  # above this a fix is a glitch, not a flight
POINT_EVERY_S = 1.0
# At most this many points: the JSON stays under S3's 128 KiB lifecycle floor, so a track is
# never moved to Deep Archive with the originals and ``find --geojson`` can always read it.
MAX_POINTS = 1500
EARTH_RADIUS_M = 6_371_008.8
FORMAT_VERSION = 1
GPS_KEYS = frozenset({"GPS5", "GPS9"})


@dataclass(frozen=True)
class Fix:
    t: float  # seconds from the start of the medium
    lat: float
    lon: float
    alt: float
    speed: float  # 2D ground speed, m/s
    utc: datetime | None


@dataclass
class Telemetry:
    """What one medium's telemetry says; ``as_json`` is the ``_meta/`` object."""

    camera: str | None = None
    fixes: list[Fix] = field(default_factory=list)
    payloads: int = 0
    gps_samples: int = 0  # all GPS samples, good or not
    duration_s: float = 0.0

    @property
    def has_gps(self) -> bool:
        return bool(self.fixes)

    def points(self) -> list[Fix]:
        """The track thinned to about one point a second (fewer for long media: at most
        ``MAX_POINTS``), first and last fix kept."""
        span = self.fixes[-1].t - self.fixes[0].t if self.fixes else 0.0
        every = max(POINT_EVERY_S, span / (MAX_POINTS - 1))
        kept: list[Fix] = []
        for fix in self.fixes:
            if not kept or fix.t - kept[-1].t >= every:
                kept.append(fix)
        if self.fixes and kept[-1] is not self.fixes[-1]:
            if len(kept) >= MAX_POINTS:
                kept.pop()
            kept.append(self.fixes[-1])
        return kept

    def summary(self) -> dict[str, Any]:
        """The few facts the tracker row keeps (what ``find`` filters on)."""
        out: dict[str, Any] = {"has_gps": self.has_gps, "camera": self.camera}
        if not self.fixes:
            return out
        points = self.points()
        first, last = self.fixes[0], self.fixes[-1]
        lats = [f.lat for f in self.fixes]
        lons = [f.lon for f in self.fixes]
        out.update(
            first_fix_utc=_iso(first.utc),
            start=[round(first.lat, 7), round(first.lon, 7)],
            end=[round(last.lat, 7), round(last.lon, 7)],
            bbox=[round(min(lats), 7), round(min(lons), 7),
                  round(max(lats), 7), round(max(lons), 7)],
            distance_m=round(path_length(points), 1),
            max_speed_mps=round(max(f.speed for f in self.fixes), 3),
        )
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            **self.summary(),
            "duration_s": round(self.duration_s, 3),
            "gpmf_samples": self.payloads,
            "gps_samples": self.gps_samples,
            "good_fixes": len(self.fixes),
            "points": [
                [round(p.t, 2), round(p.lat, 7), round(p.lon, 7), round(p.alt, 1)]
                for p in self.points()
            ],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def parse_gpsu(text: str | None) -> datetime | None:
    """``GPSU`` ("yymmddhhmmss.sss", UTC) as a datetime; None when absent or malformed."""
    if not text or len(text) < 12:
        return None
    try:
        base = datetime.strptime(text[:12], "%y%m%d%H%M%S").replace(tzinfo=UTC)
        fraction = float("0" + text[12:]) if text[12:].startswith(".") else 0.0
    except ValueError:
        return None
    return base + timedelta(seconds=fraction)


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def path_length(points: list[Fix]) -> float:
    return sum(haversine_m((a.lat, a.lon), (b.lat, b.lon))
               for a, b in itertools.pairwise(points))


def _good(lat: float, lon: float, speed: float) -> bool:
    return (abs(lat) <= 90 and abs(lon) <= 180 and (lat, lon) != (0.0, 0.0)
            and 0 <= speed <= MAX_SPEED_MPS)


def _gps5(stream: gpmf.Stream, start: float, duration: float) -> list[Fix]:
    fix_kind, dop = stream.number("GPSF"), stream.number("GPSP")
    if fix_kind is not None and fix_kind < 2:
        return []
    if dop is not None and dop >= MAX_DOP:
        return []
    utc0 = parse_gpsu(stream.text("GPSU"))
    count = len(stream.samples)
    fixes = []
    for i, sample in enumerate(stream.samples):
        lat, lon, alt, speed = (float(v) for v in sample[:4])
        if not _good(lat, lon, speed):
            continue
        step = duration * i / count if count else 0.0
        utc = utc0 + timedelta(seconds=step) if utc0 else None
        fixes.append(Fix(start + step, lat, lon, alt, speed, utc))
    return fixes


def _gps9(stream: gpmf.Stream, start: float, duration: float) -> list[Fix]:
    """HERO11+: lat, lon, alt, 2D speed, 3D speed, days since 2000, seconds, DOP, fix."""
    count = len(stream.samples)
    fixes = []
    for i, sample in enumerate(stream.samples):
        lat, lon, alt, speed, _, days, secs, dop, kind = (float(v) for v in sample[:9])
        if kind < 2 or dop * 100 >= MAX_DOP or not _good(lat, lon, speed):
            continue
        utc = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(days=days, seconds=secs)
        fixes.append(Fix(start + duration * i / max(count, 1), lat, lon, alt, speed, utc))
    return fixes


def add_payload(telemetry: Telemetry, payload: bytes, start: float, duration: float) -> None:
    """Fold one GPMF sample (covering ``start`` .. ``start + duration`` s) into ``telemetry``."""
    telemetry.payloads += 1
    telemetry.duration_s = max(telemetry.duration_s, start + duration)
    if telemetry.camera is None:
        telemetry.camera = next((name for name in gpmf.devices(payload) if name), None)
    for stream in gpmf.streams(payload, GPS_KEYS):
        if stream.key == "GPS5":
            telemetry.gps_samples += len(stream.samples)
            telemetry.fixes.extend(_gps5(stream, start, duration))
        elif stream.key == "GPS9":
            telemetry.gps_samples += len(stream.samples)
            telemetry.fixes.extend(_gps9(stream, start, duration))


def from_payloads(items: Iterable[tuple[float, float, bytes]]) -> Telemetry:
    """A medium's telemetry from its GPMF samples as (start s, duration s, bytes)."""
    telemetry = Telemetry()
    for start, duration, payload in items:
        add_payload(telemetry, payload, start, duration)
    telemetry.fixes.sort(key=lambda f: f.t)
    return telemetry
