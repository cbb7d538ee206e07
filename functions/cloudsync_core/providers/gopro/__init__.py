"""GoPro, as a provider package: its API client, its originals rule table, its auth.

- ``api.py``: the ``CloudProvider`` over the web app's undocumented API (listing, download
  answers, the account check), with the account's refusals told apart from a medium's;
- ``originals.py``: ONE rule table deciding which files of a download answer are originals;
- ``auth.py``: the token client (``/v1/oauth2/token``) and the secret layout (oauth or the web
  app's cookies; the hints a person gets when the login needs them).

``GOPRO`` is what the catalog (``providers/registry.py``) lists.
"""

from __future__ import annotations

from typing import Final

from ..base import ProviderSpec
from .api import (
    ACCEPT,
    GoProProvider,
    format_range_time,
    parse_media_item,
    parse_time,
    select_originals,
)
from .auth import LAYOUT, GoProTokenClient
from .originals import RULES, chapter_filename, frame_filename

__all__ = [
    "ACCEPT",
    "GOPRO",
    "RULES",
    "GoProProvider",
    "GoProTokenClient",
    "chapter_filename",
    "format_range_time",
    "frame_filename",
    "parse_media_item",
    "parse_time",
    "select_originals",
]

GOPRO: Final = ProviderSpec(
    name=GoProProvider.name,
    factory=GoProProvider,
    token_client=GoProTokenClient,
    secret=LAYOUT,
    rules=RULES,
)
