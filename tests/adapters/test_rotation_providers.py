"""Rotation renews a login with the token client its provider brings (the provider catalog),
and tests the new version with that provider: nothing in rotation names GoPro (moto)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

import boto3
import pytest
import requests

from cloudsync_core.credentials import AccessGrant, SecretLayout, StoredCredentials
from cloudsync_core.errors import AuthError
from cloudsync_core.models import ListFilters, SourceFile
from cloudsync_core.providers import (
    CloudProvider,
    Page,
    ProviderSpec,
    register_provider,
    unregister_provider,
)
from cloudsync_core.services import Services
from cloudsync_core.settings import Settings
from cloudsync_core.sync.rotation import rotate
from cloudsync_core.tracker import Tracker

SECRET = "cloudsync/test/credentials"
LAYOUT = SecretLayout(provider="tiny", display_name="Tiny")
RENEWED: list[str] = []  # refresh tokens the tiny token client was asked to renew


class TinyTokens:
    layout = LAYOUT

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        pass

    def refresh(self, credentials: StoredCredentials) -> StoredCredentials:
        RENEWED.append(credentials.refresh_token or "")
        return StoredCredentials("tiny", "oauth", "tiny-access-2", "tiny-refresh-2",
                                 expires_at=4e9)

    def password_login(self, username: str, password: str,
                       client_secret: str | None = None) -> StoredCredentials:
        raise AuthError("no password login")


class Tiny(CloudProvider):
    name: ClassVar[str] = "tiny"

    def __init__(self, *, settings: Settings, grant: AccessGrant,
                 session: requests.Session | None = None) -> None:
        super().__init__()
        self.grant = grant

    def fetch_pages(self, filters: ListFilters) -> Iterator[Page]:
        yield from ()

    def originals(self, media_id: str, media_type: str | None = None) -> list[SourceFile]:
        return []

    def account(self) -> dict[str, Any]:
        headers: dict[str, str] = {}
        self.grant.apply(headers, {})
        if headers["Authorization"] != "Bearer tiny-access-2":
            raise AuthError("Tiny refused the token")
        return {}


@pytest.fixture
def services(moto: None) -> Iterator[Services]:
    register_provider(ProviderSpec("tiny", factory=Tiny, token_client=TinyTokens, secret=LAYOUT))
    RENEWED.clear()
    session = boto3.session.Session()
    dynamodb = session.client("dynamodb")
    settings = replace(Settings.from_env(), secret_id=SECRET, gopro_api_url="http://127.0.0.1:9")
    yield Services(settings=settings, dynamodb=dynamodb, s3=session.client("s3"),
                   secrets=session.client("secretsmanager"), sns=session.client("sns"),
                   sfn=session.client("stepfunctions"), tracker=Tracker(dynamodb, "tracker"))
    unregister_provider("tiny")


def test_a_login_is_rotated_by_its_own_providers_token_client(services: Services) -> None:
    old = StoredCredentials("tiny", "oauth", "tiny-access-1", "tiny-refresh-1", expires_at=4e9)
    services.secrets.create_secret(Name=SECRET, SecretString=old.to_json())
    token = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotate(services, SECRET, token, step)  # type: ignore[arg-type]
    assert RENEWED == ["tiny-refresh-1"]
    # AWSCURRENT named: moto answers a stage-less read with the secret's first version
    current = StoredCredentials.from_json(services.secrets.get_secret_value(
        SecretId=SECRET, VersionStage="AWSCURRENT")["SecretString"])
    assert (current.provider, current.access_token, current.refresh_token) == (
        "tiny", "tiny-access-2", "tiny-refresh-2")
