"""Where a medium's telemetry bytes come from: GoPro's ``gpmf`` sidecar, or the archive.

GoPro lists, beside the originals of a video, a ``gpmf`` sidecar of type ``1.mp4``: the
telemetry track alone, a few hundred KB. It is the cheap source, and the only one once the
originals sit in Deep Archive. When GoPro lists none (or cannot be asked), the archived original
is read in place with S3 ranged GETs (in-region: no transfer cost, a handful of requests).

Reading the sidecar is best effort: any refusal falls back to the archive, and an account
problem met here never pauses the stack (the index is not the archive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import StorageError, TelemetryError, TransientError
from ..http import new_session
from .mp4 import Reader

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from ..credentials import AccessGrant

SIDECAR_LABEL = "gpmf"
SIDECAR_TYPE = "1.mp4"
MAX_SIDECAR_BYTES = 32 * 1024 * 1024
TIMEOUT = (5.0, 30.0)
ACCEPT = "application/vnd.gopro.jk.media+json; version=2.0.0"
# Storage classes a GET cannot read without a restore first.
COLD = frozenset({"GLACIER", "DEEP_ARCHIVE"})


@dataclass(frozen=True)
class Blob:
    """One readable file: its name (for the record), size and a ranged reader."""

    source: str  # "gpmf-sidecar" or "original"
    name: str
    size: int
    read: Reader


def memory_blob(source: str, name: str, data: bytes) -> Blob:
    return Blob(source, name, len(data), lambda offset, length: data[offset : offset + length])


def s3_blob(s3: S3Client, bucket: str, obj: dict[str, Any]) -> Blob:
    """An archived object read in place by ranged GETs of its recorded version."""
    key = str(obj["key"])
    version = obj.get("version_id")
    extra: dict[str, str] = {"VersionId": version} if version not in (None, "", "null") else {}
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **extra)  # type: ignore[arg-type]
    except (BotoCoreError, ClientError) as e:
        raise StorageError(f"read s3://{bucket}/{key}: {type(e).__name__}") from e
    if head.get("StorageClass") in COLD and "ongoing-request=\"false\"" not in str(
        head.get("Restore", "")
    ):
        raise TelemetryError(f"{key} is in {head.get('StorageClass')}: restore it first")

    def read(offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        try:
            answer = s3.get_object(
                Bucket=bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}",
                **extra,  # type: ignore[arg-type]
            )
            return answer["Body"].read()
        except (BotoCoreError, ClientError) as e:
            raise TransientError(f"ranged read of s3://{bucket}/{key}: {type(e).__name__}") from e

    return Blob("original", key.rsplit("/", 1)[-1], int(head["ContentLength"]), read)


def sidecar_links(answer: object) -> list[str]:
    """The ``gpmf`` sidecars (type ``1.mp4``) of one download answer, by item number."""
    embedded = answer.get("_embedded") if isinstance(answer, dict) else None
    entries = embedded.get("sidecar_files") if isinstance(embedded, dict) else None
    found: list[tuple[int, str]] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("label") != SIDECAR_LABEL:
            continue
        if entry.get("type") != SIDECAR_TYPE or not isinstance(entry.get("url"), str):
            continue
        number = entry.get("item_number")
        found.append((number if isinstance(number, int) else 1, entry["url"]))
    return [url for _, url in sorted(found)]


def _get(session: requests.Session, url: str, what: str, **kwargs: Any) -> requests.Response:
    try:
        response = session.get(url, timeout=TIMEOUT, allow_redirects=False, stream=True, **kwargs)
    except requests.RequestException as e:
        raise TransientError(f"{what}: {type(e).__name__}") from e
    if response.status_code != 200:
        response.close()
        raise TelemetryError(f"{what}: HTTP {response.status_code}")
    return response


def _download(session: requests.Session, url: str) -> bytes:
    response = _get(session, url, "gpmf sidecar")
    with response:
        data = b""
        for chunk in response.iter_content(256 * 1024):
            data += chunk
            if len(data) > MAX_SIDECAR_BYTES:
                raise TelemetryError("gpmf sidecar is larger than a telemetry track can be")
    return data


def gopro_sidecars(
    api_url: str, grant: AccessGrant, session: requests.Session | None = None
) -> Callable[[str], list[Blob]]:
    """A finder of one medium's ``gpmf`` sidecars through GoPro's download answer."""
    http = session or new_session(2)

    def find(media_id: str) -> list[Blob]:
        headers: dict[str, str] = {"Accept": ACCEPT}
        cookies: dict[str, str] = {}
        grant.apply(headers, cookies)
        answer = _get(http, f"{api_url.rstrip('/')}/media/{media_id}/download",
                      "download answer", headers=headers, cookies=cookies)
        with answer:
            try:
                body = answer.json()
            except ValueError as e:
                raise TelemetryError("download answer is not JSON") from e
        links = sidecar_links(body)
        return [memory_blob("gpmf-sidecar", f"gpmf-{i + 1}.mp4", _download(http, url))
                for i, url in enumerate(links)]

    return find
