"""Secrets Manager rotation (the seed's 30-day rotation): renew the OAuth tokens.

The four steps of the rotation protocol. ``createSecret`` reuses the Authenticator with a store
that reads AWSCURRENT and writes AWSPENDING, so renewal logic exists once; the token client is the
one the stored login's provider brings (the catalog), and so is the check of ``testSecret``. A
login its provider cannot renew (``SecretLayout.renewable``: GoPro's browser tokens) is carried
over unchanged (the lister alerts when it expires).

The secret is empty until ``cloudsync login``, yet Secrets Manager tests the rotation function
(its ``testSecret`` step) as soon as rotation is switched on, i.e. during ``pulumi up``. With
nothing stored every step succeeds doing nothing, says why in the log, and never promotes an
empty version; a version AWS left with the AWSPENDING label is unlabelled so the next rotation
(after the login) is not refused as "still in progress".
"""

from __future__ import annotations

from typing import Literal

from botocore.exceptions import ClientError

from ..credentials import AccessGrant, Authenticator, SecretStore, StoredCredentials
from ..errors import ConfigurationError, CredentialsMissingError
from ..http import new_session
from ..observability import logger
from ..providers import create_provider, provider_spec
from ..services import Services

Step = Literal["createSecret", "setSecret", "testSecret", "finishSecret"]
NOTHING_STORED = "no credentials are stored yet (`cloudsync login` stores them): nothing to rotate"


class _PendingStore:
    """Reads the current version, writes the pending one (the rotation's new version)."""

    def __init__(self, services: Services, secret_id: str, token: str) -> None:
        self._sm = services.secrets
        self._secret_id = secret_id
        self._token = token
        self.written = False

    def load(self) -> StoredCredentials:
        return SecretStore(self._sm, self._secret_id).load()

    def save(self, credentials: StoredCredentials) -> None:
        self._sm.put_secret_value(
            SecretId=self._secret_id,
            ClientRequestToken=self._token,
            SecretString=credentials.to_json(),
            VersionStages=["AWSPENDING"],
        )
        self.written = True


def _pending(services: Services, secret_id: str, token: str) -> StoredCredentials | None:
    """The rotation's new version, or None when it is missing or holds nothing usable."""
    try:
        answer = services.secrets.get_secret_value(
            SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING"
        )
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    try:
        return StoredCredentials.from_json(answer.get("SecretString"))
    except CredentialsMissingError:
        return None


def _current(services: Services, secret_id: str) -> StoredCredentials | None:
    """The stored credentials (AWSCURRENT), or None before the first login."""
    try:
        return SecretStore(services.secrets, secret_id).load()
    except CredentialsMissingError:
        return None


def _skip(step: Step, secret_id: str) -> None:
    logger.info(f"rotation {step}: {NOTHING_STORED}", extra={"secret_id": secret_id})


def rotate(services: Services, secret_id: str, token: str, step: Step) -> None:
    if step == "createSecret":
        _create(services, secret_id, token)
    elif step == "testSecret":
        _test(services, secret_id, token)
    elif step == "finishSecret":
        _finish(services, secret_id, token)
    # setSecret: the provider issued the tokens itself; there is nothing to set.


def _create(services: Services, secret_id: str, token: str) -> None:
    if _pending(services, secret_id, token) is not None:
        return  # a retried step: the new version exists
    current = _current(services, secret_id)
    if current is None:
        _skip("createSecret", secret_id)
        return
    spec = provider_spec(current.provider)
    store = _PendingStore(services, secret_id, token)
    tokens = spec.token_client(services.settings, new_session(2))
    Authenticator(store, tokens).ensure_fresh(min_valid_seconds=float("inf"))
    if not store.written:  # a login its provider cannot renew: carry it over
        logger.warning(f"{spec.display_name} {current.mode} logins cannot be rotated; "
                       "keeping the current one")
        store.save(store.load())


def _test(services: Services, secret_id: str, token: str) -> None:
    pending = _pending(services, secret_id, token)
    if pending is None:
        if _current(services, secret_id) is None:
            _skip("testSecret", secret_id)
            return
        raise ConfigurationError("rotation: the pending version is missing")
    provider = create_provider(
        pending.provider,
        settings=services.settings,
        grant=AccessGrant(pending, layout=provider_spec(pending.provider).secret),
        session=new_session(2),
    )
    provider.account()  # refuses with AuthError if the new tokens do not work


def _finish(services: Services, secret_id: str, token: str) -> None:
    described = services.secrets.describe_secret(SecretId=secret_id)
    stages_of = described.get("VersionIdsToStages", {})
    if _pending(services, secret_id, token) is None:
        _skip("finishSecret", secret_id)
        if "AWSPENDING" in stages_of.get(token, []):  # an empty version AWS made for the test
            services.secrets.update_secret_version_stage(
                SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=token
            )
        return
    for version, stages in stages_of.items():
        if "AWSCURRENT" in stages:
            if version == token:
                return
            services.secrets.update_secret_version_stage(
                SecretId=secret_id,
                VersionStage="AWSCURRENT",
                MoveToVersionId=token,
                RemoveFromVersionId=version,
            )
            return
