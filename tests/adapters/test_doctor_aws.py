"""`cloudsync doctor`'s AWS-only checks against moto (`mock_aws`), as far as moto implements them.

moto 5.2.5: SNS ListSubscriptionsByTopic and EventBridge Scheduler ListSchedules/GetSchedule are
implemented (moto confirms every subscription at once, so an unconfirmed one is made by setting
the ARN AWS reports for it); IAM's SimulatePrincipalPolicy/SimulateCustomPolicy are not, so the
doctor must skip those checks with the reason. How the doctor reads the simulator's answer is
checked against AWS's documented answer shape with botocore's Stubber.
"""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.sns.models import sns_backends

from cloudsync_cli.commands import doctor_aws
from cloudsync_cli.context import Context
from cloudsync_cli.main import main
from cloudsync_defs.table import create_table_request

REGION = "eu-central-1"
ACCOUNT = "123456789012"
BUCKET = f"cloudsync-dev-{ACCOUNT}-{REGION}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/cloudsync-dev-transfer-fn"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


@pytest.fixture
def stack(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A deployed stack as far as the doctor reads it: outputs, table, bucket with policy,
    topic with an email subscription, functions with their roles, the nightly schedule."""
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        c = {s: boto3.client(s, region_name=REGION) for s in (
            "dynamodb", "s3", "sns", "iam", "lambda", "scheduler", "ssm", "secretsmanager")}
        c["dynamodb"].create_table(**create_table_request("cloudsync-dev-tracker"))
        c["s3"].create_bucket(Bucket=BUCKET,
                              CreateBucketConfiguration={"LocationConstraint": REGION})
        c["s3"].put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
        c["secretsmanager"].create_secret(Name="cloudsync/dev/credentials")
        topic = c["sns"].create_topic(Name="cloudsync-dev-alerts")["TopicArn"]
        c["sns"].subscribe(TopicArn=topic, Protocol="email", Endpoint="you@example.com")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"}]})
        role = c["iam"].create_role(RoleName="cloudsync-dev-transfer-fn",
                                    AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        arns = {
            name: c["lambda"].create_function(
                FunctionName=f"cloudsync-dev-{name}", Runtime="python3.12", Role=role,
                Handler="handler.handler", Code={"ZipFile": _zip()})["FunctionArn"]
            for name in ("list", "transfer")
        }
        c["scheduler"].create_schedule(
            Name="cloudsync-dev-nightly", ScheduleExpression="cron(0 2 * * ? *)",
            ScheduleExpressionTimezone="Europe/Berlin", FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": arns["list"], "RoleArn": role})
        c["ssm"].put_parameter(Name="/cloudsync/dev/outputs", Type="String", Value=json.dumps({
            "stack": "dev", "region": REGION, "bucket": BUCKET, "table": "cloudsync-dev-tracker",
            "secretId": "cloudsync/dev/credentials", "topicArn": topic,
            "listFunction": "cloudsync-dev-list",
            "functions": {"list": "cloudsync-dev-list", "transfer": "cloudsync-dev-transfer"}}))
        yield {"clients": c, "topic": topic, "role": role}


def doctor() -> tuple[int, dict[str, dict[str, Any]]]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--stack", "dev", "doctor", "--json"], out=out, err=err)
    return code, {c["name"]: c for c in json.loads(out.getvalue())["checks"]}


def test_against_moto_each_check_passes_fails_or_says_why_it_cannot_run(
    stack: dict[str, Any],
) -> None:
    code, checks = doctor()
    assert code == 1  # nobody logged in yet
    status = {name: c["status"] for name, c in checks.items()}
    assert status == {
        "outputs": "pass", "gopro login": "fail", "alerts": "pass", "schedule": "pass",
        "account pause": "pass", "last run": "skip", "failed media": "pass",
        "archive write": "skip", "bucket policy": "skip",
    }
    assert "email:you@example.com" in checks["alerts"]["detail"]
    schedule = checks["schedule"]["detail"]
    assert "cloudsync-dev-nightly enabled, cron(0 2 * * ? *) Europe/Berlin" in schedule
    assert " 02:00 CE" in schedule  # the next run, in the schedule's own time zone
    for name in ("archive write", "bucket policy"):
        assert "does not implement the IAM policy simulator" in checks[name]["detail"]


def test_an_unconfirmed_email_subscription_fails(stack: dict[str, Any]) -> None:
    backend = sns_backends[ACCOUNT][REGION]
    for subscription in backend.subscriptions.values():
        subscription.arn = "PendingConfirmation"  # what AWS lists until the link is clicked
    _, checks = doctor()
    assert checks["alerts"]["status"] == "fail"
    assert "email:you@example.com" in checks["alerts"]["detail"]
    assert "Confirm subscription" in checks["alerts"]["fix"]


def test_no_subscription_at_all_fails(stack: dict[str, Any]) -> None:
    sns = stack["clients"]["sns"]
    for sub in sns.list_subscriptions_by_topic(TopicArn=stack["topic"])["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    _, checks = doctor()
    assert checks["alerts"]["status"] == "fail"
    assert "alertEmail" in checks["alerts"]["fix"]


def test_a_disabled_or_missing_schedule_fails(stack: dict[str, Any]) -> None:
    scheduler = stack["clients"]["scheduler"]
    current = scheduler.get_schedule(Name="cloudsync-dev-nightly")
    scheduler.update_schedule(
        Name="cloudsync-dev-nightly", ScheduleExpression=current["ScheduleExpression"],
        ScheduleExpressionTimezone="Europe/Berlin", FlexibleTimeWindow={"Mode": "OFF"},
        Target=current["Target"], State="DISABLED")
    _, checks = doctor()
    assert checks["schedule"]["status"] == "fail" and "DISABLED" in checks["schedule"]["detail"]
    scheduler.delete_schedule(Name="cloudsync-dev-nightly")
    _, checks = doctor()
    assert checks["schedule"]["status"] == "fail"
    assert "no EventBridge Scheduler schedule" in checks["schedule"]["detail"]


def test_missing_outputs_fail_first_and_skip_the_rest(stack: dict[str, Any]) -> None:
    stack["clients"]["ssm"].delete_parameter(Name="/cloudsync/dev/outputs")
    code, checks = doctor()
    assert code == 1 and checks["outputs"]["status"] == "fail"
    assert "has no outputs" in checks["outputs"]["detail"]
    assert {c["status"] for n, c in checks.items() if n != "outputs"} == {"skip"}


# --- the simulator's answer, in AWS's documented shape ------------------------------------------


def _answer(decision: str, matched: list[dict[str, Any]]) -> dict[str, Any]:
    return {"EvaluationResults": [{
        "EvalActionName": "s3:PutObject", "EvalResourceName": "arn:aws:s3:::x/y",
        "EvalDecision": decision, "MatchedStatements": matched}], "IsTruncated": False}


def _stubbed(stack: dict[str, Any], role_decision: str, bucket_decision: str,
             bucket_matched: list[dict[str, Any]]) -> list[Any]:
    ctx = Context.create(stack="dev")
    ctx.outputs  # noqa: B018 - discover first (it may switch the region)
    iam = ctx.aws.client("iam")
    with Stubber(iam) as stub:
        stub.add_response("simulate_principal_policy", _answer(role_decision, [{
            "SourcePolicyId": "least-privilege", "SourcePolicyType": "IAM Policy",
            "StartPosition": {"Line": 1, "Column": 1}, "EndPosition": {"Line": 1, "Column": 9}}]))
        stub.add_response("simulate_custom_policy", _answer(bucket_decision, bucket_matched))
        return doctor_aws.check_archive_write(ctx, argparse.Namespace())


def test_an_explicit_deny_by_the_bucket_policy_fails_naming_the_statement(
    stack: dict[str, Any],
) -> None:
    role, bucket = _stubbed(stack, "allowed", "explicitDeny", [{
        "SourcePolicyId": "ResourcePolicy", "SourcePolicyType": "Resource Policy",
        "StartPosition": {"Line": 12, "Column": 5}, "EndPosition": {"Line": 20, "Column": 6}}])
    assert role.status == "pass" and "cloudsync-dev-transfer-fn" in role.detail
    assert bucket.status == "fail" and "ResourcePolicy (Resource Policy, line 12)" in bucket.detail


def test_a_role_without_the_grant_fails(stack: dict[str, Any]) -> None:
    role, bucket = _stubbed(stack, "implicitDeny", "allowed", [])
    assert role.status == "fail" and "implicitDeny" in role.detail
    assert bucket.status == "pass"
