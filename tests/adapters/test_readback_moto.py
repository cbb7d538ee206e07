"""The ``verify`` function's core against moto: what the tracker records decides, objects in
Deep Archive need a restore (and are read once restored), and an invocation out of time says
which objects it did not reach instead of hanging on."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from cloudsync_core import schema
from cloudsync_core.readback import ReadRequest, read_back
from cloudsync_core.services import Services
from cloudsync_core.tracker import to_item

TABLE, BUCKET = "tracker", "archive"
KEY = "gopro-videos/2026/11/m1/GX010001.MP4"


@pytest.fixture
def svc(moto: None, dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    monkeypatch.setenv("CLOUDSYNC_TABLE", TABLE)
    monkeypatch.setenv("CLOUDSYNC_BUCKET", BUCKET)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    yield Services.from_env()


def archive(svc: Services, data: bytes, key: str = KEY, **extra: Any) -> dict[str, Any]:
    answer = svc.s3.put_object(Bucket=BUCKET, Key=key, Body=data, **extra)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    return {"file_id": "source-1", "key": key, "version_id": answer["VersionId"],
            "size": len(data), "crc32": crc, "origin": "unknown"}


def record_row(svc: Services, objects: list[dict[str, Any]], media_id: str = "m1") -> None:
    svc.dynamodb.put_item(TableName=TABLE, Item=to_item({
        schema.PARTITION_KEY: "gopro", schema.SORT_KEY: media_id, "status": "COMPLETED",
        schema.STATUS_INDEX_PARTITION: "gopro#COMPLETED",
        schema.STATUS_INDEX_SORT: "2026-11-30T02:00:00.000Z", "wake": 1, "objects": objects}))


def ask(svc: Services, *records: dict[str, Any], deadline: float = 1e12,
        clock: Any = None) -> list[dict[str, Any]]:
    request = ReadRequest.from_event({"provider": "gopro", "objects": [
        {"media_id": "m1", "key": r["key"], "version_id": r["version_id"]} for r in records]})
    kwargs = {"clock": clock} if clock else {}
    return list(read_back(svc, request, deadline, **kwargs)["results"])


def test_the_record_decides_not_the_event(svc: Services) -> None:
    good = archive(svc, b"the original bytes")
    record_row(svc, [{**good, "crc32": archive(svc, b"x", key="other")["crc32"]}])
    [result] = ask(svc, good)
    assert (result["state"], result["crc32"]) == ("corrupt", "mismatch")


def test_a_version_no_row_records_is_not_judged_as_fine(svc: Services) -> None:
    old = archive(svc, b"first")
    record_row(svc, [archive(svc, b"second")])  # a resync: the row records the new version
    [result] = ask(svc, old)
    assert result["state"] == "unchecked" and "no tracker row" in result["problem"]


def test_deep_archive_needs_a_restore_then_is_read(svc: Services) -> None:
    cold = archive(svc, b"frozen bytes", StorageClass="DEEP_ARCHIVE")
    record_row(svc, [cold])
    [result] = ask(svc, cold)
    assert (result["state"], result["storage_class"], result["bytes_read"]) == (
        "needs_restore", "DEEP_ARCHIVE", 0)
    svc.s3.restore_object(Bucket=BUCKET, Key=KEY, VersionId=cold["version_id"],
                          RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Bulk"}})
    [result] = ask(svc, cold)
    assert (result["state"], result["crc32"], result["bytes_read"]) == ("ok", "match", 12)


def test_a_missing_version_is_missing(svc: Services) -> None:
    gone = archive(svc, b"soon gone")
    record_row(svc, [gone])
    svc.s3.delete_object(Bucket=BUCKET, Key=KEY, VersionId=gone["version_id"])
    [result] = ask(svc, gone)
    assert result["state"] == "missing"


def test_out_of_time_objects_come_back_not_reached(svc: Services) -> None:
    first = archive(svc, b"a" * 1000)
    second = archive(svc, b"b" * 100_000, key=KEY + "2")
    record_row(svc, [first, second])
    now = [0.0]
    results = ask(svc, first, second, deadline=0.0002, clock=lambda: now[0])
    assert [r["state"] for r in results] == ["ok", "not_reached"]
