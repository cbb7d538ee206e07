"""Opening the source: credentials from Secrets Manager, a fresh-enough token, a provider.

An authentication failure a person must fix is published to the alerts topic at once, with
what to do, besides the AuthenticationFailure metric the alarm watches.
"""

from __future__ import annotations

from typing import Any

from ..credentials import AccessGrant, Authenticator, GoProTokenClient, SecretStore
from ..errors import AuthError
from ..http import new_session
from ..observability import MetricUnit, emit, logger, register_secret
from ..providers import CloudProvider, create_provider
from ..services import Services


def authenticator(services: Services) -> Authenticator:
    settings = services.settings
    settings.require("secret_id")
    store = SecretStore(services.secrets, settings.secret_id)
    return Authenticator(store, GoProTokenClient(settings, new_session(4)))


def _alert(services: Services, provider: str, error: AuthError) -> None:
    if not services.settings.topic_arn:
        return
    try:
        services.sns.publish(
            TopicArn=services.settings.topic_arn,
            Subject="GoPro Sync needs you: log in again",
            Message=f"cloudsync cannot reach your {provider} library: {error}",
        )
    except Exception:  # noqa: BLE001 (the alarm on AuthenticationFailure still fires)
        logger.exception("could not publish the authentication alert")


def fresh_grant(services: Services, provider: str, min_valid_s: int) -> AccessGrant:
    """A grant valid for ``min_valid_s`` seconds, or a typed error (alerted) saying what to do."""
    try:
        grant = authenticator(services).ensure_fresh(min_valid_seconds=min_valid_s)
    except AuthError as e:
        emit("AuthenticationFailure", 1, MetricUnit.Count, Provider=provider)
        _alert(services, provider, e)
        raise
    for secret in grant.secrets():
        register_secret(secret)
    emit("AuthenticationSuccess", 1, MetricUnit.Count, Provider=provider)
    return grant


def open_provider(services: Services, name: str, min_valid_s: int = 60) -> CloudProvider:
    """A provider whose token is valid for at least ``min_valid_s`` seconds."""
    return create_provider(
        name,
        settings=services.settings,
        grant=fresh_grant(services, name, min_valid_s),
        session=new_session(services.settings.parallel_ranges),
    )


def authenticate(services: Services, provider: str = "gopro") -> dict[str, Any]:
    """What the authenticate function returns: facts about the token, never the token."""
    fresh_grant(services, provider, min_valid_s=3 * 3600)
    return authenticator(services).status()
