"""The S3 side of an archive upload: create/resume, list, complete, verify, abort.

ListParts is the truth about an upload (nothing about parts travels through workflow state), so
every step that needs to know what is uploaded asks S3. Completion is idempotent: Express
workflows run at least once, so a Finalize can run after another one already completed the same
upload, and must then recognise the object as its own instead of failing or overwriting.

Checksums: uploads are created with ``ChecksumAlgorithm=CRC32, ChecksumType=FULL_OBJECT``;
every part carries the CRC32 of the bytes read at the source; completion sends the full-object
CRC32 combined from the part CRCs and ``MpuObjectSize``, so S3 itself refuses a wrong object.
S3 answers a write with the CRC32 it computed over what it stored: when that equals ours the
object is verified without another request; where the answer carries none (moto's completion),
``head_object(ChecksumMode=ENABLED)`` reads it back and it is checked then.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import error_code, http_status, translate
from ..errors import (
    ArchiveConflictError,
    ChecksumMismatchError,
    CloudSyncError,
    PermanentError,
    SizeMismatchError,
    TransientError,
)
from .checksums import b64_to_crc32, combine_parts, crc32_b64, crc32_to_b64

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, HeadObjectOutputTypeDef


class BufferBody(io.RawIOBase):
    """A read-only, seekable stream over a part's buffer, for a request body without copying it
    (botocore reads it in blocks; a bytearray body itself breaks moto's in-process parsing)."""

    def __init__(self, data: bytes | bytearray) -> None:
        super().__init__()
        self._view = memoryview(data)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = min(max(0, base + offset), len(self._view))
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), len(self._view) - self._pos)
        buffer[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def __len__(self) -> int:
        return len(self._view)


@dataclass(frozen=True)
class UploadedPart:
    """One part as ListParts reports it. ``crc32_b64`` is None where S3 reports none (moto)."""

    number: int
    size: int
    etag: str
    crc32_b64: str | None


@dataclass(frozen=True)
class ArchivedObject:
    """A finished, verified archive object.

    ``crc32_verified`` is True when the stored full-object CRC32 was compared with the one
    combined from the CRCs of the bytes read at the source; False only where the server does not
    report part checksums (moto) and no caller supplied them: then ``crc32_b64`` is the server's
    own value and only the size was checked. ``existing`` marks an object found already in place
    (an idempotent retry) rather than written by this call.
    """

    key: str
    version_id: str | None
    size: int
    crc32_b64: str
    etag: str
    crc32_verified: bool = True
    existing: bool = False
    # The object's user metadata: as read back, or as written; empty where a completion was
    # verified from its answer (the metadata went in with CreateMultipartUpload).
    metadata: Mapping[str, str] = field(default_factory=dict)


def upload_gone(e: BaseException) -> bool:
    """Whether an error we raised came from S3's NoSuchUpload (aborted, expired or completed)."""
    cause = e.__cause__
    return isinstance(cause, ClientError) and error_code(cause) == "NoSuchUpload"


# The metadata that makes an object under a key this medium's original (not the wake: a later
# run that re-sends the same bytes after a lost answer is still writing the same object).
IDENTITY_KEYS = ("media-id", "file-id")


def _where(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def start_upload(
    s3: S3Client,
    bucket: str,
    key: str,
    metadata: Mapping[str, str],
    tagging: str,
    existing_upload_id: str | None = None,
) -> str:
    """The upload id to write into: ``existing_upload_id`` if S3 still knows it, else a new one.

    SSE comes from the bucket's default encryption (no per-request KMS key).
    """
    if existing_upload_id:
        try:
            s3.list_parts(Bucket=bucket, Key=key, UploadId=existing_upload_id, MaxParts=1)
            return existing_upload_id
        except ClientError as e:
            if error_code(e) != "NoSuchUpload":
                raise translate(e, f"ListParts {_where(bucket, key)}") from e
        except BotoCoreError as e:
            raise translate(e, f"ListParts {_where(bucket, key)}") from e
    try:
        resp = s3.create_multipart_upload(
            Bucket=bucket,
            Key=key,
            ChecksumAlgorithm="CRC32",
            ChecksumType="FULL_OBJECT",
            Metadata=dict(metadata),
            Tagging=tagging,
        )
    except (ClientError, BotoCoreError) as e:
        raise translate(e, f"CreateMultipartUpload {_where(bucket, key)}") from e
    return resp["UploadId"]


def uploaded_parts(s3: S3Client, bucket: str, key: str, upload_id: str) -> dict[int, UploadedPart]:
    """Every part S3 holds for the upload (paginated ListParts)."""
    out: dict[int, UploadedPart] = {}
    try:
        for page in s3.get_paginator("list_parts").paginate(
            Bucket=bucket, Key=key, UploadId=upload_id
        ):
            for p in page.get("Parts", []):
                number = p["PartNumber"]
                out[number] = UploadedPart(number, p["Size"], p["ETag"], p.get("ChecksumCRC32"))
    except (ClientError, BotoCoreError) as e:
        raise translate(e, f"ListParts {_where(bucket, key)}") from e
    return out


def abort_upload(s3: S3Client, bucket: str, key: str, upload_id: str) -> None:
    """Abort the upload; an upload that is already gone counts as aborted."""
    try:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except ClientError as e:
        if error_code(e) != "NoSuchUpload":
            raise translate(e, f"AbortMultipartUpload {_where(bucket, key)}") from e
    except BotoCoreError as e:
        raise translate(e, f"AbortMultipartUpload {_where(bucket, key)}") from e


def abort_unrecorded_uploads(s3: S3Client, bucket: str, key: str, keep: str | None) -> list[str]:
    """Abort every upload in progress for exactly ``key`` except ``keep``; their ids.

    A retried Prepare (a later call failed, or CreateMultipartUpload's answer was lost) creates
    a second upload; the first is recorded nowhere, so nothing would ever complete or abort it.
    Its parts have no recorded MD5s either, so aborting is the safe choice (not adopting it).
    """
    aborted: list[str] = []
    try:
        pages = s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=key)
        stray = [u["UploadId"] for page in pages for u in page.get("Uploads", [])
                 if u.get("Key") == key and u.get("UploadId") != keep]
    except (ClientError, BotoCoreError) as e:
        raise translate(e, f"ListMultipartUploads {_where(bucket, key)}") from e
    for upload_id in stray:
        abort_upload(s3, bucket, key, upload_id)
        aborted.append(upload_id)
    return aborted


def _abort_quietly(s3: S3Client, bucket: str, key: str, upload_id: str) -> None:
    """Best-effort cleanup while another error is on its way up (the lifecycle rule backs it)."""
    try:
        abort_upload(s3, bucket, key, upload_id)
    except CloudSyncError:
        pass


def _head(s3: S3Client, bucket: str, key: str, version_id: str | None = None) -> (
    HeadObjectOutputTypeDef | None
):
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "ChecksumMode": "ENABLED"}
    if version_id and version_id != "null":  # "null": an unversioned bucket (moto refuses it)
        kwargs["VersionId"] = version_id
    try:
        return s3.head_object(**kwargs)
    except ClientError as e:
        if http_status(e) == 404 or error_code(e) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise translate(e, f"HeadObject {_where(bucket, key)}") from e
    except BotoCoreError as e:
        raise translate(e, f"HeadObject {_where(bucket, key)}") from e


def _as_archived(
    key: str, head: HeadObjectOutputTypeDef, *, verified: bool, existing: bool
) -> ArchivedObject:
    return ArchivedObject(
        key=key,
        version_id=head.get("VersionId"),
        size=head["ContentLength"],
        crc32_b64=head.get("ChecksumCRC32") or "",
        etag=head.get("ETag", ""),
        crc32_verified=verified,
        existing=existing,
        metadata=dict(head.get("Metadata", {})),
    )


def _existing_if_same(
    s3: S3Client, bucket: str, key: str, size: int, crc: str | None, *, need_crc: bool
) -> tuple[ArchivedObject | None, HeadObjectOutputTypeDef | None]:
    """The object already under ``key`` as ours if it has our size (and our CRC32, if known).

    With ``crc`` unknown the size alone decides, unless ``need_crc``: then it is not ours.
    Returns (match or None, head or None).
    """
    head = _head(s3, bucket, key)
    if head is None or head["ContentLength"] != size:
        return None, head
    stored = head.get("ChecksumCRC32")
    if crc is not None:
        if stored == crc:
            return _as_archived(key, head, verified=True, existing=True), head
        return None, head
    if need_crc or not stored:
        return None, head
    return _as_archived(key, head, verified=False, existing=True), head


def multipart_etag(parts: list[UploadedPart]) -> str | None:
    """The ETag S3 gives the object completed from these parts (MD5 of their MD5s, "-N");
    None where a part's ETag is not an MD5 (SSE-KMS)."""
    try:
        digests = [bytes.fromhex(p.etag.strip('"')) for p in parts]
    except ValueError:
        return None
    if not digests or any(len(d) != 16 for d in digests):
        return None
    joined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{joined}-{len(parts)}"


def _ours_after_conflict(
    s3: S3Client, bucket: str, key: str, size: int, crc: str | None, *,
    etag: str | None = None, identity: Mapping[str, str] | None = None,
) -> tuple[ArchivedObject | None, HeadObjectOutputTypeDef | None]:
    """After a 412 (If-None-Match): the object under ``key`` as ours if it is what this write
    would have stored (our own earlier write whose answer was lost, or a retry's).

    Ours: same size, a stored CRC32, the ``identity`` metadata (medium and file id), and the
    same content: the full-object CRC32 when known, else the multipart ETag of our parts.
    """
    head = _head(s3, bucket, key)
    if head is None or head["ContentLength"] != size or not head.get("ChecksumCRC32"):
        return None, head
    metadata = head.get("Metadata", {})
    if identity and any(metadata.get(k) != v for k, v in identity.items()):
        return None, head
    if crc is not None:
        same = head.get("ChecksumCRC32") == crc
    else:
        same = etag is not None and head.get("ETag", "").strip('"') == etag
    if not same:
        return None, head
    return _as_archived(key, head, verified=crc is not None, existing=True), head


def _conflict(bucket: str, key: str, head: HeadObjectOutputTypeDef | None, size: int,
              crc: str | None) -> ArchiveConflictError:
    theirs = (
        f"{head['ContentLength']} bytes, CRC32 {head.get('ChecksumCRC32') or 'unknown'}"
        if head
        else "another object"
    )
    return ArchiveConflictError(
        f"{_where(bucket, key)} already holds {theirs}; ours has {size} bytes, "
        f"CRC32 {crc or 'unknown'}; nothing was overwritten"
    )


def _verify_stored(
    s3: S3Client, bucket: str, key: str, version_id: str | None, size: int, crc: str | None
) -> ArchivedObject:
    """Read back size and full-object CRC32 of what S3 stored (moto's complete returns none)."""
    head = _head(s3, bucket, key, version_id)
    if head is None:
        raise TransientError(f"{_where(bucket, key)}: the object just written is not visible")
    if head["ContentLength"] != size:
        raise SizeMismatchError(f"stored object {_where(bucket, key)}", size, head["ContentLength"])
    stored = head.get("ChecksumCRC32")
    if not stored:
        raise ChecksumMismatchError(f"{_where(bucket, key)}: S3 stored no CRC32 checksum")
    if crc is not None and stored != crc:
        raise ChecksumMismatchError(
            f"{_where(bucket, key)}: stored CRC32 {stored}, computed from the source {crc}"
        )
    return _as_archived(key, head, verified=crc is not None, existing=False)


def _verified(s3: S3Client, bucket: str, key: str, answer: Mapping[str, Any], size: int,
              crc: str | None, metadata: Mapping[str, str]) -> ArchivedObject:
    """The object a write just stored, verified: from the write's own answer when S3 echoes
    the CRC32 it computed over the bytes it stored (and ours matches: S3 itself checked the
    size, Content-Length or ``MpuObjectSize``), else read back with a HEAD (moto's
    CompleteMultipartUpload echoes none). An echoed CRC32 that differs from ours fails."""
    echoed = answer.get("ChecksumCRC32")
    if crc is None or not echoed:
        return _verify_stored(s3, bucket, key, answer.get("VersionId"), size, crc)
    if echoed != crc:
        raise ChecksumMismatchError(
            f"{_where(bucket, key)}: S3 stored CRC32 {echoed}, computed from the source {crc}"
        )
    return ArchivedObject(key=key, version_id=answer.get("VersionId"), size=size, crc32_b64=crc,
                          etag=str(answer.get("ETag", "")), metadata=dict(metadata))


def _check_layout(bucket: str, key: str, parts: Mapping[int, UploadedPart],
                  expected_size: int) -> list[UploadedPart]:
    """The parts in order, if they are exactly one ``expected_size`` file cut evenly.

    Parts of the wrong size, or beyond the end, mean the source and the upload disagree:
    SizeMismatchError. Parts merely missing (a slice not yet done) are a TransientError: the
    upload is kept and a continuation can fill the gaps.
    """
    total = sum(p.size for p in parts.values())
    what = f"multipart upload for {_where(bucket, key)}"
    if not parts or expected_size <= 0:
        if expected_size == total == 0:
            raise SizeMismatchError(f"{what} (empty files are stored with PutObject)", 0, 0)
        if not parts:
            raise TransientError(f"{what}: no parts uploaded yet")
        raise SizeMismatchError(what, expected_size, total)
    part_size = max(p.size for p in parts.values())
    count = -(-expected_size // part_size)
    last_size = expected_size - (count - 1) * part_size
    for p in parts.values():
        want = part_size if p.number < count else last_size
        if p.number < 1 or p.number > count or p.size != want:
            raise SizeMismatchError(
                f"{what} (part {p.number} has {p.size} bytes; parts total)", expected_size, total
            )
    missing = [n for n in range(1, count + 1) if n not in parts]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise TransientError(f"{what}: {len(missing)} parts not uploaded yet ({shown})")
    return [parts[n] for n in range(1, count + 1)]


def _full_crc(
    bucket: str, key: str, ordered: list[UploadedPart], known: Mapping[int, str]
) -> tuple[list[str | None], str | None]:
    """Per-part CRCs (S3's, else the caller's) and the combined full-object CRC32 if all known."""
    crcs: list[str | None] = []
    for p in ordered:
        mine = known.get(p.number)
        if p.crc32_b64 and mine and p.crc32_b64 != mine:
            raise ChecksumMismatchError(
                f"{_where(bucket, key)} part {p.number}: S3 holds CRC32 {p.crc32_b64}, "
                f"the source bytes gave {mine}"
            )
        crcs.append(p.crc32_b64 or mine)
    if any(c is None for c in crcs):
        return crcs, None
    try:
        full = combine_parts((b64_to_crc32(c or ""), p.size) for c, p in zip(crcs, ordered,
                                                                              strict=True))
    except ValueError as e:
        raise ChecksumMismatchError(f"{_where(bucket, key)}: unreadable part checksum") from e
    return crcs, crc32_to_b64(full)


def complete_upload(
    s3: S3Client,
    bucket: str,
    key: str,
    upload_id: str,
    *,
    expected_size: int,
    allow_overwrite: bool,
    known_crcs: Mapping[int, str] | None = None,
    identity: Mapping[str, str] | None = None,
    parts: Mapping[int, UploadedPart] | None = None,
) -> ArchivedObject:
    """Check the parts, complete the upload without overwriting, verify the stored object.

    ``known_crcs`` (part number -> base64 CRC32) fills in part checksums where ListParts
    reports none (moto); where S3 reports one it must agree. ``identity`` (metadata the object
    must carry to be ours after a 412). ``parts``: the upload's ListParts, when the caller has
    just read it (one request fewer); else it is read here. Any PermanentError raised here
    aborts the upload first, so nothing incomplete is left behind.
    """
    with _aborted_on_permanent(s3, bucket, key, upload_id):
        try:
            if parts is None:
                parts = uploaded_parts(s3, bucket, key, upload_id)
        except TransientError as e:
            if not upload_gone(e):
                raise
            # Most likely an earlier run of this step completed it (at-least-once delivery).
            done, _ = _existing_if_same(s3, bucket, key, expected_size, None, need_crc=False)
            if done is not None:
                return done
            raise
        ordered = _check_layout(bucket, key, parts, expected_size)
        crcs, full = _full_crc(bucket, key, ordered, known_crcs or {})
        request = _complete_request(bucket, key, upload_id, ordered, crcs, full, expected_size,
                                    allow_overwrite)
        return _send_complete(s3, request, ordered, full, identity)


@contextmanager
def _aborted_on_permanent(s3: S3Client, bucket: str, key: str, upload_id: str) -> Iterator[None]:
    """A PermanentError on its way out aborts the upload first (nothing incomplete is left)."""
    try:
        yield
    except PermanentError:
        _abort_quietly(s3, bucket, key, upload_id)
        raise


def _complete_request(bucket: str, key: str, upload_id: str, ordered: list[UploadedPart],
                      crcs: list[str | None], full: str | None, expected_size: int,
                      allow_overwrite: bool) -> dict[str, Any]:
    """CompleteMultipartUpload's arguments: the parts in order with their CRC32s, the object's
    size and full-object CRC32 for S3 to check, and no overwrite unless allowed."""
    completed: list[CompletedPartTypeDef] = []
    for p, c in zip(ordered, crcs, strict=True):
        entry: CompletedPartTypeDef = {"PartNumber": p.number, "ETag": p.etag}
        if c:
            entry["ChecksumCRC32"] = c
        completed.append(entry)
    request: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "UploadId": upload_id,
        "MultipartUpload": {"Parts": completed},
        "MpuObjectSize": expected_size,
    }
    if full is not None:
        request["ChecksumCRC32"] = full
        request["ChecksumType"] = "FULL_OBJECT"
    if not allow_overwrite:
        request["IfNoneMatch"] = "*"
    return request


def _send_complete(s3: S3Client, request: dict[str, Any], ordered: list[UploadedPart],
                   full: str | None, identity: Mapping[str, str] | None) -> ArchivedObject:
    """Complete; a 412 or a vanished upload may be our own earlier completion (its answer
    lost): then that object is the result."""
    bucket, key, size = request["Bucket"], request["Key"], request["MpuObjectSize"]
    try:
        resp = s3.complete_multipart_upload(**request)
    except ClientError as e:
        code = error_code(e)
        if code == "PreconditionFailed" or http_status(e) == 412:
            done, head = _ours_after_conflict(s3, bucket, key, size, full,
                                              etag=multipart_etag(ordered), identity=identity)
            if done is None:
                raise _conflict(bucket, key, head, size, full) from e
            _abort_quietly(s3, bucket, key, request["UploadId"])
            return done
        if code == "NoSuchUpload":
            done, _ = _existing_if_same(s3, bucket, key, size, full, need_crc=False)
            if done is not None:
                return done
        raise translate(e, f"CompleteMultipartUpload {_where(bucket, key)}") from e
    except BotoCoreError as e:
        raise translate(e, f"CompleteMultipartUpload {_where(bucket, key)}") from e
    return _verified(s3, bucket, key, resp, size, full, {})


def stored_object(
    s3: S3Client,
    bucket: str,
    key: str,
    *,
    expected_size: int,
    metadata_match: Mapping[str, str] | None = None,
) -> ArchivedObject | None:
    """The object now under ``key`` if it is whole (size, a stored CRC32) and, when asked,
    carries these metadata values; None otherwise. For objects ``put_small`` wrote (and
    verified) in an earlier invocation."""
    head = _head(s3, bucket, key)
    if head is None or head["ContentLength"] != expected_size or not head.get("ChecksumCRC32"):
        return None
    metadata = head.get("Metadata", {})
    if metadata_match and any(metadata.get(k) != v for k, v in metadata_match.items()):
        return None
    return _as_archived(key, head, verified=True, existing=True)


def put_small(
    s3: S3Client,
    bucket: str,
    key: str,
    data: bytes | bytearray,
    *,
    expected_size: int,
    metadata: Mapping[str, str],
    tagging: str,
    allow_overwrite: bool,
) -> ArchivedObject:
    """One PutObject for a file smaller than a part, with the same checks as a multipart one."""
    if len(data) != expected_size:
        raise SizeMismatchError(f"source bytes for {_where(bucket, key)}", expected_size,
                                len(data))
    crc = crc32_b64(data)
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Body": BufferBody(data),
        # Both: the algorithm header makes S3 (and moto) store the checksum we computed.
        "ChecksumAlgorithm": "CRC32",
        "ChecksumCRC32": crc,
        "Metadata": dict(metadata),
        "Tagging": tagging,
    }
    if not allow_overwrite:
        kwargs["IfNoneMatch"] = "*"
    try:
        resp = s3.put_object(**kwargs)
    except ClientError as e:
        if error_code(e) == "PreconditionFailed" or http_status(e) == 412:
            identity = {k: metadata[k] for k in IDENTITY_KEYS if k in metadata}
            done, head = _ours_after_conflict(s3, bucket, key, expected_size, crc,
                                              identity=identity)
            if done is None:
                raise _conflict(bucket, key, head, expected_size, crc) from e
            return done
        raise translate(e, f"PutObject {_where(bucket, key)}") from e
    except BotoCoreError as e:
        raise translate(e, f"PutObject {_where(bucket, key)}") from e
    return _verified(s3, bucket, key, resp, expected_size, crc, metadata)
