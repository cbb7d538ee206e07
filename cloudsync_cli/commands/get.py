"""``cloudsync get MEDIA_ID --to DIR``: a medium's originals back on disk, each one verified.

Downloads the versions the tracker records (the originals as archived), streaming each into a
temporary file beside its destination while its CRC32 is computed, and moves it into place only
when size and CRC32 are the recorded ones: a file in DIR under an original's name is always a
verified copy. Objects in Glacier or Deep Archive without a restored copy cannot be read: one
line says so (``cloudsync restore MEDIA_ID`` asks for one) and nothing is downloaded. A file
already in DIR is kept when it holds the same bytes and never overwritten when it differs.
"""

from __future__ import annotations

import argparse
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, FlexibleChecksumError

from cloudsync_core.readback import NEEDS_RESTORE, RESTORING, readability
from cloudsync_core.readback.digest import Where
from cloudsync_core.transfer.checksums import crc32_to_b64

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK, CliError
from ..output import human_bytes, to_json
from .resync import pick_provider
from .ticker import Ticker

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK = 1024 * 1024
PART_SUFFIX = ".cloudsync-part"


@dataclass
class Original:
    key: str
    version_id: str | None
    size: int
    crc32: str | None
    path: Path
    state: str = "pending"  # downloaded | already there | differs | needs_restore | ...
    detail: str = ""

    def request(self, bucket: str) -> dict[str, Any]:
        return Where(bucket, self.key, self.version_id).request()


def file_crc32(path: Path) -> str:
    crc = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc32_to_b64(crc)


def same_bytes(o: Original) -> bool:
    return o.path.stat().st_size == o.size and file_crc32(o.path) == o.crc32


def _stream(s3: S3Client, bucket: str, o: Original, part: Path, progress: Ticker) -> str:
    """Write the version into ``part``; returns the CRC32 of what was written."""
    crc, size = 0, 0
    body = s3.get_object(**o.request(bucket))["Body"]
    try:
        with part.open("wb") as f:
            for chunk in body.iter_chunks(CHUNK):
                f.write(chunk)
                crc, size = zlib.crc32(chunk, crc), size + len(chunk)
                progress.update(f"{o.path.name}: {human_bytes(size)} of {human_bytes(o.size)}")
    finally:
        body.close()
    return crc32_to_b64(crc) if size == o.size else f"{size} bytes"


def download(s3: S3Client, bucket: str, o: Original, progress: Ticker) -> None:
    """Stream one version into ``.NAME.cloudsync-part``; rename it into place when verified."""
    part = o.path.with_name(f".{o.path.name}{PART_SUFFIX}")
    try:
        got = _stream(s3, bucket, o, part, progress)
    except FlexibleChecksumError:  # the SDK's own check against S3's stored CRC32
        got = "other than S3's stored one"
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if got != o.crc32:
        part.unlink(missing_ok=True)
        o.state, o.detail = "corrupt", f"read back: CRC32 {got}, {o.crc32} recorded; not saved"
    elif o.path.exists():  # appeared meanwhile: still never overwrite
        part.unlink(missing_ok=True)
        o.state, o.detail = "differs", "a file appeared there meanwhile; kept"
    else:
        os.replace(part, o.path)
        o.state = "downloaded"


def originals_of(ctx: Context, provider: str, media_id: str, to: Path) -> list[Original]:
    row = ctx.tracker.get(provider, media_id)
    if row is None:
        raise CliError(f"unknown media id for {provider}: {media_id} "
                       "(`cloudsync library` lists the media)")
    if not row.objects:
        raise CliError(f"{media_id} has no archived originals (state {row.status})")
    out = []
    for record in map(dict, row.objects):
        key = str(record["key"])
        version = record.get("version_id")
        out.append(Original(key, str(version) if version else None, int(record.get("size") or 0),
                            record.get("crc32"), to / key.rsplit("/", 1)[-1]))
    return out


def triage(s3: S3Client, bucket: str, originals: list[Original]) -> None:
    """What each original needs before it can be downloaded, from HeadObject and DIR."""
    for o in originals:
        if o.path.exists():
            o.state, o.detail = (("already there", "same size and CRC32; kept")
                                 if same_bytes(o) else
                                 ("differs", f"{o.path} exists with other bytes: not overwritten"))
            continue
        try:
            head = s3.head_object(**o.request(bucket))
        except ClientError as e:
            if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                o.state, o.detail = "missing", "missing from the archive (see `cloudsync verify`)"
                continue
            raise
        state = readability(dict(head))
        if state != "readable":
            o.state, o.detail = state, str(head.get("StorageClass"))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "get", help="download a medium's originals, each verified against its record",
        description="Download the archived originals of MEDIA_ID into DIR (created if needed), "
        "each checked against its recorded size and CRC32 before it takes its name. Needs them "
        "in S3 Standard or restored (`cloudsync restore MEDIA_ID`); never overwrites a "
        "different file in DIR.")
    parser.add_argument("media_id", metavar="MEDIA_ID")
    parser.add_argument("--to", required=True, type=Path, metavar="DIR",
                        help="the directory to download into")
    parser.add_argument("--provider", default=None, help="the medium's provider")
    parser.add_argument("--json", action="store_true", help="print as JSON")
    parser.set_defaults(func=run)


def blocked_line(media_id: str, originals: list[Original]) -> str | None:
    """The one line saying why nothing can be downloaded yet, if anything blocks."""
    cold = [o for o in originals if o.state in (NEEDS_RESTORE, RESTORING)]
    if not cold:
        return None
    if all(o.state == RESTORING for o in cold):
        return (f"{len(cold)} of {len(originals)} originals of {media_id} are being restored "
                "from Deep Archive: run get again when `cloudsync restore "
                f"{media_id}` says restored.")
    return (f"{len(cold)} of {len(originals)} originals of {media_id} are in "
            f"{cold[0].detail} and must be restored first: `cloudsync restore {media_id}` "
            "(Bulk: within 48 h), then run get again.")


def run(args: argparse.Namespace, ctx: Context) -> int:
    provider = pick_provider(ctx, args.provider)
    to: Path = args.to
    if to.exists() and not to.is_dir():
        raise CliError(f"--to {to}: not a directory")
    originals = originals_of(ctx, provider, args.media_id, to)
    s3, bucket = ctx.aws.s3(), ctx.outputs.bucket
    triage(s3, bucket, originals)
    blocked = blocked_line(args.media_id, originals)
    if blocked is None:
        to.mkdir(parents=True, exist_ok=True)
        progress = Ticker(ctx.err, as_json=args.json)
        for o in originals:
            if o.state == "pending":
                download(s3, bucket, o, progress)
        progress.done()
    ok = all(o.state in ("downloaded", "already there") for o in originals)
    if args.json:
        ctx.print(to_json({"media_id": args.media_id, "to": str(to), "ok": ok,
                           "blocked": blocked, "files": [
                               {"key": o.key, "version_id": o.version_id, "path": str(o.path),
                                "size": o.size, "state": o.state, "detail": o.detail}
                               for o in originals]}))
        return EXIT_OK if ok else EXIT_FAILED
    if blocked:
        ctx.print(blocked)
        return EXIT_FAILED
    for o in originals:
        ctx.print(f"{o.path}  {human_bytes(o.size)}  {o.state}"
                  + (f": {o.detail}" if o.state != "downloaded" and o.detail else ""))
    if ok:
        ctx.print(f"{len(originals)} originals of {args.media_id} in {to}, each matching its "
                  "recorded size and CRC32.")
    else:
        kept = sum(o.state not in ("downloaded", "already there") for o in originals)
        ctx.print(f"{kept} of {len(originals)} originals not saved (see above).")
    return EXIT_OK if ok else EXIT_FAILED
