"""Prepare: fresh originals and sizes, uploads created or resumed, part ranges planned.

The plan that goes back into the workflow is small: slices of (file id, first part, last part)
and a deadline. Upload ids live in the tracker row; which parts are done, only ListParts knows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..errors import IncompleteMediumError, InvalidMediaError
from ..events import MediumStep, WorkUnit
from ..models import SourceFile
from ..observability import logger
from ..providers.gopro_originals import size_shortfall
from ..services import Services
from ..tracker import parse_iso
from ..transfer import (
    HttpRangeSource,
    SourceInfo,
    abort_upload,
    choose_part_size,
    part_count,
    start_upload,
    uploaded_parts,
)
from ..transfer.origin import plan_origin
from ..transfer.s3ops import abort_unrecorded_uploads
from .account import raise_if_paused
from .origin_check import create_metadata, parts_to_send, plan_fields, restarts, source_changed
from .originals import LinkCache, Target, targets
from .source import open_provider

MAX_OBJECT_BYTES = 5 * 1024**4  # S3's limit for one object
SLICE_TARGET_BYTES = 512 * 1024**2  # one transfer invocation's share
SLICE_MAX_UNITS = 50  # many small files (burst frames) share one invocation
MAX_UNITS_PER_PLAN = 2000  # keeps the state far below 256 KB; the rest goes in a continuation
PROBE_THREADS = 8


@dataclass
class FilePlan:
    upload: dict[str, Any]
    units: list[WorkUnit]
    parts_done: int


def _probe(links: LinkCache, original: SourceFile) -> SourceInfo:
    """Size and Range support; a refused link (CDN 403/404/410) gets one fresh answer."""
    with HttpRangeSource(
        original.url,
        head_url=original.head_url,
        refresh_link=lambda: links.refresh(original.file_id),
    ) as source:
        return source.probe()


def check_sizes(expected: int | None, originals: list[SourceFile], infos: list[SourceInfo],
                done: dict[str, int]) -> None:
    """The originals' sizes account for the listing's ``file_size`` where the rules say they
    should (chapters, numbered time-lapse frames), within the listing's usual drift."""
    if not expected:
        return
    found = sum(done.values()) + sum(i.size for i in infos)
    lacking = size_shortfall(expected, found)
    if lacking:
        raise IncompleteMediumError(
            f"the {len(originals)} originals found weigh {found} bytes where the listing says "
            f"{expected}: {lacking} bytes beyond its usual drift are missing"
        )


def plan_file(
    services: Services,
    original: SourceFile,
    target: Target,
    info: SourceInfo,
    prior: dict[str, Any] | None,
) -> FilePlan:
    """Create or resume this original's upload and list the part runs still to send."""
    settings = services.settings
    if info.size > MAX_OBJECT_BYTES:
        raise InvalidMediaError(
            f"original {original.file_id} is {info.size} bytes: over S3's limit"
        )
    ours = choose_part_size(info.size, settings.part_size_mib)
    origin = plan_origin(info.etag, info.size, ours)  # cut on the origin's parts (its ETag)
    restart_count = restarts(prior)
    if prior and (prior.get("size") != info.size or prior.get("key") != target.key
                  or source_changed(prior, info)
                  or (origin.needs_md5s and prior.get("origin_part") != origin.part_size)):
        # The source changed (reprocessed) since the upload began: start that file again.
        if prior.get("upload_id"):
            abort_upload(services.s3, settings.bucket, str(prior["key"]), str(prior["upload_id"]))
        prior = None
    part_size = int(prior["part_size"]) if prior else (origin.part_size or ours)
    count = part_count(info.size, part_size)
    upload: dict[str, Any] = {
        "key": target.key,
        "size": info.size,
        "part_size": part_size,
        "ranges": info.ranges,
        "upload_id": None,
    }
    if count <= 1:  # one PutObject: cheaper than a multipart upload of one part
        upload.update(plan_fields(origin, info, prior, False, restart_count))
        return FilePlan(upload, [WorkUnit(original.file_id, 1, 1)], 0)

    upload_id = start_upload(
        services.s3,
        settings.bucket,
        target.key,
        {**target.metadata, **create_metadata(origin)},
        target.tagging,
        prior.get("upload_id") if prior else None,
    )
    upload["upload_id"] = upload_id
    # An earlier attempt of this step may have created an upload and lost it (its create's
    # answer, or a later call, failed before the plan was saved): only the recorded one lives.
    stray = abort_unrecorded_uploads(services.s3, settings.bucket, target.key, keep=upload_id)
    if stray:
        logger.info("unrecorded uploads aborted",
                    extra={"media_id": target.metadata.get("media-id"), "uploads": len(stray)})
    resumed = bool(prior) and upload_id == (prior or {}).get("upload_id")
    upload.update(plan_fields(origin, info, prior, resumed, restart_count))
    done = uploaded_parts(services.s3, settings.bucket, target.key, upload_id)
    missing = parts_to_send(upload, count, done)
    if not missing:
        return FilePlan(upload, [], len(done))
    if not info.ranges:  # the source ignores Range: one sequential pass over the whole file
        return FilePlan(upload, [WorkUnit(original.file_id, 1, count)], len(done))
    per_unit = max(1, SLICE_TARGET_BYTES // part_size)
    units: list[WorkUnit] = []
    run_start = previous = missing[0]
    for number in [*missing[1:], None]:
        if number is not None and number == previous + 1 and number - run_start < per_unit:
            previous = number
            continue
        units.append(WorkUnit(original.file_id, run_start, previous))
        if number is not None:
            run_start = previous = number
    return FilePlan(upload, units, len(done))


def pack(units: list[WorkUnit], uploads: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Units into slices of about one invocation's work each."""
    slices: list[dict[str, Any]] = []
    current: list[WorkUnit] = []
    current_bytes = 0
    for unit in units:
        upload = uploads[unit.file_id]
        size = min(int(upload["size"]), (unit.last - unit.first + 1) * int(upload["part_size"]))
        if current and (
            current_bytes + size > SLICE_TARGET_BYTES or len(current) >= SLICE_MAX_UNITS
        ):
            slices.append({"units": [u.as_payload() for u in current]})
            current, current_bytes = [], 0
        current.append(unit)
        current_bytes += size
    if current:
        slices.append({"units": [u.as_payload() for u in current]})
    return slices


def prepare_medium(
    services: Services, step: MediumStep, clock: Callable[[], float] = time.time
) -> dict[str, Any]:
    settings = services.settings
    tracker = services.tracker
    row = tracker.owned(step.provider, step.media_id, step.wake)
    raise_if_paused(services)  # an account problem stopped the stack: ask the source nothing
    provider = open_provider(services, step.provider)
    links = LinkCache.for_row(provider, row)
    selection = links.selection()  # NotMediaError / IncompleteMediumError end it here
    originals = selection.originals
    if not originals:
        raise InvalidMediaError("the source lists no original file for this medium")
    where = targets(step.provider, step.media_id, parse_iso(row.captured_at), originals)

    uploads: dict[str, dict[str, Any]] = {}
    units: list[WorkUnit] = []
    progress = 0
    todo = [o for o in originals if not (row.uploads.get(o.file_id) or {}).get("done")]
    for original in originals:
        if original not in todo:
            uploads[original.file_id] = row.uploads[original.file_id]
            progress += 1
    with ThreadPoolExecutor(PROBE_THREADS) as pool:
        infos = list(pool.map(lambda o: _probe(links, o), todo))
    done_sizes = {
        o.file_id: int(row.uploads[o.file_id]["size"]) for o in originals if o not in todo
    }
    check_sizes(selection.expected_bytes, originals, infos, done_sizes)
    for original, info in zip(todo, infos, strict=True):
        plan = plan_file(
            services, original, where[original.file_id], info, row.uploads.get(original.file_id)
        )
        uploads[original.file_id] = plan.upload
        units.extend(plan.units)
        progress += plan.parts_done
    tracker.save_plan(step.provider, step.media_id, step.wake, uploads, progress)

    started = parse_iso(step.started_at)
    begin = started.timestamp() if started else clock()
    result: dict[str, Any] = {
        "slices": pack(units[:MAX_UNITS_PER_PLAN], uploads),
        "deadline": begin + settings.time_budget_s,
        "files": len(originals),
        "bytes": sum(int(u["size"]) for u in uploads.values()),
    }
    logger.info(
        "medium planned",
        extra={
            "media_id": step.media_id,
            "files": result["files"],
            "bytes": result["bytes"],
            "slices": len(result["slices"]),
            "rule": selection.rule,
        },
    )
    return result
