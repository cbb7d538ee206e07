"""From recorded API calls to IAM requests against one stack's real ARNs, and its policies.

A recorded call (``cloudsync_local.cloud.requests_log.Call``) names local resources; the stack
built by the Pulumi program under mocks names others. ``StackPolicies`` reads that stack's graph
(ARNs, each principal's role and identity policy, the bucket, key and topic policies) and
``to_iam`` turns one call into the IAM requests AWS would authorise for it: the action(s), the
exact resource ARN, the condition keys the request carries, and the KMS requests S3 and SNS make
with the caller's permissions (``kms:ViaService``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudsync_core import schema
from cloudsync_defs.functions import FUNCTIONS
from cloudsync_local.cloud.requests_log import (
    FUNCTION_PREFIX,
    SCHEDULER,
    STREAM_MAPPING,
    WORKFLOW,
    Call,
)
from tests.infra.conftest import ACCOUNT, Graph

T_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET, KEY, TOPIC = "bucket-policy", "key-policy", "topic-policy"
NOT_FOUND = 404

# S3 operations -> the IAM action(s) they need (object-level unless listed in BUCKET_LEVEL).
S3_ACTIONS: dict[str, tuple[str, ...]] = {
    "PutObject": ("s3:PutObject",),
    "CreateMultipartUpload": ("s3:PutObject",),
    "UploadPart": ("s3:PutObject",),
    "CompleteMultipartUpload": ("s3:PutObject",),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload",),
    "ListParts": ("s3:ListMultipartUploadParts",),
    "HeadObject": ("s3:GetObject",),
    "GetObject": ("s3:GetObject",),
    "GetObjectAttributes": ("s3:GetObjectAttributes",),
    "GetObjectTagging": ("s3:GetObjectTagging",),
    "PutObjectTagging": ("s3:PutObjectTagging",),
    "RestoreObject": ("s3:RestoreObject",),
    "ListObjectsV2": ("s3:ListBucket",),
    "ListObjects": ("s3:ListBucket",),
    "ListObjectVersions": ("s3:ListBucketVersions",),
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads",),
}
# A versioned read or write needs the ...Version action instead.
S3_VERSIONED = {"s3:GetObject": "s3:GetObjectVersion", "s3:GetObjectTagging":
                "s3:GetObjectVersionTagging", "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
                "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes"}
BUCKET_LEVEL = {"ListObjectsV2", "ListObjects", "ListObjectVersions", "ListMultipartUploads"}
# What S3 asks KMS for, with the caller's permissions, on an SSE-KMS object (bucket key on, so
# the encryption context is the bucket's ARN): a data key to write; for a multipart upload both
# actions at every step (S3 decrypts the parts' key to add and to join them: the superset, so a
# grant that passes here passes on AWS); the data key decrypted to read a body.
MULTIPART_KMS = ("kms:GenerateDataKey", "kms:Decrypt")
S3_KMS: dict[str, tuple[str, ...]] = {
    "PutObject": ("kms:GenerateDataKey",),
    "CreateMultipartUpload": MULTIPART_KMS,
    "UploadPart": MULTIPART_KMS,
    "CompleteMultipartUpload": MULTIPART_KMS,
    "GetObject": ("kms:Decrypt",),
}
# Publishing to an SSE-KMS topic: SNS generates and decrypts the data key as the publisher.
SNS_KMS = ("kms:GenerateDataKey", "kms:Decrypt")
TRANSACT_ACTIONS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem",
                    "Delete": "dynamodb:DeleteItem",
                    "ConditionCheck": "dynamodb:ConditionCheckItem"}
BATCH_WRITE_ACTIONS = {"PutRequest": "dynamodb:PutItem", "DeleteRequest": "dynamodb:DeleteItem"}


class UnknownResource(AssertionError):
    """A recorded call names a resource the stack does not have: the mapping is incomplete."""


@dataclass(frozen=True)
class IamRequest:
    principal: str  # the recorded principal: "function:prepare", "workflow", ...
    role_arn: str
    action: str
    resource: str
    context: Mapping[str, str | list[str]]
    resource_policy: str | None  # BUCKET, KEY, TOPIC or None (the service has none here)
    source: str  # the API call it came from, for messages: "s3 UploadPart"

    def as_json(self, rid: int, identity: list[str]) -> dict[str, Any]:
        return {"id": rid, "principal": self.role_arn, "action": self.action,
                "resource": self.resource, "account": ACCOUNT, "context": dict(self.context),
                "identity": identity, "resourcePolicy": self.resource_policy}


@dataclass
class StackPolicies:
    """One stack's ARNs and policies, read from the Pulumi program's graph under mocks."""

    graph: Graph
    region: str = field(init=False)
    roles: dict[str, str] = field(init=False)  # principal -> role ARN
    identity: dict[str, dict[str, Any]] = field(init=False)  # principal -> identity policy
    resource: dict[str, dict[str, Any]] = field(init=False)  # BUCKET/KEY/TOPIC -> policy

    def __post_init__(self) -> None:
        g = self.graph
        self.region = g.config["aws:region"]
        self.bucket_arn = g.one("aws:s3/bucket:Bucket").outputs["arn"]
        table = g.one("aws:dynamodb/table:Table").outputs
        self.table_arn, self.stream_arn = table["arn"], table["streamArn"]
        self.key_arn = g.one("aws:kms/key:Key").outputs["arn"]
        self.secret_arn = g.one("aws:secretsmanager/secret:Secret",
                                "credentials-secret").outputs["arn"]
        self.notify_secret_arn = g.one("aws:secretsmanager/secret:Secret",
                                       "credentials-notify").outputs["arn"]
        self.topic_arn = g.one("aws:sns/topic:Topic").outputs["arn"]
        self.state_machine_arn = g.one("aws:sfn/stateMachine:StateMachine").outputs["arn"]
        self.function_arns = {s.name: g.function(s.name).outputs["arn"] for s in FUNCTIONS}
        roles = {f"{FUNCTION_PREFIX}{s.name}": g.function(s.name).inputs["role"]
                 for s in FUNCTIONS}
        roles[WORKFLOW] = g.one("aws:sfn/stateMachine:StateMachine").inputs["roleArn"]
        roles[SCHEDULER] = g.one("aws:scheduler/schedule:Schedule").inputs["target"]["roleArn"]
        mapping = g.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs
        starter = next(s.name for s in FUNCTIONS
                       if self.function_arns[s.name] == mapping["functionName"])
        roles[STREAM_MAPPING] = roles[f"{FUNCTION_PREFIX}{starter}"]
        self.roles = roles
        by_role = {p.inputs["role"]: json.loads(p.inputs["policy"])
                   for p in g.of_type(T_ROLE_POLICY)}
        self.identity = {who: by_role[arn.rsplit("/", 1)[-1]] for who, arn in roles.items()}
        self.resource = {
            BUCKET: json.loads(g.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"]),
            KEY: json.loads(g.one("aws:kms/key:Key").inputs["policy"]),
            TOPIC: json.loads(g.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"]),
        }

    @property
    def bucket(self) -> str:
        return str(self.bucket_arn).split(":::", 1)[1]

    def base_context(self, principal: str) -> dict[str, str | list[str]]:
        return {"aws:SecureTransport": "true", "aws:PrincipalArn": self.roles[principal],
                "aws:PrincipalAccount": ACCOUNT, "aws:RequestedRegion": self.region}

    def kms(self, principal: str, actions: tuple[str, ...], service: str,
            context: Mapping[str, str], source: str) -> list[IamRequest]:
        ctx = {**self.base_context(principal), "kms:CallerAccount": ACCOUNT,
               "kms:ViaService": f"{service}.{self.region}.amazonaws.com",
               "kms:EncryptionContextKeys": sorted(context)}
        return [IamRequest(principal, self.roles[principal], a, self.key_arn, ctx, KEY, source)
                for a in actions]


@dataclass(frozen=True)
class LocalNames:
    """The local cloud's names for the same resources (``LocalCloud.outputs()``)."""

    outputs: Mapping[str, Any]

    def logical_function(self, name: str) -> str:
        bare = name.split(":function:", 1)[-1].split(":", 1)[0]
        for logical, fn in self.outputs["functions"].items():
            if fn == bare:
                return str(logical)
        raise UnknownResource(f"function {name!r}")

    def expect(self, kind: str, value: Any, *known: Any) -> None:
        if value not in known:
            raise UnknownResource(f"{kind} {value!r} (the local cloud has {known})")


def _s3(call: Call, stack: StackPolicies, local: LocalNames) -> list[IamRequest]:
    p, who = call.params, call.principal
    local.expect("bucket", p.get("Bucket"), local.outputs["bucket"])
    bucket_level = call.operation in BUCKET_LEVEL
    resource = stack.bucket_arn if bucket_level else f"{stack.bucket_arn}/{p['Key']}"
    ctx = stack.base_context(who)
    if "ServerSideEncryption" in p:
        ctx["s3:x-amz-server-side-encryption"] = str(p["ServerSideEncryption"])
    if "SSEKMSKeyId" in p:
        ctx["s3:x-amz-server-side-encryption-aws-kms-key-id"] = str(p["SSEKMSKeyId"])
    if bucket_level and call.operation != "ListMultipartUploads":  # it has no s3:prefix key
        ctx["s3:prefix"] = str(p.get("Prefix", ""))
        if "Delimiter" in p:
            ctx["s3:delimiter"] = str(p["Delimiter"])
    if "VersionId" in p:
        ctx["s3:versionid"] = str(p["VersionId"])
    actions = list(S3_ACTIONS[call.operation])
    if "VersionId" in p:
        actions = [S3_VERSIONED.get(a, a) for a in actions]
    if p.get("Tagging") and call.operation in ("PutObject", "CreateMultipartUpload"):
        actions.append("s3:PutObjectTagging")  # tags sent with the object
    source = f"s3 {call.operation}"
    found = [IamRequest(who, stack.roles[who], a, resource, ctx, BUCKET, source) for a in actions]
    if call.status == NOT_FOUND and call.operation in ("HeadObject", "GetObject"):
        # A missing key answers 404 only to a caller allowed s3:ListBucket (403 otherwise, which
        # the code would take for a failure): S3 checks it, with no prefix in the request.
        found.append(IamRequest(who, stack.roles[who], "s3:ListBucket", stack.bucket_arn,
                                stack.base_context(who), BUCKET, f"{source} (404)"))
    kms = S3_KMS.get(call.operation, ()) if call.status != NOT_FOUND else ()
    if kms:
        found += stack.kms(who, kms, "s3", {"aws:s3:arn": stack.bucket_arn}, source)
    return found


def _dynamodb(call: Call, stack: StackPolicies, local: LocalNames) -> list[IamRequest]:
    p, who, table = call.params, call.principal, local.outputs["table"]
    pairs: list[tuple[str, str]] = []  # (action, local table name)
    if call.operation == "TransactWriteItems":
        pairs = [(TRANSACT_ACTIONS[kind], name) for kind, name in p["TransactItems"]]
    elif call.operation == "TransactGetItems":
        pairs = [("dynamodb:GetItem", name) for _, name in p["TransactItems"]]
    elif call.operation == "BatchGetItem":
        pairs = [("dynamodb:BatchGetItem", name) for name in p["RequestItems"]]
    elif call.operation == "BatchWriteItem":
        pairs = [(BATCH_WRITE_ACTIONS[kind], name)
                 for name, kinds in p["RequestItems"].items() for kind in kinds]
    else:
        pairs = [(f"dynamodb:{call.operation}", p["TableName"])]
    found: list[IamRequest] = []
    for action, name in dict.fromkeys(pairs):
        local.expect("table", name, table)
        resource = stack.table_arn
        if p.get("IndexName"):
            local.expect("index", p["IndexName"], schema.STATUS_INDEX)
            resource = f"{stack.table_arn}/index/{p['IndexName']}"
        found.append(IamRequest(who, stack.roles[who], action, resource,
                                stack.base_context(who), None, f"dynamodb {call.operation}"))
    return found


def _streams(call: Call, stack: StackPolicies, local: LocalNames) -> list[IamRequest]:
    if "StreamArn" in call.params:
        local.expect("stream", call.params["StreamArn"], local.outputs["stream_arn"])
    who = call.principal
    resource = "*" if call.operation == "ListStreams" else stack.stream_arn
    return [IamRequest(who, stack.roles[who], f"dynamodb:{call.operation}", resource,
                       stack.base_context(who), None, f"dynamodbstreams {call.operation}")]


def _other(call: Call, stack: StackPolicies, local: LocalNames) -> list[IamRequest]:
    p, who, op = call.params, call.principal, call.operation
    source = f"{call.service} {op}"
    ctx = stack.base_context(who)
    if call.service == "secretsmanager":
        notify = (local.outputs["notify_secret_id"], local.outputs["notify_secret_arn"])
        local.expect("secret", p["SecretId"], local.outputs["secret_id"],
                     local.outputs["secret_arn"], *notify)
        arn = stack.notify_secret_arn if p["SecretId"] in notify else stack.secret_arn
        return [IamRequest(who, stack.roles[who], f"secretsmanager:{op}", arn, ctx,
                           None, source)]
    if call.service == "sns" and op == "Publish":
        local.expect("topic", p["TopicArn"], local.outputs["topic_arn"])
        return [IamRequest(who, stack.roles[who], "sns:Publish", stack.topic_arn, ctx, TOPIC,
                           source),
                *stack.kms(who, SNS_KMS, "sns", {"aws:sns:topicArn": stack.topic_arn}, source)]
    if call.service == "stepfunctions" and op == "StartExecution":
        local.expect("state machine", p["stateMachineArn"], local.outputs["state_machine_arn"])
        return [IamRequest(who, stack.roles[who], "states:StartExecution",
                           stack.state_machine_arn, ctx, None, source)]
    if call.service == "lambda" and op == "Invoke":
        arn = stack.function_arns[local.logical_function(str(p["FunctionName"]))]
        return [IamRequest(who, stack.roles[who], "lambda:InvokeFunction", arn, ctx, None,
                           source)]
    raise UnknownResource(f"no IAM mapping for {source} (by {who})")


def to_iam(call: Call, stack: StackPolicies, local: LocalNames) -> list[IamRequest]:
    """The IAM requests AWS authorises for one recorded call (several for a transaction)."""
    if call.service == "s3":
        return _s3(call, stack, local)
    if call.service == "dynamodb":
        return _dynamodb(call, stack, local)
    if call.service == "dynamodbstreams":
        return _streams(call, stack, local)
    return _other(call, stack, local)
