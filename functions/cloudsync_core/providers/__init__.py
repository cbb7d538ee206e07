"""Providers by name: the catalog (``registry.py``) as everything else reads it.

``provider_spec(name)`` is what a provider brings (``base.ProviderSpec``), ``create_provider``
builds one over a grant, ``token_client`` builds its token client. Tests add a provider for their
own duration with ``register_provider(spec)`` (one line) and ``unregister_provider(name)``.
"""

from __future__ import annotations

import threading

import requests

from ..credentials import AccessGrant, TokenClient
from ..errors import ConfigurationError, UnknownProviderError
from ..settings import Settings
from .base import CloudProvider, Page, ProviderFactory, ProviderSpec, TokenClientFactory
from .registry import DEFAULT_PROVIDER, PROVIDERS

__all__ = [
    "DEFAULT_PROVIDER",
    "CloudProvider",
    "Page",
    "ProviderFactory",
    "ProviderSpec",
    "TokenClientFactory",
    "create_provider",
    "display_name",
    "provider_spec",
    "register_provider",
    "registered_providers",
    "token_client",
    "unregister_provider",
]

_registry: dict[str, ProviderSpec] = {spec.name: spec for spec in PROVIDERS}
_lock = threading.Lock()


def register_provider(spec: ProviderSpec, *, replace: bool = False) -> None:
    """Make ``spec`` available by its name (tests; the catalog lists the real ones).
    Registering another spec under a taken name needs ``replace=True``."""
    with _lock:
        known = _registry.get(spec.name)
        if known is not None and not replace and known != spec:
            raise ConfigurationError(f"provider {spec.name!r} is already registered")
        _registry[spec.name] = spec


def unregister_provider(name: str) -> None:
    """Forget ``name`` (tests)."""
    with _lock:
        _registry.pop(name, None)


def registered_providers() -> tuple[str, ...]:
    with _lock:
        return tuple(sorted(_registry))


def provider_spec(name: str) -> ProviderSpec:
    """What ``name`` brings; ``UnknownProviderError`` when no provider is registered so."""
    with _lock:
        spec = _registry.get(name)
        known = ", ".join(sorted(_registry)) or "none"
    if spec is None:
        raise UnknownProviderError(f"no provider is registered as {name!r} (known: {known})")
    return spec


def display_name(name: str) -> str:
    """How messages name a provider ("GoPro"); the bare name for one nobody registered, the
    default provider's for a record that names none (rows written before it was recorded)."""
    try:
        return provider_spec(name or DEFAULT_PROVIDER).display_name
    except UnknownProviderError:
        return name


def create_provider(
    name: str,
    *,
    settings: Settings,
    grant: AccessGrant,
    session: requests.Session | None = None,
) -> CloudProvider:
    """A provider instance for ``name``; ``UnknownProviderError`` when none is registered."""
    return provider_spec(name).factory(settings=settings, grant=grant, session=session)


def token_client(
    name: str, settings: Settings, session: requests.Session | None = None
) -> TokenClient:
    """The token client ``name`` brings (renewal, password login)."""
    return provider_spec(name).token_client(settings, session)

