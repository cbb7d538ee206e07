"""Provider credentials: stored in Secrets Manager, renewed here, handed to providers as a grant.

The seed's Media Authenticator (Component 1), reshaped: tokens never leave this module's objects
for a workflow payload or a log line. ``Authenticator.status()`` is what the authenticate Lambda
returns (facts, no secrets); the lister and the transfer functions call ``ensure_fresh()``
themselves and hand the ``AccessGrant`` to their provider.

Two modes (gopro-api.md):
- ``oauth``: a bearer access token plus a refresh token; renewed at ``/v1/oauth2/token``.
- ``cookie``: the web app's ``gp_access_token`` / ``gp_user_id`` cookies; cannot be renewed, so
  an expired one means a person must copy fresh ones (``cloudsync login --cookie-token``).
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

from .errors import (
    AuthError,
    ConfigurationError,
    CredentialsMissingError,
    ReauthenticationRequiredError,
    SourceRequestError,
    StorageError,
    TransientError,
)
from .http import RetryPolicy, new_session, request_with_retries
from .settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

log = logging.getLogger(__name__)

Mode = Literal["oauth", "cookie"]
MODES: Final[tuple[Mode, ...]] = ("oauth", "cookie")

LOGIN_HINT: Final = "run `cloudsync login` to store GoPro credentials"
OAUTH_RELOGIN_HINT: Final = "log in again: cloudsync login --access-token ... --refresh-token ..."
COOKIE_RELOGIN_HINT: Final = (
    "copy gp_access_token and gp_user_id from the GoPro web app's cookies and run: "
    "cloudsync login --cookie-token ... --user-id ..."
)
# The scope the web app asks for (dustin/gopro-plus).
GOPRO_SCOPE: Final = "root root:channels public me upload media_library_beta live"
TOKEN_PATH: Final = "/v1/oauth2/token"  # noqa: S105 - a path, not a secret
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

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")

    def __repr__(self) -> str:
        return (
            f"StoredCredentials(provider={self.provider!r}, mode={self.mode!r}, "
            f"user_id={self.user_id!r}, expires_at={_iso(self.expires_at)!r}, "
            f"updated_at={_iso(self.updated_at)!r}, access_token=<hidden>, "
            f"refresh_token={'<hidden>' if self.refresh_token else None})"
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
        )


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

_THROTTLE_CODES: Final = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalServiceError",
        "InternalFailure",
        "ServiceUnavailable",
    }
)
_ACCESS_CODES: Final = frozenset(
    {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "DecryptionFailure"}
)


class SecretStore:
    """One secret holding one ``StoredCredentials`` as JSON."""

    def __init__(self, client: SecretsManagerClient, secret_id: str) -> None:
        if not secret_id:
            raise ConfigurationError("no secret id is configured (CLOUDSYNC_SECRET_ID)")
        self._client = client
        self.secret_id = secret_id

    def _translate(self, e: ClientError, action: str) -> Exception:
        err = e.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        where = f"{action} secret {self.secret_id!r}"
        if code == "ResourceNotFoundException":
            return CredentialsMissingError(f"{where}: no credentials are stored: {LOGIN_HINT}")
        if code in _THROTTLE_CODES or status == 429 or status >= 500:
            return TransientError(f"{where}: Secrets Manager answered {code or status}")
        if code in _ACCESS_CODES:
            return ConfigurationError(
                f"{where}: access denied ({code}); check this function's role and the key policy"
            )
        return StorageError(f"{where}: Secrets Manager refused the request ({code or status})")

    def load(self) -> StoredCredentials:
        try:
            answer = self._client.get_secret_value(SecretId=self.secret_id)
        except ClientError as e:
            raise self._translate(e, "reading") from e
        except BotoCoreError as e:
            raise TransientError(
                f"reading secret {self.secret_id!r} failed ({type(e).__name__})"
            ) from e
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
            code = str(e.response.get("Error", {}).get("Code", ""))
            if not (create_missing and code == "ResourceNotFoundException"):
                raise self._translate(e, "writing") from e
            try:
                self._client.create_secret(Name=self.secret_id, SecretString=body)
            except ClientError as e2:
                raise self._translate(e2, "creating") from e2
        except BotoCoreError as e:
            raise TransientError(
                f"writing secret {self.secret_id!r} failed ({type(e).__name__})"
            ) from e


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
        self._remember(credentials)

    def _remember(self, creds: StoredCredentials) -> None:
        for secret in (creds.access_token, creds.refresh_token):
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

    def apply(self, headers: MutableMapping[str, str], cookies: MutableMapping[str, str]) -> int:
        """Put the credentials where the mode wants them; returns the generation applied.

        oauth: ``Authorization: Bearer``. cookie: the ``gp_access_token`` / ``gp_user_id``
        cookies, never a header (GoPro refuses the browser token as a header).
        """
        with self._lock:
            creds, generation = self._credentials, self._generation
        if creds.mode == "oauth":
            headers["Authorization"] = f"Bearer {creds.access_token}"
        else:
            headers.pop("Authorization", None)
            cookies["gp_access_token"] = creds.access_token
            if creds.user_id:
                cookies["gp_user_id"] = creds.user_id
        return generation

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
    }


# --- token endpoint -------------------------------------------------------------------------


class TokenClient(Protocol):
    def refresh(self, credentials: StoredCredentials) -> StoredCredentials: ...


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
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._session = session or new_session(2)
        # short: the authenticate function has 30 s in all
        self._retry = retry or RetryPolicy(attempts=3, cap=4.0, max_retry_after=10.0)
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
        code = body.get("error")
        why = f"HTTP {status}"
        if isinstance(code, str) and _SAFE_CODE.match(code):
            why = f"{code}, HTTP {status}"
        if not self._settings.gopro_client_id:
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
                raise ReauthenticationRequiredError(
                    _relogin_message(
                        creds, "the access token expired and no refresh token is stored"
                    )
                )
            log.warning("no refresh token is stored; using the access token as it is")
            return creds
        try:
            fresh = self._tokens.refresh(creds)
        except ReauthenticationRequiredError:
            # Another invocation may have refreshed (and rotated the refresh token) meanwhile.
            stored = self._store.load()
            if stored.refresh_token != creds.refresh_token or (
                stored.access_token != creds.access_token
            ):
                log.info("the stored tokens were renewed elsewhere; using those")
                return stored
            raise
        fresh = replace(
            fresh,
            provider=creds.provider,
            user_id=fresh.user_id or creds.user_id,
            refresh_token=fresh.refresh_token or creds.refresh_token,
            client_secret=creds.client_secret,
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
                raise ReauthenticationRequiredError(
                    _relogin_message(stored, "GoPro refused the access token (401)")
                )
            return self._refresh(stored)
