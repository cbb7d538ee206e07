"""Where the workflow meets the origin's checksum and the pin on the source's version.

Prepare records, per original, the validators of the version it probed (ETag, Last-Modified)
and how the transfer is cut so GoPro's ETag can be checked (``transfer.origin``). Transfer steps
pin every read to that version and record each part's MD5 in the upload record (never in the
workflow state). A step that sees the source change aborts the upload and flags the record;
finalize sends the medium round again and the next prepare starts that file from a clean upload
on the new version, at most ``MAX_RESTARTS`` times in a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..contract import UploadPlan
from ..errors import SourceChangedError
from ..transfer import SourceInfo, SourcePin
from ..transfer.origin import MATCH, UNKNOWN, OriginPlan, Verdict

MAX_RESTARTS = 3
PENDING_CHECK = "pending"  # metadata of an upload whose layout was guessed: decided at the end
NOT_PLANNED = "no origin checksum was planned for this file"


def source_changed(prior: UploadPlan, info: SourceInfo) -> bool:
    """Whether the version probed now differs from the one the upload was begun on."""
    if prior.source_changed:
        return True
    old_etag, old_modified = prior.origin_etag, prior.last_modified
    if old_etag and info.etag and old_etag != info.etag:
        return True
    return bool(old_modified and info.last_modified and old_modified != info.last_modified)


def restarts(prior: UploadPlan | None) -> int:
    """How many times in a row this file restarted on a changed source (raises past the cap)."""
    if not prior or not prior.source_changed:
        return prior.restarts if prior else 0
    count = prior.restarts + 1
    if count > MAX_RESTARTS:
        raise SourceChangedError(
            f"the source file changed during {count} transfers in a row; the next run tries again"
        )
    return count


def upload_record(key: str, info: SourceInfo, part_size: int, upload_id: str | None,
                  plan: OriginPlan, prior: UploadPlan | None, restart_count: int) -> UploadPlan:
    """One original's upload record with its origin fields; an upload resumed (the same
    ``upload_id`` as ``prior``'s) keeps the MD5s already recorded."""
    md5: dict[int, str] | None = None
    if plan.needs_md5s:
        resumed = prior is not None and upload_id is not None and upload_id == prior.upload_id
        md5 = dict(prior.md5) if resumed and prior and prior.md5 is not None else {}
    return UploadPlan(
        key=key, size=info.size, part_size=part_size, upload_id=upload_id, ranges=info.ranges,
        origin_etag=plan.etag, last_modified=info.last_modified,
        origin_part=plan.part_size if plan.needs_md5s else None,
        origin_guess=plan.guessed if plan.needs_md5s else False,
        md5=md5, origin_why=plan.why, restarts=restart_count,
    )


def create_metadata(plan: OriginPlan) -> dict[str, str]:
    """Metadata for CreateMultipartUpload. An object becomes visible only when completion
    succeeds, and completion of an unambiguous layout requires the ETag to match: ``match``
    written here is true whenever anyone can read it. A guessed layout is decided at the end
    (an object tag); a plan that can prove nothing says ``unknown`` and why."""
    if plan.why:
        return Verdict(UNKNOWN, plan.why).metadata(plan.etag)
    if not plan.needs_md5s:  # an upload begun on another cut (before this plan existed)
        return Verdict(UNKNOWN, NOT_PLANNED).metadata(plan.etag)
    if not plan.guessed:
        return Verdict(MATCH).metadata(plan.etag)
    return {"origin-check": PENDING_CHECK, **({"origin-etag": plan.etag.strip('"')[:64]}
                                            if plan.etag else {})}


def parts_to_send(upload: UploadPlan, count: int, done: Mapping[int, Any]) -> list[int]:
    """Part numbers still to send: not in S3, or in S3 without a recorded MD5 when one is
    needed (its bytes were never hashed)."""
    md5s = upload.md5 if upload.origin_part else None
    return [n for n in range(1, count + 1) if n not in done or (md5s is not None and n not in md5s)]


def probed(upload: UploadPlan) -> SourceInfo:
    """The source as prepare probed it: size, Range support, and the version's validators."""
    return SourceInfo(upload.size, upload.ranges, upload.origin_etag, upload.last_modified)


def pin_of(upload: UploadPlan) -> SourcePin:
    """The version every read of this file must come from."""
    return probed(upload).pin
