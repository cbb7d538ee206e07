"""The index step against moto: what it writes beside the originals and on the row, where it
reads from (sidecar, else the archive), and that it never touches the archive state."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from cloudsync_core.errors import TelemetryError
from cloudsync_core.services import Services
from cloudsync_core.settings import Settings
from cloudsync_core.telemetry.index import index_medium
from cloudsync_core.telemetry.sources import Blob, memory_blob
from cloudsync_core.tracker import COMPLETED, PENDING, Tracker, from_item, to_item
from cloudsync_local.simulator.mp4gpmf import TrackSpec, sidecar_bytes, track_payloads

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples" / "gpmf"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(),
                                   reason=f"GoPro's GPMF samples are not at {SAMPLES}")
KEY = "gopro-videos/2024/06/M1/GX010001.MP4"
META = "gopro-videos/2024/06/M1/_meta/telemetry.json"


@pytest.fixture
def services(dynamodb: DynamoDBClient, tracker: Tracker) -> Services:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="archive")
    settings = replace(Settings.from_env(), table="tracker", bucket="archive")
    return Services(
        settings=settings, dynamodb=dynamodb, s3=s3,
        secrets=boto3.client("secretsmanager", region_name="us-east-1"),
        sns=boto3.client("sns", region_name="us-east-1"),
        sfn=boto3.client("stepfunctions", region_name="us-east-1"), tracker=tracker,
    )


def archived(services: Services, body: bytes, status: str = COMPLETED,
             storage_class: str = "STANDARD") -> None:
    version = services.s3.put_object(Bucket="archive", Key=KEY, Body=body,
                                     StorageClass=storage_class).get("VersionId")  # type: ignore[arg-type]
    row = {"provider": "gopro", "media_id": "M1", "status": status, "wake": 1,
           "media_type": "Video", "captured_at": "2016-01-01T00:00:00Z",
           "objects": [{"file_id": "source-1", "key": KEY, "version_id": version,
                        "size": len(body)}]}
    services.dynamodb.put_item(TableName="tracker", Item=to_item(row))


def row(services: Services) -> dict[str, Any]:
    item = services.dynamodb.get_item(
        TableName="tracker", Key=to_item({"provider": "gopro", "media_id": "M1"}))["Item"]
    return from_item(item)


def meta_objects(services: Services) -> list[str]:
    listing = services.s3.list_objects_v2(Bucket="archive", Prefix="gopro-videos/")
    return [o["Key"] for o in listing.get("Contents", []) if "/_meta/" in o["Key"]]


def finder(blobs: list[Blob] | Exception) -> Callable[[str], list[Blob]]:
    def find(media_id: str) -> list[Blob]:
        if isinstance(blobs, Exception):
            raise blobs
        return blobs
    return find


@needs_samples
def test_sidecar_first_track_beside_the_originals_summary_on_the_row(
    services: Services,
) -> None:
    start = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    sidecar = sidecar_bytes(track_payloads(TrackSpec(47.37, 8.54, start, seconds=4)))
    archived(services, b"not read: the sidecar is enough", storage_class="DEEP_ARCHIVE")
    summary = index_medium(services, "gopro", "M1",
                           finder([memory_blob("gpmf-sidecar", "gpmf-1.mp4", sidecar)]))
    assert summary["status"] == "indexed" and summary["source"] == "gpmf-sidecar"
    assert meta_objects(services) == [META]
    doc = json.loads(services.s3.get_object(Bucket="archive", Key=META)["Body"].read())
    assert doc["first_fix_utc"] == "2024-06-01T10:00:00Z" and doc["media_id"] == "M1"
    assert doc["points"][0][1:3] == [47.37, 8.54]
    assert len(doc["points"]) == 5  # one a second, and the last fix
    kept = row(services)
    assert kept["status"] == COMPLETED
    assert kept["telemetry"]["start"] == [47.37, 8.54]
    assert kept["telemetry"]["key"] == META


def test_a_cold_original_without_sidecar_is_a_recorded_failure(services: Services) -> None:
    archived(services, b"\0" * 64, storage_class="DEEP_ARCHIVE")
    summary = index_medium(services, "gopro", "M1",
                           finder(TelemetryError("download answer: HTTP 403")))
    assert summary["status"] == "failed" and summary["error_type"] == "TelemetryError"
    assert "DEEP_ARCHIVE" in summary["error_message"]
    kept = row(services)
    assert kept["status"] == COMPLETED and kept["telemetry"]["status"] == "failed"
    assert meta_objects(services) == []


@needs_samples
def test_without_a_sidecar_the_archived_original_is_read(services: Services) -> None:
    archived(services, (SAMPLES / "karma.mp4").read_bytes())
    summary = index_medium(services, "gopro", "M1", None)
    # karma.mp4 carries a GPMF track without GPS5: the camera, and "no GPS", said plainly
    assert summary["status"] == "no_gps" and summary["source"] == "original"
    assert summary["camera"] == "Camera" and summary["has_gps"] is False
    assert meta_objects(services) == [META]


def test_only_archived_media_are_indexed(services: Services) -> None:
    archived(services, b"x", status=PENDING)
    assert index_medium(services, "gopro", "M1", None)["status"] == "skipped"
    assert "telemetry" not in row(services) and meta_objects(services) == []


@needs_samples
def test_an_unreadable_sidecar_falls_back_to_the_original(services: Services) -> None:
    archived(services, (SAMPLES / "karma.mp4").read_bytes())
    junk = memory_blob("gpmf-sidecar", "gpmf-1.mp4", b"\0\0\0\x10junk" + b"\0" * 64)
    summary = index_medium(services, "gopro", "M1", finder([junk]))
    assert summary["status"] == "no_gps" and summary["source"] == "original"
    assert summary["camera"] == "Camera"
