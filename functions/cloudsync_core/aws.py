"""Translating AWS SDK errors into our error tree, and a bounded jittered retry for throttling."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from .errors import CloudSyncError, StorageError, TransientError

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "TransactionConflictException",
    }
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def translate(error: Exception, what: str) -> CloudSyncError:
    """The typed error for an SDK failure; the message names the operation, never the payload."""
    if isinstance(error, ClientError):
        code = error_code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in THROTTLING_CODES or (isinstance(status, int) and status >= 500):
            return TransientError(f"{what}: AWS answered {code or status}, try again")
        return StorageError(f"{what}: AWS refused the request ({code or status})")
    if isinstance(error, (ConnectionError, ReadTimeoutError, BotoCoreError)):
        return TransientError(f"{what}: could not reach AWS ({type(error).__name__})")
    return StorageError(f"{what}: {type(error).__name__}")


def with_retries(
    call: Callable[[], T],
    what: str,
    *,
    attempts: int = 5,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call``; throttling and 5xx are retried with full jitter, then raised as typed errors.

    Client errors that are not transient (a failed condition, validation) are re-raised as the
    original ``ClientError`` so the caller can decide what a failed condition means.
    """
    for attempt in range(attempts):
        try:
            return call()
        except ClientError as e:
            if (
                error_code(e) not in THROTTLING_CODES
                and e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) < 500
            ):
                raise
            if attempt == attempts - 1:
                raise translate(e, what) from e
        except (ConnectionError, ReadTimeoutError) as e:
            if attempt == attempts - 1:
                raise translate(e, what) from e
        sleep(random.uniform(0, min(max_delay, base_delay * 2**attempt)))
    raise AssertionError("unreachable")
