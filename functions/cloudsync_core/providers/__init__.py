"""The provider registry: a name -> a factory building a ``CloudProvider``.

Adding a provider touches nothing here: its module calls ``register_provider("name", Factory)``
(the factory is usually the class itself, taking ``settings``, ``grant`` and ``session`` by
keyword). GoPro is registered below.
"""

from __future__ import annotations

import re
import threading
from typing import Protocol

import requests

from ..credentials import AccessGrant
from ..errors import ConfigurationError, UnknownProviderError
from ..settings import Settings
from .base import CloudProvider, Page

__all__ = [
    "CloudProvider",
    "Page",
    "ProviderFactory",
    "create_provider",
    "register_provider",
    "registered_providers",
]

# Same rule as keys.archive_prefix: the name becomes the archive's top folder and a table key.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class ProviderFactory(Protocol):
    def __call__(
        self, *, settings: Settings, grant: AccessGrant, session: requests.Session | None
    ) -> CloudProvider: ...


_registry: dict[str, ProviderFactory] = {}
_lock = threading.Lock()


def register_provider(name: str, factory: ProviderFactory, *, replace: bool = False) -> None:
    """Make ``name`` available to ``create_provider``. Re-registering needs ``replace=True``."""
    if not _NAME.match(name):
        raise ConfigurationError(f"provider name {name!r} must match {_NAME.pattern}")
    with _lock:
        if name in _registry and not replace and _registry[name] is not factory:
            raise ConfigurationError(f"provider {name!r} is already registered")
        _registry[name] = factory


def unregister_provider(name: str) -> None:
    """Forget ``name`` (tests)."""
    with _lock:
        _registry.pop(name, None)


def registered_providers() -> tuple[str, ...]:
    with _lock:
        return tuple(sorted(_registry))


def create_provider(
    name: str,
    *,
    settings: Settings,
    grant: AccessGrant,
    session: requests.Session | None = None,
) -> CloudProvider:
    """A provider instance for ``name``; ``UnknownProviderError`` when none is registered."""
    with _lock:
        factory = _registry.get(name)
    if factory is None:
        known = ", ".join(sorted(_registry)) or "none"
        raise UnknownProviderError(f"no provider is registered as {name!r} (known: {known})")
    return factory(settings=settings, grant=grant, session=session)


from .gopro import GoProProvider  # noqa: E402 - registers itself after the registry exists

register_provider(GoProProvider.name, GoProProvider)
