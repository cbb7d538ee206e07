"""``cloudsync restore MEDIA_ID``: ask S3 to bring a medium back from Deep Archive."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK, CliError
from ..output import table, to_json
from .resync import pick_provider

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
_EXPIRY = re.compile(r'expiry-date="([^"]+)"')


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "restore", help="request a Deep Archive restore of one medium and show its state",
        description="For every object of the medium: request a temporary restored copy from "
        "Glacier / Deep Archive (if it is there) and show where the restore stands.",
    )
    p.add_argument("media_id", metavar="MEDIA_ID")
    p.add_argument("--days", type=int, default=7, help="keep the restored copy N days (default 7)")
    p.add_argument("--tier", choices=("Bulk", "Standard"), default="Bulk",
                   help="Bulk (cheapest, within 48 h) or Standard (within 12 h); default Bulk")
    p.add_argument("--provider", default=None, help="the medium's provider")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def describe_state(head: dict[str, Any]) -> tuple[str, str]:
    """(state, words) from HeadObject's StorageClass and Restore header."""
    storage = str(head.get("StorageClass") or "STANDARD")
    restore = head.get("Restore")
    if storage not in ARCHIVED_CLASSES:
        return "available", f"still in S3 {storage.replace('_', ' ').title()}: no restore needed"
    if not restore:
        return "archived", f"in {storage}: not restored"
    if 'ongoing-request="true"' in restore:
        return "restoring", "restore in progress"
    match = _EXPIRY.search(restore)
    return "restored", f"restored until {match.group(1) if match else '?'}"


def head(s3: S3Client, bucket: str, key: str, version: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version:
        kwargs["VersionId"] = version
    return dict(s3.head_object(**kwargs))


def restore_object(
    s3: S3Client, bucket: str, record: dict[str, Any], days: int, tier: str
) -> dict[str, Any]:
    key = str(record["key"])
    version = str(record["version_id"]) if record.get("version_id") else None
    try:
        before = head(s3, bucket, key, version)
    except ClientError as e:
        if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return {"key": key, "version_id": version, "state": "missing", "requested": False,
                    "words": "missing from the archive (see `cloudsync verify`)"}
        raise
    state, words = describe_state(before)
    requested = False
    if state in ("archived", "restored"):  # a restored copy's days can be extended
        kwargs: dict[str, Any] = {
            "Bucket": bucket, "Key": key,
            "RestoreRequest": {"Days": days, "GlacierJobParameters": {"Tier": tier}},
        }
        if version:
            kwargs["VersionId"] = version
        try:
            s3.restore_object(**kwargs)
            requested = True
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "RestoreAlreadyInProgress":
                raise
        state, words = describe_state(head(s3, bucket, key, version))
    return {"key": key, "version_id": version, "state": state, "words": words,
            "requested": requested}


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.days < 1:
        raise CliError("--days must be at least 1", exit_code=2)
    provider = pick_provider(ctx, args.provider)
    row = ctx.tracker.get(provider, args.media_id)
    if row is None:
        raise CliError(f"unknown media id for {provider}: {args.media_id} "
                       "(`cloudsync library` lists the media)")
    if not row.objects:
        raise CliError(f"{args.media_id} has no archived objects yet (state {row.status})")
    s3 = ctx.aws.s3()
    results = [restore_object(s3, ctx.outputs.bucket, dict(o), args.days, args.tier)
               for o in row.objects]
    missing = any(r["state"] == "missing" for r in results)
    if args.json:
        ctx.print(to_json({"media_id": row.media_id, "days": args.days, "tier": args.tier,
                           "objects": results}))
    else:
        ctx.print(table(["object", "version", "state"],
                        [(r["key"], r["version_id"], r["words"]) for r in results]))
        if any(r["requested"] and r["state"] == "restoring" for r in results):
            ctx.print()
            ctx.print(f"Restore requested ({args.tier}, {args.days} days); run this command "
                      "again to see how it stands.")
    return EXIT_FAILED if missing else EXIT_OK
