"""``cloudsync verify --read-data``: every archived object read back inside AWS, with progress.

The objects the tracker records are cut into batches (by bytes and count, so one invocation of
the stack's ``verify`` function stays within its time budget) and sent a few at a time; the
function reads each object back in the stack's region (no transfer out), recomputes its CRC32
and, where the archive proved it, GoPro's own checksum, and answers verdicts only. Objects it
had no time for come back ``not_reached`` and go out again. The local cloud runs the very same
function in its process.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from cloudsync_core.readback import MISSING, NEEDS_RESTORE, NOT_REACHED, OK, RESTORING
from cloudsync_core.tracker import MediaRow

from ..context import Context
from ..errors import CliError
from ..output import human_bytes
from .sync import invoke_function
from .ticker import Ticker, fraction_bar

BATCH_BYTES = 1024 * 1024 * 1024
BATCH_OBJECTS = 40
BUDGET_S = 240  # per invocation; the CLI's Lambda read timeout is 330 s
COLD = frozenset({NEEDS_RESTORE, RESTORING})


@dataclass(frozen=True)
class Job:
    provider: str
    media_id: str
    key: str
    version_id: str | None
    size: int

    def item(self) -> dict[str, Any]:
        return {"media_id": self.media_id, "key": self.key, "version_id": self.version_id}


def jobs_of(rows: Iterable[MediaRow]) -> list[Job]:
    jobs = []
    for row in rows:
        for record in row.objects:
            values = dict(record)
            version = values.get("version_id")
            jobs.append(Job(row.provider, row.media_id, str(values.get("key") or ""),
                            str(version) if version else None, int(values.get("size") or 0)))
    return jobs


def batches(jobs: Sequence[Job], max_bytes: int = BATCH_BYTES,
            max_objects: int = BATCH_OBJECTS) -> list[list[Job]]:
    """Consecutive jobs of one provider, at most ``max_objects`` and about ``max_bytes``."""
    out: list[list[Job]] = []
    size = 0
    for job in jobs:
        current = out[-1] if out else None
        if (current is None or current[0].provider != job.provider
                or len(current) >= max_objects or size + job.size > max_bytes):
            out.append([])
            size = 0
        out[-1].append(job)
        size += job.size
    return out


class Tally:
    """What the batches answered so far, for the progress line and the summary."""

    def __init__(self, jobs: Sequence[Job], progress: Ticker) -> None:
        self.total_objects, self.total_bytes = len(jobs), sum(j.size for j in jobs)
        self.objects = self.bytes_read = self.problems = 0
        self.started = time.monotonic()
        self.progress = progress

    def add(self, results: Sequence[dict[str, Any]]) -> None:
        done = [r for r in results if r["state"] != NOT_REACHED]
        self.objects += len(done)
        self.bytes_read += sum(int(r.get("bytes_read") or 0) for r in done)
        self.problems += sum(r["state"] not in (OK, *COLD) for r in done)
        self.progress.update(self.text(), objects=self.objects, bytes_read=self.bytes_read,
                             total_bytes=self.total_bytes)

    @property
    def seconds(self) -> float:
        return max(1e-6, time.monotonic() - self.started)

    def text(self) -> str:
        rate = self.bytes_read / self.seconds
        fraction = self.objects / self.total_objects if self.total_objects else 1.0
        line = (f"{fraction_bar(fraction)} {self.objects}/{self.total_objects} objects  "
                f"{human_bytes(self.bytes_read)} read of {human_bytes(self.total_bytes)}  "
                f"{human_bytes(rate)}/s")
        left = self.total_bytes - self.bytes_read
        if rate > 0 and 0 < left and self.objects < self.total_objects:
            line += f"  ETA {left / rate:.0f} s"
        return line + (f"  {self.problems} problems" if self.problems else "")


def _invoke(ctx: Context, batch: list[Job]) -> list[dict[str, Any]]:
    answer = invoke_function(ctx, "verify", {
        "provider": batch[0].provider, "objects": [j.item() for j in batch], "budget_s": BUDGET_S,
    })
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list) or len(results) != len(batch):
        raise CliError("the stack's verify function gave an unexpected answer: redeploy it")
    return [dict(r) for r in results]


def read_all(ctx: Context, jobs: Sequence[Job], parallel: int,
             as_json: bool = False) -> tuple[list[dict[str, Any]], Tally]:
    """Every job's verdict; ``not_reached`` ones are sent again while batches make progress."""
    tally = Tally(jobs, Ticker(ctx.err, as_json=as_json))
    final: list[dict[str, Any]] = []
    pending = list(jobs)
    while pending:
        again: list[Job] = []
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = {pool.submit(_invoke, ctx, b): b for b in batches(pending)}
            for future in as_completed(futures):
                results = future.result()
                tally.add(results)
                for job, result in zip(futures[future], results, strict=True):
                    if result["state"] == NOT_REACHED:
                        again.append(job)
                    else:
                        final.append(result)
        if len(again) == len(pending):
            raise CliError(f"the verify function read none of {len(again)} objects in its time")
        pending = again
    tally.progress.done(tally.text())
    return final, tally


def summary_lines(results: Sequence[dict[str, Any]], tally: Tally) -> list[str]:
    states = Counter(str(r["state"]) for r in results)
    origin = Counter(str(r.get("origin")) for r in results if r["state"] == OK)
    rate = tally.bytes_read / tally.seconds
    lines = [f"Read back {tally.objects} objects, {human_bytes(tally.bytes_read)} in "
             f"{tally.seconds:.1f} s ({human_bytes(rate)}/s): {states[OK]} match their recorded "
             f"CRC32, {states['corrupt']} differ, {states[MISSING]} missing."]
    if states[OK]:
        lines.append(f"GoPro's own checksum re-proved for {origin['match']} of them"
                     + (f" ({states[OK] - origin['match']} were archived without that proof)."
                        if states[OK] > origin["match"] else "."))
    cold = [r for r in results if r["state"] in COLD]
    if cold:
        media = sorted({str(r["media_id"]) for r in cold})
        lines.append(f"NOT READ: {len(cold)} objects of {len(media)} media are in Glacier or "
                     f"Deep Archive and need a restore first (`cloudsync restore MEDIA_ID`, "
                     f"e.g. {media[0]}), then run verify --read-data again.")
    return lines
