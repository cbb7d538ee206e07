"""``verify`` checks the archive, not only what the tracker calls COMPLETED.

A medium archived well whose row later went FAILED (a resync that failed after a cookie
expired) keeps its objects: before, verify skipped it entirely.
"""

from __future__ import annotations

import base64
import io
import json
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cloudsync_cli import main as cli
from cloudsync_cli.commands import verify
from cloudsync_cli.context import Context
from cloudsync_cli.stack import Aws, Target
from cloudsync_core import schema
from cloudsync_core.tracker import to_item
from cloudsync_defs.table import create_table_request

REGION = "us-east-1"
TABLE = "cloudsync-test-tracker"
BUCKET = "cloudsync-test-archive"
OUTPUTS = {"stack": "test", "region": REGION, "table": TABLE, "bucket": BUCKET,
           "secret_id": "s", "list_function": "l", "topic_arn": "arn:aws:sns:us-east-1:1:t"}


@pytest.fixture
def ctx(aws_credentials: None) -> Iterator[Context]:
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(**create_table_request(TABLE))
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/cloudsync/test/outputs", Type="String", Value=json.dumps(OUTPUTS))
        yield Context(Aws(Target(None, REGION, None, "test")), None, out=io.StringIO(),
                      err=io.StringIO(), poll_s=0.01)


def _crc(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _archive(media_id: str, data: bytes) -> dict[str, Any]:
    key = f"gopro-videos/2026/11/{media_id}/GX010001.MP4"
    answer = boto3.client("s3", region_name=REGION).put_object(
        Bucket=BUCKET, Key=key, Body=data, ChecksumAlgorithm="CRC32")
    return {"file_id": "f1", "key": key, "version_id": answer["VersionId"], "size": len(data),
            "crc32": _crc(data)}


def _row(media_id: str, status: str, objects: list[dict[str, Any]] | None = None) -> None:
    values: dict[str, Any] = {
        schema.PARTITION_KEY: "gopro", schema.SORT_KEY: media_id, "status": status,
        schema.STATUS_INDEX_PARTITION: f"gopro#{status}",
        schema.STATUS_INDEX_SORT: "2026-11-30T02:00:00.000Z", "wake": 2,
        "filename": "GX010001.MP4",
    }
    if objects is not None:
        values["objects"] = objects
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=TABLE, Item=to_item(values))


def _verify(ctx: Context, *argv: str) -> tuple[int, str]:
    code = verify.run(cli.parse(["verify", *argv]), ctx)
    assert isinstance(ctx.out, io.StringIO)
    return code, ctx.out.getvalue()


def test_a_medium_whose_row_later_failed_is_still_verified(ctx: Context) -> None:
    record = _archive("m1", b"the original bytes")
    _row("m1", "FAILED", objects=[{**record, "crc32": _crc(b"other bytes")}])
    code, text = _verify(ctx)
    assert code == 1 and "m1" in text and "CRC32" in text


def test_a_failed_resync_of_a_good_archive_verifies_clean(ctx: Context) -> None:
    _row("m1", "FAILED", objects=[_archive("m1", b"the original bytes")])
    code, text = _verify(ctx)
    assert code == 0 and "Verified 1 archived media: 1 objects" in text


def test_an_object_no_row_records_is_reported(ctx: Context) -> None:
    _archive("stray", b"left behind")
    code, text = _verify(ctx, "--json")
    document = json.loads(text)
    assert code == 1 and document["problems"] == 1
    assert "no tracker row records it" in document["results"][0]["problems"][0]


def test_an_object_of_a_medium_in_transfer_is_left_alone(ctx: Context) -> None:
    _archive("busy", b"being written")
    _row("busy", "IN_PROGRESS")
    code, _ = _verify(ctx)
    assert code == 0
