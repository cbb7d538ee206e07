"""What every cloud provider offers the rest of cloudsync (the seed's provider abstraction).

A provider is a package under ``providers/`` plus one line in ``providers/registry.py``. It
brings everything the rest of cloudsync asks of it, as one ``ProviderSpec``:

- ``factory``: the ``CloudProvider`` below, built over an ``AccessGrant``. It lists media,
  describes the originals of one medium with fresh links, and checks its credentials cheaply.
- ``token_client``: its auth. The ``Authenticator`` (credentials.py, shared) loads the stored
  login, asks this client to renew it or to log in with a remembered password, and hands the
  provider a grant; tokens stay out of every payload.
- ``secret`` (a ``SecretLayout``): its secret layout: the login modes it accepts, how a grant
  travels in its requests (a Bearer header, a browser's cookies), what a person is told to do
  when the login is missing or refused, and the name the local cloud gives the secret.
- rotation: Secrets Manager's rotation renews the modes ``secret.renewable`` names through the
  same token client, and carries any other login over unchanged.
- ``rules``: its originals rule table (what counts as an original), each row tested by name;
  empty when ``originals`` is the whole story.
- ``secret.display_name``: how summaries, alerts, login messages and the archived objects'
  ``Source`` tag name it.

``list_media`` is implemented once here over ``fetch_pages``: deduplication by id across pages
(pages overlap while new media arrive), ``max_items``, and the stop rules, so a new provider
only says how to fetch one page.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

from ..credentials import AccessGrant, SecretLayout, TokenClient
from ..errors import ConfigurationError
from ..models import ListFilters, MediaItem, Selection, SourceFile
from ..settings import Settings

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

MAX_PAGES: Final = 100_000  # a source that never stops paging is a bug, not a big library
# Same rule as keys.archive_prefix: the name becomes the archive's top folder and a table key.
NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


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


class ProviderFactory(Protocol):
    """Builds the provider over a grant (usually the ``CloudProvider`` class itself)."""

    def __call__(
        self, *, settings: Settings, grant: AccessGrant, session: requests.Session | None
    ) -> CloudProvider: ...


class TokenClientFactory(Protocol):
    """Builds the provider's token client (usually its class): renewal and password login."""

    def __call__(self, settings: Settings, session: requests.Session | None = None) -> TokenClient:
        ...


@dataclass(frozen=True)
class ProviderSpec:
    """One provider as the catalog lists it (``providers/registry.py``): see the module doc."""

    name: str  # the archive's top folder, the tracker's key, the metrics' Provider dimension
    factory: ProviderFactory
    token_client: TokenClientFactory
    secret: SecretLayout
    rules: tuple[object, ...] = ()  # the originals rule table, each row named and tested

    @property
    def display_name(self) -> str:
        """How summaries, the pause alert and the objects' Source tag name it ("GoPro"); kept
        in the secret layout, with the login's messages the shared Authenticator reads."""
        return self.secret.display_name

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ConfigurationError(f"provider name {self.name!r} must match {NAME.pattern}")
        if self.secret.provider != self.name:
            raise ConfigurationError(
                f"provider {self.name!r}: its secret layout is {self.secret.provider!r}'s"
            )


def size_shortfall(expected: int, found: int) -> int:
    """Bytes the originals lack against ``Selection.expected_bytes`` (the listing's size),
    beyond its usual drift (a few KB after reprocessing): 0 when they account for it."""
    tolerance = max(256 * 1024, expected // 1000)
    return max(0, expected - found - tolerance)
