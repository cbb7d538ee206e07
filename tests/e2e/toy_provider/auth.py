"""The toy's half of the login: OAuth tokens renewed at its ``/oauth/token``, sent as Bearer."""

from __future__ import annotations

import os
import time
from typing import Final

import requests

from cloudsync_core.credentials import SecretLayout, StoredCredentials
from cloudsync_core.errors import AuthError, ReauthenticationRequiredError, SourceRequestError
from cloudsync_core.http import new_session
from cloudsync_core.settings import Settings

ENV_API_URL: Final = "TOY_API_URL"  # the toy's own setting, set by the stack like GOPRO_API_URL
TIMEOUT: Final = (2.0, 10.0)

LAYOUT: Final = SecretLayout(
    provider="toy",
    display_name="ToyCloud",
    modes=("oauth",),
    relogin_hints={"oauth": "log in to ToyCloud again"},
    secret_name="toy-credentials",
)


class ToyTokenClient:
    """Refreshes a toy login; the toy has no password login."""

    layout: Final = LAYOUT

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self._url = os.environ[ENV_API_URL].rstrip("/") + "/oauth/token"
        self._session = session or new_session(2)

    def refresh(self, credentials: StoredCredentials) -> StoredCredentials:
        response = self._session.post(
            self._url, timeout=TIMEOUT,
            data={"grant_type": "refresh_token", "refresh_token": credentials.refresh_token or ""},
        )
        with response:
            if response.status_code in (400, 401):
                raise ReauthenticationRequiredError(LAYOUT.relogin_message(credentials))
            if response.status_code != 200:
                raise SourceRequestError(f"toy token refresh answered {response.status_code}")
            body = response.json()
        now = time.time()
        return StoredCredentials(
            provider="toy", mode="oauth", access_token=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]),
            expires_at=now + float(body["expires_in"]), updated_at=now,
        )

    def password_login(
        self, username: str, password: str, client_secret: str | None = None
    ) -> StoredCredentials:
        raise AuthError("ToyCloud has no password login")
