"""Provider credentials: stored in Secrets Manager, renewed here, handed to providers as a grant.

The seed's Media Authenticator (Component 1), reshaped: tokens never leave this module's objects
for a workflow payload or a log line. ``Authenticator.status()`` is what the authenticate Lambda
returns (facts, no secrets); the lister and the transfer functions call ``ensure_fresh()``
themselves and hand the ``AccessGrant`` to their provider.

Two modes (gopro-api.md):
- ``oauth``: a bearer access token plus a refresh token; renewed at ``/v1/oauth2/token``. GoPro
  blacklists refresh tokens now and then; when the operator chose to remember the password
  (``cloudsync login --username U --password-stdin --remember``, kept only in the secret), a
  refused refresh is answered by logging in again with it, unattended, as rclone does.
- ``cookie``: the web app's ``gp_access_token`` / ``gp_user_id`` cookies, sent with a browser's
  User-Agent and the web app's Origin/Referer; cannot be renewed, so an expired one means a person
  must copy fresh ones (``cloudsync login --cookie-token``). When GoPro refuses the cookie, the
  same token is tried once as a Bearer header, and whichever works is kept for the invocation.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import requests
from botocore.exceptions import BotoCoreError, ClientError

from .aws import ACCESS_CODES, error_code, is_transient, translate
from .errors import (
    AuthError,
    ConfigurationError,
    CredentialsMissingError,
    ReauthenticationRequiredError,
    SourceRequestError,
)
from .http import HttpRetryPolicy, new_session, request_with_retries
from .settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

log = logging.getLogger(__name__)

Mode = Literal["oauth", "cookie"]
Channel = Literal["cookie", "bearer"]
MODES: Final[tuple[Mode, ...]] = ("oauth", "cookie")

LOGIN_HINT: Final = "run `cloudsync login` to store GoPro credentials"
OAUTH_RELOGIN_HINT: Final = (
    "log in again: cloudsync login --username ... --password-stdin --remember (the password "
    "is kept only in the stack's secret, so a revoked token renews itself), or cloudsync login "
    "--access-token ... --refresh-token ..."
)
COOKIE_RELOGIN_HINT: Final = (
    "copy gp_access_token and gp_user_id from the GoPro web app's cookies and run: "
    "cloudsync login --cookie-token ... --user-id ..."
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


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StoredCredentials:
    """What the secret holds. ``repr``/``str`` never show a token."""

    provider: str
    mode: Mode
    access_token: str
    refresh_token: str | None = None
    user_id: str | None = None
    expires_at: float | None = None  # epoch seconds; None: unknown
    updated_at: float = 0.0  # epoch seconds of the last write
    # The web app's OAuth client secret, kept here rather than in a function's environment.
    client_secret: str | None = None
    # Remembered only with `cloudsync login --remember`: a refused refresh logs in again.
    username: str | None = None
    password: str | None = None

    @property
    def can_relogin(self) -> bool:
        return self.mode == "oauth" and bool(self.username) and bool(self.password)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")

    def __repr__(self) -> str:
        return (
            f"StoredCredentials(provider={self.provider!r}, mode={self.mode!r}, "
            f"user_id={self.user_id!r}, expires_at={_iso(self.expires_at)!r}, "
            f"updated_at={_iso(self.updated_at)!r}, access_token=<hidden>, "
            f"refresh_token={'<hidden>' if self.refresh_token else None}, "
            f"password={'<hidden>' if self.password else None})"
        )

    __str__ = __repr__

    def to_json(self) -> str:
        return json.dumps(
            {
                "provider": self.provider,
                "mode": self.mode,
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "user_id": self.user_id,
                "expires_at": self.expires_at,
                "updated_at": self.updated_at,
                "client_secret": self.client_secret,
                "username": self.username,
                "password": self.password,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes | None) -> StoredCredentials:
        """Parse the secret. Anything unusable is ``CredentialsMissingError`` (never echoing it)."""

        def bad(why: str) -> CredentialsMissingError:
            return CredentialsMissingError(
                f"the stored credentials are unusable ({why}): {LOGIN_HINT}"
            )

        if text is None or (isinstance(text, str | bytes) and not text.strip()):
            raise bad("empty")
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise bad("not JSON") from None
        if not isinstance(data, dict):
            raise bad("not a JSON object")
        token = data.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise bad("no access_token")
        refresh = data.get("refresh_token")
        refresh = refresh if isinstance(refresh, str) and refresh.strip() else None
        mode = data.get("mode")
        if mode is None:
            mode = "oauth" if refresh else "cookie"
        if mode not in MODES:
            raise bad("mode is neither 'oauth' nor 'cookie'")
        provider = data.get("provider") or "gopro"
        if not isinstance(provider, str):
            raise bad("provider is not a string")
        client_secret = data.get("client_secret")
        user_id = data.get("user_id")
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)
        if not isinstance(user_id, str) or not user_id.strip():
            user_id = None
        return cls(
            provider=provider,
            mode=mode,
            access_token=token.strip(),
            refresh_token=refresh.strip() if refresh else None,
            user_id=user_id.strip() if user_id else None,
            expires_at=_epoch(data.get("expires_at")),
            updated_at=_epoch(data.get("updated_at")) or 0.0,
            client_secret=client_secret if isinstance(client_secret, str) and client_secret
            else None,
            username=_nonempty(data.get("username")),
            password=_nonempty(data.get("password"), strip=False),
        )


def _nonempty(value: object, *, strip: bool = True) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip() if strip else value


def _epoch(value: object) -> float | None:
    """An epoch time from a number or an ISO-8601 string; None when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value == value and abs(value) < 1e11 else None
    if isinstance(value, str) and value.strip():
        try:
            when = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    return None


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (3 parts), read WITHOUT verifying anything; None otherwise.

    A JWE (5 parts) or an opaque token has no readable expiry.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(claims, dict):
        return None
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


# --- Secrets Manager ------------------------------------------------------------------------

class SecretStore:
    """One secret holding one ``StoredCredentials`` as JSON."""

    def __init__(self, client: SecretsManagerClient, secret_id: str) -> None:
        if not secret_id:
            raise ConfigurationError("no secret id is configured (CLOUDSYNC_SECRET_ID)")
        self._client = client
        self.secret_id = secret_id

    def _translate(self, e: ClientError | BotoCoreError, action: str) -> Exception:
        """Two answers mean something here: no secret yet (nobody logged in) and a role or key
        policy that forbids it (a deployment fault to fix); the rest is ``aws.translate``."""
        where = f"{action} secret {self.secret_id!r}"
        if isinstance(e, ClientError) and not is_transient(e):
            code = error_code(e)
            if code == "ResourceNotFoundException":
                return CredentialsMissingError(f"{where}: no credentials are stored: {LOGIN_HINT}")
            if code in ACCESS_CODES:
                return ConfigurationError(
                    f"{where}: access denied ({code}); "
                    "check this function's role and the key policy"
                )
        return translate(e, where)

    def load(self) -> StoredCredentials:
        try:
            answer = self._client.get_secret_value(SecretId=self.secret_id)
        except (ClientError, BotoCoreError) as e:
            raise self._translate(e, "reading") from e
        text = answer.get("SecretString")
        if text is None:
            binary = answer.get("SecretBinary")
            if not binary:
                raise CredentialsMissingError(
                    f"secret {self.secret_id!r} holds no value: {LOGIN_HINT}"
                )
            return StoredCredentials.from_json(binary)
        return StoredCredentials.from_json(text)

    def save(self, credentials: StoredCredentials, *, create_missing: bool = False) -> None:
        """Write a new version. ``create_missing`` creates the secret (the CLI's first login)."""
        body = credentials.to_json()
        try:
            self._client.put_secret_value(SecretId=self.secret_id, SecretString=body)
        except ClientError as e:
            if not (create_missing and error_code(e) == "ResourceNotFoundException"):
                raise self._translate(e, "writing") from e
            try:
                self._client.create_secret(Name=self.secret_id, SecretString=body)
            except (ClientError, BotoCoreError) as e2:
                raise self._translate(e2, "creating") from e2
        except BotoCoreError as e:
            raise self._translate(e, "writing") from e


class CredentialStore(Protocol):
    def load(self) -> StoredCredentials: ...

    def save(self, credentials: StoredCredentials) -> None: ...


# --- the grant providers use ----------------------------------------------------------------


Renewer = Callable[[StoredCredentials], StoredCredentials]


class AccessGrant:
    """Valid credentials for one provider, as providers use them: ``apply`` and ``renew``.

    Thread-safe: many threads may apply it; when several see a 401 at once, one renews and the
    others reuse its result (pass the generation ``apply`` returned to ``renew``).
    """

    def __init__(self, credentials: StoredCredentials, renewer: Renewer | None = None) -> None:
        self._credentials = credentials
        self._renewer = renewer
        self._lock = threading.Lock()
        self._generation = 0
        self._held: list[str] = []
        # cookie mode: how the token travels ("cookie" first; "bearer" once the cookie was
        # refused), whether that channel has been seen working, and whether bearer was tried
        self._channel: Channel = "cookie"
        self._proven = False
        self._bearer_tried = False
        self._remember(credentials)

    def _remember(self, creds: StoredCredentials) -> None:
        for secret in (creds.access_token, creds.refresh_token, creds.password):
            if secret and secret not in self._held:
                self._held.append(secret)

    def secrets(self) -> tuple[str, ...]:
        """Every token this grant has held (for log redaction); never log these."""
        with self._lock:
            return tuple(self._held)

    def __repr__(self) -> str:
        return f"AccessGrant({self._credentials!r}, generation={self._generation})"

    __str__ = __repr__

    @property
    def provider(self) -> str:
        return self._credentials.provider

    @property
    def mode(self) -> Mode:
        return self._credentials.mode

    @property
    def user_id(self) -> str | None:
        return self._credentials.user_id

    @property
    def expires_at(self) -> float | None:
        return self._credentials.expires_at

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def channel(self) -> Channel:
        """How the token travels: always "bearer" for oauth; "cookie" or "bearer" for cookie."""
        with self._lock:
            return "bearer" if self._credentials.mode == "oauth" else self._channel

    def apply(self, headers: MutableMapping[str, str], cookies: MutableMapping[str, str]) -> int:
        """Put the credentials where the mode wants them; returns the generation applied.

        oauth: ``Authorization: Bearer``. cookie: the ``gp_access_token`` / ``gp_user_id``
        cookies (or, once the cookie was refused, the token as a Bearer header), with the web
        app's User-Agent, Origin and Referer.
        """
        with self._lock:
            creds, generation, channel = self._credentials, self._generation, self._channel
        if creds.mode == "oauth":
            headers["Authorization"] = f"Bearer {creds.access_token}"
            return generation
        headers.update(
            {"User-Agent": BROWSER_USER_AGENT, "Origin": WEB_APP_ORIGIN, "Referer": WEB_APP_REFERER}
        )
        if channel == "bearer":
            headers["Authorization"] = f"Bearer {creds.access_token}"
            return generation
        headers.pop("Authorization", None)
        cookies["gp_access_token"] = creds.access_token
        if creds.user_id:
            cookies["gp_user_id"] = creds.user_id
        return generation

    def refused(self, channel: Channel) -> bool:
        """The source refused a request sent over ``channel`` (401/403). True when another way
        is worth one try at once: the cookie refused, the token as a Bearer header (once per
        grant); a bearer trial refused, back to the cookie."""
        with self._lock:
            if self._credentials.mode == "oauth" or channel != self._channel or self._proven:
                return False
            if channel == "cookie" and not self._bearer_tried:
                self._channel, self._bearer_tried = "bearer", True
                return True
            if channel == "bearer":
                self._channel = "cookie"
                return True
            return False

    def accepted(self, channel: Channel) -> None:
        """A request over ``channel`` succeeded: keep it for the rest of this invocation."""
        with self._lock:
            if channel == self._channel and not self._proven:
                self._proven = True
                if self._credentials.mode == "cookie":
                    log.info("GoPro accepts the browser token as %s", channel)

    def renew(self, seen_generation: int | None = None) -> None:
        """Get new credentials after a 401. One renewal at a time; if another thread already
        renewed since ``seen_generation``, this returns at once. Raises
        ``ReauthenticationRequiredError`` when nothing can renew them."""
        with self._lock:
            if seen_generation is not None and seen_generation != self._generation:
                return
            if self._renewer is None:
                raise ReauthenticationRequiredError(_relogin_message(self._credentials))
            self._credentials = self._renewer(self._credentials)
            self._remember(self._credentials)
            self._generation += 1

    def status(self, now: float | None = None) -> dict[str, Any]:
        return _status(self._credentials, time.time() if now is None else now)


def _relogin_message(creds: StoredCredentials, why: str = "") -> str:
    hint = OAUTH_RELOGIN_HINT if creds.mode == "oauth" else COOKIE_RELOGIN_HINT
    prefix = f"the {creds.provider} credentials cannot be renewed"
    return f"{prefix}{f' ({why})' if why else ''}: {hint}"


def _expiry(creds: StoredCredentials) -> float | None:
    if creds.mode == "cookie":
        exp = jwt_expiry(creds.access_token)
        if exp is not None:
            return exp
    return creds.expires_at


def _status(creds: StoredCredentials, now: float) -> dict[str, Any]:
    expires = _expiry(creds)
    return {
        "provider": creds.provider,
        "mode": creds.mode,
        "user_id": creds.user_id,
        "expires_at": _iso(expires),
        "seconds_left": None if expires is None else int(expires - now),
        "password_remembered": creds.can_relogin,
    }


# --- token endpoint -------------------------------------------------------------------------


class TokenClient(Protocol):
    def refresh(self, credentials: StoredCredentials) -> StoredCredentials: ...

    def password_login(
        self, username: str, password: str, client_secret: str | None = None
    ) -> StoredCredentials: ...


class GoProTokenClient:
    """``POST /v1/oauth2/token``: refresh (the Lambdas) and password login (the CLI).

    Form-encoded like the public clients (dustin/gopro-plus), with the web app's client id and
    secret from the settings.
    """

    provider: Final = "gopro"

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
                _relogin_message(credentials, "no refresh token is stored")
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


# --- the authenticator ----------------------------------------------------------------------


class Authenticator:
    """Loads the stored credentials, renews OAuth tokens ahead of expiry, writes them back."""

    def __init__(
        self,
        store: CredentialStore,
        token_client: TokenClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._tokens = token_client
        self._clock = clock
        self._lock = threading.Lock()

    def ensure_fresh(self, min_valid_seconds: float = 1800) -> AccessGrant:
        """A grant valid for at least ``min_valid_seconds`` where that can be known.

        OAuth: refreshed when it expires within ``min_valid_seconds`` or its expiry is unknown.
        Cookie: used as long as it has not expired (a JWE's expiry is unknown: used).
        """
        with self._lock:
            creds = self._store.load()
            now = self._clock()
            if creds.mode == "oauth":
                if creds.expires_at is None or creds.expires_at - now < min_valid_seconds:
                    creds = self._refresh(creds)
            else:
                self._check_cookie(creds, now, min_valid_seconds)
        return AccessGrant(creds, self._renew)

    def status(self) -> dict[str, Any]:
        """Non-secret facts about the stored credentials: provider, mode, user_id, expires_at
        (ISO-8601 UTC or None), seconds_left (None when unknown)."""
        return _status(self._store.load(), self._clock())

    def _check_cookie(self, creds: StoredCredentials, now: float, min_valid: float) -> None:
        expires = _expiry(creds)
        if expires is None:
            return
        if expires <= now:
            raise ReauthenticationRequiredError(
                f"the GoPro browser token expired at {_iso(expires)} and cannot be renewed: "
                f"{COOKIE_RELOGIN_HINT}"
            )
        if expires - now < min_valid:
            log.warning(
                "the GoPro browser token expires in %d s and cannot be renewed; log in soon",
                int(expires - now),
            )

    def _refresh(self, creds: StoredCredentials) -> StoredCredentials:
        if not creds.refresh_token:
            now = self._clock()
            if creds.expires_at is not None and creds.expires_at <= now:
                if creds.can_relogin:
                    return self._relogin(creds, "no refresh token is stored")
                raise ReauthenticationRequiredError(
                    _relogin_message(
                        creds, "the access token expired and no refresh token is stored"
                    )
                )
            log.warning("no refresh token is stored; using the access token as it is")
            return creds
        try:
            fresh = self._tokens.refresh(creds)
        except ReauthenticationRequiredError as refused:
            # Another invocation may have refreshed (and rotated the refresh token) meanwhile.
            stored = self._store.load()
            if stored.refresh_token != creds.refresh_token or (
                stored.access_token != creds.access_token
            ):
                log.info("the stored tokens were renewed elsewhere; using those")
                return stored
            if creds.can_relogin:
                return self._relogin(creds, str(refused))
            raise
        return self._keep(creds, fresh)

    def _relogin(self, creds: StoredCredentials, why: str) -> StoredCredentials:
        """Log in again with the remembered password (the refresh token was refused)."""
        log.warning("cannot renew the %s token; logging in again with the remembered "
                    "password", creds.provider)
        try:
            fresh = self._tokens.password_login(
                creds.username or "", creds.password or "", creds.client_secret
            )
        except AuthError as e:
            raise ReauthenticationRequiredError(
                f"{why}; logging in again with the remembered password failed too ({e})"
            ) from e
        # the refused refresh token is dead: never carry it over
        return self._keep(replace(creds, refresh_token=None), fresh)

    def _keep(self, creds: StoredCredentials, fresh: StoredCredentials) -> StoredCredentials:
        """Store renewed tokens, carrying over what the token endpoint does not answer."""
        fresh = replace(
            fresh,
            provider=creds.provider,
            user_id=fresh.user_id or creds.user_id,
            refresh_token=fresh.refresh_token or creds.refresh_token,
            client_secret=creds.client_secret,
            username=creds.username,
            password=creds.password,
            updated_at=self._clock(),
        )
        self._store.save(fresh)
        log.info("renewed the %s access token (expires %s)", creds.provider, _iso(fresh.expires_at))
        return fresh

    def _renew(self, current: StoredCredentials) -> StoredCredentials:
        """The grant's renewer, after a 401: prefer tokens someone else stored since."""
        with self._lock:
            stored = self._store.load()
            now = self._clock()
            if stored.access_token != current.access_token:
                expires = _expiry(stored)
                if expires is None or expires > now:
                    return stored
            if stored.mode == "cookie":
                raise ReauthenticationRequiredError(
                    "GoPro refused the browser token (401) and it cannot be renewed: "
                    f"{COOKIE_RELOGIN_HINT}"
                )
            if not stored.refresh_token:
                if stored.can_relogin:
                    return self._relogin(stored, "GoPro refused the access token (401)")
                raise ReauthenticationRequiredError(
                    _relogin_message(stored, "GoPro refused the access token (401)")
                )
            return self._refresh(stored)
