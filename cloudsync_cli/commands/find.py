"""``cloudsync find``: which archived media were shot where and when, answered from the tracker.

The index step keeps a small ``telemetry`` summary on every archived medium's row (camera,
first GPS fix time, start, bounding box, distance, maximum speed); ``find`` reads those rows
only (one query of the status index), never the archive. ``--near`` matches a medium whose
track's bounding box comes within ``--radius`` km of the point (a photo: its one position).
``--geojson FILE`` then reads the matching media's tracks from ``_meta/`` and writes them as a
FeatureCollection for a map.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloudsync_core.tracker import COMPLETED, parse_iso

from ..context import Context
from ..errors import EXIT_OK, CliError
from ..output import table, to_json
from .resync import pick_provider

EARTH_RADIUS_KM = 6371.0088
FIELDS = ("media_id", "media_type", "filename", "captured_at", "telemetry", "objects")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "find", help="archived media by where and when they were shot (GPS telemetry)",
        description="Archived media by place, time, camera and type, from the index the "
        "archive keeps on each medium (GoPro's GPMF telemetry, EXIF for photos).",
    )
    p.add_argument("--near", metavar="LAT,LON", type=_point,
                   help="shot within --radius km of this point (decimal degrees)")
    p.add_argument("--radius", type=float, default=1.0, metavar="KM",
                   help="with --near: how far from the point, in km (default 1)")
    p.add_argument("--from", dest="since", type=_when, metavar="DATE",
                   help="shot at or after (YYYY-MM-DD or ISO time, UTC)")
    p.add_argument("--to", dest="until", type=_when, metavar="DATE",
                   help="shot before (YYYY-MM-DD: up to the end of that day; UTC)")
    p.add_argument("--camera", help="camera name contains this (case-insensitive)")
    p.add_argument("--type", dest="media_type", help="media type, e.g. Video or Photo")
    p.add_argument("--provider", default=None, help="(default: the stack's only one)")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument("--geojson", type=Path, metavar="FILE",
                   help="also write the matching tracks as GeoJSON to FILE")
    p.set_defaults(func=run)


def _point(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(x) for x in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError("expected LAT,LON in decimal degrees") from e
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise argparse.ArgumentTypeError("latitude is -90..90, longitude -180..180")
    return lat, lon


def _when(text: str) -> tuple[datetime, bool]:
    """(time, whether only a date was given)."""
    parsed = parse_iso(text)
    if parsed is None:
        raise argparse.ArgumentTypeError("expected YYYY-MM-DD or an ISO time")
    return parsed.astimezone(UTC), len(text) == 10


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def bbox_distance_km(point: tuple[float, float], bbox: list[float]) -> float:
    """From ``point`` to the nearest point of [min_lat, min_lon, max_lat, max_lon]."""
    lat = min(max(point[0], bbox[0]), bbox[2])
    lon = min(max(point[1], bbox[1]), bbox[3])
    return haversine_km(point, (lat, lon))


@dataclass(frozen=True)
class Found:
    media_id: str
    media_type: str | None
    filename: str | None
    shot_at: str | None  # the first GPS fix (UTC), else the listing's capture time
    telemetry: dict[str, Any]
    distance_km: float | None = None

    def as_dict(self) -> dict[str, Any]:
        t = self.telemetry
        out: dict[str, Any] = {
            "media_id": self.media_id, "type": self.media_type, "filename": self.filename,
            "shot_at": self.shot_at, "time_source": "gps" if t.get("first_fix_utc") else
            "camera", "camera": t.get("camera"), "has_gps": bool(t.get("has_gps")),
        }
        for key in ("start", "end", "bbox", "distance_m", "max_speed_mps", "key"):
            if t.get(key) is not None:
                out[key] = t[key]
        if self.distance_km is not None:
            out["distance_km"] = round(self.distance_km, 3)
        return out


def indexed_rows(ctx: Context, provider: str) -> list[dict[str, Any]]:
    """Every archived medium's row (the status index, only the attributes ``find`` needs)."""
    return list(ctx.tracker.values_by_status(provider, COMPLETED, FIELDS))


def _in_time(shot: datetime | None, args: argparse.Namespace) -> bool:
    if args.since is None and args.until is None:
        return True
    if shot is None:
        return False
    if args.since is not None and shot < args.since[0]:
        return False
    if args.until is not None:
        until, date_only = args.until
        limit = until.replace(hour=23, minute=59, second=59, microsecond=999999) if date_only \
            else until
        if shot > limit:
            return False
    return True


def match(row: dict[str, Any], args: argparse.Namespace) -> Found | None:
    t = dict(row.get("telemetry") or {})
    if args.media_type and str(row.get("media_type") or "").lower() != args.media_type.lower():
        return None
    if args.camera and args.camera.lower() not in str(t.get("camera") or "").lower():
        return None
    shot_at = t.get("first_fix_utc") or row.get("captured_at")
    if not _in_time(parse_iso(shot_at), args):
        return None
    distance = None
    if args.near is not None:
        bbox = t.get("bbox")
        if not t.get("has_gps") or not isinstance(bbox, list) or len(bbox) != 4:
            return None
        distance = bbox_distance_km(args.near, [float(x) for x in bbox])
        if distance > args.radius:
            return None
    return Found(str(row["media_id"]), row.get("media_type"), row.get("filename"), shot_at, t,
                 distance)


def find(ctx: Context, provider: str, args: argparse.Namespace) -> tuple[list[Found], int]:
    """The matching media, nearest (or earliest) first, and how many rows are not indexed."""
    rows = indexed_rows(ctx, provider)
    found = [f for f in (match(r, args) for r in rows) if f is not None]
    found.sort(key=lambda f: (f.distance_km or 0.0, f.shot_at or "", f.media_id))
    unindexed = sum(1 for r in rows if not r.get("telemetry"))
    return found, unindexed


def _track(ctx: Context, key: str) -> dict[str, Any] | None:
    try:
        body = ctx.aws.s3().get_object(Bucket=ctx.outputs.bucket, Key=key)["Body"].read()
        doc = json.loads(body)
    except Exception:  # noqa: BLE001 - one unreadable track must not lose the others
        return None
    return doc if isinstance(doc, dict) else None


def geojson(ctx: Context, found: list[Found]) -> dict[str, Any]:
    """One feature per medium: its track (LineString) or its position (Point)."""
    features = []
    for f in found:
        t = f.telemetry
        if not t.get("has_gps"):
            continue
        doc = _track(ctx, str(t["key"])) if t.get("key") else None
        points = [[p[2], p[1]] for p in (doc or {}).get("points", []) if len(p) >= 3]
        if len(points) >= 2:
            geometry = {"type": "LineString", "coordinates": points}
        else:
            start = t["start"]
            geometry = {"type": "Point", "coordinates": [start[1], start[0]]}
        props = {k: v for k, v in f.as_dict().items() if k not in ("bbox", "start", "end")}
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _row(f: Found) -> list[object]:
    t = f.telemetry
    start = t.get("start")
    speed = t.get("max_speed_mps")
    return [
        f.media_id, f.media_type or "", (f.shot_at or "")[:19].replace("T", " "),
        t.get("camera") or "",
        f"{start[0]:.5f},{start[1]:.5f}" if start else "no GPS",
        f"{f.distance_km:.2f}" if f.distance_km is not None else "",
        f"{float(t['distance_m']) / 1000:.2f}" if t.get("distance_m") is not None else "",
        f"{float(speed) * 3.6:.1f}" if speed is not None else "",
    ]


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.radius <= 0:
        raise CliError("--radius must be more than 0 km")
    provider = pick_provider(ctx, args.provider)
    found, unindexed = find(ctx, provider, args)
    if args.geojson is not None:
        args.geojson.write_text(json.dumps(geojson(ctx, found)) + "\n", encoding="utf-8")
        ctx.note(f"wrote {len(found)} media to {args.geojson}")
    if unindexed:
        ctx.note(f"{unindexed} archived media are not indexed yet: `cloudsync index` does them")
    if args.json:
        ctx.print(to_json([f.as_dict() for f in found]))
        return EXIT_OK
    if not found:
        ctx.print("No archived medium matches.")
        return EXIT_OK
    headers = ["MEDIA ID", "TYPE", "SHOT AT (UTC)", "CAMERA", "START", "KM AWAY", "TRACK KM",
               "MAX KM/H"]
    ctx.print(table(headers, [_row(f) for f in found], right=(5, 6, 7)))
    ctx.print(f"{len(found)} media")
    return EXIT_OK
