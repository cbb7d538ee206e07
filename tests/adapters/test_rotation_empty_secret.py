"""Rotation before `cloudsync login`: every step succeeds doing nothing (moto's Secrets Manager).

AWS tests the rotation function (testSecret) as soon as rotation is switched on, which is during
`pulumi up`, when the secret has no value yet.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import boto3
import pytest

from cloudsync_core.credentials import StoredCredentials
from cloudsync_core.errors import ConfigurationError
from cloudsync_core.services import Services
from cloudsync_core.settings import Settings
from cloudsync_core.sync.rotation import NOTHING_STORED, rotate
from cloudsync_core.tracker import Tracker

SECRET = "cloudsync/test/credentials"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


@pytest.fixture
def services(moto: None) -> Services:
    session = boto3.session.Session()
    dynamodb = session.client("dynamodb")
    settings = replace(
        Settings.from_env(), secret_id=SECRET, gopro_api_url="http://127.0.0.1:9"
    )  # a port nothing listens on: a step that calls GoPro fails loudly
    return Services(
        settings=settings,
        dynamodb=dynamodb,
        s3=session.client("s3"),
        secrets=session.client("secretsmanager"),
        sns=session.client("sns"),
        sfn=session.client("stepfunctions"),
        tracker=Tracker(dynamodb, "tracker"),
    )


def versions(services: Services) -> dict[str, list[str]]:
    described: Any = services.secrets.describe_secret(SecretId=SECRET)
    return dict(described.get("VersionIdsToStages", {}))


@pytest.mark.parametrize("step", STEPS)
def test_each_step_on_a_secret_without_value_succeeds_and_says_why(
    services: Services, step: Any, caplog: pytest.LogCaptureFixture
) -> None:
    services.secrets.create_secret(Name=SECRET, Description="empty until cloudsync login")
    with caplog.at_level("INFO"):
        rotate(services, SECRET, str(uuid.uuid4()), step)
    assert versions(services) == {}  # nothing written, nothing promoted
    if step != "setSecret":
        assert any(NOTHING_STORED in r.getMessage() for r in caplog.records)


def test_the_whole_rotation_on_an_empty_secret_leaves_it_empty(services: Services) -> None:
    services.secrets.create_secret(Name=SECRET)
    token = str(uuid.uuid4())
    for step in STEPS:
        rotate(services, SECRET, token, step)  # type: ignore[arg-type]
    assert versions(services) == {}


def test_an_empty_pending_version_is_never_promoted_and_loses_its_label(
    services: Services,
) -> None:
    """AWS's configuration test may leave AWSPENDING on an empty version: a later rotation
    would then be refused as 'still in progress'."""
    services.secrets.create_secret(Name=SECRET)
    token = str(uuid.uuid4())
    services.secrets.put_secret_value(
        SecretId=SECRET, ClientRequestToken=token, SecretString="{}",
        VersionStages=["AWSPENDING"],
    )
    rotate(services, SECRET, token, "testSecret")
    rotate(services, SECRET, token, "finishSecret")
    stages = versions(services)
    assert list(stages) == [token]  # no version added (moto labels a first version AWSCURRENT)
    assert "AWSPENDING" not in stages[token]


def test_with_credentials_stored_a_missing_pending_version_still_fails(
    services: Services,
) -> None:
    creds = StoredCredentials("gopro", "cookie", "SECRET-COOKIE", user_id="u1", updated_at=1.0)
    services.secrets.create_secret(Name=SECRET, SecretString=creds.to_json())
    with pytest.raises(ConfigurationError):
        rotate(services, SECRET, str(uuid.uuid4()), "testSecret")


def test_after_login_a_browser_token_is_carried_over_and_promoted(services: Services) -> None:
    creds = StoredCredentials("gopro", "cookie", "SECRET-COOKIE", user_id="u1", updated_at=1.0)
    services.secrets.create_secret(Name=SECRET, SecretString=creds.to_json())
    token = str(uuid.uuid4())
    rotate(services, SECRET, token, "createSecret")
    rotate(services, SECRET, token, "finishSecret")
    assert "AWSCURRENT" in versions(services)[token]
    current = services.secrets.get_secret_value(SecretId=SECRET)["SecretString"]
    assert StoredCredentials.from_json(current).access_token == "SECRET-COOKIE"
