"""cloudsync's infrastructure rules as plain functions over resources.

The same functions run in two places: the CrossGuard policy pack in ``policy/`` (``pulumi preview
--policy-pack policy``) and the infra tests, over the graph Pulumi mocks record. Standard library
only. Two kinds of rule:

- a *resource* rule looks at one resource (type token, name, camelCase inputs as the engine sees
  them, the protect option) and becomes a resource validation policy: the engine runs it on every
  resource as it is registered, on a new stack's first preview too;
- a *stack* rule needs several resources at once (does this bucket have a public access block?)
  and becomes a stack validation policy. Only what must cross resources is one.

On a first preview much is unknown (every ARN, so every policy document built from one): the
engine passes an unknown as a sentinel string, and the pack's wrapper hands the rules plain values
with those sentinels instead of the SDK's proxies that raise on them. Every rule judges what is
known and skips what is not (``is_unknown``): an unknown is neither a pass nor a violation, and the
same rule runs again on ``pulumi up``, when everything is known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cloudsync_defs.lifecycle import LifecycleError, validate_rules
from cloudsync_defs.options import HTTPS, LAMBDA_VPC_ACTIONS
from cloudsync_defs.stack import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

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
SECURITY_GROUP: Final = "aws:ec2/securityGroup:SecurityGroup"
TRAIL: Final = "aws:cloudtrail/trail:Trail"
EXPERIMENT_TEMPLATE: Final = "aws:fis/experimentTemplate:ExperimentTemplate"

XRAY_ACTIONS: Final = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
# Step Functions' logging to CloudWatch Logs (vended log delivery): no resource-level permissions.
LOG_DELIVERY_ACTIONS: Final = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
# Actions AWS offers no resource-level scoping for: the only ones allowed on Resource "*".
UNSCOPED_ACTIONS: Final = frozenset(
    {
        *XRAY_ACTIONS,
        "cloudwatch:PutMetricData",  # and only under a cloudwatch:namespace condition
        "dynamodb:ListStreams",
        *LOG_DELIVERY_ACTIONS,
        # Lambda's VPC attachment (stack config vpc): AWS documents these on "*" only.
        *LAMBDA_VPC_ACTIONS,
    }
)
NAMESPACE_CONDITIONED: Final = frozenset({"cloudwatch:PutMetricData"})

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
# The Pulumi engine's unknown-value sentinels (pulumi.runtime.rpc / pulumi_policy.proxy).
UNKNOWN_SENTINELS: Final = frozenset({
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string (and any unknown from the Python SDK)
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: Mapping[str, Any]
    protect: bool | None = None  # None: not known to the caller
    urn: str = ""


Violations = list[str]
ResourceCheck = Callable[[Resource], Violations]
StackCheck = Callable[[Sequence[Resource]], Violations]


@dataclass(frozen=True)
class Rule:
    """A rule of the pack. ``resource_check`` set: a resource policy over ``types`` (empty: every
    type); otherwise ``stack_check`` over the whole stack. ``check`` runs either on a stack."""

    name: str
    description: str
    resource_check: ResourceCheck | None = field(default=None, compare=False)
    stack_check: StackCheck | None = field(default=None, compare=False)
    types: frozenset[str] = frozenset()

    @property
    def is_resource_rule(self) -> bool:
        return self.resource_check is not None

    def applies_to(self, type_: str) -> bool:
        return not self.types or type_ in self.types

    def check(self, resources: Sequence[Resource]) -> Violations:
        if self.resource_check is not None:
            return [v for r in resources if self.applies_to(r.type)
                    for v in self.resource_check(r)]
        assert self.stack_check is not None
        return self.stack_check(resources)


# --- helpers -----------------------------------------------------------------------------------


def is_unknown(value: Any) -> bool:
    """A value the engine does not know yet (a first preview)."""
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


def has_unknown(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_unknown(v) for v in value)
    return is_unknown(value)


def of_type(resources: Sequence[Resource], type_: str) -> list[Resource]:
    return [r for r in resources if r.type == type_]


def _doc(raw: Any) -> dict[str, Any] | None:
    """A policy document, or None while it is unknown."""
    if is_unknown(raw):
        return None
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
    """The statements of a document; none while the document is unknown."""
    doc = _doc(raw)
    if doc is None:
        return []
    stmts = doc.get("Statement", [])
    if is_unknown(stmts):
        return []
    return [stmts] if isinstance(stmts, dict) else list(stmts)


def _list(value: Any) -> list[Any]:
    """Known items of a value that may be one item or a list."""
    if value is None or is_unknown(value):
        return []
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    return [i for i in items if not is_unknown(i)]


def _get(mapping: Any, *path: str) -> Any:
    """A nested property, None when missing; unknown stays the sentinel."""
    value = mapping
    for key in path:
        if is_unknown(value):
            return value
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


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


def identity_documents(r: Resource) -> list[Any]:
    """The identity (permissions) policy documents one resource carries."""
    docs: list[Any] = []
    if r.type in (ROLE_POLICY, MANAGED_POLICY) and r.props.get("policy") is not None:
        docs.append(r.props["policy"])
    if r.type == ROLE:
        for inline in _list(r.props.get("inlinePolicies")):
            if isinstance(inline, Mapping) and inline.get("policy"):
                docs.append(inline["policy"])
    return docs


def resource_document(r: Resource) -> Any:
    if r.type in (BUCKET_POLICY, TOPIC_POLICY, QUEUE_POLICY, KEY, QUEUE, TOPIC):
        return r.props.get("policy")
    return None


def _where(r: Resource) -> str:
    name = r.props.get("name")
    return str(name) if isinstance(name, str) and not is_unknown(name) else r.name


# --- resource rules ----------------------------------------------------------------------------


def _statement_privilege(where: str, s: Mapping[str, Any]) -> Violations:
    found: Violations = []
    if "NotAction" in s or "NotResource" in s:
        found.append(f"{where}: Allow with NotAction/NotResource grants too much")
    actions = [str(a) for a in _list(s.get("Action"))]
    for action in actions:
        if "*" in action or "?" in action:
            found.append(f"{where}: wildcard action {action!r}")
    if not actions and not is_unknown(s.get("Action")):
        found.append(f"{where}: no Action")
    if any(x == "*" for x in _list(s.get("Resource"))):
        broad = sorted(set(actions) - UNSCOPED_ACTIONS)
        if broad:
            found.append(f"{where}: Resource '*' for scopable actions {broad}")
    for action in set(actions) & NAMESPACE_CONDITIONED:
        condition = s.get("Condition") or {}
        if not is_unknown(condition) and not any(
                "cloudwatch:namespace" in (block or {}) for block in condition.values()):
            found.append(f"{where}: {action} without a cloudwatch:namespace condition")
    return found


def iam_least_privilege(r: Resource) -> Violations:
    """No wildcard actions, and ``*`` resources only for actions AWS cannot scope."""
    found: Violations = []
    for raw in identity_documents(r):
        for i, s in enumerate(statements(raw)):
            if s.get("Effect") == "Allow":
                found += _statement_privilege(f"{r.name} statement {s.get('Sid', i)}", s)
    return found


def iam_trust_single_service(r: Resource) -> Violations:
    """Every role is assumable by exactly one AWS service, nobody else."""
    found: Violations = []
    for s in statements(r.props.get("assumeRolePolicy", "{}")):
        principal = s.get("Principal")
        if s.get("Effect") != "Allow" or has_unknown(principal):
            continue
        if not isinstance(principal, Mapping) or set(principal) != {"Service"} or len(
                _list(principal["Service"])) != 1:
            found.append(f"{r.name}: trust policy must name one service principal, "
                         f"not {principal!r}")
    return found


def resource_policies_not_public(r: Resource) -> Violations:
    """No resource policy allows anyone ('*'); wildcard actions only for the account's key admin."""
    found: Violations = []
    raw = resource_document(r)
    if not raw:
        return found
    for i, s in enumerate(statements(raw)):
        if s.get("Effect") != "Allow":
            continue
        where = f"{r.name} statement {s.get('Sid', i)}"
        principal = s.get("Principal")
        if _is_public(principal):
            found.append(f"{where}: allows every principal")
        wildcard = [a for a in _list(s.get("Action")) if "*" in str(a)]
        if not wildcard or (r.type == KEY and _is_account_root(principal)
                            and wildcard == ["kms:*"]):
            continue
        service = principal.get("Service") if isinstance(principal, Mapping) else None
        if not (r.type == KEY and service
                and all(str(a).startswith("kms:GenerateDataKey") for a in wildcard)):
            found.append(f"{where}: wildcard actions {wildcard}")
    return found


def _denies_insecure_transport(raw: Any) -> bool:
    for s in statements(raw):
        condition = s.get("Condition") or {}
        if (s.get("Effect") == "Deny" and _is_public(s.get("Principal"))
                and str(_get(condition, "Bool", "aws:SecureTransport")).lower() == "false"
                and any(a in ("s3:*", "*") for a in _list(s.get("Action")))
                and any(str(x).endswith("/*") for x in _list(s.get("Resource")))):
            return True
    return False


_PUBLIC_ACCESS_FLAGS: Final = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                               "restrictPublicBuckets")


def _encryption_ok(rule: Any) -> bool | None:
    """SSE-KMS with a key and a bucket key; None while unknown."""
    if has_unknown(rule):
        return None
    default = _get(rule, "applyServerSideEncryptionByDefault") or {}
    return bool(default.get("sseAlgorithm") == "aws:kms" and default.get("kmsMasterKeyId")
                and _get(rule, "bucketKeyEnabled") is True)


def bucket_private_and_encrypted(r: Resource) -> Violations:
    """Each bucket setting: public access blocked, ACLs off, TLS only, SSE-KMS + bucket key,
    versioned."""
    p = r.props
    where = f"{r.type.rsplit(':', 1)[-1]} of bucket {p.get('bucket') or r.name}"
    found: Violations = []
    if r.type == BUCKET and _list(p.get("acl")) not in ([], ["private"]):
        found.append(f"bucket {_where(r)}: canned ACL {p.get('acl')!r}")
    elif r.type == PUBLIC_ACCESS_BLOCK:
        off = [f for f in _PUBLIC_ACCESS_FLAGS if not is_unknown(p.get(f)) and p.get(f) is not True]
        if off:
            found.append(f"{where}: public access not blocked ({', '.join(off)} off)")
    elif r.type == OWNERSHIP:
        ownership = _get(p, "rule", "objectOwnership")
        if not is_unknown(ownership) and ownership != "BucketOwnerEnforced":
            found.append(f"{where}: ACLs not disabled (BucketOwnerEnforced)")
    elif r.type == BUCKET_POLICY:
        if not is_unknown(p.get("policy")) and not _denies_insecure_transport(p.get("policy")):
            found.append(f"{where}: the policy does not deny requests without TLS")
    elif r.type == ENCRYPTION:
        raw = p.get("rules")
        verdicts = [] if is_unknown(raw) else [_encryption_ok(rule) for rule in raw or []]
        if not is_unknown(raw) and (not verdicts or False in verdicts):
            found.append(f"{where}: not SSE-KMS default encryption with a key and a bucket key")
    elif r.type == VERSIONING:
        status = _get(p, "versioningConfiguration", "status")
        if not is_unknown(status) and status != "Enabled":
            found.append(f"{where}: versioning not enabled")
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


def lifecycle_valid(r: Resource) -> Violations:
    """Lifecycle rules S3 accepts, per prefix, each aborting incomplete multipart uploads."""
    found: Violations = []
    raw_rules = r.props.get("rules")
    rules = [rule for rule in _list(raw_rules) if not has_unknown(rule)]
    if not rules and not has_unknown(raw_rules):
        found.append(f"{r.name}: no lifecycle rules")
    for rule in rules:
        if not _get(rule, "filter", "prefix"):
            found.append(f"{r.name} rule {rule.get('id')}: not limited to an archive prefix")
    try:
        validate_rules([_s3_api_rule(rule) for rule in rules])
    except LifecycleError as e:
        found.append(f"{r.name}: {e}")
    return found


def lambda_hardened(r: Resource) -> Violations:
    """The stack contract's architecture and runtime, X-Ray active, logs to a log group of its
    own (what is still unknown passes)."""
    p = r.props
    architectures, runtime = p.get("architectures"), p.get("runtime")
    mode = _get(p, "tracingConfig", "mode")
    kept = [
        (has_unknown(architectures) or _list(architectures) == [LAMBDA_ARCHITECTURE],
         f"architectures must be [{LAMBDA_ARCHITECTURE!r}]"),
        (is_unknown(runtime) or runtime == LAMBDA_RUNTIME, f"runtime must be {LAMBDA_RUNTIME}"),
        (is_unknown(mode) or mode == "Active", "X-Ray tracing not Active"),
        (bool(_get(p, "loggingConfig", "logGroup")), "no log group of its own"),
    ]
    return [f"function {_where(r)}: {message}" for ok, message in kept if not ok]


def failures_captured(r: Resource) -> Violations:
    """Async invokes, stream batches and schedules all end somewhere when they fail for good."""
    p = r.props
    found: Violations = []
    if r.type == EVENT_INVOKE_CONFIG:
        if not _get(p, "destinationConfig", "onFailure", "destination"):
            found.append(f"{r.name}: async invocations have no on-failure destination")
    elif r.type == EVENT_SOURCE_MAPPING:
        where = f"event source mapping {r.name}"
        if not _get(p, "destinationConfig", "onFailure", "destinationArn"):
            found.append(f"{where}: no on-failure destination")
        if not is_unknown(p.get("bisectBatchOnFunctionError")) and p.get(
                "bisectBatchOnFunctionError") is not True:
            found.append(f"{where}: batches are not bisected on error")
        types = p.get("functionResponseTypes")
        if not has_unknown(types) and "ReportBatchItemFailures" not in _list(types):
            found.append(f"{where}: no partial batch responses")
        if not _get(p, "filterCriteria", "filters"):
            found.append(f"{where}: no filter criteria")
    elif r.type == SCHEDULE:
        where = f"schedule {_where(r)}"
        if not _get(p, "target", "deadLetterConfig", "arn"):
            found.append(f"{where}: no dead-letter queue")
        if not _get(p, "target", "retryPolicy"):
            found.append(f"{where}: no retry policy")
    return found


def workflow_logging(r: Resource) -> Violations:
    """State machines log errors without execution data and are traced."""
    p = r.props
    where = f"state machine {_where(r)}"
    found: Violations = []
    logging = p.get("loggingConfiguration") or {}
    if is_unknown(logging):
        logging = {}
    level = _get(logging, "level")
    if not is_unknown(level) and level not in ("ERROR", "FATAL", "ALL"):
        found.append(f"{where}: logging level {level!r} records no errors")
    data = _get(logging, "includeExecutionData")
    if not is_unknown(data) and data is not False:
        found.append(f"{where}: execution data would be logged")
    if not _get(logging, "logDestination"):
        found.append(f"{where}: no log destination")
    traced = _get(p, "tracingConfiguration", "enabled")
    if not is_unknown(traced) and traced is not True:
        found.append(f"{where}: X-Ray tracing off")
    return found


def _off(value: Any, wanted: Any = True) -> bool:
    """Known, and not the wanted value."""
    return not is_unknown(value) and value is not wanted


def encrypted_at_rest(r: Resource) -> Violations:
    """Table (with PITR), topic, queues, keys rotated, log groups with a retention."""
    p = r.props
    found: Violations = []
    if r.type == TABLE:
        if _off(_get(p, "serverSideEncryption", "enabled")):
            found.append(f"table {_where(r)}: server-side encryption not enabled")
        if _off(_get(p, "pointInTimeRecovery", "enabled")):
            found.append(f"table {_where(r)}: point-in-time recovery off")
    elif r.type == TOPIC and not p.get("kmsMasterKeyId"):
        found.append(f"topic {_where(r)}: not encrypted with KMS")
    elif r.type == QUEUE and not (p.get("sqsManagedSseEnabled") is True
                                  or p.get("kmsMasterKeyId")
                                  or is_unknown(p.get("sqsManagedSseEnabled"))):
        found.append(f"queue {_where(r)}: not encrypted")
    elif r.type == KEY and _off(p.get("enableKeyRotation")):
        found.append(f"key {r.name}: rotation off")
    elif r.type == LOG_GROUP and not p.get("retentionInDays"):
        found.append(f"log group {_where(r)}: kept forever")
    return found


def archive_protected(r: Resource) -> Violations:
    """The archive bucket and its key cannot be deleted by ``pulumi destroy``."""
    if r.protect is False:
        return [f"{r.type.rsplit(':', 1)[-1]} {r.name}: not protected"]
    return []


def no_secret_values(r: Resource) -> Violations:
    """No secret value reaches a resource input (so neither state nor a console shows one)."""
    found: Violations = []
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
        env = _get(r.props, "environment", "variables") or {}
        if isinstance(env, Mapping):
            for name, value in env.items():
                if (_SECRET_ENV_NAME.search(str(name)) and not is_unknown(value)
                        and not str(value).startswith("arn:")):
                    found.append(f"{r.name}: environment variable {name} holds a secret")
    return found


def network_https_only(r: Resource) -> Violations:
    """Security groups (stack config ``vpc``): outbound HTTPS only, nothing inbound from
    anywhere."""
    found: Violations = []
    for rule in _list(r.props.get("egress")):
        if has_unknown(rule):
            continue
        if (rule.get("protocol"), rule.get("fromPort"), rule.get("toPort")) != ("tcp", HTTPS,
                                                                                HTTPS):
            found.append(f"security group {_where(r)}: egress beyond HTTPS ({rule!r})")
    for rule in _list(r.props.get("ingress")):
        if not has_unknown(rule) and "0.0.0.0/0" in _list(rule.get("cidrBlocks")):
            found.append(f"security group {_where(r)}: inbound from anywhere")
    return found


def trail_hardened(r: Resource) -> Violations:
    """The audit trail (stack config ``audit``): every region, validated log files, SSE-KMS."""
    p = r.props
    kept = [(not _off(p.get("isMultiRegionTrail")), "not multi-region"),
            (not _off(p.get("enableLogFileValidation")), "log file validation off"),
            (bool(p.get("kmsKeyId")), "logs not encrypted with KMS")]
    return [f"trail {_where(r)}: {message}" for ok, message in kept if not ok]


def game_day_stops(r: Resource) -> Violations:
    """A FIS experiment template (stack config ``fis``) stops on CloudWatch alarms."""
    stops = r.props.get("stopConditions")
    if has_unknown(stops):
        return []
    sources = [s.get("source") for s in _list(stops)]
    if not sources or any(source != "aws:cloudwatch:alarm" for source in sources):
        return [f"experiment template {r.name}: stop conditions must be alarms, not {sources}"]
    return []


# --- stack rules (across resources) ------------------------------------------------------------

_BUCKET_COMPANIONS: Final = (
    (PUBLIC_ACCESS_BLOCK, "no public access block"),
    (OWNERSHIP, "no ownership controls (ACLs on)"),
    (BUCKET_POLICY, "no bucket policy (denying requests without TLS)"),
    (ENCRYPTION, "no default encryption configuration"),
    (VERSIONING, "no versioning configuration"),
    (LIFECYCLE, "no lifecycle configuration"),
)


def bucket_complete(resources: Sequence[Resource]) -> Violations:
    """Every bucket has each of its settings: access block, ownership, policy, SSE, versioning,
    lifecycle."""
    found: Violations = []
    for b in of_type(resources, BUCKET):
        bucket = b.props.get("bucket")
        if not bucket or is_unknown(bucket):
            continue
        for type_, missing in _BUCKET_COMPANIONS:
            targets = [r.props.get("bucket") for r in of_type(resources, type_)]
            if bucket not in targets and not any(is_unknown(t) for t in targets):
                found.append(f"bucket {bucket}: {missing}")
    return found


def functions_log_with_retention(resources: Sequence[Resource]) -> Violations:
    """Each function's log group is one of the stack's, with a retention."""
    groups = {g.props.get("name"): g.props.get("retentionInDays")
              for g in of_type(resources, LOG_GROUP)}
    if any(is_unknown(name) for name in groups):
        return []
    found: Violations = []
    for f in of_type(resources, FUNCTION):
        group = _get(f.props, "loggingConfig", "logGroup")
        if group and not is_unknown(group) and not groups.get(group):
            found.append(f"function {_where(f)}: log group {group} is not the stack's or has "
                         "no retention")
    return found


def scheduled_functions_capture_failures(resources: Sequence[Resource]) -> Violations:
    """A function a schedule invokes (asynchronously) has an on-failure destination."""
    configs = [str(c.props.get("functionName")) for c in of_type(resources, EVENT_INVOKE_CONFIG)]
    if any(is_unknown(name) for name in configs):
        return []
    found: Violations = []
    for s in of_type(resources, SCHEDULE):
        arn = _get(s.props, "target", "arn")
        if not isinstance(arn, str) or is_unknown(arn) or ":function:" not in arn:
            continue
        if arn.rsplit(":function:", 1)[1] not in configs:
            found.append(f"schedule {_where(s)}: its function has no on-failure destination for "
                         "async invokes")
    return found


def _resource_rule(check: ResourceCheck, *types: str) -> Rule:
    return Rule(check.__name__.replace("_", "-"), _summary(check), resource_check=check,
                types=frozenset(types))


def _stack_rule(check: StackCheck) -> Rule:
    return Rule(check.__name__.replace("_", "-"), _summary(check), stack_check=check)


def _summary(fn: Callable[..., Any]) -> str:
    return " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())


RULES: Final[tuple[Rule, ...]] = (
    _resource_rule(iam_least_privilege, ROLE_POLICY, MANAGED_POLICY, ROLE),
    _resource_rule(iam_trust_single_service, ROLE),
    _resource_rule(resource_policies_not_public, BUCKET_POLICY, TOPIC_POLICY, QUEUE_POLICY, KEY,
                   QUEUE, TOPIC),
    _resource_rule(bucket_private_and_encrypted, BUCKET, PUBLIC_ACCESS_BLOCK, OWNERSHIP,
                   BUCKET_POLICY, ENCRYPTION, VERSIONING),
    _resource_rule(lifecycle_valid, LIFECYCLE),
    _resource_rule(lambda_hardened, FUNCTION),
    _resource_rule(failures_captured, EVENT_INVOKE_CONFIG, EVENT_SOURCE_MAPPING, SCHEDULE),
    _resource_rule(workflow_logging, STATE_MACHINE),
    _resource_rule(encrypted_at_rest, TABLE, TOPIC, QUEUE, KEY, LOG_GROUP),
    _resource_rule(archive_protected, BUCKET, KEY),
    _resource_rule(no_secret_values),
    _resource_rule(network_https_only, SECURITY_GROUP),
    _resource_rule(trail_hardened, TRAIL),
    _resource_rule(game_day_stops, EXPERIMENT_TEMPLATE),
    _stack_rule(bucket_complete),
    _stack_rule(functions_log_with_retention),
    _stack_rule(scheduled_functions_capture_failures),
)


def check_all(resources: Sequence[Resource]) -> dict[str, Violations]:
    """Every rule's violations, by rule name (only rules that found something)."""
    results = {rule.name: rule.check(resources) for rule in RULES}
    return {name: v for name, v in results.items() if v}
