"""Both auth modes of gopro-api.md: OAuth bearer tokens and browser cookies.

OAuth access tokens are accepted only as ``Authorization: Bearer``; browser tokens by default only
as the ``gp_access_token`` + ``gp_user_id`` cookies (as a header they are refused, like the real
API since late 2024). ``browser_channels`` says which ways a browser token is accepted (rclone's
docs have users paste it as a Bearer header: ``{"bearer"}`` plays an API that refuses the
cookie). ``require_browser_agent`` refuses a browser token sent without a browser's User-Agent
with 403, as bot blocking would. Refresh tokens can be blacklisted (``token_blacklisted``), and
``revoke_all`` plays a revoked login: every refresh token blacklisted, every access token dead.
Expiry uses the simulator's clock so tests can jump ahead instead of sleeping.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BrowserToken:
    access_token: str  # the gp_access_token cookie
    user_id: str  # the gp_user_id cookie
    expires_at: float

    @property
    def cookies(self) -> dict[str, str]:
        return {"gp_access_token": self.access_token, "gp_user_id": self.user_id}

    @property
    def cookie_header(self) -> str:
        return f"gp_access_token={self.access_token}; gp_user_id={self.user_id}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwe_like() -> str:
    # Five dot-separated parts like a compact JWE, so clients that sniff the shape are happy.
    header = _b64(json.dumps({"alg": "dir", "enc": "A256GCM"}).encode())
    return ".".join([header, "", _b64(secrets.token_bytes(12)), _b64(secrets.token_bytes(48)),
                     _b64(secrets.token_bytes(16))])


class TokenError(Exception):
    """A token-endpoint refusal: HTTP status + OAuth error code."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class AuthStore:
    def __init__(
        self,
        clock: Callable[[], float],
        username: str,
        password: str,
        user_id: str,
        token_lifetime_s: float,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        self._clock = clock
        self.username = username
        self.password = password
        self.user_id = user_id
        self.token_lifetime_s = token_lifetime_s
        self.client_id = client_id  # None: any client_id is accepted
        self.client_secret = client_secret
        self.rotate_refresh_tokens = False  # True: a used refresh token stops working
        self.browser_channels: set[str] = {"cookie"}  # how a browser token may travel
        self.require_browser_agent = False  # True: browser tokens need a browser User-Agent
        self._lock = threading.Lock()
        self._access: dict[str, float] = {}  # OAuth access token -> expiry epoch
        self._refresh: set[str] = set()
        self._blacklisted: set[str] = set()
        self._browser: dict[str, float] = {}  # gp_access_token -> expiry epoch

    # ---- issuing ------------------------------------------------------------------------
    def issue_oauth(self) -> dict[str, Any]:
        access = "sim-at-" + secrets.token_urlsafe(24)
        refresh = "sim-rt-" + secrets.token_urlsafe(24)
        with self._lock:
            self._access[access] = self._clock() + self.token_lifetime_s
            self._refresh.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(self.token_lifetime_s),
            "token_type": "Bearer",
            "resource_owner_id": self.user_id,
            "scope": "root root:channels public me upload media_library_beta live",
        }

    def issue_browser_token(self, lifetime_s: float | None = None) -> BrowserToken:
        token = _jwe_like()
        expires = self._clock() + (self.token_lifetime_s if lifetime_s is None else lifetime_s)
        with self._lock:
            self._browser[token] = expires
        return BrowserToken(token, self.user_id, expires)

    def grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The token endpoint's logic; raises TokenError on refusal."""
        if self.client_id is not None and form.get("client_id") != self.client_id:
            raise TokenError(401, "invalid_client", "unknown client")
        if self.client_secret is not None and form.get("client_secret") != self.client_secret:
            raise TokenError(401, "invalid_client", "unknown client")
        grant_type = form.get("grant_type")
        if grant_type == "password":
            if form.get("username") != self.username or form.get("password") != self.password:
                raise TokenError(400, "invalid_grant", "wrong username or password")
            return self.issue_oauth()
        if grant_type == "refresh_token":
            token = form.get("refresh_token", "")
            with self._lock:
                if token in self._blacklisted:
                    raise TokenError(400, "token_blacklisted", "refresh token was revoked")
                if token not in self._refresh:
                    raise TokenError(400, "invalid_grant", "unknown refresh token")
                if self.rotate_refresh_tokens:
                    self._refresh.discard(token)
                    self._blacklisted.add(token)
            return self.issue_oauth()
        raise TokenError(400, "unsupported_grant_type", f"grant_type {grant_type!r}")

    # ---- revoking -----------------------------------------------------------------------
    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far now fails with ``token_blacklisted``."""
        with self._lock:
            self._blacklisted |= self._refresh
            self._refresh.clear()

    def revoke_all(self) -> None:
        """A revoked login: refresh tokens blacklisted and access tokens expired, all at once."""
        self.revoke_refresh_tokens()
        self.expire_access_tokens()

    def expire_access_tokens(self) -> None:
        """Every access token (OAuth and browser) issued so far is now expired."""
        with self._lock:
            past = self._clock() - 1
            self._access = dict.fromkeys(self._access, past)
            self._browser = dict.fromkeys(self._browser, past)

    # ---- checking -----------------------------------------------------------------------
    def check(
        self, authorization: str | None, cookies: Mapping[str, str], user_agent: str | None = None
    ) -> str | None:
        """None when the request is authorized, else why not (for the 401 body)."""
        refused = self.authorize(authorization, cookies, user_agent)
        return None if refused is None else refused[1]

    def authorize(
        self, authorization: str | None, cookies: Mapping[str, str], user_agent: str | None = None
    ) -> tuple[int, str] | None:
        """None when the request is authorized, else (401 or 403, why not)."""
        refused = self._credentials_refused(authorization, cookies)
        if refused is not None:
            return 401, refused
        browser = cookies.get("gp_access_token") or _bearer(authorization)
        with self._lock:
            is_browser = browser is not None and browser in self._browser
        if is_browser and self.require_browser_agent and "Mozilla/" not in (user_agent or ""):
            return 403, "request blocked (not a browser)"
        return None

    def _credentials_refused(
        self, authorization: str | None, cookies: Mapping[str, str]
    ) -> str | None:
        now = self._clock()
        reason = "no credentials"
        with self._lock:
            if authorization:
                scheme, _, token = authorization.partition(" ")
                token = token.strip()
                if scheme.lower() != "bearer":
                    reason = "unsupported authorization scheme"
                elif token in self._browser:
                    if "bearer" not in self.browser_channels:
                        reason = "browser tokens must be sent as cookies"
                    elif self._browser[token] <= now:
                        reason = "gp_access_token expired"
                    else:
                        return None
                elif token not in self._access:
                    reason = "unknown access token"
                elif self._access[token] <= now:
                    reason = "access token expired"
                else:
                    return None
            cookie_token = cookies.get("gp_access_token")
            if cookie_token is not None:
                if cookie_token in self._browser and "cookie" not in self.browser_channels:
                    reason = "cookie authentication is not accepted"
                elif cookie_token not in self._browser:
                    reason = "unknown gp_access_token cookie"
                elif self._browser[cookie_token] <= now:
                    reason = "gp_access_token expired"
                elif cookies.get("gp_user_id") != self.user_id:
                    reason = "gp_user_id cookie missing or wrong"
                else:
                    return None
        return reason


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
