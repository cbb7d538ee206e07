"""``cloudsync verify --source``: the archive against the GoPro library as it is now.

Like ``rclone check`` between the two sides: media GoPro lists that are not archived
(``missing``: new since the last run, failed, or still on their way), archived media GoPro no
longer lists (``extra``: deleted at the source, kept here), and media whose listing now says
something else than when they were archived (``changed``: size, item count, the rule table's
facts; the lister's own test, so the next run re-archives them). Media GoPro lists that are
not media to archive (SKIPPED: edit projects, share renders) are counted apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cloudsync_core.models import MediaItem
from cloudsync_core.sync.listing import listing_changed
from cloudsync_core.tracker import SKIPPED, MediaRow

from ..output import STATUS_WORDS

MISSING_HERE = "missing"
EXTRA_HERE = "extra"
CHANGED = "changed"


@dataclass(frozen=True)
class Difference:
    media_id: str
    kind: str  # missing | extra | changed
    filename: str | None
    detail: str


@dataclass
class SourceCheck:
    listed: int = 0
    archived: int = 0
    same: int = 0
    skipped: int = 0
    differences: list[Difference] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(d.kind == kind for d in self.differences)


def _change(row: MediaRow, item: MediaItem) -> str:
    said = []
    if item.file_size is not None and item.file_size != row.listed_size:
        said.append(f"size {row.listed_size} when archived, {item.file_size} now")
    if item.item_count is not None and item.item_count != row.item_count:
        said.append(f"{row.item_count} items when archived, {item.item_count} now")
    return "; ".join(said) or "GoPro describes it differently now"


def compare(items: Sequence[MediaItem], rows: Sequence[MediaRow]) -> SourceCheck:
    by_id = {row.media_id: row for row in rows}
    listed = {item.media_id: item for item in items}
    check = SourceCheck(listed=len(listed),
                        archived=sum(1 for r in rows if r.objects))
    for media_id, item in listed.items():
        row = by_id.get(media_id)
        if row is not None and row.status == SKIPPED:
            check.skipped += 1
        elif row is None or not row.objects:
            state = STATUS_WORDS.get(row.status if row else "", "not archived")
            check.differences.append(Difference(media_id, MISSING_HERE, item.filename,
                                                f"listed at the source, not archived ({state})"))
        elif listing_changed(row, item):
            check.differences.append(Difference(media_id, CHANGED, item.filename,
                                                _change(row, item)))
        else:
            check.same += 1
    for row in rows:
        if row.objects and row.media_id not in listed:
            check.differences.append(Difference(
                row.media_id, EXTRA_HERE, row.filename,
                "archived, no longer listed at the source (kept here)"))
    return check
