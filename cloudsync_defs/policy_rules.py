"""cloudsync's infrastructure rules as plain functions over a resource graph.

The same functions run in two places: the CrossGuard policy pack in ``policy/`` (``pulumi preview
--policy-pack policy``) and the infra tests, over the graph Pulumi mocks record. A rule takes every
resource of the stack (type token, name, camelCase properties as the engine sees them, the protect
option) and returns its violations; an empty list means it passes. Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cloudsync_defs.lifecycle import LifecycleError, validate_rules

ROLE: Final = "aws:iam/role:Role"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY: Final = "aws:iam/policy:Policy"
BUCKET: Final = "aws:s3/bucket:Bucket"
BUCKET_POLICY: Final = "aws:s3/bucketPolicy:BucketPolicy"
PUBLIC_ACCESS_BLOCK: Final = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP: Final = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING: Final = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION: Final = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
LIFECYCLE: Final = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
KEY: Final = "aws:kms/key:Key"
TOPIC: Final = "aws:sns/topic:Topic"
TOPIC_POLICY: Final = "aws:sns/topicPolicy:TopicPolicy"
QUEUE: Final = "aws:sqs/queue:Queue"
QUEUE_POLICY: Final = "aws:sqs/queuePolicy:QueuePolicy"
TABLE: Final = "aws:dynamodb/table:Table"
FUNCTION: Final = "aws:lambda/function:Function"
LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
EVENT_INVOKE_CONFIG: Final = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
EVENT_SOURCE_MAPPING: Final = "aws:lambda/eventSourceMapping:EventSourceMapping"
STATE_MACHINE: Final = "aws:sfn/stateMachine:StateMachine"
SCHEDULE: Final = "aws:scheduler/schedule:Schedule"
SECRET_VERSION: Final = "aws:secretsmanager/secretVersion:SecretVersion"  # noqa: S105

# Actions AWS offers no resource-level scoping for: the only ones allowed on Resource "*".
UNSCOPED_ACTIONS: Final = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "cloudwatch:PutMetricData",  # and only under a cloudwatch:namespace condition
        "dynamodb:ListStreams",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)
NAMESPACE_CONDITIONED: Final = frozenset({"cloudwatch:PutMetricData"})
LAMBDA_ARCHITECTURE: Final = "arm64"
LAMBDA_RUNTIME: Final = "python3.12"

_SECRET_PATTERNS: Final = (
    ("a JWT", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
    ("a bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{16,}")),
    ("an AWS access key", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a GoPro access-token cookie", re.compile(r"gp_access_token=[^;\s]{8,}")),
    ("an OAuth token field", re.compile(
        r"\"(access_token|refresh_token|password|client_secret)\"\s*:\s*\"[^\"]+\"")),
)
_SECRET_ENV_NAME: Final = re.compile(r"(PASSWORD|PASSWD|TOKEN|CLIENT_SECRET|SECRET_KEY|API_KEY)")
_SECRET_PROP_NAMES: Final = frozenset({"secretString", "secretBinary", "password"})


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: Mapping[str, Any]
    protect: bool | None = None  # None: not known to the caller
    urn: str = ""


Violations = list[str]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Callable[[Sequence[Resource]], Violations] = field(compare=False)


# --- helpers -----------------------------------------------------------------------------------


def of_type(resources: Sequence[Resource], type_: str) -> list[Resource]:
    return [r for r in resources if r.type == type_]


def _doc(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        parsed = json.loads(raw)
    elif isinstance(raw, Mapping):
        parsed = dict(raw)
    else:
        raise ValueError(f"not a policy document: {type(raw).__name__}")
    if not isinstance(parsed, dict):
        raise ValueError("a policy document is a JSON object")
    return parsed


def statements(raw: Any) -> list[dict[str, Any]]:
    stmts = _doc(raw).get("Statement", [])
    return [stmts] if isinstance(stmts, dict) else list(stmts)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def identity_policies(resources: Sequence[Resource]) -> Iterator[tuple[Resource, Any]]:
    """Every identity (permissions) policy document in the graph."""
    for r in resources:
        if r.type in (ROLE_POLICY, MANAGED_POLICY) and r.props.get("policy") is not None:
            yield r, r.props["policy"]
        if r.type == ROLE:
            for inline in _list(r.props.get("inlinePolicies")):
                if isinstance(inline, Mapping) and inline.get("policy"):
                    yield r, inline["policy"]


def resource_policies(resources: Sequence[Resource]) -> Iterator[tuple[Resource, Any]]:
    for r in resources:
        if r.type in (BUCKET_POLICY, TOPIC_POLICY, QUEUE_POLICY, KEY) and r.props.get("policy"):
            yield r, r.props["policy"]
        if r.type in (QUEUE, TOPIC) and r.props.get("policy"):
            yield r, r.props["policy"]


def _is_public(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any(v == "*" or (isinstance(v, list) and "*" in v) for v in principal.values())
    return False


def _is_account_root(principal: Any) -> bool:
    if not isinstance(principal, Mapping) or set(principal) != {"AWS"}:
        return False
    return all(re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:root", str(p))
               for p in _list(principal["AWS"]))


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _keys(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _keys(v)


# --- rules -------------------------------------------------------------------------------------


def iam_least_privilege(resources: Sequence[Resource]) -> Violations:
    """No wildcard actions, and ``*`` resources only for actions AWS cannot scope."""
    found: Violations = []
    for r, raw in identity_policies(resources):
        for i, s in enumerate(statements(raw)):
            where = f"{r.name} statement {s.get('Sid', i)}"
            if s.get("Effect") != "Allow":
                continue
            if "NotAction" in s or "NotResource" in s:
                found.append(f"{where}: Allow with NotAction/NotResource grants too much")
            actions = [str(a) for a in _list(s.get("Action"))]
            for action in actions:
                if "*" in action or "?" in action:
                    found.append(f"{where}: wildcard action {action!r}")
            if not actions:
                found.append(f"{where}: no Action")
            resources_ = [str(x) for x in _list(s.get("Resource"))]
            if any("*" == x for x in resources_):
                broad = sorted(set(actions) - UNSCOPED_ACTIONS)
                if broad:
                    found.append(f"{where}: Resource '*' for scopable actions {broad}")
            for action in set(actions) & NAMESPACE_CONDITIONED:
                condition = s.get("Condition") or {}
                if not any("cloudwatch:namespace" in (block or {})
                           for block in condition.values()):
                    found.append(f"{where}: {action} without a cloudwatch:namespace condition")
    return found


def iam_trust_single_service(resources: Sequence[Resource]) -> Violations:
    """Every role is assumable by exactly one AWS service, nobody else."""
    found: Violations = []
    for r in of_type(resources, ROLE):
        for s in statements(r.props.get("assumeRolePolicy", "{}")):
            principal = s.get("Principal")
            if s.get("Effect") != "Allow":
                continue
            if not isinstance(principal, Mapping) or set(principal) != {"Service"} or len(
                    _list(principal["Service"])) != 1:
                found.append(f"{r.name}: trust policy must name one service principal, "
                             f"not {principal!r}")
    return found


def resource_policies_not_public(resources: Sequence[Resource]) -> Violations:
    """No resource policy allows anyone ('*'); wildcard actions only for the account's key admin."""
    found: Violations = []
    for r, raw in resource_policies(resources):
        for i, s in enumerate(statements(raw)):
            if s.get("Effect") != "Allow":
                continue
            where = f"{r.name} statement {s.get('Sid', i)}"
            if _is_public(s.get("Principal")):
                found.append(f"{where}: allows every principal")
            wildcard = [a for a in _list(s.get("Action")) if "*" in str(a)]
            if wildcard and not (
                r.type == KEY and _is_account_root(s.get("Principal")) and wildcard == ["kms:*"]
            ):
                service = (s.get("Principal") or {}).get("Service") if isinstance(
                    s.get("Principal"), Mapping) else None
                allowed = r.type == KEY and service and all(
                    str(a).startswith("kms:GenerateDataKey") for a in wildcard)
                if not allowed:
                    found.append(f"{where}: wildcard actions {wildcard}")
    return found


def _denies_insecure_transport(raw: Any) -> bool:
    for s in statements(raw):
        condition = s.get("Condition") or {}
        if (s.get("Effect") == "Deny" and _is_public(s.get("Principal"))
                and str((condition.get("Bool") or {}).get("aws:SecureTransport")).lower() == "false"
                and any(a in ("s3:*", "*") for a in _list(s.get("Action")))
                and any(str(x).endswith("/*") for x in _list(s.get("Resource")))):
            return True
    return False


def bucket_private_and_encrypted(resources: Sequence[Resource]) -> Violations:
    """Each bucket: public access blocked, ACLs off, TLS only, SSE-KMS + bucket key, versioned."""
    found: Violations = []

    def for_bucket(type_: str, bucket: str) -> list[Resource]:
        return [r for r in of_type(resources, type_) if r.props.get("bucket") == bucket]

    for b in of_type(resources, BUCKET):
        bucket = str(b.props.get("bucket") or "")
        where = f"bucket {bucket or b.name}"
        if b.props.get("acl") not in (None, "private"):
            found.append(f"{where}: canned ACL {b.props.get('acl')!r}")
        blocks = for_bucket(PUBLIC_ACCESS_BLOCK, bucket)
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                 "restrictPublicBuckets")
        if not any(all(p.props.get(f) is True for f in flags) for p in blocks):
            found.append(f"{where}: no public access block with all four settings on")
        if not any((o.props.get("rule") or {}).get("objectOwnership") == "BucketOwnerEnforced"
                   for o in for_bucket(OWNERSHIP, bucket)):
            found.append(f"{where}: ACLs not disabled (BucketOwnerEnforced)")
        if not any(_denies_insecure_transport(p.props.get("policy", "{}"))
                   for p in for_bucket(BUCKET_POLICY, bucket)):
            found.append(f"{where}: no bucket policy denying requests without TLS")
        sse_ok = False
        for e in for_bucket(ENCRYPTION, bucket):
            for rule in _list(e.props.get("rules")):
                default = rule.get("applyServerSideEncryptionByDefault") or {}
                if (default.get("sseAlgorithm") == "aws:kms" and default.get("kmsMasterKeyId")
                        and rule.get("bucketKeyEnabled") is True):
                    sse_ok = True
        if not sse_ok:
            found.append(f"{where}: no SSE-KMS default encryption with a key and a bucket key")
        if not any((v.props.get("versioningConfiguration") or {}).get("status") == "Enabled"
                   for v in for_bucket(VERSIONING, bucket)):
            found.append(f"{where}: versioning not enabled")
        if not for_bucket(LIFECYCLE, bucket):
            found.append(f"{where}: no lifecycle configuration")
    return found


def _s3_api_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {"ID": rule.get("id"), "Status": rule.get("status")}
    api["Transitions"] = [
        {"Days": t.get("days", 0), "StorageClass": t.get("storageClass")}
        for t in _list(rule.get("transitions"))
    ]
    api["NoncurrentVersionTransitions"] = [
        {"NoncurrentDays": t.get("noncurrentDays", 0), "StorageClass": t.get("storageClass")}
        for t in _list(rule.get("noncurrentVersionTransitions"))
    ]
    expiration = rule.get("noncurrentVersionExpiration")
    if expiration:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": expiration.get("noncurrentDays")}
    abort = rule.get("abortIncompleteMultipartUpload")
    if abort:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": abort.get("daysAfterInitiation")
        }
    return api


def lifecycle_valid(resources: Sequence[Resource]) -> Violations:
    """Lifecycle rules S3 accepts, per prefix, each aborting incomplete multipart uploads."""
    found: Violations = []
    for r in of_type(resources, LIFECYCLE):
        rules = _list(r.props.get("rules"))
        if not rules:
            found.append(f"{r.name}: no lifecycle rules")
        for rule in rules:
            if not (rule.get("filter") or {}).get("prefix"):
                found.append(f"{r.name} rule {rule.get('id')}: not limited to an archive prefix")
        try:
            validate_rules([_s3_api_rule(rule) for rule in rules])
        except LifecycleError as e:
            found.append(f"{r.name}: {e}")
    return found


def lambda_hardened(resources: Sequence[Resource]) -> Violations:
    """arm64, python3.12, X-Ray active, logs to its own log group that has a retention."""
    found: Violations = []
    retention = {g.props.get("name"): g.props.get("retentionInDays")
                 for g in of_type(resources, LOG_GROUP)}
    for f in of_type(resources, FUNCTION):
        where = f"function {f.props.get('name') or f.name}"
        if _list(f.props.get("architectures")) != [LAMBDA_ARCHITECTURE]:
            found.append(f"{where}: architectures must be [{LAMBDA_ARCHITECTURE!r}]")
        if f.props.get("runtime") != LAMBDA_RUNTIME:
            found.append(f"{where}: runtime must be {LAMBDA_RUNTIME}")
        if (f.props.get("tracingConfig") or {}).get("mode") != "Active":
            found.append(f"{where}: X-Ray tracing not Active")
        group = (f.props.get("loggingConfig") or {}).get("logGroup")
        if not group or not retention.get(group):
            found.append(f"{where}: no log group of its own with a retention")
    return found


def failures_captured(resources: Sequence[Resource]) -> Violations:
    """Async invokes, stream batches and schedules all end somewhere when they fail for good."""
    found: Violations = []
    for c in of_type(resources, EVENT_INVOKE_CONFIG):
        if not ((c.props.get("destinationConfig") or {}).get("onFailure") or {}).get(
                "destination"):
            found.append(f"{c.name}: async invocations have no on-failure destination")
    for m in of_type(resources, EVENT_SOURCE_MAPPING):
        where = f"event source mapping {m.name}"
        if not ((m.props.get("destinationConfig") or {}).get("onFailure") or {}).get(
                "destinationArn"):
            found.append(f"{where}: no on-failure destination")
        if m.props.get("bisectBatchOnFunctionError") is not True:
            found.append(f"{where}: batches are not bisected on error")
        if "ReportBatchItemFailures" not in _list(m.props.get("functionResponseTypes")):
            found.append(f"{where}: no partial batch responses")
        if not (m.props.get("filterCriteria") or {}).get("filters"):
            found.append(f"{where}: no filter criteria")
    async_functions = {str(c.props.get("functionName")) for c in
                       of_type(resources, EVENT_INVOKE_CONFIG)}
    for s in of_type(resources, SCHEDULE):
        target = s.props.get("target") or {}
        where = f"schedule {s.props.get('name') or s.name}"
        if not (target.get("deadLetterConfig") or {}).get("arn"):
            found.append(f"{where}: no dead-letter queue")
        if not target.get("retryPolicy"):
            found.append(f"{where}: no retry policy")
        arn = str(target.get("arn", ""))
        if ":function:" in arn and arn.rsplit(":function:", 1)[1] not in async_functions:
            found.append(f"{where}: its function has no on-failure destination for async invokes")
    return found


def workflow_logging(resources: Sequence[Resource]) -> Violations:
    """State machines log errors without execution data and are traced."""
    found: Violations = []
    for m in of_type(resources, STATE_MACHINE):
        where = f"state machine {m.props.get('name') or m.name}"
        logging = m.props.get("loggingConfiguration") or {}
        if logging.get("level") not in ("ERROR", "FATAL", "ALL"):
            found.append(f"{where}: logging level {logging.get('level')!r} records no errors")
        if logging.get("includeExecutionData") is not False:
            found.append(f"{where}: execution data would be logged")
        if not logging.get("logDestination"):
            found.append(f"{where}: no log destination")
        if (m.props.get("tracingConfiguration") or {}).get("enabled") is not True:
            found.append(f"{where}: X-Ray tracing off")
    return found


def encrypted_at_rest(resources: Sequence[Resource]) -> Violations:
    """Table (with PITR), topic, queues, keys rotated, log groups with a retention."""
    found: Violations = []
    for t in of_type(resources, TABLE):
        if (t.props.get("serverSideEncryption") or {}).get("enabled") is not True:
            found.append(f"table {t.props.get('name')}: server-side encryption not enabled")
        if (t.props.get("pointInTimeRecovery") or {}).get("enabled") is not True:
            found.append(f"table {t.props.get('name')}: point-in-time recovery off")
    for t in of_type(resources, TOPIC):
        if not t.props.get("kmsMasterKeyId"):
            found.append(f"topic {t.props.get('name')}: not encrypted with KMS")
    for q in of_type(resources, QUEUE):
        if not (q.props.get("sqsManagedSseEnabled") is True or q.props.get("kmsMasterKeyId")):
            found.append(f"queue {q.props.get('name')}: not encrypted")
    for k in of_type(resources, KEY):
        if k.props.get("enableKeyRotation") is not True:
            found.append(f"key {k.name}: rotation off")
    for g in of_type(resources, LOG_GROUP):
        if not g.props.get("retentionInDays"):
            found.append(f"log group {g.props.get('name')}: kept forever")
    return found


def archive_protected(resources: Sequence[Resource]) -> Violations:
    """The archive bucket and its key cannot be deleted by ``pulumi destroy``."""
    return [
        f"{r.type.rsplit(':', 1)[-1]} {r.name}: not protected"
        for r in resources
        if r.type in (BUCKET, KEY) and r.protect is False
    ]


def no_secret_values(resources: Sequence[Resource]) -> Violations:
    """No secret value reaches a resource input (so neither state nor a console shows one)."""
    found: Violations = []
    for r in resources:
        if r.type == SECRET_VERSION:
            found.append(f"{r.name}: a SecretVersion puts a secret value into the stack")
        for key in _keys(r.props):
            if key in _SECRET_PROP_NAMES:
                found.append(f"{r.name}: property {key!r} carries a secret")
        for path, text in _strings(r.props):
            for what, pattern in _SECRET_PATTERNS:
                if pattern.search(text):
                    found.append(f"{r.name}: {path} looks like {what}")
        if r.type == FUNCTION:
            env = ((r.props.get("environment") or {}).get("variables")) or {}
            for name, value in env.items():
                if _SECRET_ENV_NAME.search(str(name)) and not str(value).startswith("arn:"):
                    found.append(f"{r.name}: environment variable {name} holds a secret")
    return found


RULES: Final[tuple[Rule, ...]] = tuple(
    Rule(fn.__name__.replace("_", "-"), (fn.__doc__ or "").strip().splitlines()[0], fn)
    for fn in (
        iam_least_privilege,
        iam_trust_single_service,
        resource_policies_not_public,
        bucket_private_and_encrypted,
        lifecycle_valid,
        lambda_hardened,
        failures_captured,
        workflow_logging,
        encrypted_at_rest,
        archive_protected,
        no_secret_values,
    )
)


def check_all(resources: Sequence[Resource]) -> dict[str, Violations]:
    """Every rule's violations, by rule name (only rules that found something)."""
    results = {rule.name: rule.check(resources) for rule in RULES}
    return {name: v for name, v in results.items() if v}
