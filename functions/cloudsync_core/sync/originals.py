"""A medium's originals as archive targets: keys, metadata, tags, and fresh source links.

Links expire (minutes to an hour) and are secrets, so they are fetched inside each invocation,
cached only for that container's short life, and refreshed after a CDN 403.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from ..errors import InvalidMediaError
from ..keys import object_key
from ..models import SourceFile
from ..providers import CloudProvider

LINK_TTL_S = 300.0  # well inside the shortest link lifetime seen in practice
SOURCE_TAGS = {"gopro": "GoPro"}  # the seed's Source tag values


@dataclass(frozen=True)
class Target:
    """Where one original goes, and what the object says about itself."""

    file_id: str
    key: str
    metadata: dict[str, str]
    tagging: str


def targets(
    provider: str, media_id: str, captured_at: datetime | None, originals: list[SourceFile]
) -> dict[str, Target]:
    """One key per original; two originals whose safe names collide get their file ids added."""
    result: dict[str, Target] = {}
    used: set[str] = set()
    upload_date = captured_at.date().isoformat() if captured_at else "unknown"
    for original in originals:
        if original.file_id in result:
            raise InvalidMediaError(f"the source lists original {original.file_id} twice")
        key = object_key(provider, media_id, captured_at, original.filename)
        if key in used:
            stem, dot, ext = original.filename.rpartition(".")
            name = (
                f"{stem}-{original.file_id}.{ext}"
                if dot
                else f"{original.filename}-{original.file_id}"
            )
            key = object_key(provider, media_id, captured_at, name)
        used.add(key)
        result[original.file_id] = Target(
            file_id=original.file_id,
            key=key,
            metadata={
                "provider": provider,
                "media-id": media_id,
                "file-id": original.file_id,
                "item-number": str(original.item_number),
                "label": original.label,
                # S3 metadata is ASCII: the original name travels percent-encoded.
                "original-filename": quote(original.filename, safe=""),
                "captured-at": captured_at.isoformat() if captured_at else "",
            },
            tagging=f"Source={SOURCE_TAGS.get(provider, provider)}"
            f"&AutoSync=True&UploadDate={upload_date}",
        )
    return result


class LinkCache:
    """Fresh download answers for one medium, shared by the threads of one invocation."""

    def __init__(
        self,
        provider: CloudProvider,
        media_id: str,
        media_type: str | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._media_id = media_id
        self._media_type = media_type
        self._clock = clock
        self._lock = threading.Lock()
        self._files: dict[str, SourceFile] = {}
        self._fetched_at = float("-inf")

    def _fetch(self) -> None:
        originals = self._provider.originals(self._media_id, self._media_type)
        self._files = {o.file_id: o for o in originals}
        self._fetched_at = self._clock()

    def all(self) -> list[SourceFile]:
        with self._lock:
            if self._clock() - self._fetched_at > LINK_TTL_S:
                self._fetch()
            return list(self._files.values())

    def get(self, file_id: str) -> SourceFile:
        with self._lock:
            if self._clock() - self._fetched_at > LINK_TTL_S:
                self._fetch()
            found = self._files.get(file_id)
        if found is None:
            raise InvalidMediaError(f"the source no longer lists original {file_id}")
        return found

    def refresh(self, file_id: str) -> str:
        """A new link for ``file_id`` (after a 403): a fresh download answer."""
        with self._lock:
            self._fetch()
        return self.get(file_id).url
