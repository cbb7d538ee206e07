"""Least privilege: every role, every statement, on exact ARNs; parliament finds nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from parliament import analyze_policy_string

from cloudsync_core import schema
from cloudsync_core.alerts import ENV_NOTIFY_SECRET
from cloudsync_defs.functions import FUNCTIONS
from cloudsync_defs.policy_rules import UNSCOPED_ACTIONS
from cloudsync_defs.workflow import FUNCTIONS_IN_WORKFLOW
from components import iam

from .conftest import ACCOUNT, Graph

pytestmark = pytest.mark.infra

T_POLICY = "aws:iam/rolePolicy:RolePolicy"

# What each catalog grant must come to: (actions, resource kind).
GRANT_ACTIONS: dict[str, set[str]] = {
    "secret_read": {"secretsmanager:GetSecretValue"},
    "secret_write": {"secretsmanager:PutSecretValue"},
    "secret_rotate": {"secretsmanager:DescribeSecret", "secretsmanager:UpdateSecretVersionStage"},
    "notify_secret_read": {"secretsmanager:GetSecretValue"},
    "table_read": {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"},
    "table_write": {"dynamodb:PutItem", "dynamodb:UpdateItem"},
    "archive_write": {"s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging",
                      "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
                      "kms:GenerateDataKey", "kms:Decrypt"},
    "archive_read": {"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectVersionTagging",
                     "s3:ListBucket", "kms:GenerateDataKey", "kms:Decrypt"},
    "archive_uploads": {"s3:ListBucketMultipartUploads"},
    "topic_publish": {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"},
    "start_workflow": {"states:StartExecution"},
}
BASE_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", *iam.XRAY_ACTIONS}


def statements(graph: Graph, name: str) -> list[dict[str, Any]]:
    doc = json.loads(graph.one(T_POLICY, name).inputs["policy"])
    assert doc["Version"] == "2012-10-17"
    result: list[dict[str, Any]] = doc["Statement"]
    return result


def actions(stmts: list[dict[str, Any]]) -> set[str]:
    return {a for s in stmts for a in s["Action"]}


def resources_of(stmts: list[dict[str, Any]], action: str) -> set[str]:
    found: set[str] = set()
    for s in stmts:
        if action in s["Action"]:
            found |= set(s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    return found


def all_identity_policies(graph: Graph) -> list[tuple[str, str]]:
    return [(p.name, p.inputs["policy"]) for p in graph.of_type(T_POLICY)]


def test_every_catalog_grant_has_a_statement_builder() -> None:
    grants = {g for f in FUNCTIONS for g in f.grants}
    assert grants <= set(iam.GRANTS)
    assert set(iam.GRANTS) == set(GRANT_ACTIONS)


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_each_function_gets_exactly_its_grants(graph: Graph, spec: Any) -> None:
    stmts = statements(graph, f"functions-{spec.name.replace('_', '-')}-policy")
    want = set(BASE_ACTIONS)
    for grant in spec.grants:
        want |= GRANT_ACTIONS[grant]
    if spec.invoked_async or spec.name == "start":
        want.add("sqs:SendMessage")
    if spec.name == "start":
        want |= {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                 "dynamodb:ListStreams"}
    assert actions(stmts) == want


def test_grants_are_scoped_to_exact_arns(graph: Graph) -> None:
    fn_name = graph.function("prepare").inputs["name"]
    table = graph.one("aws:dynamodb/table:Table").outputs["arn"]
    bucket = graph.one("aws:s3/bucket:Bucket").outputs["arn"]
    key = graph.one("aws:kms/key:Key").outputs["arn"]
    secret = graph.one("aws:secretsmanager/secret:Secret", "credentials-secret").outputs["arn"]
    topic = graph.one("aws:sns/topic:Topic").outputs["arn"]
    queue = graph.one("aws:sqs/queue:Queue").outputs["arn"]
    machine = graph.one("aws:sfn/stateMachine:StateMachine").outputs["arn"]
    region = graph.config["aws:region"]

    prepare = statements(graph, "functions-prepare-policy")
    assert resources_of(prepare, "logs:PutLogEvents") == {
        f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/lambda/{fn_name}:*"}
    assert resources_of(prepare, "secretsmanager:GetSecretValue") == {secret}
    assert resources_of(prepare, "dynamodb:Query") == {
        table, f"{table}/index/{schema.STATUS_INDEX}"}
    assert resources_of(prepare, "dynamodb:UpdateItem") == {table}
    assert resources_of(prepare, "s3:PutObject") == {f"{bucket}/gopro-videos/*"}
    assert resources_of(prepare, "s3:ListBucket") == {bucket}
    listing = next(s for s in prepare if "s3:ListBucket" in s["Action"])
    # a listing stays in the archive prefixes; a HeadObject's 404 check carries no prefix
    assert listing["Condition"] == {"StringLikeIfExists": {"s3:prefix": ["gopro-videos/*"]}}
    kms = next(s for s in prepare if "kms:Decrypt" in s["Action"])
    assert kms["Resource"] == key
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": [f"s3.{region}.amazonaws.com"]}}

    notify = statements(graph, "functions-notify-policy")
    assert resources_of(notify, "sns:Publish") == {topic}
    kms = next(s for s in notify if "kms:Decrypt" in s["Action"])
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": [f"sns.{region}.amazonaws.com"]}}

    notify_secret = graph.one("aws:secretsmanager/secret:Secret", "credentials-notify")
    assert resources_of(notify, "secretsmanager:GetSecretValue") == {notify_secret.outputs["arn"]}

    start = statements(graph, "functions-start-policy")
    assert resources_of(start, "states:StartExecution") == {machine}
    assert resources_of(start, "sqs:SendMessage") == {queue}
    assert resources_of(start, "dynamodb:GetRecords") == {f"{table}/stream/*"}
    assert resources_of(statements(graph, "functions-list-policy"), "sqs:SendMessage") == {queue}


def test_workflow_role_invokes_exactly_the_five_functions_and_updates_the_table(
        graph: Graph) -> None:
    stmts = statements(graph, "workflow-policy")
    assert resources_of(stmts, "lambda:InvokeFunction") == {
        graph.function(n).outputs["arn"] for n in FUNCTIONS_IN_WORKFLOW}
    assert len(FUNCTIONS_IN_WORKFLOW) == 6
    assert resources_of(stmts, "dynamodb:UpdateItem") == {
        graph.one("aws:dynamodb/table:Table").outputs["arn"]}
    assert actions(stmts) == {"lambda:InvokeFunction", "dynamodb:UpdateItem",
                              *iam.XRAY_ACTIONS, *iam.LOG_DELIVERY_ACTIONS}


def test_schedule_role_invokes_only_the_lister_and_sends_to_the_dlq(graph: Graph) -> None:
    stmts = statements(graph, "schedule-policy")
    assert resources_of(stmts, "lambda:InvokeFunction") == {graph.function("list").outputs["arn"]}
    queue = graph.one("aws:sqs/queue:Queue").outputs["arn"]
    assert resources_of(stmts, "sqs:SendMessage") == {queue}
    assert actions(stmts) == {"lambda:InvokeFunction", "sqs:SendMessage"}


def test_trust_policies(graph: Graph) -> None:
    services = {}
    for role in graph.of_type("aws:iam/role:Role"):
        (stmt,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert stmt["Action"] == "sts:AssumeRole" and stmt["Effect"] == "Allow"
        services[role.name] = stmt["Principal"]["Service"]
        if stmt["Principal"]["Service"] != "lambda.amazonaws.com":
            assert stmt["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert services["workflow-role"] == "states.amazonaws.com"
    assert services["schedule-role"] == "scheduler.amazonaws.com"
    assert sum(s == "lambda.amazonaws.com" for s in services.values()) == len(FUNCTIONS)


def test_no_wildcard_actions_and_star_resources_only_where_aws_cannot_scope(graph: Graph) -> None:
    for name, raw in all_identity_policies(graph):
        for s in json.loads(raw)["Statement"]:
            assert s["Effect"] == "Allow"
            assert "NotAction" not in s and "NotResource" not in s
            for action in s["Action"]:
                assert "*" not in action, f"{name}: {action}"
            res = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
            if "*" in res:
                assert res == ["*"]
                assert set(s["Action"]) <= UNSCOPED_ACTIONS, f"{name}: {s['Action']}"
                if "cloudwatch:PutMetricData" in s["Action"]:
                    assert "cloudwatch:namespace" in json.dumps(s.get("Condition"))
            else:
                assert all(r.startswith("arn:aws:") for r in res), f"{name}: {res}"


def test_metrics_need_no_permission_they_go_out_as_emf_log_lines(graph: Graph) -> None:
    for _, raw in all_identity_policies(graph):
        assert "cloudwatch:PutMetricData" not in raw


def _findings(raw: str, community: bool = False) -> list[str]:
    policy = analyze_policy_string(raw, include_community_auditors=community)
    return [f"{f.issue} {f.detail}".strip() for f in policy.findings]


def test_every_identity_policy_passes_parliament(graph: Graph) -> None:
    found = {name: _findings(raw) for name, raw in all_identity_policies(graph)}
    assert {k: v for k, v in found.items() if v} == {}
    assert len(found) == len(FUNCTIONS) + 2


def test_community_auditors_flag_only_the_workflows_documented_log_delivery_grant(
        graph: Graph) -> None:
    # Step Functions' execution role must hold logs:PutResourcePolicy (on "*", no scoping) to
    # deliver its logs; parliament's community auditor flags it as permissions management.
    found = {name: _findings(raw, community=True) for name, raw in all_identity_policies(graph)}
    assert {k: v for k, v in found.items() if v} == {
        "workflow-policy": ["PERMISSIONS_MANAGEMENT_ACTIONS"]}
    without = json.loads(graph.one(T_POLICY, "workflow-policy").inputs["policy"])
    for stmt in without["Statement"]:
        stmt["Action"] = [a for a in stmt["Action"] if a != "logs:PutResourcePolicy"]
    assert _findings(json.dumps(without), community=True) == []


@pytest.mark.parametrize("type_", ["aws:s3/bucketPolicy:BucketPolicy",
                                   "aws:sns/topicPolicy:TopicPolicy"])
def test_resource_policies_pass_parliament(graph: Graph, type_: str) -> None:
    # Key policies and trust policies are not identity policies: parliament would flag the "*"
    # resource every key policy must name and a trust policy's missing Resource. The policy
    # rules (test_policy_pack) hold those to our own standard instead.
    assert _findings(graph.one(type_).inputs["policy"], community=True) == []


def test_parliament_would_catch_a_bad_policy() -> None:
    bad = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:PutObjekt", "Resource": "arn:aws:s3:::b/*"},
    ]})
    assert len(_findings(bad, community=True)) >= 2


def test_only_the_functions_that_send_alerts_can_read_the_notify_secret(graph: Graph) -> None:
    """The Slack / webhook URLs: readable by notify (run summaries), list (summaries of runs done
    while listing, pause alerts) and mark_failed (pause alerts), by nothing else."""
    arn = graph.one("aws:secretsmanager/secret:Secret", "credentials-notify").outputs["arn"]
    readers = {name for name, policy in all_identity_policies(graph)
               for s in json.loads(policy)["Statement"]
               if arn in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
    assert readers == {"functions-notify-policy", "functions-list-policy",
                       "functions-mark-failed-policy"}
    for name in readers:
        assert resources_of(statements(graph, name), "secretsmanager:GetSecretValue") >= {arn}
    for spec in FUNCTIONS:
        env = graph.function(spec.name).inputs["environment"]["variables"]
        assert env.get(ENV_NOTIFY_SECRET) == (arn if "notify_secret_read" in spec.grants
                                              else None)
