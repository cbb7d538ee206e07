"""One archived object checked by reading it back, against its tracker record and GoPro's ETag.

``cloudsync verify`` without ``--read-data`` trusts what S3 says it stores (HeadObject's size
and full-object CRC32). Bit rot, a damaged restore or a replaced version would pass that; here
the CRC32 is recomputed from the bytes and compared with the one the tracker recorded at
archive time, and where the archive proved GoPro's own checksum (``origin: match``) the origin
ETag kept in the object's metadata is reproduced again from the same bytes.

Objects in Glacier Flexible Retrieval or Deep Archive (or Intelligent-Tiering's archive tiers)
cannot be read until restored: they are reported as needing a restore, never skipped.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

from ..aws import error_code, http_status, translate
from ..transfer.checksums import crc32_to_b64
from ..transfer.origin import (
    MATCH,
    MAX_WHOLE_CANDIDATES,
    MISMATCH,
    UNKNOWN,
    candidate_part_sizes,
    multipart_etag,
    parse_etag,
)
from .digest import WHOLE, ObjectDigest, Where, read_object

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# What became of one object.
OK = "ok"
CORRUPT = "corrupt"  # size, CRC32 or GoPro's checksum differ from the record
MISSING = "missing"
NEEDS_RESTORE = "needs_restore"
RESTORING = "restoring"
UNCHECKED = "unchecked"  # nothing recorded to compare with
NOT_REACHED = "not_reached"  # the invocation's time ran out first: ask again
READABLE = "readable"

ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
ARCHIVE_TIERS = frozenset({"ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS"})
MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})
MAX_GUESS_BYTES = 1024 * 1024 * 1024  # beyond, several possible layouts are not all hashed
NOT_RECORDED = "not_recorded"


def readability(head: Mapping[str, Any]) -> str:
    """``readable``, ``needs_restore`` or ``restoring``, from HeadObject's answer."""
    cold = head.get("StorageClass") in ARCHIVE_CLASSES or head.get("ArchiveStatus") in (
        ARCHIVE_TIERS)
    restore = str(head.get("Restore") or "")
    if not cold or 'ongoing-request="false"' in restore:
        return READABLE
    return RESTORING if 'ongoing-request="true"' in restore else NEEDS_RESTORE


def is_missing(error: ClientError) -> bool:
    return error_code(error) in MISSING_CODES or http_status(error) == 404


@dataclass
class ReadResult:
    media_id: str
    key: str
    version_id: str | None
    size: int | None  # as recorded
    state: str = OK
    storage_class: str = "STANDARD"
    crc32: str | None = None  # match | mismatch | unrecorded
    origin: str | None = None  # match | mismatch | unknown | not_recorded
    problem: str | None = None
    bytes_read: int = 0
    seconds: float = 0.0

    def fail(self, state: str, problem: str) -> ReadResult:
        self.state, self.problem = state, problem
        return self

    def as_payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OriginLayouts:
    """How to reproduce GoPro's ETag: the part sizes to hash and the ETag wanted, or why not."""

    part_sizes: tuple[int, ...] = ()
    wanted: str | None = None
    why: str | None = None


def _archived_part_size(s3: S3Client, where: Where) -> int | None:
    """The archived object's first part size: it was cut on the origin's parts."""
    try:
        return int(s3.head_object(**where.request(), PartNumber=1)["ContentLength"])
    except (ClientError, BotoCoreError, KeyError, ValueError):
        return None


def origin_layouts(s3: S3Client, where: Where, etag: str | None, size: int) -> OriginLayouts:
    parsed = parse_etag(etag)
    if parsed is None or parsed.digest is None:
        return OriginLayouts(why="the object keeps no GoPro ETag to check against")
    if parsed.parts is None:
        return OriginLayouts((WHOLE,), parsed.digest)
    wanted = f"{parsed.digest}-{parsed.parts}"
    if parsed.parts == 1:
        return OriginLayouts((max(1, size),), wanted)
    candidates = candidate_part_sizes(size, parsed.parts)
    if len(candidates) > 1:
        ours = _archived_part_size(s3, where)
        candidates = [ours] if ours in candidates else candidates
    if not candidates:
        return OriginLayouts(wanted=wanted, why=f"no part size fits ETag {parsed.raw}")
    if len(candidates) > 1 and size > MAX_GUESS_BYTES:
        return OriginLayouts(wanted=wanted, why="the origin's part size is ambiguous")
    return OriginLayouts(tuple(candidates[:MAX_WHOLE_CANDIDATES]), wanted)


def _origin_verdict(digest: ObjectDigest, layouts: OriginLayouts) -> tuple[str, str | None]:
    got = ""
    for size in layouts.part_sizes:
        md5s = digest.md5s[size]
        got = md5s[0] if size == WHOLE else multipart_etag(md5s)
        if got == layouts.wanted:
            return MATCH, None
    if len(layouts.part_sizes) == 1:
        return MISMATCH, f"the bytes read give ETag {got}, GoPro's is {layouts.wanted}"
    return UNKNOWN, f"no possible part size reproduces ETag {layouts.wanted}"


def judge(result: ReadResult, record: Mapping[str, Any], digest: ObjectDigest,
          layouts: OriginLayouts | None) -> ReadResult:
    """The verdicts for the bytes read (``layouts`` None: no origin check was recorded)."""
    if digest.length != result.size:
        return result.fail(CORRUPT, f"read {digest.length} bytes, {result.size} recorded")
    recorded, read = record.get("crc32"), crc32_to_b64(digest.crc32)
    result.crc32 = "unrecorded" if not recorded else "match" if recorded == read else "mismatch"
    if layouts is None:
        result.origin = str(record.get("origin") or NOT_RECORDED)
    elif layouts.why:
        result.origin = UNKNOWN
    else:
        result.origin, why = _origin_verdict(digest, layouts)
        if result.origin == MISMATCH:
            return result.fail(CORRUPT, f"GoPro's checksum no longer matches: {why}")
    if result.crc32 == "mismatch":
        return result.fail(CORRUPT, f"CRC32 of the bytes read is {read}, {recorded} recorded")
    if result.crc32 == "unrecorded":
        return result.fail(UNCHECKED, "the row records no CRC32 checksum to compare with")
    return result


def _head(s3: S3Client, result: ReadResult, where: Where) -> dict[str, Any] | None:
    try:
        return dict(s3.head_object(**where.request()))
    except ClientError as e:
        if is_missing(e):
            result.fail(MISSING, f"missing (version {where.version_id or '-'})")
            return None
        raise translate(e, f"head s3://{where.bucket}/{where.key}") from e


def check_object(s3: S3Client, bucket: str, media_id: str,
                 record: Mapping[str, Any]) -> ReadResult:
    """Read one recorded object back and judge it."""
    version = str(record["version_id"]) if record.get("version_id") else None
    size = record.get("size")
    result = ReadResult(media_id, str(record.get("key") or ""), version,
                        int(size) if size is not None else None)
    if not result.key:
        return result.fail(UNCHECKED, "the row records an object without a key")
    where = Where(bucket, result.key, version)
    head = _head(s3, result, where)
    if head is None:
        return result
    result.storage_class = str(head.get("StorageClass") or "STANDARD")
    state = readability(head)
    if state != READABLE:
        return result.fail(state, f"in {result.storage_class}: restore it to read it back")
    stored = int(head.get("ContentLength", 0))
    if stored != result.size:
        return result.fail(CORRUPT, f"size {stored} in S3, {result.size} recorded")
    layouts = None
    if record.get("origin") == MATCH:
        etag = dict(head.get("Metadata") or {}).get("origin-etag")
        layouts = origin_layouts(s3, where, etag, stored)
    started = time.monotonic()
    try:
        digest = read_object(s3, where, stored, layouts.part_sizes if layouts else ())
    except ClientError as e:
        if error_code(e) == "InvalidObjectState":
            return result.fail(NEEDS_RESTORE, "archived: restore it to read it back")
        if is_missing(e):
            return result.fail(MISSING, "disappeared while it was read")
        raise translate(e, f"read s3://{bucket}/{result.key}") from e
    except FlexibleChecksumError:
        # The SDK checked a whole-object answer against the CRC32 S3 stored for it (the one
        # recorded, as verified at archive time) before our own check could.
        result.crc32 = "mismatch"
        return result.fail(CORRUPT, "CRC32 of the bytes read differs from the stored one")
    except BotoCoreError as e:
        raise translate(e, f"read s3://{bucket}/{result.key}") from e
    result.bytes_read, result.seconds = digest.length, round(time.monotonic() - started, 3)
    return judge(result, record, digest, layouts)
