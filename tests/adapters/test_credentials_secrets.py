"""SecretStore and the Authenticator's write-back against moto's Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from cloudsync_core.credentials import (
    Authenticator,
    SecretStore,
    StoredCredentials,
)
from cloudsync_core.errors import (
    ConfigurationError,
    CredentialsMissingError,
    StorageError,
    TransientError,
)
from cloudsync_core.providers.gopro.auth import LAYOUT

SECRET = "cloudsync/test/gopro"
NOW = 1_750_000_000.0
ACCESS, REFRESH = "SECRET-ACCESS-1", "SECRET-REFRESH-1"


@pytest.fixture
def secrets_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_REGION": "eu-central-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield boto3.client("secretsmanager")  # created after the mock started


def stored(expires_at: float | None = NOW + 7200) -> StoredCredentials:
    return StoredCredentials("gopro", "oauth", ACCESS, REFRESH, "user-1", expires_at, NOW - 60)


def test_save_and_load_round_trip(secrets_client: Any) -> None:
    secrets_client.create_secret(Name=SECRET)
    store = SecretStore(secrets_client, SECRET)
    store.save(stored())
    assert store.load() == stored()
    raw = json.loads(secrets_client.get_secret_value(SecretId=SECRET)["SecretString"])
    assert raw["access_token"] == ACCESS and raw["mode"] == "oauth"


def test_missing_secret_or_value_means_log_in(secrets_client: Any) -> None:
    store = SecretStore(secrets_client, SECRET)
    with pytest.raises(CredentialsMissingError) as e:
        store.load()
    assert "cloudsync login" in str(e.value) and isinstance(e.value.__cause__, ClientError)
    secrets_client.create_secret(Name=SECRET)  # created by the stack, no value yet
    with pytest.raises(CredentialsMissingError):
        store.load()
    secrets_client.put_secret_value(SecretId=SECRET, SecretString="{not json")
    with pytest.raises(CredentialsMissingError) as e2:
        store.load()
    assert "not JSON" in str(e2.value)


def test_save_can_create_the_secret(secrets_client: Any) -> None:
    store = SecretStore(secrets_client, SECRET)
    with pytest.raises(CredentialsMissingError):
        store.save(stored())
    store.save(stored(), create_missing=True)
    assert store.load().access_token == ACCESS


@pytest.mark.parametrize(("code", "status", "expected"), [
    ("ThrottlingException", 400, TransientError),
    ("InternalServiceError", 500, TransientError),
    ("AccessDeniedException", 400, ConfigurationError),
    ("DecryptionFailure", 400, ConfigurationError),
    ("InvalidRequestException", 400, StorageError),
])
def test_client_errors_are_translated(
    secrets_client: Any, code: str, status: int, expected: type[Exception]
) -> None:
    stubber = Stubber(secrets_client)
    stubber.add_client_error("get_secret_value", service_error_code=code,
                             http_status_code=status, service_message=f"nope {ACCESS}")
    stubber.add_client_error("put_secret_value", service_error_code=code,
                             http_status_code=status)
    store = SecretStore(secrets_client, SECRET)
    with stubber:
        with pytest.raises(expected) as e:
            store.load()
        assert isinstance(e.value.__cause__, ClientError)
        assert ACCESS not in str(e.value)
        with pytest.raises(expected):
            store.save(stored())


def test_no_secret_id_is_a_configuration_error(secrets_client: Any) -> None:
    with pytest.raises(ConfigurationError):
        SecretStore(secrets_client, "")


class Tokens:
    layout = LAYOUT
    def __init__(self) -> None:
        self.calls = 0

    def refresh(self, credentials: StoredCredentials) -> StoredCredentials:
        assert credentials.refresh_token == REFRESH
        self.calls += 1
        return StoredCredentials("gopro", "oauth", "SECRET-ACCESS-2", None, None, NOW + 3600, NOW)


def test_authenticator_refresh_writes_back(secrets_client: Any) -> None:
    secrets_client.create_secret(Name=SECRET, SecretString=stored(NOW + 60).to_json())
    store = SecretStore(secrets_client, SECRET)
    tokens = Tokens()
    auth = Authenticator(store, tokens, lambda: NOW + 1)
    grant = auth.ensure_fresh(min_valid_seconds=1800)
    assert tokens.calls == 1
    written = StoredCredentials.from_json(
        secrets_client.get_secret_value(SecretId=SECRET)["SecretString"])
    assert written.access_token == "SECRET-ACCESS-2"
    assert written.refresh_token == REFRESH  # none came back: kept
    assert written.user_id == "user-1" and written.expires_at == NOW + 3600
    assert written.updated_at == NOW + 1
    versions = secrets_client.list_secret_version_ids(SecretId=SECRET)["Versions"]
    assert len(versions) == 2
    headers: dict[str, str] = {}
    grant.apply(headers, {})
    assert headers["Authorization"] == "Bearer SECRET-ACCESS-2"
    # fresh now: the next run does not refresh again
    Authenticator(store, tokens, lambda: NOW + 2).ensure_fresh(1800)
    assert tokens.calls == 1
    status = auth.status()
    assert status["seconds_left"] == 3599 and "SECRET" not in json.dumps(status)
