"""The Lambda functions of the catalog: one role, one log group and one function each.

Every function runs the same bundle (cloudsync_defs.bundle): the code from ``functions/`` and a
layer of arm64 wheels. Async invocations (the nightly ``list``) go to the failure queue when they
fail for good; the stream consumer's mapping sends there too (see workflow.py). The ``rotate``
function is attached to the credentials secret here, because this component owns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from cloudsync_core import metrics, settings
from cloudsync_core.alerts import ENV_NOTIFY_SECRET
from cloudsync_core.sync.selection import selection_environment
from cloudsync_defs.bundle import Bundle
from cloudsync_defs.functions import FUNCTIONS, FunctionSpec
from cloudsync_defs.stack import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

from . import iam
from .config import FunctionSettings, StackConfig
from .naming import Naming

RUNTIME: Final = LAMBDA_RUNTIME
ARCHITECTURE: Final = LAMBDA_ARCHITECTURE
METRICS_NAMESPACE: Final = metrics.NAMESPACE
STREAM_CONSUMER: Final = "start"
ROTATION_FUNCTION: Final = "rotate"
ASYNC_RETRIES: Final = 2
ASYNC_MAX_EVENT_AGE_S: Final = 3600


def function_environment(
    cfg: StackConfig,
    naming: Naming,
    *,
    table_name: pulumi.Input[str],
    bucket_name: pulumi.Input[str],
    secret_arn: pulumi.Input[str],
    topic_arn: pulumi.Input[str],
) -> dict[str, pulumi.Input[str]]:
    """What cloudsync_core.settings reads, the same for every function. Nothing secret."""
    env: dict[str, pulumi.Input[str]] = {
        settings.ENV_TABLE: table_name,
        settings.ENV_BUCKET: bucket_name,
        settings.ENV_SECRET: secret_arn,
        settings.ENV_TOPIC: topic_arn,
        # Built from the name: the state machine needs these functions' ARNs first.
        settings.ENV_STATE_MACHINE: naming.state_machine_arn,
        settings.ENV_ENVIRONMENT: cfg.environment,
        settings.ENV_GOPRO_API_URL: cfg.gopro_api_url,
        settings.ENV_MAX_CONCURRENT_MEDIA: str(cfg.max_concurrent_media),
        settings.ENV_RETRY_BUDGET: str(cfg.retry_budget),
        settings.ENV_TIME_BUDGET: str(cfg.time_budget_s),
        settings.ENV_LEASE: str(cfg.lease_s),
        settings.ENV_PART_SIZE_MIB: str(cfg.part_size_mib),
        settings.ENV_PARALLEL_RANGES: str(cfg.parallel_ranges),
        "POWERTOOLS_SERVICE_NAME": "cloudsync",
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": cfg.log_level,
    }
    if cfg.gopro_client_id:
        env[settings.ENV_GOPRO_CLIENT_ID] = cfg.gopro_client_id
    if not cfg.custom_metrics:
        env[settings.ENV_METRICS] = "off"
    if cfg.media_types:
        env[settings.ENV_MEDIA_TYPES] = ",".join(cfg.media_types)
    if cfg.include_renders:
        env[settings.ENV_INCLUDE_RENDERS] = "true"
    env.update(selection_environment(cfg.media_selection))  # sync/selection.py reads it
    env[settings.ENV_FULL_LISTING_DAYS] = str(cfg.full_listing_days)
    return env


@dataclass(frozen=True)
class Placement:
    """Stack config ``vpc``: every function in these subnets with this security group."""

    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_ids: pulumi.Input[Sequence[str]]


@dataclass(frozen=True)
class FaultInjection:
    """Stack config ``fis``: the FIS extension layer, its settings and reads on one function."""

    function: str
    layer_arn: pulumi.Input[str]
    environment: Mapping[str, str]
    statements: Sequence[iam.Statement]


@dataclass
class FunctionsArgs:
    naming: Naming
    bundle: Bundle
    settings: Mapping[str, FunctionSettings]
    environment: Mapping[str, pulumi.Input[str]]
    scope: iam.Scope
    log_retention_days: int
    secret_rotation: bool
    secret_rotation_days: int
    tags: Mapping[str, str]
    placement: Placement | None = None
    fault_injection: FaultInjection | None = None


class Functions(pulumi.ComponentResource):
    functions: dict[str, aws.lambda_.Function]
    roles: dict[str, aws.iam.Role]
    role_policies: dict[str, aws.iam.RolePolicy]
    log_groups: dict[str, aws.cloudwatch.LogGroup]

    def __init__(
        self, name: str, args: FunctionsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudsync:index:Functions", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        naming = args.naming
        tags = dict(args.tags)

        self.failure_queue = aws.sqs.Queue(
            f"{name}-failures",
            name=naming.name("failures"),
            sqs_managed_sse_enabled=True,
            message_retention_seconds=14 * 24 * 3600,
            tags=tags,
            opts=child,
        )
        self.layer = aws.lambda_.LayerVersion(
            f"{name}-deps",
            layer_name=naming.name("deps"),
            description=f"cloudsync dependencies for {ARCHITECTURE} ({args.bundle.digest})",
            code=pulumi.FileArchive(str(args.bundle.layer_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            opts=child,
        )
        self.code = pulumi.FileArchive(str(args.bundle.code_dir))

        self.functions = {}
        self.roles = {}
        self.role_policies = {}
        self.log_groups = {}
        for spec in FUNCTIONS:
            self._function(name, spec, args, tags)
        for spec in FUNCTIONS:
            if spec.invoked_async:
                self._async_failures(name, spec)
        if args.secret_rotation:
            self._rotation(name, args)

        fn = self.functions
        self.arns: dict[str, pulumi.Output[str]] = {n: f.arn for n, f in fn.items()}
        self.names: dict[str, pulumi.Output[str]] = {n: f.name for n, f in fn.items()}
        self.failure_queue_arn: pulumi.Output[str] = self.failure_queue.arn
        self.failure_queue_name: pulumi.Output[str] = self.failure_queue.name
        self.register_outputs(
            {"arns": self.arns, "names": self.names, "failure_queue_arn": self.failure_queue_arn}
        )

    def _async_failures(self, name: str, spec: FunctionSpec) -> None:
        """An async invocation that fails for good lands in the failure queue."""
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-{spec.name}-async",
            function_name=self.functions[spec.name].name,
            maximum_retry_attempts=ASYNC_RETRIES,
            maximum_event_age_in_seconds=ASYNC_MAX_EVENT_AGE_S,
            destination_config={
                "on_failure": {"destination": self.failure_queue.arn}
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.role_policies[spec.name]]
            ),
        )

    def _rotation(self, name: str, args: FunctionsArgs) -> None:
        """The rotate function, attached to the credentials secret."""
        rotate = self.functions[ROTATION_FUNCTION]
        permission = aws.lambda_.Permission(
            f"{name}-{ROTATION_FUNCTION}-by-secretsmanager",
            action="lambda:InvokeFunction",
            function=rotate.name,
            principal="secretsmanager.amazonaws.com",
            source_arn=args.scope.secret_arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.secretsmanager.SecretRotation(
            f"{name}-secret-rotation",
            secret_id=args.scope.secret_arn,
            rotation_lambda_arn=rotate.arn,
            rotation_rules={"automatically_after_days": args.secret_rotation_days},
            # The secret is empty until `cloudsync login`: nothing to rotate right away.
            rotate_immediately=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )

    def _options(
        self, spec: FunctionSpec, args: FunctionsArgs, statements: list[iam.Statement]
    ) -> tuple[list[pulumi.Input[str]], dict[str, pulumi.Input[str]], dict[str, Any]]:
        """Layers, environment and VPC placement of one function, with the statements the
        stack's options add to its role (``statements`` grows)."""
        layers: list[pulumi.Input[str]] = [self.layer.arn]
        environment = dict(args.environment)
        if "notify_secret_read" in spec.grants:  # only the functions that may read it know it
            environment[ENV_NOTIFY_SECRET] = args.scope.notify_secret_arn
        placed: dict[str, Any] = {}
        if args.placement is not None:
            statements.append(iam.lambda_vpc())
            placed["vpc_config"] = {"subnet_ids": args.placement.subnet_ids,
                                    "security_group_ids": args.placement.security_group_ids}
        fault = args.fault_injection
        if fault is not None and fault.function == spec.name:
            layers.append(fault.layer_arn)
            environment.update(fault.environment)
            statements += fault.statements
        return layers, environment, placed

    def _statements(self, spec: FunctionSpec, args: FunctionsArgs,
                    log_group: aws.cloudwatch.LogGroup) -> list[iam.Statement]:
        """The function's own logs, tracing, its catalog grants, and what its trigger needs."""
        statements = [iam.own_logs(log_group.arn), iam.xray()]
        statements += iam.function_statements(args.scope, spec.grants)
        if spec.invoked_async or spec.name == STREAM_CONSUMER:
            statements.append(iam.queue_send(self.failure_queue.arn))
        if spec.name == STREAM_CONSUMER:
            statements += iam.stream_read(args.scope.table_arn)
        return statements

    def _function(
        self, name: str, spec: FunctionSpec, args: FunctionsArgs, tags: dict[str, str]
    ) -> None:
        naming = args.naming
        child = pulumi.ResourceOptions(parent=self)
        base = f"{name}-{spec.name.replace('_', '-')}"
        log_group = aws.cloudwatch.LogGroup(
            f"{base}-logs",
            name=naming.function_log_group(spec.name),
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{base}-role",
            name=naming.role_name(spec.name),
            description=f"cloudsync {naming.stack}: the {spec.name} function",
            assume_role_policy=iam.trust("lambda.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        statements = self._statements(spec, args, log_group)
        layers, environment, placed = self._options(spec, args, statements)
        policy = aws.iam.RolePolicy(
            f"{base}-policy",
            name="least-privilege",
            role=role.id,
            policy=iam.document(statements),
            opts=child,
        )
        memory = args.settings[spec.name]
        self.functions[spec.name] = aws.lambda_.Function(
            base,
            name=naming.function_name(spec.name),
            description=spec.description,
            role=role.arn,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=spec.handler,
            code=self.code,
            layers=layers,
            memory_size=memory.memory_mb,
            timeout=memory.timeout_s,
            reserved_concurrent_executions=(
                spec.reserved_concurrency if spec.reserved_concurrency is not None else -1
            ),
            tracing_config={"mode": "Active"},
            logging_config={"log_format": "Text", "log_group": log_group.name},
            environment={"variables": environment},
            tags=tags,
            **placed,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, log_group]),
        )
        self.roles[spec.name] = role
        self.role_policies[spec.name] = policy
        self.log_groups[spec.name] = log_group
