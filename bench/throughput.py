"""The peers the production path is measured against, and the sink they all write to.

limit   the same bytes from memory, boto3 ``upload_fileobj`` with a tuned TransferConfig
        (the most this client can push into this sink)
seed    seed-design.md Component 3: read a 100 MB chunk, upload it, one after another
rclone  ``rclone copyurl`` (Debian's package), defaults, into the same sink

The product itself runs through bench.workflow (the functions as the workflow runs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
SEED_CHUNK_SIZE = 104_857_600  # seed-design.md: CHUNK_SIZE = MULTIPART_THRESHOLD = 100 MB

# (a)'s settings: the best of a sweep on this machine (part 8/16/32 MiB x 4/8/10/16 threads,
# see docs/BENCHMARKS.md); 16 MiB parts match the engine's choice for files above 256 MiB.
LIMIT_CONFIG = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=16 * MIB,
                              max_concurrency=8, use_threads=True)


@dataclass
class Sink:
    """An S3 endpoint on loopback and a bucket in it."""

    name: str
    endpoint: str
    bucket: str = "bench"
    verifies_checksums: bool = True  # s3rver stores no additional checksums
    access_key: str = "testing"  # s3rver accepts only its own S3RVER / S3RVER
    secret_key: str = "testing"  # noqa: S105 - moto's fake credentials
    notes: list[str] = field(default_factory=list)

    def client(self, pool: int = 16, *, checksums: bool = True) -> S3Client:
        config = Config(
            max_pool_connections=pool,
            retries={"mode": "standard", "max_attempts": 3},
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_supported" if checksums else "when_required",
            response_checksum_validation="when_supported" if checksums else "when_required",
        )
        client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                              aws_access_key_id=self.access_key,
                              aws_secret_access_key=self.secret_key,
                              aws_session_token=None, config=config)
        return client

    def prepare(self, *, versioning: bool = True) -> None:
        """The bucket; versioned like the archive bucket (moto then answers real version ids,
        where ``versionId=null`` from an unversioned bucket makes rclone's HEAD fail)."""
        s3 = self.client()
        try:
            s3.create_bucket(Bucket=self.bucket)
        except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            pass
        if versioning:
            s3.put_bucket_versioning(Bucket=self.bucket,
                                     VersioningConfiguration={"Status": "Enabled"})

    def forget(self, key: str) -> None:
        """Delete the object (its one version) and any upload left, so the sink stays small.

        (moto's ListObjectVersions takes seconds over big objects: the version comes from HEAD.)
        """
        s3 = self.client()
        try:
            uploads = s3.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
            for u in uploads.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=self.bucket, Key=u["Key"],
                                          UploadId=u["UploadId"])
            version = s3.head_object(Bucket=self.bucket, Key=key).get("VersionId")
            if version and version != "null":
                s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
            else:
                s3.delete_object(Bucket=self.bucket, Key=key)
        except Exception:  # noqa: BLE001, S110 - cleanup only
            pass


def _head_size(s3: S3Client, bucket: str, key: str) -> int:
    return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])


def seed(sink: Sink, url: str, key: str, size: int, *, kms: bool = True) -> float:
    """seed-design.md, Component 3, ``multipart_upload_stream``, line for line."""
    s3 = sink.client(10)
    started = time.perf_counter()
    response = requests.get(url, headers={"Authorization": "Bearer not-needed-by-the-cdn"},
                            stream=True, timeout=(5, 60))
    extra: dict[str, Any] = {"ServerSideEncryption": "aws:kms"} if kms else {}
    multipart = s3.create_multipart_upload(Bucket=sink.bucket, Key=key, StorageClass="STANDARD",
                                           Tagging="Source=GoPro&AutoSync=True", **extra)
    upload_id = multipart["UploadId"]
    parts: list[Any] = []
    part_number = 1
    bytes_transferred = 0
    try:
        for chunk in response.iter_content(chunk_size=SEED_CHUNK_SIZE):
            if chunk:
                part = s3.upload_part(Bucket=sink.bucket, Key=key, PartNumber=part_number,
                                      UploadId=upload_id, Body=chunk)
                parts.append({"PartNumber": part_number, "ETag": part["ETag"]})
                bytes_transferred += len(chunk)
                part_number += 1
        s3.complete_multipart_upload(Bucket=sink.bucket, Key=key, UploadId=upload_id,
                                     MultipartUpload={"Parts": parts})
    except Exception:
        s3.abort_multipart_upload(Bucket=sink.bucket, Key=key, UploadId=upload_id)
        raise
    finally:
        response.close()
    if bytes_transferred != size:  # step 5, "Verify Transfer"
        raise ValueError(f"Size mismatch: expected {size}, got {bytes_transferred}")
    return time.perf_counter() - started


def rclone_path() -> str | None:
    return shutil.which("rclone")


def rclone_version() -> str:
    exe = rclone_path()
    if exe is None:
        return "not installed"
    out = subprocess.run([exe, "version"], capture_output=True, text=True, check=False)
    return (out.stdout.splitlines() or ["rclone ?"])[0].strip()


def rclone_copyurl(sink: Sink, url: str, key: str, size: int, *,
                   extra_args: tuple[str, ...] = ()) -> float:
    exe = rclone_path()
    if exe is None:
        raise FileNotFoundError("rclone")
    # rclone 1.60 fails on some CA bundles; a loopback http endpoint needs none
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    env.update({
        "RCLONE_CONFIG_BENCH_TYPE": "s3",
        "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
        "RCLONE_CONFIG_BENCH_ENDPOINT": sink.endpoint,
        "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": sink.access_key,
        "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": sink.secret_key,
        "RCLONE_CONFIG_BENCH_REGION": "us-east-1",
        "RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE": "true",
        "RCLONE_CONFIG": "/dev/null",
    })
    started = time.perf_counter()
    out = subprocess.run([exe, "copyurl", url, f"bench:{sink.bucket}/{key}", "--s3-no-check-bucket",
                          *extra_args], capture_output=True, text=True, env=env, check=False,
                         timeout=1800, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"rclone failed: {out.stderr.strip()[-300:]}")
    assert _head_size(sink.client(), sink.bucket, key) == size
    return seconds
