"""The AWS clients and settings a function uses, built once per container and replaceable.

Handlers call ``services()``; tests and the local cloud call ``set_services`` (or just set the
environment before the first call). boto3 clients are thread-safe, so one set serves the
concurrent invocations the local cloud makes from its threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from .settings import Settings
from .tracker import Tracker

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient


# One retry layer per call. S3, Secrets Manager, SNS and Step Functions are retried by botocore
# alone (standard mode above). DynamoDB is retried by ``aws.with_retries`` alone, so botocore
# tries each DynamoDB request once: the tracker needs that outer loop anyway, since it must also
# retry TransactionConflictException (which standard mode does not) while seeing a failed
# condition as the raw ClientError. With both layers on, botocore's 4 tries ran inside each of
# the loop's 5: up to 20 requests per write, hammering a throttled table 4x past its backoff.
DYNAMODB_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1})


@dataclass(frozen=True)
class Services:
    settings: Settings
    dynamodb: DynamoDBClient
    s3: S3Client
    secrets: SecretsManagerClient
    sns: SNSClient
    sfn: SFNClient
    tracker: Tracker

    @classmethod
    def from_env(cls) -> Services:
        settings = Settings.from_env()
        # Enough pooled connections for the parallel part uploads of one invocation.
        config = Config(
            max_pool_connections=max(10, settings.parallel_ranges * 2),
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=60,
        )
        session = boto3.session.Session()
        dynamodb = session.client("dynamodb", config=config.merge(DYNAMODB_CONFIG))
        return cls(
            settings=settings,
            dynamodb=dynamodb,
            s3=session.client("s3", config=config),
            secrets=session.client("secretsmanager", config=config),
            sns=session.client("sns", config=config),
            sfn=session.client("stepfunctions", config=config),
            tracker=Tracker(dynamodb, settings.table),
        )


_current: Services | None = None
_lock = threading.Lock()


def services() -> Services:
    global _current
    with _lock:
        if _current is None:
            _current = Services.from_env()
        return _current


def set_services(value: Services | None) -> None:
    """Replace (or with None, forget) the container: the next ``services()`` rebuilds it."""
    global _current
    with _lock:
        _current = value
