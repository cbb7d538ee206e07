"""The chaos suite's measuring stick: one run under faults, the next run without, then counted.

Every scenario archives its own small varied library (a multipart video, a chaptered video, a
photo with its RAW sidecar, a burst) through one shared local cloud, with faults injected by the
local cloud's chaos layer (and the simulator's, for the source). It runs ``cloudsync sync --wait
--json`` in-process under the faults, checks that its exit code and counts tell the truth, clears
the faults, runs the next nightly job, and counts what the README's chaos table shows:

- media: media in the scenario's library;
- lost: media not archived byte-exact whose row does not say FAILED with a typed error;
- corrupt: archived objects whose bytes differ from the source;
- duplicate: originals stored more than once (extra objects or extra versions);
- orphan: multipart uploads left open;
- stuck: rows not terminal, or slots still held by a finished medium;
- alerts: messages published to the alerts topic.
"""

from __future__ import annotations

import io
import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cloudsync_cli.main import main as cli_main
from cloudsync_core.tracker import COMPLETED, FAILED, TERMINAL
from cloudsync_local.cloud.chaos import FaultPlan
from cloudsync_local.simulator import MiB

from ..e2e.harness import Stack

TABLE_COLUMNS = ("media", "lost", "corrupt", "duplicate", "orphan", "stuck", "alerts")
RESULTS: dict[str, dict[str, int]] = {}  # fault kind -> measured cells (written at the end)


def varied_library(stack: Stack, tag: str) -> list[str]:
    """Four media, six originals: multipart, chapters, RAW sidecar, burst frames."""
    lib = stack.sim.library
    return [
        lib.add_video(filename=f"GX01{tag}.MP4", size=11 * MiB, captured_at="2025-11-10T14:00:00Z"),
        lib.add_video(filename=f"GX02{tag}.MP4", size=4 * MiB, chapters=2,
                      captured_at="2025-11-11T14:00:00Z"),
        lib.add_photo(raw=True, size=1 * MiB, raw_size=1 * MiB),
        lib.add_burst(frames=3, frame_size=200 * 1024),
    ]


@dataclass
class SyncResult:
    """``cloudsync sync --wait --json`` under faults, and what the tracker said right after."""

    code: int
    document: dict[str, Any]
    error: str
    truthful: bool
    why: str = ""


def cli_sync_wait(stack: Stack, media: list[str], timeout_s: float = 90) -> SyncResult:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["sync", "--wait", "--json", "--timeout", str(timeout_s)], out=out, err=err)
    try:
        document: dict[str, Any] = json.loads(out.getvalue()) if out.getvalue() else {}
    except ValueError:
        return SyncResult(code, {}, err.getvalue(), False, "stdout is not one JSON document")
    rows = stack.rows()
    runs = {str((document.get("run") or {}).get("run_id"))}
    runs |= {str(r.get("run_id")) for r in document.get("moved_to_runs", [])}
    ours = [m for m in media if m in rows and rows[m].run_id in runs]  # what this run took on
    archived = all(rows[m].status == COMPLETED for m in ours)
    if code == 0:
        truthful = bool(document.get("ok")) and archived
        why = "" if truthful else "exit 0 although not every medium is archived"
        return SyncResult(code, document, err.getvalue(), truthful, why)
    # non-zero: it must say why (a failed medium, media moved on, or a one-line error)
    failed = [m for m in media if m in rows and rows[m].status == FAILED]
    said = (bool(document.get("failed_media")) or bool(document.get("moved_unfollowed"))
            or bool(document.get("timed_out_unswept")))
    truthful = (said and (failed or not archived)) or (not document and bool(err.getvalue()))
    why = "" if truthful else "non-zero exit without a failed medium or an error line"
    return SyncResult(code, document, err.getvalue(), bool(truthful), why)


@dataclass
class Measure:
    cells: dict[str, int]
    details: dict[str, list[str]] = field(default_factory=dict)


def _current(stack: Stack, f: Any) -> tuple[int, int]:
    """(size, CRC32) of the file as the source serves it now (it may have changed)."""
    origin = getattr(stack.sim, "origin", None)
    if origin is None:
        return f.size, f.crc32()
    data = origin.content(f)
    return len(data), zlib.crc32(data)


def measure(
    stack: Stack, media: list[str], alerts: int, *, new_versions_ok: bool = False
) -> Measure:
    rows = stack.rows()
    details: dict[str, list[str]] = {k: [] for k in TABLE_COLUMNS}
    for media_id in media:
        row = rows.get(media_id)
        expected = Counter(_current(stack, f) for f in stack.sim.library.originals(media_id))
        stored = stack.objects(media_id)
        got = Counter((o["size"], o["crc32"]) for o in stored)
        if row is None or row.status not in TERMINAL:
            details["stuck"].append(f"{media_id}: {row.status if row else 'no row'}")
        for obj in stored:
            if (obj["size"], obj["crc32"]) not in expected:
                details["corrupt"].append(obj["key"])
            if not new_versions_ok and len(stack.versions(obj["key"])) > 1:
                details["duplicate"].append(f"{obj['key']}: versions")
        extra = got - expected
        if extra:
            details["duplicate"].append(f"{media_id}: {sum(extra.values())} extra object(s)")
        typed_failure = row is not None and row.status == FAILED and bool(row.error_type)
        if got != expected and not typed_failure and row is not None and row.status in TERMINAL:
            details["lost"].append(f"{media_id}: {row.status}")
    for upload in stack.incomplete_uploads():
        if any(f"/{m}/" in upload["Key"] for m in media):
            details["orphan"].append(upload["Key"])
    for holder in stack.tracker.slot_holders():
        media_id = holder.split("/", 1)[-1]
        row = rows.get(media_id)
        if media_id in media and (row is None or row.status in TERMINAL):
            details["stuck"].append(f"slot held by finished {holder}")
    cells = {k: len(v) for k, v in details.items()}
    cells["media"] = len(media)
    cells["alerts"] = alerts
    return Measure(cells, {k: v for k, v in details.items() if v})


def scenario(
    stack: Stack,
    plan: FaultPlan,
    name: str,
    media: list[str],
    *,
    next_runs: int = 1,
    new_versions_ok: bool = False,
    first: SyncResult | None = None,
) -> tuple[SyncResult, Measure]:
    """The first run under ``plan``'s faults (the CLI, unless the scenario ran its own), then
    ``next_runs`` runs without faults, then the count."""
    if first is None:
        first = cli_sync_wait(stack, media)
    stack.cloud.wait_idle(120)
    plan.clear()
    stack.sim.faults.clear()
    for _ in range(next_runs):
        stack.sync(timeout=120)
    alerts = len(stack.cloud.messages(wait_s=0.5))
    result = measure(stack, media, alerts, new_versions_ok=new_versions_ok)
    RESULTS[name] = result.cells
    return first, result


def table_markdown() -> str:
    lines = ["| fault kind | " + " | ".join(TABLE_COLUMNS) + " |",
             "|---|" + "---:|" * len(TABLE_COLUMNS)]
    for name, cells in RESULTS.items():
        lines.append(f"| {name} | " + " | ".join(str(cells[c]) for c in TABLE_COLUMNS) + " |")
    return "\n".join(lines) + "\n"
