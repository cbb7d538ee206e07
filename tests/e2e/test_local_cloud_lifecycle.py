"""Starting and stopping the local cloud leaves the process as it found it."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from cloudsync_local.cloud import LocalCloud

pytestmark = pytest.mark.e2e


def test_stop_restores_the_process_and_a_second_cloud_can_start(
    make_local_cloud: Callable[..., LocalCloud],
) -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.core.config import default_user_config

    moto_invoke = LambdaFunction.invoke
    sfn_config = dict(default_user_config["stepfunctions"])
    endpoint_before = os.environ.get("AWS_ENDPOINT_URL")
    table_before = os.environ.get("CLOUDSYNC_TABLE")
    threads_before = {t for t in threading.enumerate() if not t.daemon}

    first = make_local_cloud(stack="life")
    assert os.environ["AWS_ENDPOINT_URL"] == first.endpoint_url
    assert os.environ["CLOUDSYNC_TABLE"] == first.outputs()["table"]
    assert LambdaFunction.invoke is not moto_invoke
    with pytest.raises(RuntimeError, match="already runs"):
        LocalCloud(stack="other").start()
    first.stop()

    assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_before
    assert os.environ.get("CLOUDSYNC_TABLE") == table_before
    assert LambdaFunction.invoke is moto_invoke
    assert dict(default_user_config["stepfunctions"]) == sfn_config
    assert {t for t in threading.enumerate() if not t.daemon} <= threads_before

    # moto's backends were reset: the same names can be created again.
    second = make_local_cloud(stack="life")
    assert second.outputs()["table"] == "cloudsync-life-tracker"


def test_real_catalog_handlers_are_resolved_lazily_and_errors_are_typed(
    make_local_cloud: Callable[..., LocalCloud],
) -> None:
    def echo(event: Any, context: Any) -> Any:
        return {"event": event, "function": context.function_name,
                "memory": context.memory_limit_in_mb}

    cloud = make_local_cloud(stack="lazy", handlers={"authenticate": echo})
    out = cloud.outputs()
    lam = boto3.client("lambda", endpoint_url=out["endpoint_url"], region_name=out["region"])
    answer = lam.invoke(FunctionName=out["functions"]["authenticate"], Payload=b'{"a": 1}')
    assert answer["Payload"].read() == (
        b'{"event": {"a": 1}, "function": "cloudsync-lazy-authenticate", "memory": 256}'
    )
    # The real `rotate` handler: either it exists and answers, or Lambda's import error shows.
    rotate = lam.invoke(FunctionName=out["functions"]["rotate"], Payload=b"{}")
    if rotate.get("FunctionError"):
        assert rotate["FunctionError"] == "Unhandled"


def test_a_busy_port_fails_fast_instead_of_hanging() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError):
            LocalCloud(port, stack="busy").start()
    assert os.environ.get("MOTO_PORT") is None or os.environ["MOTO_PORT"] != str(port)
