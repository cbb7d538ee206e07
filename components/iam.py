"""IAM documents from exact ARNs: one statement builder per kind of grant.

Every catalog ``Grant`` (cloudsync_defs.functions) maps to one builder in ``GRANTS``; a function's
role gets its own log group, X-Ray, and the statements of its grants, nothing else. Documents are
assembled with ``Output.json_dumps`` so no ``getPolicyDocument`` invoke is needed.

``*`` resources appear only for actions AWS offers no resource scoping for (``UNSCOPED_ACTIONS``);
``cloudsync:policy`` rules and the tests hold the documents to that. tests/permissions judges
every request an end-to-end run makes against these documents (iam-simulate) and holds every
granted action to a recorded use or a stated reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from cloudsync_core import schema
from cloudsync_defs.functions import Grant
from cloudsync_defs.options import LAMBDA_VPC_ACTIONS
from cloudsync_defs.policy_rules import LOG_DELIVERY_ACTIONS, XRAY_ACTIONS

from .naming import Naming

Statement = dict[str, Any]
VERSION: Final = "2012-10-17"

STREAM_ACTIONS: Final = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
)


@dataclass(frozen=True)
class Scope:
    """The exact ARNs grants are written against."""

    naming: Naming
    table_arn: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    prefixes: Sequence[str]
    key_arn: pulumi.Input[str]
    secret_arn: pulumi.Input[str]
    topic_arn: pulumi.Input[str]
    state_machine_arn: pulumi.Input[str]
    notify_secret_arn: pulumi.Input[str] = ""  # the Slack / webhook URLs (components/credentials)

    @property
    def index_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.table_arn, "/index/", schema.STATUS_INDEX)

    def objects(self) -> list[pulumi.Output[str]]:
        return [pulumi.Output.concat(self.bucket_arn, "/", prefix, "*") for prefix in self.prefixes]


def statement(
    sid: str,
    actions: Iterable[str],
    resources: pulumi.Input[str] | Sequence[pulumi.Input[str]],
    condition: Mapping[str, Any] | None = None,
) -> Statement:
    result: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources,
    }
    if condition:
        result["Condition"] = dict(condition)
    return result


def document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": VERSION, "Statement": list(statements)})


def trust(service: str, source_account: str | None = None) -> pulumi.Output[str]:
    """A role only one AWS service can assume (optionally only on behalf of our account)."""
    stmt: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account:
        stmt["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return document([stmt])


@dataclass(frozen=True)
class ServiceRole:
    """A role one AWS service assumes on behalf of our account, with one inline policy."""

    role_name: str
    description: str
    service: str
    statements: Sequence[Statement]


def service_role(
    parent: pulumi.Resource, name: str, spec: ServiceRole, naming: Naming,
    tags: Mapping[str, str],
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """``{name}-role`` and its ``least-privilege`` policy ``{name}-policy``."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-role",
        name=spec.role_name,
        description=f"cloudsync {naming.stack}: {spec.description}",
        assume_role_policy=trust(spec.service, naming.account),
        tags=dict(tags),
        opts=child,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-policy",
        name="least-privilege",
        role=role.id,
        policy=document(spec.statements),
        opts=child,
    )
    return role, policy


# --- the grants of the function catalog --------------------------------------------------------


def secret_read(scope: Scope) -> list[Statement]:
    return [statement("SecretRead", ["secretsmanager:GetSecretValue"], scope.secret_arn)]


def notify_secret_read(scope: Scope) -> list[Statement]:
    return [statement("NotifySecretRead", ["secretsmanager:GetSecretValue"],
                      scope.notify_secret_arn)]


def secret_write(scope: Scope) -> list[Statement]:
    return [statement("SecretWrite", ["secretsmanager:PutSecretValue"], scope.secret_arn)]


def secret_rotate(scope: Scope) -> list[Statement]:
    return [
        statement(
            "SecretRotate",
            ["secretsmanager:DescribeSecret", "secretsmanager:UpdateSecretVersionStage"],
            scope.secret_arn,
        )
    ]


def table_read(scope: Scope) -> list[Statement]:
    return [
        statement(
            "TableRead",
            ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
            [scope.table_arn, scope.index_arn],
        )
    ]


def table_write(scope: Scope) -> list[Statement]:
    return [statement("TableWrite", ["dynamodb:PutItem", "dynamodb:UpdateItem"], scope.table_arn)]


def archive_write(scope: Scope) -> list[Statement]:
    # s3:PutObject also authorises CreateMultipartUpload, UploadPart and CompleteMultipartUpload;
    # PutObjectTagging the tags sent with a new object; PutObjectVersionTagging the origin-check
    # verdict finalize adds to the version it completed (the bucket is versioned).
    return [
        statement(
            "ArchiveWrite",
            [
                "s3:PutObject",
                "s3:PutObjectTagging",
                "s3:PutObjectVersionTagging",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            scope.objects(),
        )
    ]


def archive_read(scope: Scope) -> list[Statement]:
    # GetObject covers HeadObject (sizes, ChecksumMode=ENABLED); GetObjectVersionTagging reads the
    # tags of a version before finalize adds its verdict. ListBucket is what makes S3
    # answer a HeadObject of a missing key with 404 rather than 403; that check carries no
    # prefix, so the prefix condition applies only when one is sent (a listing must stay in the
    # archive prefixes; the bucket holds nothing else: the bucket policy denies other writes).
    return [
        statement(
            "ArchiveRead",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectVersionTagging"],
            scope.objects(),
        ),
        statement(
            "ArchiveList",
            ["s3:ListBucket"],
            scope.bucket_arn,
            {"StringLikeIfExists": {"s3:prefix": [f"{p}*" for p in scope.prefixes]}},
        ),
    ]


def archive_uploads(scope: Scope) -> list[Statement]:
    # A bucket-level action without an s3:prefix condition key; prepare lists one key's uploads.
    return [statement("ArchiveUploads", ["s3:ListBucketMultipartUploads"], scope.bucket_arn)]


def topic_publish(scope: Scope) -> list[Statement]:
    return [statement("TopicPublish", ["sns:Publish"], scope.topic_arn)]


def start_workflow(scope: Scope) -> list[Statement]:
    return [statement("StartWorkflow", ["states:StartExecution"], scope.state_machine_arn)]


GRANTS: Final[dict[Grant, Callable[[Scope], list[Statement]]]] = {
    "secret_read": secret_read,
    "secret_write": secret_write,
    "secret_rotate": secret_rotate,
    "notify_secret_read": notify_secret_read,
    "table_read": table_read,
    "table_write": table_write,
    "archive_write": archive_write,
    "archive_read": archive_read,
    "archive_uploads": archive_uploads,
    "topic_publish": topic_publish,
    "start_workflow": start_workflow,
}
# The customer-managed key encrypts the archive and the alerts topic: using either needs the key,
# and only through that service.
KEY_SERVICES: Final[dict[Grant, str]] = {
    "archive_write": "s3",
    "archive_read": "s3",
    "topic_publish": "sns",
}


def key_use(scope: Scope, grants: Iterable[Grant]) -> list[Statement]:
    services = sorted({KEY_SERVICES[g] for g in grants if g in KEY_SERVICES})
    if not services:
        return []
    return [
        statement(
            "KeyUse",
            ["kms:GenerateDataKey", "kms:Decrypt"],
            scope.key_arn,
            {"StringEquals": {"kms:ViaService": [scope.naming.service(s) for s in services]}},
        )
    ]


# --- what every function, the workflow and the schedule need besides ---------------------------


def own_logs(log_group_arn: pulumi.Input[str]) -> Statement:
    return statement(
        "OwnLogs",
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        pulumi.Output.concat(log_group_arn, ":*"),
    )


def xray() -> Statement:
    return statement("XRay", XRAY_ACTIONS, "*")


def queue_send(queue_arn: pulumi.Input[str]) -> Statement:
    return statement("FailureQueue", ["sqs:SendMessage"], queue_arn)


def stream_read(table_arn: pulumi.Input[str]) -> list[Statement]:
    # The table's streams (a stream ARN ends in a timestamp label with colons, which linters
    # cannot parse; the label changes whenever the stream is re-enabled).
    return [
        statement("StreamRead", STREAM_ACTIONS, pulumi.Output.concat(table_arn, "/stream/*")),
        # Lambda's poller lists the table's streams; ListStreams has no resource-level scoping.
        statement("StreamList", ["dynamodb:ListStreams"], "*"),
    ]


def invoke(function_arns: Sequence[pulumi.Input[str]]) -> Statement:
    return statement("Invoke", ["lambda:InvokeFunction"], list(function_arns))


def lambda_vpc() -> Statement:
    """What Lambda needs on a function's role to place it in a VPC (stack config ``vpc``)."""
    return statement("VpcNetworkInterfaces", LAMBDA_VPC_ACTIONS, "*")


def log_delivery() -> Statement:
    return statement("LogDelivery", LOG_DELIVERY_ACTIONS, "*")


def function_statements(scope: Scope, grants: Iterable[Grant]) -> list[Statement]:
    ordered = sorted(set(grants))
    statements: list[Statement] = []
    for grant in ordered:
        statements += GRANTS[grant](scope)
    return statements + key_use(scope, ordered)
