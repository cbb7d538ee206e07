"""``aws.translate`` is the one translator of SDK failures, ``with_retries`` the one retry loop
DynamoDB gets: each transient code or lost connection is a TransientError, everything else is
permanent, and a DynamoDB request is sent exactly as many times as the loop says."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from cloudsync_core import aws
from cloudsync_core.aws import TRANSIENT_CODES, TRANSIENT_CODES_BY_SERVICE, translate, with_retries
from cloudsync_core.errors import PermanentError, StorageError, TransientError
from cloudsync_core.services import Services, set_services
from cloudsync_core.transfer import put_small

SECRET_MESSAGE = "token=SECRET-VALUE"


def client_error(code: str, status: int = 400, operation: str = "GetItem") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": SECRET_MESSAGE},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "REQ-1"},  # type: ignore[typeddict-item]
        },
        operation,
    )


def test_the_table_is_one_union_over_services() -> None:
    assert {"s3", "dynamodb", "secretsmanager"} <= set(TRANSIENT_CODES_BY_SERVICE)
    assert {"SlowDown", "ProvisionedThroughputExceededException", "Throttling"} <= TRANSIENT_CODES


@pytest.mark.parametrize("code", sorted(TRANSIENT_CODES))
def test_each_transient_code_is_a_transient_error(code: str) -> None:
    error = client_error(code)
    translated = translate(error, "read row")
    assert isinstance(translated, TransientError)
    assert code in str(translated) and "REQ-1" in str(translated)
    assert SECRET_MESSAGE not in str(translated)


@pytest.mark.parametrize("code", ["ThrottlingException", "Throttling", "SlowDown"])
def test_throttling_is_transient(code: str) -> None:
    assert isinstance(translate(client_error(code), "put"), TransientError)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_whatever_the_code(status: int) -> None:
    assert isinstance(translate(client_error("SomethingNew", status), "put"), TransientError)


@pytest.mark.parametrize("code", ["AccessDenied", "AccessDeniedException"])
def test_access_denied_is_a_storage_error(code: str) -> None:
    translated = translate(client_error(code, 403), "PutObject s3://b/k")
    assert type(translated) is StorageError
    assert "access denied" in str(translated) and SECRET_MESSAGE not in str(translated)


@pytest.mark.parametrize(
    "error",
    [
        client_error("ValidationException"),
        client_error("SomethingNobodyKnows"),
        ParamValidationError(report="bad"),
        NoCredentialsError(),
        ValueError("odd"),
    ],
)
def test_unknown_failures_are_permanent(error: Exception) -> None:
    translated = translate(error, "call")
    assert isinstance(translated, PermanentError)
    assert not isinstance(translated, TransientError)


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
        ConnectionClosedError(endpoint_url="http://127.0.0.1:1"),
    ],
)
def test_connection_errors_are_transient(error: Exception) -> None:
    translated = translate(error, "read row")
    assert isinstance(translated, TransientError)
    assert "could not reach AWS" in str(translated)


def test_with_retries_retries_transient_then_raises_translated() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def throttled() -> None:
        calls.append(1)
        raise client_error("ProvisionedThroughputExceededException")

    with pytest.raises(TransientError) as e:
        with_retries(throttled, "read row", attempts=4, sleep=sleeps.append)
    assert len(calls) == 4 and len(sleeps) == 3
    assert isinstance(e.value.__cause__, ClientError)


def test_with_retries_hands_back_a_failed_condition_untouched() -> None:
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise client_error("ConditionalCheckFailedException")

    with pytest.raises(ClientError):
        with_retries(refused, "write row", sleep=lambda _: None)
    assert calls == [1]


def test_with_retries_recovers_after_a_dropped_connection() -> None:
    answers: list[Exception | str] = [EndpointConnectionError(endpoint_url="http://x"), "row"]

    def flaky() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert with_retries(flaky, "read row", sleep=lambda _: None) == "row"


@pytest.mark.parametrize(("code", "status", "expected"), [
    ("SlowDown", 503, TransientError),
    ("BadDigest", 400, TransientError),
    ("AccessDenied", 403, StorageError),
])
def test_s3_operations_translate_through_the_one_table(
    aws_credentials: None, code: str, status: int, expected: type[Exception]
) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    stubber = Stubber(s3)
    stubber.add_client_error("put_object", service_error_code=code, http_status_code=status)
    with stubber, pytest.raises(expected) as e:
        put_small(s3, "bucket", "key", b"abc", expected_size=3, metadata={}, tagging="",
                  allow_overwrite=True)
    assert isinstance(e.value.__cause__, ClientError)


# --- one retry layer for DynamoDB ----------------------------------------------------------


class _Throttling(BaseHTTPRequestHandler):
    """A DynamoDB endpoint that answers every request with throttling, and counts them."""

    requests: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).requests.append(self.headers.get("X-Amz-Target", ""))
        body = json.dumps({
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "slow down",
        }).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "REQ-T")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def throttling_endpoint(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    _Throttling.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttling)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    set_services(None)
    try:
        yield _Throttling.requests
    finally:
        set_services(None)
        server.shutdown()
        server.server_close()


def test_a_throttled_dynamodb_call_is_sent_once_per_outer_attempt(
    throttling_endpoint: list[str],
) -> None:
    dynamodb = Services.from_env().dynamodb
    with pytest.raises(TransientError):
        with_retries(
            lambda: dynamodb.get_item(TableName="t", Key={"pk": {"S": "a"}}),
            "read row",
            attempts=3,
            sleep=lambda _: None,
        )
    # One layer: botocore tries once, the loop three times. Two layers sent 3 x 4 = 12.
    assert throttling_endpoint == ["DynamoDB_20120810.GetItem"] * 3


def test_only_aws_py_lists_transient_codes() -> None:
    """No second table: the codes appear in no other module of the Lambda package."""
    root = Path(aws.__file__).resolve().parent
    others = [
        str(p.relative_to(root)) for p in root.rglob("*.py")
        if p.name != "aws.py" and '"SlowDown"' in p.read_text(encoding="utf-8")
    ]
    assert others == []
