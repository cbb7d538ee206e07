"""A toy provider, as a real one is built: its own package and one registry line.

Everything a provider brings (providers/base.py) is here and nothing outside names it: its API
client (``api.py``), its token client and secret layout (``auth.py``). ``TOY`` is what a
registry line lists; the end-to-end test registers it with ``register_provider(TOY)`` (one line)
and archives a toy library through the local cloud (``server.py`` is the toy's cloud).
"""

from __future__ import annotations

from typing import Final

from cloudsync_core.providers import ProviderSpec

from .api import ToyProvider
from .auth import ENV_API_URL, LAYOUT, ToyTokenClient

__all__ = ["ENV_API_URL", "TOY", "ToyProvider", "ToyTokenClient"]

TOY: Final = ProviderSpec(
    name=ToyProvider.name, factory=ToyProvider, token_client=ToyTokenClient, secret=LAYOUT
)
