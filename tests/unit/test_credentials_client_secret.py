"""The OAuth client secret lives in the credentials secret, never in a function's environment."""

from __future__ import annotations

from typing import Any

from cloudsync_core.credentials import Authenticator, StoredCredentials
from cloudsync_core.providers.gopro.auth import LAYOUT
from tests.unit.auth_doubles import MemoryStore


class RecordingTokens:
    layout = LAYOUT
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def refresh(self, credentials: StoredCredentials) -> StoredCredentials:
        self.seen.append(credentials.client_secret)
        return StoredCredentials(provider="gopro", mode="oauth", access_token="new-access",
                                 refresh_token="new-refresh", expires_at=10_000.0)


def test_the_client_secret_survives_json_and_renewal_but_never_a_repr() -> None:
    creds = StoredCredentials(provider="gopro", mode="oauth", access_token="old-access",
                              refresh_token="old-refresh", expires_at=0.0,
                              client_secret="web-app-secret")
    assert StoredCredentials.from_json(creds.to_json()) == creds
    assert "web-app-secret" not in repr(creds)
    store, tokens = MemoryStore(creds), RecordingTokens()
    Authenticator(store, tokens, clock=lambda: 100.0).ensure_fresh()
    assert tokens.seen == ["web-app-secret"]
    assert store.creds.client_secret == "web-app-secret"
    assert store.creds.access_token == "new-access"
