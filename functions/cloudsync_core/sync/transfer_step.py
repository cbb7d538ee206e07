"""One Map iteration: move a slice's parts from the source into S3 before the deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..events import TransferSlice
from ..services import Services
from ..tracker import parse_iso
from ..transfer import (
    HttpRangeSource,
    part_ranges,
    put_small,
    transfer_parts,
    transfer_stream,
)
from .originals import LinkCache, targets
from .source import open_provider

SAFETY_MARGIN_S = 10.0  # leave time to report back before Lambda's own timeout
EXPRESS_LIMIT_S = 300.0  # an Express execution ends here, whatever runs in it
FINALIZE_S = 30.0  # kept for finalize and the run fan-in after the Map


def transfer_slice(
    services: Services,
    request: TransferSlice,
    remaining_s: Callable[[], float],
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    settings = services.settings
    row = services.tracker.owned(request.provider, request.media_id, request.wake)
    # The workflow's deadline is wall-clock; the engine counts on the monotonic clock. No new
    # part starts after the time budget; parts in flight may finish until the hard limit: the
    # Express execution's 5 minutes less time for finalize, or this function's own timeout.
    now, mono = clock(), time.monotonic()
    lambda_limit = now + remaining_s() - SAFETY_MARGIN_S
    execution_limit = request.deadline - settings.time_budget_s + EXPRESS_LIMIT_S - FINALIZE_S
    deadline = mono + max(0.0, min(request.deadline, lambda_limit) - now)
    hard_deadline = mono + max(0.0, min(execution_limit, lambda_limit) - now)
    links = LinkCache(open_provider(services, request.provider), request.media_id, row.media_type)
    # Metadata and tags of every original (for the small ones this step writes whole).
    where = targets(request.provider, request.media_id, parse_iso(row.captured_at), links.all())
    parts = 0
    moved = 0
    stopped = False
    for unit in request.units:
        if parts and time.monotonic() >= deadline:  # budget spent: the rest waits to continue
            stopped = True
            break
        upload = row.uploads[unit.file_id]
        original = links.get(unit.file_id)
        key, size = str(upload["key"]), int(upload["size"])
        with HttpRangeSource(
            original.url,
            head_url=original.head_url,
            refresh_link=lambda fid=unit.file_id: links.refresh(fid),  # type: ignore[misc]
        ) as source:
            if upload.get("upload_id") is None:  # smaller than a part: one verified PutObject
                target = where[unit.file_id]
                data = _whole(source, size, bool(upload.get("ranges", True)), hard_deadline)
                put_small(
                    services.s3,
                    settings.bucket,
                    key,
                    data,
                    expected_size=size,
                    metadata={**target.metadata, "wake": str(request.wake)},
                    tagging=target.tagging,
                    allow_overwrite=row.overwrite,
                )
                parts += 1
                moved += size
                continue
            part_size = int(upload["part_size"])
            if upload.get("ranges", True):
                ranges = [
                    r for r in part_ranges(size, part_size) if unit.first <= r.number <= unit.last
                ]
                report = transfer_parts(
                    source,
                    services.s3,
                    settings.bucket,
                    key,
                    str(upload["upload_id"]),
                    ranges,
                    deadline=deadline,
                    hard_deadline=hard_deadline,
                    parallel=settings.parallel_ranges,
                )
            else:  # the source ignores Range: one sequential pass, skipping finished parts
                report = transfer_stream(
                    source,
                    services.s3,
                    settings.bucket,
                    key,
                    str(upload["upload_id"]),
                    size=size,
                    part_size=part_size,
                    deadline=deadline,
                    hard_deadline=hard_deadline,
                )
        parts += report.parts_done
        moved += report.bytes_done
        if report.stopped_by_deadline:
            stopped = True
            break
    return {"parts": parts, "bytes": moved, "stopped_by_deadline": stopped}


def _whole(source: HttpRangeSource, size: int, ranges: bool, deadline: float) -> bytes:
    if size == 0:
        return b""
    if ranges:
        return source.read_range(0, size - 1, deadline=deadline)
    return b"".join(source.stream(deadline=deadline))
