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

from ..errors import SourceChangedError
from ..transfer import SourceInfo, SourcePin
from ..transfer.origin import MATCH, UNKNOWN, OriginPlan, Verdict

MAX_RESTARTS = 3
PENDING_CHECK = "pending"  # metadata of an upload whose layout was guessed: decided at the end
NOT_PLANNED = "no origin checksum was planned for this file"


def source_changed(prior: Mapping[str, Any], info: SourceInfo) -> bool:
    """Whether the version probed now differs from the one the upload was begun on."""
    if prior.get("source_changed"):
        return True
    old_etag, old_modified = prior.get("origin_etag"), prior.get("last_modified")
    if old_etag and info.etag and old_etag != info.etag:
        return True
    return bool(old_modified and info.last_modified and old_modified != info.last_modified)


def restarts(prior: Mapping[str, Any] | None) -> int:
    """How many times in a row this file restarted on a changed source (raises past the cap)."""
    if not prior or not prior.get("source_changed"):
        return int(prior.get("restarts", 0)) if prior else 0
    count = int(prior.get("restarts", 0)) + 1
    if count > MAX_RESTARTS:
        raise SourceChangedError(
            f"the source file changed during {count} transfers in a row; the next run tries again"
        )
    return count


def plan_fields(plan: OriginPlan, info: SourceInfo, prior: Mapping[str, Any] | None,
                resumed: bool, restart_count: int) -> dict[str, Any]:
    """The upload record's origin fields; a resumed upload keeps the MD5s already recorded."""
    fields: dict[str, Any] = {**plan.record(), "last_modified": info.last_modified,
                              "restarts": restart_count}
    if plan.needs_md5s and resumed and prior and isinstance(prior.get("md5"), Mapping):
        fields["md5"] = dict(prior["md5"])
    return fields


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


def parts_to_send(upload: Mapping[str, Any], count: int, done: Mapping[int, Any]) -> list[int]:
    """Part numbers still to send: not in S3, or in S3 without a recorded MD5 when one is
    needed (its bytes were never hashed)."""
    md5s = upload.get("md5") if upload.get("origin_part") else None
    return [
        n for n in range(1, count + 1)
        if n not in done or (isinstance(md5s, Mapping) and str(n) not in md5s)
    ]


def pin_of(upload: Mapping[str, Any]) -> SourcePin:
    """The version every read of this file must come from."""
    etag = upload.get("origin_etag")
    modified = upload.get("last_modified")
    return SourcePin(str(etag) if etag else None, str(modified) if modified else None,
                     int(upload["size"]))


def md5_numbers(upload: Mapping[str, Any]) -> set[int] | None:
    """Parts whose MD5 is recorded, or None when this file's parts need no MD5."""
    md5s = upload.get("md5")
    if not upload.get("origin_part") or not isinstance(md5s, Mapping):
        return None
    return {int(n) for n in md5s}
