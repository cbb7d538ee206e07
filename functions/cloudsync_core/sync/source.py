"""Opening the source: credentials from Secrets Manager, a fresh-enough token, a provider.

Which token client renews the login and which provider is built are the catalog's answer for the
provider's name (``providers/registry.py``): nothing here names a provider.

An account problem (a refused refresh, missing credentials, the API refusing the account) is
raised typed, with the AuthenticationFailure metric the alarm watches. It pauses the whole stack
with ONE alert saying what to do (``account.pause_stack``) where it ends: in the lister
(``account_guard``) or, for a workflow step, in the failure path that parks the medium. The
steps themselves need no right to write the table or publish.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import metrics
from ..credentials import AccessGrant, Authenticator, SecretStore
from ..errors import AccountProblemError
from ..http import new_session
from ..observability import MetricUnit, emit, register_secret
from ..providers import DEFAULT_PROVIDER, CloudProvider, create_provider, token_client
from ..services import Services
from .account import pause_stack


def authenticator(services: Services, provider: str = DEFAULT_PROVIDER) -> Authenticator:
    """The stack's secret, renewed by ``provider``'s own token client."""
    settings = services.settings
    settings.require("secret_id")
    store = SecretStore(services.secrets, settings.secret_id)
    return Authenticator(store, token_client(provider, settings, new_session(4)))


@contextmanager
def account_guard(services: Services, provider: str) -> Iterator[None]:
    """An account problem raised inside pauses the stack (one alert per pause), then goes on."""
    try:
        yield
    except AccountProblemError as e:
        pause_stack(services, provider, type(e).__name__, str(e))
        raise


def fresh_grant(services: Services, provider: str, min_valid_s: int) -> AccessGrant:
    """A grant valid for ``min_valid_s`` seconds, or a typed error saying what to do."""
    try:
        grant = authenticator(services, provider).ensure_fresh(min_valid_seconds=min_valid_s)
    except AccountProblemError:
        emit(metrics.AUTHENTICATION_FAILURE, 1, MetricUnit.Count, Provider=provider)
        raise
    for secret in grant.secrets():
        register_secret(secret)
    emit(metrics.AUTHENTICATION_SUCCESS, 1, MetricUnit.Count, Provider=provider)
    return grant


def open_provider(services: Services, name: str, min_valid_s: int = 60) -> CloudProvider:
    """A provider whose token is valid for at least ``min_valid_s`` seconds."""
    return create_provider(
        name,
        settings=services.settings,
        grant=fresh_grant(services, name, min_valid_s),
        session=new_session(services.settings.parallel_ranges),
    )


def authenticate(services: Services, provider: str = DEFAULT_PROVIDER) -> dict[str, Any]:
    """What the authenticate function returns: facts about the token, never the token."""
    fresh_grant(services, provider, min_valid_s=3 * 3600)
    return authenticator(services, provider).status()
