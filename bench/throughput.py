"""Benchmark 1: the same file from the simulator into one S3 sink, five ways, side by side.

(a) limit          the same bytes from memory, boto3 ``upload_fileobj`` with a tuned
                   TransferConfig (the most this client can push into this sink)
(b) engine         ``transfer_file``: ranged GETs -> UploadPart with CRC32, 8 in flight
(c) seed           seed-design.md Component 3: read a 100 MB chunk, upload it, one after another
(d) upload_fileobj what a user would write: boto3 ``upload_fileobj`` over the streamed response
(e) rclone         ``rclone copyurl`` (Debian's package), defaults, into the same sink
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from cloudsync_core.errors import ChecksumMismatchError
from cloudsync_core.transfer import ArchivedObject, HttpRangeSource, transfer_file

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
SEED_CHUNK_SIZE = 104_857_600  # seed-design.md: CHUNK_SIZE = MULTIPART_THRESHOLD = 100 MB

# (a)'s settings: the best of a sweep on this machine (part 8/16/32 MiB x 4/8/10/16 threads,
# see docs/BENCHMARKS.md); 16 MiB parts match the engine's choice for files above 256 MiB.
LIMIT_CONFIG = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=16 * MIB,
                              max_concurrency=8, use_threads=True)


class Timeline:
    """When each S3 call of a client ran (botocore hooks): splits a run into its data phase
    (until the last part is in) and the completion (CompleteMultipartUpload and after)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.calls: list[tuple[str, float, float]] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self.t0 = time.perf_counter()
            self.calls.clear()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.s3", self._before)
        client.meta.events.register("after-call.s3", self._after)

    def _before(self, context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()

    def _after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        started = context.get("bench_started")
        if started is not None:
            with self._lock:
                self.calls.append((str(model.name), started - self.t0,
                                   time.perf_counter() - self.t0))

    def last_end(self, operation: str) -> float | None:
        ends = [e for name, _, e in self.calls if name == operation]
        return max(ends) if ends else None

    def duration(self, operation: str) -> float | None:
        spans = [e - s for name, s, e in self.calls if name == operation]
        return sum(spans) if spans else None

    def count(self, operation: str) -> int:
        return sum(1 for name, _, _ in self.calls if name == operation)


class ListPartsShim:
    """ListParts for a sink that lacks it (s3rver answers 405), answered from the UploadParts
    this client made (botocore hooks). The engine asks S3 which parts it holds (ListParts is
    its truth); this lets it run against s3rver at all. Shared by a sink's clients."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str, str], dict[int, tuple[int, str, str | None]]] = {}
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-parameter-build.s3.UploadPart", self._keep_params)
        events.register("before-parameter-build.s3.ListParts", self._keep_params)
        events.register("after-call.s3.UploadPart", self._uploaded)
        events.register("before-call.s3.ListParts", self._answer)

    def _keep_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["shim_params"] = dict(params)

    def _uploaded(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        p = context.get("shim_params") or {}
        body = p.get("Body", b"")
        size = len(body) if isinstance(body, bytes | bytearray) else 0
        with self._lock:
            parts = self._parts.setdefault((p["Bucket"], p["Key"], p["UploadId"]), {})
            parts[int(p["PartNumber"])] = (size, str(parsed.get("ETag", "")),
                                           p.get("ChecksumCRC32"))

    def _answer(self, context: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        from botocore.awsrequest import AWSResponse
        from botocore.compat import HTTPHeaders

        p = context.get("shim_params") or {}
        with self._lock:
            parts = dict(self._parts.get((p["Bucket"], p["Key"], p["UploadId"]), {}))
        listed = [{"PartNumber": n, "Size": size, "ETag": etag,
                   **({"ChecksumCRC32": crc} if crc else {})}
                  for n, (size, etag, crc) in sorted(parts.items())]
        parsed = {"Parts": listed, "IsTruncated": False,
                  "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}}}
        return AWSResponse("", 200, HTTPHeaders(), None), parsed


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

    timeline: Timeline | None = None  # when set, every client's calls are timed
    shim: ListPartsShim | None = None  # for a sink without ListParts

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
        if self.timeline is not None:
            self.timeline.attach(client)
        if self.shim is not None:
            self.shim.attach(client)
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


@dataclass
class Result:
    contender: str
    sink: str
    size: int
    seconds: float | None
    note: str = ""
    data_seconds: float | None = None  # until the last UploadPart answered
    complete_seconds: float | None = None  # CompleteMultipartUpload itself
    parts: int = 0

    @property
    def mib_s(self) -> float | None:
        if self.seconds is None or self.seconds <= 0:
            return None
        return self.size / MIB / self.seconds

    @property
    def data_mib_s(self) -> float | None:
        if self.data_seconds is None or self.data_seconds <= 0:
            return None
        return self.size / MIB / self.data_seconds


def fetch_bytes(url: str, size: int) -> bytes:
    """The whole file into memory (for the limit: the very same bytes)."""
    with requests.get(url, timeout=(5, 60), stream=True) as r:
        r.raise_for_status()
        buf = bytearray(size)
        pos = 0
        for chunk in r.iter_content(MIB):
            buf[pos : pos + len(chunk)] = chunk
            pos += len(chunk)
    if pos != size:
        raise RuntimeError(f"read {pos} of {size} bytes")
    return bytes(buf)


def _head_size(s3: S3Client, bucket: str, key: str) -> int:
    return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])


def limit(sink: Sink, data: bytes, key: str, *, checksums: bool = True,
          config: TransferConfig = LIMIT_CONFIG) -> float:
    s3 = sink.client(max(16, int(config.max_request_concurrency) + 4), checksums=checksums)
    started = time.perf_counter()
    s3.upload_fileobj(io.BytesIO(data), sink.bucket, key, Config=config)
    seconds = time.perf_counter() - started
    assert _head_size(s3, sink.bucket, key) == len(data)
    return seconds


def engine(sink: Sink, url: str, key: str, *, parallel: int = 8, part_size_mib: int = 0
           ) -> tuple[float, str]:
    """transfer_file as the Transfer step runs it; returns (seconds, note)."""
    s3 = sink.client(max(10, 2 * parallel))
    note = ""
    started = time.perf_counter()
    with HttpRangeSource(url) as source:
        try:
            result = transfer_file(source, s3, sink.bucket, key, metadata={"bench": "engine"},
                                   tagging="Source=GoPro&AutoSync=True",
                                   deadline=time.monotonic() + 3600, parallel=parallel,
                                   part_size_mib=part_size_mib, allow_overwrite=True)
        except ChecksumMismatchError as e:
            if sink.verifies_checksums or "stored no CRC32" not in str(e):
                raise
            note = ("ListParts from a client-side shim (s3rver has none); the final CRC32 "
                    "read-back skipped (s3rver stores none)")
        else:
            if not isinstance(result, ArchivedObject):
                raise RuntimeError("the engine stopped before the end (deadline)")
    seconds = time.perf_counter() - started
    return seconds, note


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


def naive_upload_fileobj(sink: Sink, url: str, key: str, size: int) -> float:
    """What a user would write: the streamed response straight into ``upload_fileobj``."""
    s3 = sink.client(10)
    started = time.perf_counter()
    with requests.get(url, stream=True, timeout=(5, 60)) as r:
        r.raise_for_status()
        r.raw.decode_content = True
        s3.upload_fileobj(r.raw, sink.bucket, key)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    assert _head_size(s3, sink.bucket, key) == size
    return seconds


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


Contender = Callable[[], "float | tuple[float, str]"]


def measure(name: str, sink: Sink, size: int, key: str, fn: Contender) -> Result:
    """Run one contender; a failure becomes a row with its reason, never a crash."""
    timeline = sink.timeline = Timeline()
    try:
        timeline.start()
        value = fn()
    except FileNotFoundError:
        return Result(name, sink.name, size, None, "not installed")
    except Exception as e:  # noqa: BLE001 - a contender's failure is a result to report
        return Result(name, sink.name, size, None, f"failed: {type(e).__name__}: {str(e)[:160]}")
    finally:
        sink.timeline = None
        sink.forget(key)
    seconds, note = value if isinstance(value, tuple) else (value, "")
    result = Result(name, sink.name, size, seconds, note)
    result.data_seconds = timeline.last_end("UploadPart")
    result.complete_seconds = timeline.duration("CompleteMultipartUpload")
    result.parts = timeline.count("UploadPart")
    return result
