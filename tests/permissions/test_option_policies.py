"""The policies the optional features add (stack config ``vpc``, ``audit``, ``fis``), judged
with ``@cloud-copilot/iam-simulate``: the audit log bucket lets CloudTrail write for this trail
only, the FIS role reaches its fault configs and the transfer function's configuration and
nothing else, and the functions get what Lambda needs to join the VPC and read fault configs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.conftest import ACCOUNT, Graph, build_stack, stack_config

from . import evaluator

pytestmark = pytest.mark.permissions

TRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"
LOG_POLICY = "log-bucket"


@pytest.fixture(scope="module")
def on(node_evaluator: None) -> Graph:
    return build_stack("dev", {
        **stack_config("dev"), "cloudsync:vpc": json.dumps({"mode": "create"}),
        "cloudsync:audit": json.dumps({"enabled": True}),
        "cloudsync:fis": json.dumps({"enabled": True})})


def _policy(graph: Graph, type_: str, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(graph.one(type_, name).inputs["policy"])
    return document


def _request(principal: str, action: str, resource: str, identity: list[str],
             resource_policy: str | None = None, **context: str) -> dict[str, Any]:
    return {"principal": principal, "action": action, "resource": resource, "account": ACCOUNT,
            "context": {"aws:SecureTransport": "true", **context}, "identity": identity,
            "resourcePolicy": resource_policy}


def _judge(policies: dict[str, Any], cases: dict[str, dict[str, Any]]) -> dict[str, str]:
    requests = [{"id": n, **case} for n, case in enumerate(cases.values())]
    verdicts = evaluator.judge(policies, requests)
    return {name: v.result for name, v in zip(cases, verdicts, strict=True)}


def test_the_log_bucket_lets_cloudtrail_write_only_for_this_trail(on: Graph) -> None:
    bucket = on.one("aws:s3/bucket:Bucket", "audit-bucket").inputs["bucket"]
    trail = on.one("aws:cloudtrail/trail:Trail").outputs["arn"]
    log = f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT}/CloudTrail/eu-central-1/2026/11/30/x.json.gz"
    acl = {"s3:x-amz-acl": "bucket-owner-full-control"}

    def put(resource: str = log, **context: str) -> dict[str, Any]:
        return _request(TRAIL_PRINCIPAL, "s3:PutObject", resource, [], LOG_POLICY, **context)

    other_trail = trail.replace(":trail/", ":trail/someone-else-")
    verdicts = _judge({LOG_POLICY: _policy(on, "aws:s3/bucketPolicy:BucketPolicy",
                                           "audit-policy")}, {
        "this trail writes": put(**acl, **{"aws:SourceArn": trail}),
        "this trail checks the ACL": _request(
            TRAIL_PRINCIPAL, "s3:GetBucketAcl", f"arn:aws:s3:::{bucket}", [], LOG_POLICY,
            **{"aws:SourceArn": trail}),
        "another trail": put(**acl, **{"aws:SourceArn": other_trail}),
        "no source trail": put(**acl),
        "another account's prefix": put(log.replace(f"AWSLogs/{ACCOUNT}", "AWSLogs/999999999999"),
                                        **acl, **{"aws:SourceArn": trail}),
        "over plain HTTP": put(**acl, **{"aws:SourceArn": trail, "aws:SecureTransport": "false"}),
    })
    assert verdicts == {
        "this trail writes": "Allowed", "this trail checks the ACL": "Allowed",
        "another trail": "ImplicitlyDenied", "no source trail": "ImplicitlyDenied",
        "another account's prefix": "ImplicitlyDenied", "over plain HTTP": "ExplicitlyDenied",
    }


def test_the_fis_role_and_the_transfer_role_reach_only_the_fault_configs(on: Graph) -> None:
    fis_role = on.one("aws:iam/role:Role", "gameday-fis-role").outputs["arn"]
    transfer = on.function("transfer")
    fis_bucket = on.one("aws:s3/bucket:Bucket", "gameday-bucket").inputs["bucket"]
    archive = on.one("aws:s3/bucket:Bucket", "archive-bucket").inputs["bucket"]
    config = f"arn:aws:s3:::{fis_bucket}/FisConfigs/config.json"
    policies = {
        "fis": _policy(on, "aws:iam/rolePolicy:RolePolicy", "gameday-fis-policy"),
        "transfer": _policy(on, "aws:iam/rolePolicy:RolePolicy", "functions-transfer-policy"),
    }
    function_arn = transfer.outputs["arn"]
    list_arn = on.function("list").outputs["arn"]

    def fis(action: str, resource: str) -> dict[str, Any]:
        return _request(fis_role, action, resource, ["fis"])

    def fn(action: str, resource: str, **context: str) -> dict[str, Any]:
        return _request(transfer.inputs["role"], action, resource, ["transfer"], **context)

    verdicts = _judge(policies, {
        "fis writes a config": fis("s3:PutObject", config),
        "fis deletes a config": fis("s3:DeleteObject", config),
        "fis reads the transfer function": fis("lambda:GetFunction", function_arn),
        "fis writes the archive": fis("s3:PutObject", f"arn:aws:s3:::{archive}/gopro-videos/x"),
        "fis reads another function": fis("lambda:GetFunction", list_arn),
        "fis invokes the function": fis("lambda:InvokeFunction", function_arn),
        "extension reads a config": fn("s3:GetObject", config),
        "extension lists the configs": fn("s3:ListBucket", f"arn:aws:s3:::{fis_bucket}",
                                          **{"s3:prefix": "FisConfigs/"}),
        "extension lists elsewhere": fn("s3:ListBucket", f"arn:aws:s3:::{fis_bucket}",
                                        **{"s3:prefix": "other/"}),
        "extension writes a config": fn("s3:PutObject", config),
        "lambda attaches the function to the VPC": fn("ec2:CreateNetworkInterface", "*"),
    })
    assert verdicts == {
        "fis writes a config": "Allowed", "fis deletes a config": "Allowed",
        "fis reads the transfer function": "Allowed", "fis writes the archive": "ImplicitlyDenied",
        "fis reads another function": "ImplicitlyDenied",
        "fis invokes the function": "ImplicitlyDenied",
        "extension reads a config": "Allowed", "extension lists the configs": "Allowed",
        "extension lists elsewhere": "ImplicitlyDenied",
        "extension writes a config": "ImplicitlyDenied",
        "lambda attaches the function to the VPC": "Allowed",
    }
