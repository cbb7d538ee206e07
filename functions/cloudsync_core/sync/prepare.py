"""Prepare: fresh originals and sizes, uploads created or resumed, part ranges planned.

The plan that goes back into the workflow is small: slices of (file id, first part, last part)
and a deadline. Upload ids live in the tracker row; which parts are done, only ListParts knows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..contract import ExecutionInput, PreparedMedium, Slice, UploadPlan, WorkUnit
from ..errors import IncompleteMediumError, InvalidMediaError
from ..models import SourceFile
from ..observability import logger
from ..providers.base import size_shortfall
from ..services import Services
from ..tracker import parse_iso
from ..transfer import (
    MAX_OBJECT_SIZE,
    HttpRangeSource,
    SourceInfo,
    abort_upload,
    choose_part_size,
    part_count,
    start_upload,
    uploaded_parts,
)
from ..transfer.origin import OriginPlan, plan_origin
from ..transfer.s3ops import abort_unrecorded_uploads
from .account import raise_if_paused
from .origin_check import create_metadata, parts_to_send, restarts, source_changed, upload_record
from .originals import LinkCache, Target, targets
from .source import open_provider

MAX_OBJECT_BYTES = MAX_OBJECT_SIZE  # S3's limit for one object (cloudsync_core.s3_limits)
SLICE_TARGET_BYTES = 512 * 1024**2  # one transfer invocation's share
SLICE_MAX_UNITS = 50  # many small files (burst frames) share one invocation
MAX_UNITS_PER_PLAN = 2000  # keeps the state far below 256 KB; the rest goes in a continuation
PROBE_THREADS = 8


@dataclass(frozen=True)
class FilePlan:
    upload: UploadPlan
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


def _still_valid(services: Services, prior: UploadPlan | None, key: str, info: SourceInfo,
                 origin: OriginPlan) -> UploadPlan | None:
    """The earlier upload of this original, if it can be resumed. One begun on another version
    of the source (reprocessed since), another key or another cut is aborted: the file starts
    again."""
    if prior is None:
        return None
    if (prior.size == info.size and prior.key == key and not source_changed(prior, info)
            and not (origin.needs_md5s and prior.origin_part != origin.part_size)):
        return prior
    if prior.upload_id:
        abort_upload(services.s3, services.settings.bucket, prior.key, prior.upload_id)
    return None


def _open_upload(services: Services, target: Target, origin: OriginPlan,
                 prior: UploadPlan | None) -> str:
    """Create the multipart upload, or resume ``prior``'s; abort any other one of this key."""
    bucket = services.settings.bucket
    upload_id = start_upload(
        services.s3, bucket, target.key, {**target.metadata, **create_metadata(origin)},
        target.tagging, prior.upload_id if prior else None,
    )
    # An earlier attempt of this step may have created an upload and lost it (its create's
    # answer, or a later call, failed before the plan was saved): only the recorded one lives.
    stray = abort_unrecorded_uploads(services.s3, bucket, target.key, keep=upload_id)
    if stray:
        logger.info("unrecorded uploads aborted",
                    extra={"media_id": target.metadata.get("media-id"), "uploads": len(stray)})
    return upload_id


def _runs(file_id: str, missing: list[int], count: int, part_size: int,
          ranges: bool) -> list[WorkUnit]:
    """The parts still to send as runs of consecutive parts, each about one slice's share."""
    if not missing:
        return []
    if not ranges:  # the source ignores Range: one sequential pass over the whole file
        return [WorkUnit(file_id, 1, count)]
    per_unit = max(1, SLICE_TARGET_BYTES // part_size)
    units: list[WorkUnit] = []
    run_start = previous = missing[0]
    for number in [*missing[1:], None]:
        if number is not None and number == previous + 1 and number - run_start < per_unit:
            previous = number
            continue
        units.append(WorkUnit(file_id, run_start, previous))
        if number is not None:
            run_start = previous = number
    return units


def plan_file(
    services: Services,
    original: SourceFile,
    target: Target,
    info: SourceInfo,
    prior: UploadPlan | None,
) -> FilePlan:
    """Create or resume this original's upload and list the part runs still to send."""
    if info.size > MAX_OBJECT_BYTES:
        raise InvalidMediaError(
            f"original {original.file_id} is {info.size} bytes: over S3's limit"
        )
    ours = choose_part_size(info.size, services.settings.part_size_mib)
    origin = plan_origin(info.etag, info.size, ours)  # cut on the origin's parts (its ETag)
    restart_count = restarts(prior)
    prior = _still_valid(services, prior, target.key, info, origin)
    part_size = prior.part_size if prior else (origin.part_size or ours)
    count = part_count(info.size, part_size)
    if count <= 1:  # one PutObject: cheaper than a multipart upload of one part
        upload = upload_record(target.key, info, part_size, None, origin, prior, restart_count)
        return FilePlan(upload, [WorkUnit(original.file_id, 1, 1)], 0)
    upload_id = _open_upload(services, target, origin, prior)
    upload = upload_record(target.key, info, part_size, upload_id, origin, prior, restart_count)
    done = uploaded_parts(services.s3, services.settings.bucket, target.key, upload_id)
    missing = parts_to_send(upload, count, done)
    return FilePlan(upload, _runs(original.file_id, missing, count, part_size, info.ranges),
                    len(done))


def pack(units: list[WorkUnit], uploads: Mapping[str, UploadPlan]) -> list[Slice]:
    """Units into slices of about one invocation's work each."""
    slices: list[Slice] = []
    current: list[WorkUnit] = []
    current_bytes = 0
    for unit in units:
        upload = uploads[unit.file_id]
        size = min(upload.size, (unit.last - unit.first + 1) * upload.part_size)
        if current and (
            current_bytes + size > SLICE_TARGET_BYTES or len(current) >= SLICE_MAX_UNITS
        ):
            slices.append(Slice(tuple(current)))
            current, current_bytes = [], 0
        current.append(unit)
        current_bytes += size
    if current:
        slices.append(Slice(tuple(current)))
    return slices


def prepare_medium(
    services: Services, step: ExecutionInput, clock: Callable[[], float] = time.time
) -> PreparedMedium:
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

    archived = {o.file_id: row.uploads[o.file_id] for o in originals
                if o.file_id in row.uploads and row.uploads[o.file_id].done}
    todo = [o for o in originals if o.file_id not in archived]
    with ThreadPoolExecutor(PROBE_THREADS) as pool:
        infos = list(pool.map(lambda o: _probe(links, o), todo))
    check_sizes(selection.expected_bytes, originals, infos,
                {fid: u.size for fid, u in archived.items()})
    uploads: dict[str, UploadPlan] = {}
    units: list[WorkUnit] = []
    progress = len(archived)
    for original, info in zip(todo, infos, strict=True):
        plan = plan_file(services, original, where[original.file_id], info,
                         row.uploads.get(original.file_id))
        uploads[original.file_id] = plan.upload
        units.extend(plan.units)
        progress += plan.parts_done
    uploads = {o.file_id: archived.get(o.file_id) or uploads[o.file_id] for o in originals}
    tracker.save_plan(step.provider, step.media_id, step.wake, uploads, progress)

    started = parse_iso(step.started_at)
    begin = started.timestamp() if started else clock()
    result = PreparedMedium(
        slices=tuple(pack(units[:MAX_UNITS_PER_PLAN], uploads)),
        deadline=begin + services.settings.time_budget_s,
        files=len(originals),
        bytes=sum(u.size for u in uploads.values()),
    )
    logger.info(
        "medium planned",
        extra={"media_id": step.media_id, "files": result.files, "bytes": result.bytes,
               "slices": len(result.slices), "rule": selection.rule},
    )
    return result
