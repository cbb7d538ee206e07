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
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cloudsync_core.keys import archive_prefix
from cloudsync_core.tracker import COMPLETED, IN_PROGRESS, PENDING, QUEUED, STATUSES, MediaRow

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK
from ..output import human_bytes, table, to_json

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


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify", help="check every archived object in S3 (present, size, checksum)",
        description="Check every archived medium's objects against S3: the recorded version is "
        "there, with the recorded size and CRC32. Exits 1 on any mismatch or missing object.",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.add_argument("--all", action="store_true", help="list every medium, not only problems")
    p.set_defaults(func=run)


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
