"""GoPro's half of the login: its token client and its secret layout (gopro-api.md).

- ``oauth``: a bearer access token plus a refresh token, renewed at ``/v1/oauth2/token`` with the
  web app's client id and secret (settings ``GOPRO_CLIENT_ID`` / ``GOPRO_CLIENT_SECRET``, or the
  secret stored by ``cloudsync login --client-secret``). GoPro blacklists refresh tokens now and
  then; a remembered password logs in again (the shared ``Authenticator`` decides when).
- ``cookie``: the web app's ``gp_access_token`` / ``gp_user_id`` cookies, sent with a browser's
  User-Agent and the web app's Origin/Referer, as every working cookie client does; cannot be
  renewed (``cloudsync login --cookie-token``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Final

import requests

from ...credentials import Channel, Fields, SecretLayout, StoredCredentials
from ...errors import AuthError, ReauthenticationRequiredError, SourceRequestError
from ...http import HttpRetryPolicy, new_session, request_with_retries
from ...settings import Settings

OAUTH_RELOGIN_HINT: Final = (
    "log in again: cloudsync login --username ... --password-stdin --remember (the password "
    "is kept only in the stack's secret, so a revoked token renews itself), or cloudsync login "
    "--access-token ... --refresh-token ..."
)
COOKIE_RELOGIN_HINT: Final = (
    "copy gp_access_token and gp_user_id from the GoPro web app's cookies and run: "
    "cloudsync login --cookie-token ... --user-id ..."
)
# The pause alert's "what to do" (sync/account.py).
REFUSED_STEPS: Final = (
    "Check that you can open your library at https://gopro.com/media-library/ in a browser "
    "(GoPro answers 403 both to bot blocking, which passes, and to a locked account). The next "
    "nightly run checks the account first and resumes by itself once GoPro answers again; "
    "`cloudsync sync` checks now. If it keeps refusing, log in again as below."
)
LOGIN_STEPS: Final = (
    "Log in again:\n"
    "  cloudsync login --username YOU@EXAMPLE.COM --password-stdin --remember\n"
    "(--remember keeps the password only in the stack's secret, so that the next revoked "
    "token renews itself without you), or, for accounts with two-factor login, copy the web "
    "app's gp_access_token and gp_user_id cookies:\n"
    "  cloudsync login --cookie-token ... --user-id ..."
)
# The scope the web app asks for (dustin/gopro-plus).
GOPRO_SCOPE: Final = "root root:channels public me upload media_library_beta live"
TOKEN_PATH: Final = "/v1/oauth2/token"  # noqa: S105 - a path, not a secret
# Cookie mode looks like the web app, as every working cookie client does (gopro-api.md).
BROWSER_USER_AGENT: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
WEB_APP_ORIGIN: Final = "https://gopro.com"
WEB_APP_REFERER: Final = "https://gopro.com/"
# OAuth error codes that mean "this refresh token is dead", not "this client is unknown".
_CLIENT_CODES: Final = frozenset({"invalid_client", "unauthorized_client"})
_SAFE_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def present(creds: StoredCredentials, channel: Channel, headers: Fields, cookies: Fields) -> None:
    """oauth: ``Authorization: Bearer``. cookie: the ``gp_access_token`` / ``gp_user_id``
    cookies (or, once the cookie was refused, the token as a Bearer header), with the web
    app's User-Agent, Origin and Referer."""
    if creds.mode == "oauth":
        headers["Authorization"] = f"Bearer {creds.access_token}"
        return
    headers.update(
        {"User-Agent": BROWSER_USER_AGENT, "Origin": WEB_APP_ORIGIN, "Referer": WEB_APP_REFERER}
    )
    if channel == "bearer":
        headers["Authorization"] = f"Bearer {creds.access_token}"
        return
    headers.pop("Authorization", None)
    cookies["gp_access_token"] = creds.access_token
    if creds.user_id:
        cookies["gp_user_id"] = creds.user_id


LAYOUT: Final = SecretLayout(
    provider="gopro",
    display_name="GoPro",
    modes=("oauth", "cookie"),
    relogin_hints={"oauth": OAUTH_RELOGIN_HINT, "cookie": COOKIE_RELOGIN_HINT},
    present=present,
    renewable=frozenset({"oauth"}),
    login_steps=LOGIN_STEPS,
    refused_steps=REFUSED_STEPS,
    secret_name="gopro-credentials",  # noqa: S106 - a name, not a secret
)


class GoProTokenClient:
    """``POST /v1/oauth2/token``: refresh (the Lambdas) and password login (the CLI).

    Form-encoded like the public clients (dustin/gopro-plus), with the web app's client id and
    secret from the settings.
    """

    provider: Final = "gopro"
    layout: Final = LAYOUT

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        *,
        retry: HttpRetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._session = session or new_session(2)
        # short: the authenticate function has 30 s in all
        self._retry = retry or HttpRetryPolicy(attempts=3, cap=4.0, max_retry_after=10.0)
        self._clock = clock
        self._url = settings.gopro_api_url.rstrip("/") + TOKEN_PATH

    def _post(
        self, form: dict[str, str], what: str, client_secret: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        if self._settings.gopro_client_id:
            form["client_id"] = self._settings.gopro_client_id
        secret = self._settings.gopro_client_secret or client_secret
        if secret:
            form["client_secret"] = secret
        response = request_with_retries(
            self._session,
            "POST",
            self._url,
            policy=self._retry,
            what=what,
            idempotent=False,  # a refresh may rotate the refresh token: never send it twice
            data=form,
            headers={"Accept": "application/json"},
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        finally:
            response.close()
        return response.status_code, body if isinstance(body, dict) else {}

    def _refused(self, status: int, body: dict[str, Any]) -> str:
        """Why, from the answer's OAuth error code. The client id is blamed only when GoPro
        says the client is the problem (a blacklisted token is not a missing client id)."""
        code = body.get("error")
        why = f"HTTP {status}"
        if isinstance(code, str) and _SAFE_CODE.match(code):
            why = f"{code}, HTTP {status}"
            if code in _CLIENT_CODES and not self._settings.gopro_client_id:
                why += "; the stack sets no GoPro client id (config goproClientId)"
        return why

    def _answer(
        self, body: dict[str, Any], previous: StoredCredentials | None
    ) -> StoredCredentials:
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError("the GoPro token endpoint answered without an access token")
        refresh = body.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            refresh = previous.refresh_token if previous else None
        now = self._clock()
        expires_in = body.get("expires_in")
        expires_at: float | None = None
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            expires_at = now + float(expires_in)
        elif isinstance(expires_in, str) and expires_in.strip().isdigit():
            expires_at = now + float(expires_in.strip())
        owner = body.get("resource_owner_id") or body.get("user_id")
        user_id = previous.user_id if previous and previous.user_id else None
        if user_id is None and isinstance(owner, str | int) and not isinstance(owner, bool):
            user_id = str(owner)
        return StoredCredentials(
            provider=self.provider,
            mode="oauth",
            access_token=token,
            refresh_token=refresh,
            user_id=user_id,
            expires_at=expires_at,
            updated_at=now,
        )

    def refresh(self, credentials: StoredCredentials) -> StoredCredentials:
        if credentials.mode != "oauth" or not credentials.refresh_token:
            raise ReauthenticationRequiredError(
                LAYOUT.relogin_message(credentials, "no refresh token is stored")
            )
        status, body = self._post(
            {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token},
            "GoPro token refresh",
            credentials.client_secret,
        )
        if status in (400, 401, 403):
            raise ReauthenticationRequiredError(
                f"GoPro refused to renew the access token ({self._refused(status, body)}): "
                f"{OAUTH_RELOGIN_HINT}"
            )
        if status != 200:
            raise SourceRequestError(f"GoPro token refresh answered HTTP {status}")
        return self._answer(body, credentials)

    def password_login(
        self, username: str, password: str, client_secret: str | None = None
    ) -> StoredCredentials:
        """The OAuth password grant (accounts without two-factor login)."""
        status, body = self._post(
            {
                "grant_type": "password",
                "username": username,
                "password": password,
                "scope": GOPRO_SCOPE,
            },
            "GoPro login",
            client_secret,
        )
        if status in (400, 401, 403):
            raise AuthError(
                f"GoPro refused the login ({self._refused(status, body)}); accounts with "
                "two-factor login must use: cloudsync login --cookie-token ... --user-id ..."
            )
        if status != 200:
            raise SourceRequestError(f"GoPro login answered HTTP {status}")
        return self._answer(body, None)
