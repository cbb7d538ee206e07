"""The index step: where and when one archived medium was shot, written beside its originals.

Runs after the medium is COMPLETED and never changes what was archived: it reads the telemetry
(``gpmf`` sidecar first, else the archived originals by ranged reads), writes the whole track as
``{medium folder}/_meta/telemetry.json`` and keeps a small summary on the tracker row
(``telemetry``: camera, first-fix time, start, bbox, distance, max speed, has_gps) so that
``cloudsync find`` answers from the tracker alone. A medium whose telemetry cannot be read gets
``telemetry.status = "failed"`` with the error type; its archive state stays COMPLETED.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import with_retries
from ..errors import CloudSyncError, StorageError, TelemetryError
from ..observability import logger
from ..services import Services
from ..tracker import COMPLETED, MediaRow, to_item, utc_now_iso
from . import exif, mp4, track
from .sources import Blob, s3_blob

META_FOLDER = "_meta"
META_NAME = "telemetry.json"
VIDEO_SUFFIXES = (".mp4", ".360", ".mov")
PHOTO_SUFFIXES = (".jpg", ".jpeg")
SidecarFinder = Callable[[str], list[Blob]]


def meta_key(object_key: str) -> str:
    """The telemetry object of the medium whose original is ``object_key``."""
    folder = object_key.rsplit("/", 1)[0]
    return f"{folder}/{META_FOLDER}/{META_NAME}"


def _objects(row: MediaRow, suffixes: tuple[str, ...]) -> list[dict[str, Any]]:
    chosen = [o for o in row.objects if str(o.get("key", "")).lower().endswith(suffixes)]
    return sorted(chosen, key=lambda o: str(o["key"]))


def video_telemetry(blobs: list[Blob]) -> track.Telemetry:
    """One track over every chapter, each starting where the previous one ended."""
    telemetry = track.Telemetry()
    for blob in blobs:
        offset = telemetry.duration_s
        for sample, payload in mp4.payloads(blob.read, blob.size):
            track.add_payload(telemetry, payload, offset + sample.start_s, sample.duration_s)
    telemetry.fixes.sort(key=lambda f: f.t)
    return telemetry


def photo_document(blob: Blob) -> dict[str, Any]:
    facts = exif.read_photo(blob.read, blob.size)
    doc: dict[str, Any] = {"version": track.FORMAT_VERSION, "has_gps": facts.has_gps,
                           "camera": facts.camera}
    if facts.gps_utc is not None:  # a camera clock is not a fix: find falls back to the listing
        doc["first_fix_utc"] = facts.gps_utc.isoformat().replace("+00:00", "Z")
    if facts.has_gps and facts.lat is not None and facts.lon is not None:
        point = [round(facts.lat, 7), round(facts.lon, 7)]
        doc.update(start=point, end=point, bbox=point + point,
                   points=[[0.0, *point, facts.alt]])
    return doc


def _sidecars(find: SidecarFinder | None, row: MediaRow) -> list[Blob]:
    if find is None:
        return []
    try:
        return find(row.media_id)
    except CloudSyncError as e:  # best effort: the archive is the other source
        logger.info("no gpmf sidecar; reading the archive",
                    extra={"media_id": row.media_id, "why": type(e).__name__})
        return []


def _sidecar_telemetry(blobs: list[Blob], media_id: str) -> track.Telemetry | None:
    if not blobs:
        return None
    try:
        return video_telemetry(blobs)
    except TelemetryError as e:  # a sidecar we cannot read: the original will tell
        logger.info("unreadable gpmf sidecar; reading the archive",
                    extra={"media_id": media_id, "why": str(e)[:200]})
        return None


def extract(services: Services, row: MediaRow, sidecars: SidecarFinder | None) -> dict[str, Any]:
    """The telemetry document of one archived medium (raises ``TelemetryError`` and kin)."""
    bucket = services.settings.bucket
    videos = _objects(row, VIDEO_SUFFIXES)
    if videos:
        telemetry = _sidecar_telemetry(_sidecars(sidecars, row), row.media_id)
        source = "gpmf-sidecar"
        if telemetry is None or not telemetry.payloads:  # none listed, or an empty one
            telemetry = video_telemetry([s3_blob(services.s3, bucket, o) for o in videos])
            source = "original"
        doc = telemetry.as_json()
        doc["source"] = source
        return doc
    photos = _objects(row, PHOTO_SUFFIXES)
    if photos:
        doc = photo_document(s3_blob(services.s3, bucket, photos[0]))
        doc["source"] = "exif"
        return doc
    raise TelemetryError("no original of this medium carries telemetry we can read")


def _summary(doc: dict[str, Any], key: str, now: str) -> dict[str, Any]:
    kept = ("has_gps", "camera", "first_fix_utc", "start", "end", "bbox", "distance_m",
            "max_speed_mps", "source")
    summary = {k: doc[k] for k in kept if doc.get(k) is not None}
    summary.update(status="indexed" if doc.get("has_gps") else "no_gps", key=key,
                   indexed_at=now)
    return summary


def _record(services: Services, row: MediaRow, summary: dict[str, Any]) -> bool:
    """The summary on the row, only while the row is still this COMPLETED medium."""
    try:
        with_retries(  # the one retry layer DynamoDB calls get (see services.py)
            lambda: services.dynamodb.update_item(
                TableName=services.settings.table,
                Key=to_item({"provider": row.provider, "media_id": row.media_id}),
                UpdateExpression="SET telemetry = :t",
                ConditionExpression="#st = :done",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues=to_item({":t": summary, ":done": COMPLETED}),
            ),
            f"record the telemetry of {row.media_id}",
        )
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise StorageError(f"record the telemetry of {row.media_id}: {type(e).__name__}") from e
    return True


def _store(services: Services, key: str, doc: dict[str, Any]) -> None:
    body = json.dumps(doc, separators=(",", ":")).encode()
    try:
        services.s3.put_object(Bucket=services.settings.bucket, Key=key, Body=body,
                               ContentType="application/json")
    except (BotoCoreError, ClientError) as e:
        raise StorageError(f"write s3://{services.settings.bucket}/{key}: "
                           f"{type(e).__name__}") from e


def index_medium(
    services: Services, provider: str, media_id: str, sidecars: SidecarFinder | None = None,
    clock: Callable[[], str] = utc_now_iso,
) -> dict[str, Any]:
    """Index one medium; returns the summary kept on its row (``status`` says what happened)."""
    row = services.tracker.get(provider, media_id)
    if row is None or row.status != COMPLETED or not row.objects:
        return {"status": "skipped", "why": "not archived"}
    key = meta_key(str(row.objects[0]["key"]))
    try:
        doc = extract(services, row, sidecars)
        doc.update(media_id=media_id, media_type=row.media_type, captured_at=row.captured_at)
        _store(services, key, doc)
        summary = _summary(doc, key, clock())
    except (TelemetryError, StorageError) as e:
        summary = {"status": "failed", "error_type": type(e).__name__,
                   "error_message": str(e)[:300], "indexed_at": clock()}
    _record(services, row, summary)
    logger.info("medium indexed", extra={"media_id": media_id, "status": summary["status"]})
    return summary
