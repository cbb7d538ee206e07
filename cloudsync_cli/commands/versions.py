"""``cloudsync versions MEDIA_ID``: every archived version of every original, with its verdict.

The bucket is versioned and nothing is overwritten silently: a resync adds a version and the
older one stays (until the lifecycle expires noncurrent versions). This lists them all under the
medium's folder (ListObjectVersions), with date, size and storage class, and a checksum
verdict from what S3 stored for each version (HeadObject with ChecksumMode): the version the
tracker records must carry the recorded CRC32; older versions have no record to compare with,
so their stored CRC32 is shown as such. Reading the bytes back is ``verify --read-data``'s job.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from cloudsync_core.keys import object_key
from cloudsync_core.tracker import MediaRow

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK, CliError
from ..output import human_bytes, table, to_json
from .resync import pick_provider

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

META_FOLDER = "_meta/"  # the index's telemetry.json: derived, not an original


@dataclass
class Version:
    key: str
    version_id: str
    last_modified: str
    size: int | None
    storage_class: str
    latest: bool
    recorded: bool  # the version the tracker row records
    checksum: str  # match | mismatch | stored | none | delete marker
    crc32: str | None = None
    origin: str | None = None  # the origin check the object carries (metadata)


def medium_folder(row: MediaRow) -> str:
    """The medium's folder in the archive: from a recorded key, else from its capture date."""
    for record in row.objects:
        key = str(dict(record).get("key") or "")
        if "/" in key:
            return key.rsplit("/", 1)[0] + "/"
    captured = datetime.fromisoformat(row.captured_at) if row.captured_at else None
    return object_key(row.provider, row.media_id, captured, "x").rsplit("/", 1)[0] + "/"


def _stored(s3: S3Client, bucket: str, key: str, version: str) -> tuple[str | None, str | None]:
    """(CRC32 S3 stored for the version, its origin check), from HeadObject."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, VersionId=version, ChecksumMode="ENABLED")
    except ClientError:
        return None, None
    crc = head.get("ChecksumCRC32")
    return (crc.split("-")[0] if crc else None), dict(head.get("Metadata") or {}).get(
        "origin-check")


def list_versions(ctx: Context, row: MediaRow) -> list[Version]:
    s3, bucket, folder = ctx.aws.s3(), ctx.outputs.bucket, medium_folder(row)
    recorded = {(str(o.get("key")), str(o.get("version_id"))): o for o in map(dict, row.objects)}
    found: list[Version] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=folder):
        for marker in page.get("DeleteMarkers", []):
            found.append(Version(marker["Key"], marker["VersionId"],
                                 marker["LastModified"].isoformat(), None, "-",
                                 marker["IsLatest"], False, "delete marker"))
        for v in page.get("Versions", []):
            key, version = v["Key"], v["VersionId"]
            if key.startswith(folder + META_FOLDER):
                continue
            crc, origin = _stored(s3, bucket, key, version)
            record = recorded.get((key, version))
            verdict = "none" if crc is None else "stored"
            if record is not None:
                verdict = "match" if crc and crc == record.get("crc32") else "mismatch"
            found.append(Version(key, version, v["LastModified"].isoformat(), v["Size"],
                                 v.get("StorageClass", "STANDARD"), v["IsLatest"],
                                 record is not None, verdict, crc, origin))
    return sorted(found, key=lambda x: (x.key, x.last_modified))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "versions", help="every archived version of a medium's originals",
        description="List every version of every original of MEDIA_ID in the archive: date, "
        "size, storage class, and whether its stored CRC32 is the one the tracker recorded. "
        "Exits 1 when a recorded version is missing or does not match.")
    parser.add_argument("media_id", metavar="MEDIA_ID")
    parser.add_argument("--provider", default=None, help="the medium's provider")
    parser.add_argument("--json", action="store_true", help="print as JSON")
    parser.set_defaults(func=run)


def _words(v: Version) -> str:
    return {"match": "CRC32 as recorded", "mismatch": f"CRC32 {v.crc32 or '-'}: NOT as recorded",
            "stored": "CRC32 stored (older version, not recorded)",
            "none": "no CRC32 stored", "delete marker": "delete marker"}[v.checksum]


def run(args: argparse.Namespace, ctx: Context) -> int:
    provider = pick_provider(ctx, args.provider)
    row = ctx.tracker.get(provider, args.media_id)
    if row is None:
        raise CliError(f"unknown media id for {provider}: {args.media_id} "
                       "(`cloudsync library` lists the media)")
    versions = list_versions(ctx, row)
    seen = {(v.key, v.version_id) for v in versions if v.recorded}
    lost = [dict(o) for o in row.objects
            if (str(dict(o).get("key")), str(dict(o).get("version_id"))) not in seen]
    ok = not lost and all(v.checksum != "mismatch" for v in versions)
    if args.json:
        ctx.print(to_json({"media_id": row.media_id, "provider": provider, "ok": ok,
                           "versions": [asdict(v) for v in versions], "recorded_missing": lost}))
        return EXIT_OK if ok else EXIT_FAILED
    if versions:
        ctx.print(table(
            ["file", "version", "date (UTC)", "size", "class", "checksum", "origin", "tracker"],
            [(v.key.rsplit("/", 1)[-1], v.version_id, v.last_modified[:19].replace("T", " "),
              human_bytes(v.size), v.storage_class, _words(v), v.origin,
              "recorded" if v.recorded else ("latest" if v.latest else "older"))
             for v in versions], right=[3]))
    originals = len({v.key for v in versions})
    ctx.print(f"{len(versions)} versions of {originals} originals of {row.media_id}"
              + (f"; {len(lost)} recorded versions are MISSING: "
                 + ", ".join(str(o.get('key')) for o in lost) if lost else "."))
    return EXIT_OK if ok else EXIT_FAILED
