"""The one place an AWS SDK failure becomes a typed error, and the one table saying which are
transient.

Every adapter (S3 operations, the DynamoDB tracker, the Secrets Manager store, SNS, the Step
Functions starter) passes its botocore failures through ``translate``; no other module keeps a
list of AWS error codes. Adapters may give a few codes a domain meaning first (a missing secret
means "not logged in") and hand the rest here.

Retries: each call has exactly one retry layer. S3, Secrets Manager, SNS and Step Functions rely
on botocore's standard retry mode; DynamoDB has botocore's retries turned off and is retried by
``with_retries`` alone (see ``services.py`` for why).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Final, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from .errors import CloudSyncError, StorageError, TransientError

T = TypeVar("T")

# Error codes meaning "the same call may succeed later", per service. A code appears under the
# service that sends it; "*" holds the ones every AWS service may answer.
TRANSIENT_CODES_BY_SERVICE: Final[Mapping[str, frozenset[str]]] = {
    "*": frozenset({
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeout",
    }),
    "s3": frozenset({
        "SlowDown",
        "RequestTimeTooSkewed",
        "OperationAborted",
        "ConditionalRequestConflict",
        "BadDigest",  # the part's bytes were damaged between us and S3: send them again
        "XAmzContentChecksumMismatch",
        "NoSuchUpload",  # the multipart upload is gone: the step starts the file again
    }),
    "dynamodb": frozenset({
        "ProvisionedThroughputExceededException",
        "TransactionConflictException",
    }),
    "secretsmanager": frozenset({"InternalServiceError"}),
}
TRANSIENT_CODES: Final = frozenset().union(*TRANSIENT_CODES_BY_SERVICE.values())

# HTTP statuses that are transient whatever the code: request timeout, too many requests, 5xx.
TRANSIENT_STATUSES: Final = frozenset({408, 429})

# Codes meaning "this role may not do that": permanent; an adapter may name the fix.
ACCESS_CODES: Final = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "DecryptionFailure"}
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_transient(error: BaseException) -> bool:
    """Whether the same SDK call may succeed later (throttling, 5xx, a lost connection)."""
    if isinstance(error, ClientError):
        status = http_status(error)
        return (
            error_code(error) in TRANSIENT_CODES
            or status >= 500
            or status in TRANSIENT_STATUSES
        )
    return isinstance(error, ConnectionError | HTTPClientError)


def translate(error: Exception, what: str) -> CloudSyncError:
    """The typed error for an SDK failure; the message names the operation, the code, the status
    and the request id, never the payload or the service's message."""
    if isinstance(error, ClientError):
        code = error_code(error)
        request_id = error.response.get("ResponseMetadata", {}).get("RequestId", "?")
        message = f"{what}: {code or 'error'} (HTTP {http_status(error)}, request {request_id})"
        if is_transient(error):
            return TransientError(f"{message}, try again")
        if code in ACCESS_CODES:
            return StorageError(f"{message}: access denied; check the function's role")
        return StorageError(message)
    if is_transient(error):
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
    """Run ``call``; transient failures are retried with full jitter, then raised translated.

    Client errors that are not transient (a failed condition, validation) are re-raised as the
    original ``ClientError`` so the caller can decide what a failed condition means.
    """
    for attempt in range(attempts):
        try:
            return call()
        except (ClientError, BotoCoreError) as e:
            if not is_transient(e):
                raise
            if attempt == attempts - 1:
                raise translate(e, what) from e
        sleep(random.uniform(0, min(max_delay, base_delay * 2**attempt)))
    raise AssertionError("unreachable")
