"""What every cloud provider offers the rest of cloudsync (the seed's provider abstraction).

A provider lists media, describes the originals of one medium with fresh links, and checks its
credentials cheaply. Authentication is not a provider method: the ``Authenticator`` renews
credentials and hands the provider an ``AccessGrant`` (tokens stay out of every payload).

``list_media`` is implemented once here over ``fetch_pages``: deduplication by id across pages
(pages overlap while new media arrive), ``max_items``, and the stop rules, so a new provider
only says how to fetch one page.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from ..models import ListFilters, MediaItem, Selection, SourceFile

log = logging.getLogger(__name__)

MAX_PAGES: Final = 100_000  # a source that never stops paging is a bug, not a big library


@dataclass(frozen=True)
class Page:
    """One page of a listing as the source answered it."""

    number: int  # 1-based
    items: Sequence[MediaItem]  # the usable items, in the source's order
    returned: int  # entries the source returned, skipped ones included
    total_pages: int | None = None  # what the source says; None when it does not say


class CloudProvider(ABC):
    """The provider contract. Implementations are not required to be thread-safe for
    ``list_media`` (one lister), but ``originals`` may be called from several threads."""

    name: ClassVar[str]

    def __init__(self) -> None:
        self.skipped_items = 0  # listed entries that could not be used (bad id, not an object)
        self.skip_reasons: Counter[str] = Counter()

    def skip(self, reason: str) -> None:
        """Count one unusable entry; ``reason`` must be log-safe (no values from the source)."""
        self.skipped_items += 1
        self.skip_reasons[reason] += 1
        log.warning("%s: skipped a listed item: %s", self.name, reason)

    @abstractmethod
    def fetch_pages(self, filters: ListFilters) -> Iterator[Page]:
        """Pages 1, 2, ... of the listing; ``list_media`` stops consuming when it is done."""

    def list_media(self, filters: ListFilters) -> Iterator[MediaItem]:
        """Every medium matching ``filters`` once (deduplicated by id), at most ``max_items``.

        Stops after the last page the source announces (``total_pages``, re-read from every
        page), at the first empty page, or, when the source announces nothing, at the first page
        that brings nothing new. The page size asked for is never trusted.
        """
        limit = filters.max_items
        if limit is not None and limit <= 0:
            return
        seen: set[str] = set()
        for page in self.fetch_pages(filters):
            new = 0
            for item in page.items:
                if item.media_id in seen:
                    continue
                seen.add(item.media_id)
                new += 1
                yield item
                if limit is not None and len(seen) >= limit:
                    return
            if page.returned == 0:
                return
            if page.total_pages is not None and page.number >= page.total_pages:
                return
            if page.total_pages is None and new == 0 and page.items:
                return
            if page.number >= MAX_PAGES:
                log.warning("%s: stopped listing after %d pages", self.name, page.number)
                return

    @abstractmethod
    def originals(self, media_id: str, media_type: str | None = None) -> list[SourceFile]:
        """Every original file of one medium, with links fresh from the source.

        Called again for every attempt and after a CDN 403: links expire. ``media_type`` is the
        listed type when known (it decides what counts as an original); without it the provider
        infers it from the answer. Raises ``DeletedAtSourceError`` when the medium is gone,
        ``InvalidMediaError`` when the answer holds no original.
        """

    def select(self, listed: MediaItem) -> Selection:
        """The originals of one listed medium, fresh, with what the listing lets us check.

        Providers with their own rules override this (GoPro: its rule table, which may raise
        ``NotMediaError`` for something that is not a medium, ``IncompleteMediumError`` when
        the originals do not account for the listing); the default takes ``originals``.
        """
        return Selection(self.originals(listed.media_id, listed.media_type), rule="originals")

    @abstractmethod
    def account(self) -> dict[str, Any]:
        """A cheap authenticated call (a credentials check); the source's account facts."""
