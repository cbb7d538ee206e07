"""moto-backed fixtures: clients are created only after the mock has started."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from cloudsync_core.tracker import Tracker
from cloudsync_defs.table import create_table_request

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@pytest.fixture
def moto(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(moto: None) -> DynamoDBClient:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(**create_table_request("tracker"))
    return client


@pytest.fixture
def tracker(dynamodb: DynamoDBClient) -> Tracker:
    return Tracker(dynamodb, "tracker", sleep=lambda _s: None)
