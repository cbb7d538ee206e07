"""Provider credentials: stored in Secrets Manager, renewed here, handed to providers as a grant.

The seed's Media Authenticator (Component 1), reshaped: tokens never leave this module's objects
for a workflow payload or a log line. ``Authenticator.status()`` is what the authenticate Lambda
returns (facts, no secrets); the lister and the transfer functions call ``ensure_fresh()``
themselves and hand the ``AccessGrant`` to their provider.

This module is the shared half of every provider's auth; each provider package brings the other
half (providers/base.py): its ``TokenClient`` and its ``SecretLayout`` (GoPro's:
providers/gopro/auth.py). Two modes of login:
- ``oauth``: a bearer access token plus a refresh token, renewed by the provider's token client.
  Providers blacklist refresh tokens now and then; when the operator chose to remember the
  password (``cloudsync login ... --remember``, kept only in the secret), a refused refresh is
  answered by logging in again with it, unattended, as rclone does.
- ``cookie``: a browser session's token, which cannot be renewed, so an expired one means a person
  must copy a fresh one. The layout says how it travels; when the source refuses it, the same
  token is tried once as a Bearer header, and whichever works is kept for the invocation.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .aws import ACCESS_CODES, error_code, is_transient, translate
from .errors import (
    AuthError,
    ConfigurationError,
    CredentialsMissingError,
    ReauthenticationRequiredError,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

log = logging.getLogger(__name__)

Mode = Literal["oauth", "cookie"]
Channel = Literal["cookie", "bearer"]
MODES: Final[tuple[Mode, ...]] = ("oauth", "cookie")

LOGIN_HINT: Final = "run `cloudsync login` to store GoPro credentials"
# Secrets written before the provider was recorded in them are GoPro's (the first provider).
LEGACY_PROVIDER: Final = "gopro"


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
        provider = data.get("provider") or LEGACY_PROVIDER
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


# --- the secret layout: the provider's half of the login -------------------------------------


Fields = MutableMapping[str, str]  # a request's headers or cookies


class Presenter(Protocol):
    """Puts one login into a request the way its provider wants it, over ``channel``."""

    def __call__(
        self, creds: StoredCredentials, channel: Channel, headers: Fields, cookies: Fields, /
    ) -> None: ...


def present_bearer(creds: StoredCredentials, channel: Channel, headers: Fields, _: Fields) -> None:
    """``Authorization: Bearer``, whatever the mode: the layout of most token APIs."""
    headers["Authorization"] = f"Bearer {creds.access_token}"


@dataclass(frozen=True)
class SecretLayout:
    """One provider's login as the secret keeps it and as people are told about it."""

    provider: str  # the StoredCredentials.provider its logins carry ("" accepts any)
    display_name: str  # "GoPro", in every message about the login
    modes: tuple[Mode, ...] = ("oauth",)  # the login modes it accepts
    login_hint: str = LOGIN_HINT  # nobody logged in
    relogin_hints: Mapping[str, str] = field(default_factory=dict)  # by mode: log in again
    present: Presenter = present_bearer  # how a grant travels in its requests
    renewable: frozenset[Mode] = frozenset({"oauth"})  # what its token client (and rotation) renew
    # The pause alert's "what to do": when the login is refused, when the account is refused.
    login_steps: str = "Log in again with `cloudsync login`."
    refused_steps: str = ""
    secret_name: str = ""  # the local cloud's secret: cloudsync/{stack}/{secret_name}

    def relogin_hint(self, mode: Mode) -> str:
        return self.relogin_hints.get(mode) or f"log in again: cloudsync login ({mode})"

    def relogin_message(self, creds: StoredCredentials, why: str = "") -> str:
        prefix = f"the {creds.provider} credentials cannot be renewed"
        return f"{prefix}{f' ({why})' if why else ''}: {self.relogin_hint(creds.mode)}"


# A grant built without its provider's layout (bench, tests): Bearer, generic hints.
ANY_PROVIDER: Final = SecretLayout(provider="", display_name="the source", modes=MODES)


# --- the grant providers use ----------------------------------------------------------------


Renewer = Callable[[StoredCredentials], StoredCredentials]


class AccessGrant:
    """Valid credentials for one provider, as providers use them: ``apply`` and ``renew``.

    Thread-safe: many threads may apply it; when several see a 401 at once, one renews and the
    others reuse its result (pass the generation ``apply`` returned to ``renew``).
    """

    def __init__(
        self,
        credentials: StoredCredentials,
        renewer: Renewer | None = None,
        layout: SecretLayout = ANY_PROVIDER,
    ) -> None:
        self._credentials = credentials
        self._renewer = renewer
        self._layout = layout
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
        """Put the credentials where the provider's layout wants them (over the current
        channel); returns the generation applied."""
        with self._lock:
            creds, generation = self._credentials, self._generation
            channel: Channel = "bearer" if creds.mode == "oauth" else self._channel
        self._layout.present(creds, channel, headers, cookies)
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
                    log.info("%s accepts the browser token as %s", self._layout.display_name,
                             channel)

    def renew(self, seen_generation: int | None = None) -> None:
        """Get new credentials after a 401. One renewal at a time; if another thread already
        renewed since ``seen_generation``, this returns at once. Raises
        ``ReauthenticationRequiredError`` when nothing can renew them."""
        with self._lock:
            if seen_generation is not None and seen_generation != self._generation:
                return
            if self._renewer is None:
                raise ReauthenticationRequiredError(
                    self._layout.relogin_message(self._credentials)
                )
            self._credentials = self._renewer(self._credentials)
            self._remember(self._credentials)
            self._generation += 1

    def status(self, now: float | None = None) -> dict[str, Any]:
        return _status(self._credentials, time.time() if now is None else now)


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


# --- the provider's token client ---------------------------------------------------------


class TokenClient(Protocol):
    """A provider's token endpoint (providers/base.py: ``ProviderSpec.token_client``)."""

    @property
    def layout(self) -> SecretLayout: ...

    def refresh(self, credentials: StoredCredentials) -> StoredCredentials: ...

    def password_login(
        self, username: str, password: str, client_secret: str | None = None
    ) -> StoredCredentials: ...


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
        self._layout = token_client.layout
        self._clock = clock
        self._lock = threading.Lock()

    def _load(self) -> StoredCredentials:
        """The stored login, refused when it is another provider's (its tokens must never be
        sent to this provider's endpoints)."""
        creds = self._store.load()
        expected = self._layout.provider
        if expected and creds.provider != expected:
            raise CredentialsMissingError(
                f"the stored login is for {creds.provider}, not {expected}: "
                f"{self._layout.login_hint}"
            )
        if creds.mode not in self._layout.modes:
            raise CredentialsMissingError(
                f"the stored {creds.mode} login is not one {self._layout.display_name} "
                f"accepts: {self._layout.login_hint}"
            )
        return creds

    def ensure_fresh(self, min_valid_seconds: float = 1800) -> AccessGrant:
        """A grant valid for at least ``min_valid_seconds`` where that can be known.

        OAuth: refreshed when it expires within ``min_valid_seconds`` or its expiry is unknown.
        Cookie: used as long as it has not expired (a JWE's expiry is unknown: used).
        """
        with self._lock:
            creds = self._load()
            now = self._clock()
            if creds.mode in self._layout.renewable:
                if creds.expires_at is None or creds.expires_at - now < min_valid_seconds:
                    creds = self._refresh(creds)
            else:
                self._check_cookie(creds, now, min_valid_seconds)
        return AccessGrant(creds, self._renew, self._layout)

    def status(self) -> dict[str, Any]:
        """Non-secret facts about the stored credentials: provider, mode, user_id, expires_at
        (ISO-8601 UTC or None), seconds_left (None when unknown)."""
        return _status(self._load(), self._clock())

    def _check_cookie(self, creds: StoredCredentials, now: float, min_valid: float) -> None:
        expires = _expiry(creds)
        if expires is None:
            return
        if expires <= now:
            raise ReauthenticationRequiredError(
                f"the {self._layout.display_name} browser token expired at {_iso(expires)} and "
                f"cannot be renewed: {self._layout.relogin_hint(creds.mode)}"
            )
        if expires - now < min_valid:
            log.warning(
                "the %s browser token expires in %d s and cannot be renewed; log in soon",
                self._layout.display_name, int(expires - now),
            )

    def _refresh(self, creds: StoredCredentials) -> StoredCredentials:
        if not creds.refresh_token:
            now = self._clock()
            if creds.expires_at is not None and creds.expires_at <= now:
                if creds.can_relogin:
                    return self._relogin(creds, "no refresh token is stored")
                raise ReauthenticationRequiredError(
                    self._layout.relogin_message(
                        creds, "the access token expired and no refresh token is stored"
                    )
                )
            log.warning("no refresh token is stored; using the access token as it is")
            return creds
        try:
            fresh = self._tokens.refresh(creds)
        except ReauthenticationRequiredError as refused:
            # Another invocation may have refreshed (and rotated the refresh token) meanwhile.
            stored = self._load()
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
            stored = self._load()
            now = self._clock()
            if stored.access_token != current.access_token:
                expires = _expiry(stored)
                if expires is None or expires > now:
                    return stored
            name = self._layout.display_name
            if stored.mode not in self._layout.renewable:
                raise ReauthenticationRequiredError(
                    f"{name} refused the browser token (401) and it cannot be renewed: "
                    f"{self._layout.relogin_hint(stored.mode)}"
                )
            if not stored.refresh_token:
                why = f"{name} refused the access token (401)"
                if stored.can_relogin:
                    return self._relogin(stored, why)
                raise ReauthenticationRequiredError(self._layout.relogin_message(stored, why))
            return self._refresh(stored)
