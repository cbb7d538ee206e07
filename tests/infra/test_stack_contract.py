"""The stack contract (cloudsync_defs.stack): what both deployers write and the CLI reads, from
one module: the outputs parameter's name and key case, Lambda's runtime and architecture, S3's
multipart limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cloudsync_cli import cost
from cloudsync_cli.stack import StackOutputs, parameter_name
from cloudsync_core import s3_limits
from cloudsync_core.transfer import plan
from cloudsync_defs import stack as contract
from components.config import ConfigError, parse

from .conftest import Graph

pytestmark = pytest.mark.infra

# What the local cloud keeps in memory (snake_case), as cloudsync_local.cloud.app builds it.
LOCAL_OUTPUTS: dict[str, Any] = {
    "endpoint_url": "http://127.0.0.1:4599", "region": "us-east-1", "stack": "dev",
    "bucket": "cloudsync-dev-b", "table": "cloudsync-dev-tracker",
    "state_machine_arn": "arn:aws:states:us-east-1:1:stateMachine:cloudsync-dev-workflow",
    "secret_id": "cloudsync/dev/credentials", "topic_arn": "arn:aws:sns:us-east-1:1:a",
    "list_function": "cloudsync-dev-list",
    "functions": {"list": "cloudsync-dev-list", "mark_failed": "cloudsync-dev-mark-failed"},
}


def test_both_writers_publish_the_same_key_case(graph: Graph) -> None:
    stored = json.loads(graph.one("aws:ssm/parameter:Parameter").inputs["insecureValue"])
    assert stored == contract.outputs_document(stored)  # the Pulumi program: camelCase already
    local = contract.outputs_document(LOCAL_OUTPUTS)
    shared = {"stack", "region", "bucket", "table", "stateMachineArn", "topicArn", "secretId",
              "functions", "listFunction"}
    assert shared <= set(stored) and shared <= set(local)
    # nested maps keep their keys: the function names by logical name
    assert local["functions"]["mark_failed"] == "cloudsync-dev-mark-failed"


def test_the_cli_reads_what_the_local_cloud_publishes() -> None:
    text = json.dumps(contract.outputs_document(LOCAL_OUTPUTS))
    outputs = StackOutputs.parse("dev", text, "here")
    assert (outputs.table, outputs.secret_id, outputs.state_machine_arn) == (
        LOCAL_OUTPUTS["table"], LOCAL_OUTPUTS["secret_id"], LOCAL_OUTPUTS["state_machine_arn"])
    assert outputs.function("mark_failed") == "cloudsync-dev-mark-failed"
    assert outputs.function("list") == "cloudsync-dev-list"


def test_one_parameter_name() -> None:
    name = contract.outputs_parameter("prod")
    assert name == "/cloudsync/prod/outputs" == parameter_name("prod")
    assert contract.stack_of_parameter(name) == "prod"
    assert contract.stack_of_parameter("/cloudsync/prod/local-health") is None


def test_the_functions_run_on_the_contracts_runtime_and_architecture(graph: Graph) -> None:
    for function in graph.of_type("aws:lambda/function:Function"):
        assert function.inputs["runtime"] == contract.LAMBDA_RUNTIME
        assert function.inputs["architectures"] == [contract.LAMBDA_ARCHITECTURE]
    layer = graph.one("aws:lambda/layerVersion:LayerVersion").inputs
    assert layer["compatibleArchitectures"] == [contract.LAMBDA_ARCHITECTURE]
    assert cost.LAMBDA_GB_SECOND == f"lambda_gb_second_{contract.LAMBDA_ARCHITECTURE}"


def test_s3_limits_are_written_once() -> None:
    assert (contract.MIN_PART_SIZE, contract.MAX_PART_SIZE, contract.MAX_PARTS,
            contract.MAX_OBJECT_SIZE) == (5 * 2**20, 5 * 2**30, 10_000, 5 * 2**40)
    assert plan.MAX_PARTS is s3_limits.MAX_PARTS and plan.MIN_PART_SIZE is s3_limits.MIN_PART_SIZE
    base = {"alertEmail": "me@example.com"}
    assert parse("dev", {**base, "partSizeMib": 5120}).part_size_mib == 5120
    for too_small_or_big, says in ((4, "S3 parts are at least 5 MiB"),
                                   (5121, "must be between 0 and 5120")):
        with pytest.raises(ConfigError, match=says):
            parse("dev", {**base, "partSizeMib": too_small_or_big})
