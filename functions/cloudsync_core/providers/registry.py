"""The provider catalog: one line per provider, as ``cloudsync_defs/functions.py`` is for functions.

Everything that needs a provider reads this list through ``providers`` (``provider_spec``,
``create_provider``, ``token_client``): the lister and the workflow steps (``sync/source.py``),
rotation, the summary and pause alert, the CLI's login and the local cloud's secret name. Adding a
provider is its own package (``providers/<name>/``, bringing a ``ProviderSpec``: see
``providers/base.py``) plus one line below.
"""

from __future__ import annotations

from typing import Final

from .base import ProviderSpec
from .gopro import GOPRO

PROVIDERS: Final[tuple[ProviderSpec, ...]] = (
    GOPRO,
)

# The provider a stack runs when nothing names one (the schedule's event, secrets written before
# the provider was recorded in them).
DEFAULT_PROVIDER: Final = GOPRO.name
