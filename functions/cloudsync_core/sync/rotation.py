"""Secrets Manager rotation (the seed's 30-day rotation): renew the OAuth tokens.

The four steps of the rotation protocol. ``createSecret`` reuses the Authenticator with a store
that reads AWSCURRENT and writes AWSPENDING, so renewal logic exists once. Browser tokens cannot
be renewed: their version is carried over unchanged (the lister alerts when they expire).
"""

from __future__ import annotations

from typing import Literal

from botocore.exceptions import ClientError

from ..credentials import (
    AccessGrant,
    Authenticator,
    GoProTokenClient,
    SecretStore,
    StoredCredentials,
)
from ..errors import ConfigurationError
from ..http import new_session
from ..observability import logger
from ..providers import create_provider
from ..services import Services

Step = Literal["createSecret", "setSecret", "testSecret", "finishSecret"]


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
    try:
        answer = services.secrets.get_secret_value(
            SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING"
        )
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    return StoredCredentials.from_json(answer.get("SecretString"))


def rotate(services: Services, secret_id: str, token: str, step: Step) -> None:
    settings = services.settings
    if step == "createSecret":
        if _pending(services, secret_id, token) is not None:
            return  # a retried step: the new version exists
        store = _PendingStore(services, secret_id, token)
        Authenticator(store, GoProTokenClient(settings, new_session(2))).ensure_fresh(
            min_valid_seconds=float("inf")
        )
        if not store.written:  # browser token: nothing to renew, carry it over
            logger.warning("browser tokens cannot be rotated; keeping the current one")
            store.save(store.load())
    elif step == "testSecret":
        pending = _pending(services, secret_id, token)
        if pending is None:
            raise ConfigurationError("rotation: the pending version is missing")
        provider = create_provider(
            pending.provider, settings=settings, grant=AccessGrant(pending), session=new_session(2)
        )
        provider.account()  # refuses with AuthError if the new tokens do not work
    elif step == "finishSecret":
        described = services.secrets.describe_secret(SecretId=secret_id)
        for version, stages in described.get("VersionIdsToStages", {}).items():
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
    # setSecret: the provider issued the tokens itself; there is nothing to set.
