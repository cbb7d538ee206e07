"""A medium's originals as archive targets: keys, metadata, tags, and fresh source links.

Links expire (minutes to an hour) and are secrets, so they are fetched inside each invocation,
cached only for that container's short life, and refreshed after a CDN 403, 404 or 410 (only
the API, answering 404 to the fresh request, can say the medium is gone).
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
from ..models import MediaItem, Selection, SourceFile
from ..providers import CloudProvider, display_name
from ..tracker import MediaRow

LINK_TTL_S = 300.0  # well inside the shortest link lifetime seen in practice


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
            tagging=f"Source={quote(display_name(provider), safe='')}"  # the seed's "GoPro"
            f"&AutoSync=True&UploadDate={upload_date}",
        )
    return result


def listed_from_row(row: MediaRow) -> MediaItem:
    """The medium as it was listed, from its tracker row (what the provider's rules read)."""
    return MediaItem(
        provider=row.provider,
        media_id=row.media_id,
        filename=row.filename,
        media_type=row.media_type,
        captured_at=row.captured,
        created_at=None,
        file_size=row.listed_size,
        item_count=row.item_count,
        facts=dict(row.facts),
    )


class LinkCache:
    """Fresh download answers for one medium, shared by the threads of one invocation.

    Every step that reads originals must judge the answer with the same listing facts (or two
    steps could pick different originals): build it with ``for_row``.
    """

    def __init__(
        self,
        provider: CloudProvider,
        media_id: str,
        media_type: str | None,
        clock: Callable[[], float] = time.monotonic,
        *,
        listed: MediaItem | None = None,
    ) -> None:
        self._provider = provider
        self._listed = listed or MediaItem(
            provider.name, media_id, None, media_type, None, None, None
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._files: dict[str, SourceFile] = {}
        self._selection: Selection | None = None
        self._fetched_at = float("-inf")

    @classmethod
    def for_row(cls, provider: CloudProvider, row: MediaRow) -> LinkCache:
        return cls(provider, row.media_id, row.media_type, listed=listed_from_row(row))

    def _fetch(self) -> Selection:
        selection = self._provider.select(self._listed)
        self._selection = selection
        self._files = {o.file_id: o for o in selection.originals}
        self._fetched_at = self._clock()
        return selection

    def selection(self) -> Selection:
        """The provider's latest choice (fetched when stale): originals, rule, sizes to check."""
        with self._lock:
            if self._selection is None or self._clock() - self._fetched_at > LINK_TTL_S:
                return self._fetch()
            return self._selection

    def all(self) -> list[SourceFile]:
        return list(self.selection().originals)

    def get(self, file_id: str) -> SourceFile:
        with self._lock:
            if self._clock() - self._fetched_at > LINK_TTL_S:
                self._fetch()
            found = self._files.get(file_id)
        if found is None:
            raise InvalidMediaError(f"the source no longer lists original {file_id}")
        return found

    def refresh(self, file_id: str) -> str:
        """A new link for ``file_id`` (after a CDN 403, 404 or 410): a fresh download answer."""
        with self._lock:
            self._fetch()
        return self.get(file_id).url
