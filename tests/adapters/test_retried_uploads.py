"""Retried archive writes against S3 (moto): a lost answer must not leave an orphan upload or
turn the medium's own object into an ``ArchiveConflictError``.

- A Prepare retried after CreateMultipartUpload succeeded (its answer, or a later call, was
  lost) created a second upload and never aborted the first: ``abort_unrecorded_uploads``.
- A completion whose answer was lost is re-done by a later attempt on a fresh upload of the same
  bytes; its If-None-Match meets our own object (412). Finalize knows no part CRCs there (moto's
  ListParts reports none), so the object used to be called a conflict and the medium FAILED.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cloudsync_core.errors import ArchiveConflictError
from cloudsync_core.transfer import complete_upload, put_small, start_upload
from cloudsync_core.transfer.checksums import crc32_b64
from cloudsync_core.transfer.s3ops import abort_unrecorded_uploads

BUCKET = "archive"
KEY = "gopro-videos/2025/11/m1/GX010001.MP4"
MIB = 1024 * 1024
PART = 5 * MIB
DATA = random.Random(7).randbytes(2 * PART + 123)
META = {"media-id": "m1", "file-id": "f1"}
ME = {"media-id": "m1", "file-id": "f1"}


@pytest.fixture
def s3(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client: Any = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET,
                                     VersioningConfiguration={"Status": "Enabled"})
        yield client


def _uploads(s3: Any, key: str = KEY) -> list[str]:
    return [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
            if u["Key"] == key]


def _upload(s3: Any, data: bytes, metadata: dict[str, str] = META) -> str:
    """A whole multipart upload of ``data``, parts sent with their CRC32 (as transfer does)."""
    uid = start_upload(s3, BUCKET, KEY, metadata, "Source=GoPro")
    for n, start in enumerate(range(0, len(data), PART), start=1):
        body = data[start:start + PART]
        s3.upload_part(Bucket=BUCKET, Key=KEY, UploadId=uid, PartNumber=n, Body=body,
                       ChecksumAlgorithm="CRC32", ChecksumCRC32=crc32_b64(body))
    return uid


def _versions(s3: Any) -> int:
    return len([v for v in s3.list_object_versions(Bucket=BUCKET, Prefix=KEY).get("Versions", [])
                if v["Key"] == KEY])


def test_uploads_no_row_records_are_aborted_and_the_recorded_one_kept(s3: Any) -> None:
    lost = start_upload(s3, BUCKET, KEY, META, "Source=GoPro")  # its answer never arrived
    other_key = start_upload(s3, BUCKET, KEY + ".THM", META, "Source=GoPro")  # a prefix match
    recorded = start_upload(s3, BUCKET, KEY, META, "Source=GoPro")
    assert abort_unrecorded_uploads(s3, BUCKET, KEY, keep=recorded) == [lost]
    assert _uploads(s3) == [recorded]
    assert _uploads(s3, KEY + ".THM") == [other_key]


def test_a_completion_redone_on_a_fresh_upload_recognises_its_own_object(s3: Any) -> None:
    first = _upload(s3, DATA)
    done = complete_upload(s3, BUCKET, KEY, first, expected_size=len(DATA),
                           allow_overwrite=False, identity=ME)
    second = _upload(s3, DATA)  # the answer was lost; a later attempt sent the bytes again
    again = complete_upload(s3, BUCKET, KEY, second, expected_size=len(DATA),
                            allow_overwrite=False, identity=ME)
    assert again.existing and again.version_id == done.version_id
    assert _versions(s3) == 1 and _uploads(s3) == []  # nothing left open
    body = s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert body == DATA


def test_other_bytes_of_the_same_size_stay_a_conflict(s3: Any) -> None:
    first = _upload(s3, DATA)
    complete_upload(s3, BUCKET, KEY, first, expected_size=len(DATA), allow_overwrite=False,
                    identity=ME)
    other = bytearray(DATA)
    other[PART + 1] ^= 0xFF
    second = _upload(s3, bytes(other))
    with pytest.raises(ArchiveConflictError, match="nothing was overwritten"):
        complete_upload(s3, BUCKET, KEY, second, expected_size=len(DATA),
                        allow_overwrite=False, identity=ME)
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == DATA
    assert _uploads(s3) == []


def test_another_mediums_object_stays_a_conflict(s3: Any) -> None:
    first = _upload(s3, DATA, {"media-id": "m2", "file-id": "f1"})
    complete_upload(s3, BUCKET, KEY, first, expected_size=len(DATA), allow_overwrite=False)
    second = _upload(s3, DATA)
    with pytest.raises(ArchiveConflictError):
        complete_upload(s3, BUCKET, KEY, second, expected_size=len(DATA),
                        allow_overwrite=False, identity=ME)


def test_a_put_redone_accepts_only_the_same_mediums_object(s3: Any) -> None:
    small = DATA[:1000]
    kw: dict[str, Any] = {"expected_size": len(small), "tagging": "Source=GoPro",
                          "allow_overwrite": False}
    first = put_small(s3, BUCKET, KEY, small, metadata={**META, "wake": "1"}, **kw)
    again = put_small(s3, BUCKET, KEY, small, metadata={**META, "wake": "2"}, **kw)
    assert again.existing and again.version_id == first.version_id
    with pytest.raises(ArchiveConflictError):
        put_small(s3, BUCKET, KEY, small, metadata={"media-id": "m2", "file-id": "f1"}, **kw)
    assert _versions(s3) == 1
