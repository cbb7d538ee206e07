"""``cloudsync verify``: every archived medium's objects, checked against S3.

For each object a row records (key, version id, size, CRC32), S3's HeadObject with
ChecksumMode=ENABLED must find that very version, with that size and that full-object CRC32.
Every row that records archived objects is checked, whatever its state now (a well-archived
medium whose row later went FAILED, after a failed resync, is still archived), and every object
under the archive prefixes that no row records is reported too (unless its medium is being
transferred right now): the tracker is not trusted to know the archive.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cloudsync_core.keys import archive_prefix
from cloudsync_core.readback import OK
from cloudsync_core.tracker import COMPLETED, IN_PROGRESS, PENDING, QUEUED, STATUSES, MediaRow

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from ..output import human_bytes, table, to_json
from .library import list_remote
from .resync import pick_provider
from .verify_read import jobs_of, read_all, summary_lines
from .verify_source import CHANGED, EXTRA_HERE, MISSING_HERE, compare

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})


@dataclass
class ObjectCheck:
    key: str
    version_id: str | None
    problem: str | None = None  # None: present, size and checksum as recorded


@dataclass
class MediumCheck:
    provider: str
    media_id: str
    filename: str | None
    objects: int
    bytes: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_object(s3: S3Client, bucket: str, record: dict[str, Any]) -> ObjectCheck:
    key = str(record.get("key") or "")
    version = record.get("version_id")
    check = ObjectCheck(key, str(version) if version else None)
    if not key:
        check.problem = "the row records an object without a key"
        return check
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "ChecksumMode": "ENABLED"}
    if version:
        kwargs["VersionId"] = str(version)
    try:
        head = s3.head_object(**kwargs)
    except ClientError as e:
        code = str(e.response.get("Error", {}).get("Code", ""))
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in MISSING_CODES or status == 404:
            check.problem = f"{key}: missing (version {version or '-'})"
            return check
        raise
    size, expected_size = head.get("ContentLength"), record.get("size")
    if expected_size is None or int(expected_size) != size:
        check.problem = f"{key}: size {size} in S3, {expected_size} recorded"
        return check
    stored, expected_crc = head.get("ChecksumCRC32"), record.get("crc32")
    if not stored:
        check.problem = f"{key}: S3 holds no CRC32 checksum for it"
    elif not expected_crc:
        check.problem = f"{key}: the row records no CRC32 checksum"
    elif stored.split("-")[0] != str(expected_crc):
        check.problem = f"{key}: CRC32 {stored} in S3, {expected_crc} recorded"
    return check


def verify_rows(ctx: Context, rows: Iterable[MediaRow], workers: int = 8) -> list[MediumCheck]:
    s3 = ctx.aws.s3()
    bucket = ctx.outputs.bucket
    rows = list(rows)
    jobs = [(row, obj) for row in rows for obj in row.objects]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda job: check_object(s3, bucket, job[1]), jobs))
    by_medium: dict[tuple[str, str], MediumCheck] = {}
    for row in rows:
        check = MediumCheck(row.provider, row.media_id, row.filename, len(row.objects),
                            sum(int(o.get("size") or 0) for o in row.objects))
        if not row.objects:
            check.problems.append("archived, but the row records no objects")
        by_medium[(row.provider, row.media_id)] = check
    for (row, _), result in zip(jobs, results, strict=True):
        if result.problem:
            by_medium[(row.provider, row.media_id)].problems.append(result.problem)
    return list(by_medium.values())


def completed_rows(ctx: Context) -> list[MediaRow]:
    rows: list[MediaRow] = []
    for provider in ctx.providers:
        rows.extend(ctx.tracker.by_status(provider, COMPLETED))
    return rows


def all_rows(ctx: Context) -> list[MediaRow]:
    return [row for provider in ctx.providers for status in STATUSES
            for row in ctx.tracker.by_status(provider, status)]


def archived_rows(rows: Iterable[MediaRow]) -> list[MediaRow]:
    """Rows that record archived objects, in any state; COMPLETED ones without any too (a
    problem to report)."""
    return [row for row in rows if row.objects or row.status == COMPLETED]


def unrecorded_objects(ctx: Context, rows: list[MediaRow]) -> list[MediumCheck]:
    """Objects under the archive prefixes that no row records, per medium (key segment 4).

    A medium in transfer (pending, queued, in progress) may hold objects its row does not list
    yet: those are left alone."""
    recorded = {str(o.get("key")) for row in rows for o in row.objects}
    busy = {row.media_id for row in rows if row.status in (PENDING, QUEUED, IN_PROGRESS)}
    s3 = ctx.aws.s3()
    found: dict[str, MediumCheck] = {}
    for provider in ctx.providers:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=ctx.outputs.bucket, Prefix=archive_prefix(provider))
        for page in pages:
            for obj in page.get("Contents", []):
                key = obj["Key"]
                parts = key.split("/")
                media_id = parts[3] if len(parts) > 4 else key
                # _meta/ holds the index's telemetry.json: derived, not an original (an
                # original's safe name never starts with "_").
                if key in recorded or media_id in busy or parts[4:5] == ["_meta"]:
                    continue
                check = found.setdefault(media_id, MediumCheck(provider, media_id, None, 0, 0))
                check.objects += 1
                check.bytes += int(obj.get("Size", 0))
                check.problems.append(f"{key}: in the archive, but no tracker row records it")
    return list(found.values())


OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--read-data", {"action": "store_true", "help": "read every object back inside AWS and "
                     "recompute its CRC32 and GoPro's checksum (objects in Glacier classes are "
                     "reported as needing a restore)"}),
    ("--source", {"action": "store_true", "help": "compare the archive with the GoPro library "
                  "as it is now: missing, extra, changed (like rclone check)"}),
    ("--parallel", {"type": int, "default": 4, "metavar": "N",
                    "help": "--read-data: invocations of the verify function at once (default 4)"}),
    ("--all", {"action": "store_true", "help": "list every medium, not only problems"}),
    ("--provider", {"default": None, "help": "--source: the provider (default: the only one)"}),
    ("--gopro-api-url", {"default": None, "help": "--source: the GoPro API (default: the "
                         "stack's)"}),
    ("--json", {"action": "store_true", "help": "print as JSON"}),
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "verify", help="check the archive: every object in S3, read back, or against GoPro",
        description="Check every archived medium's objects against S3: the recorded version is "
        "there, with the recorded size and CRC32 (--read-data: read back and recomputed). "
        "--source compares the archive with the GoPro library instead. Exits 1 on any "
        "mismatch, missing object, object not read or difference.",
    )
    for flag, options in OPTIONS:
        parser.add_argument(flag, **options)
    parser.set_defaults(func=run)


def origin_verdicts(rows: Iterable[MediaRow]) -> dict[str, int]:
    """GoPro's own checksum per archived object, as recorded: match / unknown (rows archived
    before origin checks existed: "unrecorded"). A mismatch is never archived."""
    counts = {"match": 0, "unknown": 0, "unrecorded": 0}
    for row in rows:
        for record in row.objects:
            verdict = str(record.get("origin") or "unrecorded")
            counts[verdict] = counts.get(verdict, 0) + 1
    return counts


def _origin_line(counts: dict[str, int]) -> str:
    line = (f"GoPro's own checksum (origin ETag): {counts['match']} objects match, "
            f"{counts['unknown']} could not be checked")
    return line + (f", {counts['unrecorded']} archived before it was recorded."
                   if counts["unrecorded"] else ".")


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.read_data and args.source:
        raise CliError("--read-data and --source check different things: run one, then the other",
                       exit_code=EXIT_USAGE)
    if args.parallel < 1:
        raise CliError("--parallel must be at least 1", exit_code=EXIT_USAGE)
    if args.source:
        return run_source(args, ctx)
    if args.read_data:
        return run_read(args, ctx)
    return run_head(args, ctx)


def run_read(args: argparse.Namespace, ctx: Context) -> int:
    """--read-data: the stack's verify function reads every recorded object back."""
    rows = all_rows(ctx)
    archived = archived_rows(rows)
    results, tally = read_all(ctx, jobs_of(archived), args.parallel, args.json)
    stray = unrecorded_objects(ctx, rows) + verify_rows(ctx, [r for r in archived
                                                             if not r.objects])
    bad = [r for r in results if r["state"] != OK]
    ok = not bad and not stray
    if args.json:
        ctx.print(to_json({
            "ok": ok, "objects": tally.objects, "bytes_read": tally.bytes_read,
            "seconds": round(tally.seconds, 3),
            "states": dict(Counter(r["state"] for r in results)),
            "results": results if args.all else bad,
            "unrecorded": [{**asdict(c), "ok": c.ok} for c in stray],
        }))
        return EXIT_OK if ok else EXIT_FAILED
    shown = results if args.all else bad
    if shown or stray:
        ctx.print(table(
            ["media id", "object", "state", "detail"],
            [(r["media_id"], r["key"].rsplit("/", 1)[-1], r["state"], r.get("problem") or
              f"CRC32 {r.get('crc32')}, GoPro's checksum {r.get('origin')}") for r in shown]
            + [(c.media_id, "-", "problem", "; ".join(c.problems)) for c in stray],
        ))
        ctx.print()
    for line in summary_lines(results, tally):
        ctx.print(line)
    if not ok:
        ctx.print(f"Verification FAILED: {len(bad) + len(stray)} problems. `cloudsync resync "
                  "MEDIA_ID` archives a medium again; `cloudsync versions MEDIA_ID` lists its "
                  "versions.")
    return EXIT_OK if ok else EXIT_FAILED


def run_source(args: argparse.Namespace, ctx: Context) -> int:
    """--source: the archive against the GoPro library as listed now."""
    provider = pick_provider(ctx, args.provider)
    items, _, _ = list_remote(ctx, provider, args.gopro_api_url)
    rows = [r for r in all_rows(ctx) if r.provider == provider]
    check = compare(items, rows)
    kinds = (MISSING_HERE, EXTRA_HERE, CHANGED)
    if args.json:
        ctx.print(to_json({
            "ok": not check.differences, "provider": provider, "listed": check.listed,
            "archived": check.archived, "same": check.same, "skipped": check.skipped,
            **{kind: check.count(kind) for kind in kinds},
            "differences": [asdict(d) for d in check.differences],
        }))
        return EXIT_FAILED if check.differences else EXIT_OK
    if check.differences:
        ctx.print(table(["media id", "file", "difference", "detail"],
                        [(d.media_id, d.filename, d.kind, d.detail) for d in check.differences]))
        ctx.print()
    ctx.print(f"{provider} lists {check.listed} media, the archive holds {check.archived}: "
              f"{check.same} the same, {check.count(MISSING_HERE)} missing here, "
              f"{check.count(EXTRA_HERE)} only here, {check.count(CHANGED)} changed at the "
              f"source" + (f"; {check.skipped} not media to archive." if check.skipped else "."))
    if check.count(MISSING_HERE) or check.count(CHANGED):
        ctx.print("`cloudsync sync --wait` archives what is missing or changed.")
    return EXIT_FAILED if check.differences else EXIT_OK


def run_head(args: argparse.Namespace, ctx: Context) -> int:
    """The default: HeadObject of every recorded version (S3's stored size and CRC32)."""
    rows = all_rows(ctx)
    origin = origin_verdicts(archived_rows(rows))
    checks = verify_rows(ctx, archived_rows(rows)) + unrecorded_objects(ctx, rows)
    bad = [c for c in checks if not c.ok]
    objects = sum(c.objects for c in checks)
    total = sum(c.bytes for c in checks)
    if args.json:
        ctx.print(to_json({
            "ok": not bad, "media": len(checks), "objects": objects, "bytes": total,
            "problems": sum(len(c.problems) for c in checks), "origin": origin,
            "results": [{**asdict(c), "ok": c.ok} for c in checks],
        }))
        return EXIT_FAILED if bad else EXIT_OK
    shown = checks if args.all else bad
    if shown:
        ctx.print(table(
            ["media id", "file", "objects", "bytes", "result"],
            [(c.media_id, c.filename, c.objects, human_bytes(c.bytes),
              "OK" if c.ok else "; ".join(c.problems)) for c in shown],
            right=[2, 3],
        ))
        ctx.print()
    if bad:
        ctx.print(f"Verification FAILED: {len(bad)} of {len(checks)} archived media have "
                  "missing or mismatching objects. `cloudsync resync MEDIA_ID` archives one again.")
        return EXIT_FAILED
    ctx.print(f"Verified {len(checks)} archived media: {objects} objects, {human_bytes(total)}, "
              "all present with the recorded size and CRC32.")
    ctx.print(_origin_line(origin))
    return EXIT_OK
