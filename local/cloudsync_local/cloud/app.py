"""``LocalCloud``: the whole stack on one machine, in moto, running the real workflow.

One process holds moto's server (``ThreadedMotoServer`` on 127.0.0.1), the Step Functions
interpreter (moto's, switched on), the handlers (in-process, through :mod:`.invoke`), the event
source mapping (:mod:`.streams`) and the schedule (:meth:`LocalCloud.trigger_schedule`). The
resources come from the definitions the Pulumi program deploys: the table request, the lifecycle
rules, the function catalog and the rendered ASL.

Process-wide state, set by :meth:`LocalCloud.start` and restored by :meth:`LocalCloud.stop`: the
environment (``AWS_ENDPOINT_URL``, the functions' settings, fake credentials when none are set),
moto's Step Functions switch, moto's ``LambdaFunction.invoke``. Hence one running local cloud
per process. moto's backends are process-wide too; ``stop`` resets them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import socket
import threading
import time
import zipfile
from collections.abc import Mapping
from typing import Any, Final

import boto3
from botocore.config import Config

from cloudsync_core import schema
from cloudsync_core import settings as env_names
from cloudsync_core.alerts import ENV_NOTIFY_SECRET
from cloudsync_core.keys import archive_prefix
from cloudsync_core.providers import DEFAULT_PROVIDER, provider_spec
from cloudsync_core.services import set_services
from cloudsync_defs import stack as stack_contract
from cloudsync_defs.functions import FUNCTIONS, SCHEDULE_EVENT, FunctionSpec
from cloudsync_defs.lifecycle import lifecycle_request, lifecycle_rules, policy_from_config
from cloudsync_defs.table import create_table_request
from cloudsync_defs.workflow import StateRetryPolicy, render_transfer_definition

from ..published import health_parameter_name, state_parameter_name
from ..running import Running
from . import dynamo_guard
from .chaos import FaultPlan, install_workflow_faults
from .invoke import AsyncFailure, Dispatcher, Handler, install, uninstall
from .streams import DeliveryOutcome, StreamPlayer

log = logging.getLogger("cloudsync_local.cloud")

DEFAULT_STACK: Final = "local"
DEFAULT_REGION: Final = "us-east-1"
DEFAULT_MAP_CONCURRENCY: Final = 4
FAKE_CREDENTIALS: Final = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

_active_lock = threading.Lock()
_active: LocalCloud | None = None


def outputs_parameter_name(stack: str) -> str:
    """Where a stack publishes its outputs (the stack contract, as the Pulumi program)."""
    return stack_contract.outputs_parameter(stack)


def resource_names(stack: str, account_id: str) -> dict[str, str]:
    """The local cloud's names for the stack's resources."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}", stack):
        raise ValueError(f"stack name {stack!r}: lower-case letters, digits and '-', up to 31")
    prefix = f"cloudsync-{stack}"
    return {
        "table": f"{prefix}-tracker",
        "bucket": f"{prefix}-archive-{account_id}",
        "secret": f"cloudsync/{stack}/{provider_spec(DEFAULT_PROVIDER).secret.secret_name}",
        "topic": f"{prefix}-alerts",
        "notify_secret": f"cloudsync/{stack}/notify",  # Slack / webhook alert URLs
        "queue": f"{prefix}-alerts-tap",
        "state_machine": f"{prefix}-transfer",
        "functions_role": f"{prefix}-functions",
        "workflow_role": f"{prefix}-workflow",
        "function_prefix": f"{prefix}-",
    }


def _check_port_free(host: str, port: int) -> None:
    """Raise OSError when ``port`` is taken (ThreadedMotoServer would wait forever)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))


def _function_settings(
    settings: Mapping[str, str] | None,
    *,
    gopro_api_url: str | None,
    time_budget_s: int | None,
    max_concurrent_media: int | None,
) -> dict[str, str]:
    """The functions' settings: ``settings`` with the constructor's shortcuts applied."""
    out = dict(settings or {})
    shortcuts = {
        env_names.ENV_GOPRO_API_URL: gopro_api_url,
        env_names.ENV_TIME_BUDGET: time_budget_s,
        env_names.ENV_MAX_CONCURRENT_MEDIA: max_concurrent_media,
    }
    out.update({name: str(value) for name, value in shortcuts.items() if value is not None})
    return out


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "README.txt", "cloudsync local cloud: the code runs in-process, not here.\n"
        )
    return buffer.getvalue()


class LocalCloud(Running):
    """The stack in moto, with its handlers, its stream mapping and its schedule."""

    def __init__(
        self,
        port: int = 0,
        *,
        gopro_api_url: str | None = None,
        stack: str = DEFAULT_STACK,
        region: str | None = None,
        host: str = "127.0.0.1",
        settings: Mapping[str, str] | None = None,
        retry: StateRetryPolicy | None = None,
        time_budget_s: int | None = None,
        max_concurrent_media: int | None = None,
        map_concurrency: int = DEFAULT_MAP_CONCURRENCY,
        lifecycle: str | Mapping[str, Any] = "default",
        providers: tuple[str, ...] = ("gopro",),
        handlers: Mapping[str, Handler] | None = None,
        batch_size: int = 10,
        stream_max_retries: int = 3,
        stream_retry_delay_s: float = 0.2,
        async_retry_delay_s: float = 1.0,
        schedule_interval_s: float | None = None,
    ) -> None:
        """Configure; nothing starts before :meth:`start`.

        ``settings`` are the functions' environment (``CLOUDSYNC_*``, ``GOPRO_*``...) on top of
        what the local cloud sets; ``time_budget_s`` and ``max_concurrent_media`` are shortcuts
        for two of them (the latter also bounds the workflow's slot). ``retry`` shrinks the
        workflow's retry intervals (tests only). ``handlers`` replaces catalog handlers by
        logical name (tests). ``schedule_interval_s`` fires the schedule on a timer.
        """
        unknown = set(handlers or {}) - {spec.name for spec in FUNCTIONS}
        if unknown:
            raise ValueError(f"handlers for unknown functions: {', '.join(sorted(unknown))}")
        self.host = host
        self.requested_port = port
        self.stack = stack
        self.region = (
            region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            or DEFAULT_REGION
        )
        self._settings = _function_settings(
            settings, gopro_api_url=gopro_api_url, time_budget_s=time_budget_s,
            max_concurrent_media=max_concurrent_media,
        )
        self.max_concurrent_media = int(
            self._settings.get(env_names.ENV_MAX_CONCURRENT_MEDIA, "5")
        )
        self.map_concurrency = map_concurrency
        self.retry = retry
        self.lifecycle = lifecycle
        self.providers = providers
        self._handlers = dict(handlers or {})
        self._batch_size = batch_size
        self._stream_max_retries = stream_max_retries
        self._stream_retry_delay_s = stream_retry_delay_s
        self._async_retry_delay_s = async_retry_delay_s
        self._schedule_interval_s = schedule_interval_s
        self._init_running_state()

    def _init_running_state(self) -> None:
        """What :meth:`start` fills in and :meth:`stop` clears."""
        self._lock = threading.RLock()
        self._server: Any = None
        self._port: int | None = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_sfn_config: Any = None
        self._dispatcher: Dispatcher | None = None
        self._player: StreamPlayer | None = None
        self._timer_stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._outputs: dict[str, Any] = {}
        self._clients: dict[str, Any] = {}
        self.account_id = ""
        self.names: dict[str, str] = {}
        self.function_arns: dict[str, str] = {}
        self.definition = ""
        self.faults: FaultPlan | None = None
        self.started_at = ""

    # --- lifecycle (``with LocalCloud() as cloud``: ``Running``) ---------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def endpoint_url(self) -> str:
        if self._port is None:
            raise RuntimeError("the local cloud is not started")
        return f"http://{self.host}:{self._port}"

    def start(self) -> LocalCloud:
        """Start moto, create the stack, begin playing the stream; returns self when ready."""
        global _active
        with _active_lock:
            if _active is not None:
                raise RuntimeError(
                    "a local cloud already runs in this process (its environment and moto's "
                    "backends are process-wide): stop it first"
                )
            _active = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._start_moto()
        self._connect()
        self.account_id = self._clients["sts"].get_caller_identity()["Account"]
        self.names = resource_names(self.stack, self.account_id)
        self._create_stack()
        self._set_function_env()
        self._start_functions()
        self._publish_state()
        log.info("local cloud ready at %s (stack %s)", self.endpoint_url, self.stack)

    def _start_moto(self) -> None:
        """moto's server on the port, its Step Functions interpreter switched on."""
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        dynamo_guard.install()  # moto's failed transactions must not undo writes or the stream
        if self.requested_port:
            _check_port_free(self.host, self.requested_port)  # moto would hang on a busy port
        server = ThreadedMotoServer(
            ip_address=self.host, port=self.requested_port, verbose=False
        )
        server.start()
        self._server = server
        self._port = int(server.get_host_and_port()[1])
        self._saved_sfn_config = dict(default_user_config.get("stepfunctions", {}))
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        self._set_env({"MOTO_PORT": str(self._port)})

    def _connect(self) -> None:
        """The local cloud's own clients (moto's fake credentials)."""
        session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=self.region,
        )
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32)
        for service in (
            "sts", "dynamodb", "dynamodbstreams", "s3", "secretsmanager", "sns", "sqs", "iam",
            "lambda", "stepfunctions", "ssm",
        ):
            self._clients[service] = session.client(
                service, endpoint_url=self.endpoint_url, config=config
            )

    def _set_function_env(self) -> None:
        """The process environment the in-process functions read, as Lambda would set it."""
        env = self.function_environment()
        env["AWS_ENDPOINT_URL"] = self.endpoint_url
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            env.update(FAKE_CREDENTIALS)
        if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
            env["AWS_DEFAULT_REGION"] = self.region
        self._set_env(env)
        # The functions build their clients from this environment on first use: forget any
        # built for an earlier cloud in this process.
        set_services(None)

    def _start_functions(self) -> None:
        """Invokes routed in-process, the stream mapping playing, the schedule's timer."""
        specs = {spec.name: spec for spec in FUNCTIONS}
        self._dispatcher = Dispatcher(
            specs,
            {name: self.function_name(name) for name in specs},
            self.function_arns,
            self._handlers,
            async_retry_delay_s=self._async_retry_delay_s,
        )
        install(self._dispatcher)
        self._player = StreamPlayer(
            self._clients["dynamodbstreams"],
            self._outputs["stream_arn"],
            self._deliver_to_start,
            region=self.region,
            filter_patterns=[schema.PENDING_FILTER_PATTERN],
            batch_size=self._batch_size,
            max_retry_attempts=self._stream_max_retries,
            retry_delay_s=self._stream_retry_delay_s,
            on_stall=self._record_stall,
        )
        self._player.start()
        if self._schedule_interval_s:
            self._timer = threading.Thread(target=self._schedule_loop, name="schedule", daemon=True)
            self._timer.start()

    def _publish_state(self) -> None:
        """Where `cloudsync status`, `sync` and `verify` learn that this cloud's state lives in
        memory and since when (a fresh, empty one is no clean empty archive)."""
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        state = {"started_at": self.started_at, "in_memory": True}
        self._clients["ssm"].put_parameter(
            Name=state_parameter_name(self.stack), Type="String",
            Value=json.dumps(state, sort_keys=True), Overwrite=True,
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the schedule, the poller, in-flight async invokes (bounded), moto; restore."""
        global _active
        with self._lock:
            self._timer_stop.set()
            if self._timer is not None:
                self._timer.join(timeout)
                self._timer = None
            if self._player is not None:
                self._player.stop(timeout)
                self._player = None
            if self._dispatcher is not None:
                self._dispatcher.close(timeout)
                uninstall(self._dispatcher)
            install_workflow_faults(None)
            self.faults = None
            if self._server is not None:
                with contextlib.suppress(Exception):
                    self._server.stop()
                self._server = None
                self._reset_moto()
            dynamo_guard.uninstall()
            if self._saved_sfn_config is not None:
                from moto.core.config import default_user_config

                default_user_config["stepfunctions"] = self._saved_sfn_config
                self._saved_sfn_config = None
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved_env = {}
            self._clients = {}
            set_services(None)
        with _active_lock:
            if _active is self:
                _active = None

    @staticmethod
    def _reset_moto() -> None:
        try:
            from moto.moto_api._internal.models import moto_api_backend

            moto_api_backend.reset()
        except Exception as e:  # noqa: BLE001  # a leak into the next local cloud, not a failure of this one
            log.warning("could not reset moto's backends: %s", e)

    def _set_env(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            if key not in self._saved_env:
                self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value

    # --- the stack -----------------------------------------------------------------------

    def function_name(self, logical: str) -> str:
        return f"{self.names['function_prefix']}{logical}"

    def function_environment(self) -> dict[str, str]:
        """The environment every function gets (as the Pulumi program sets it)."""
        env = {
            env_names.ENV_TABLE: self.names["table"],
            env_names.ENV_BUCKET: self.names["bucket"],
            env_names.ENV_SECRET: self.names["secret"],
            env_names.ENV_TOPIC: self._outputs.get("topic_arn", ""),
            ENV_NOTIFY_SECRET: self.names["notify_secret"],
            env_names.ENV_STATE_MACHINE: self._outputs.get("state_machine_arn", ""),
            env_names.ENV_ENVIRONMENT: self.stack,
            "POWERTOOLS_SERVICE_NAME": "cloudsync",
            "POWERTOOLS_METRICS_NAMESPACE": "GoProSync",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_XRAY_SDK_ENABLED": "false",
        }
        env.update(self._settings)
        return env

    def _create_stack(self) -> None:
        """The stack's resources, as the Pulumi program declares them, and its outputs."""
        names = self.names
        functions_role, workflow_role = (
            self._create_role(names[r]) for r in ("functions_role", "workflow_role")
        )
        stream_arn = self._create_table()
        self._create_bucket()
        # Credentials: the secret exists, empty until `cloudsync login`.
        secret_arn = self._clients["secretsmanager"].create_secret(
            Name=names["secret"], Description="GoPro credentials (cloudsync login)"
        )["ARN"]
        notify_arn = self._clients["secretsmanager"].create_secret(
            Name=names["notify_secret"], Description="Slack and webhook alert URLs"
        )["ARN"]
        topic_arn, queue_url = self._create_alerts()
        state_machine_arn = (
            f"arn:aws:states:{self.region}:{self.account_id}:stateMachine:"
            f"{names['state_machine']}"
        )
        self._outputs = {"topic_arn": topic_arn, "state_machine_arn": state_machine_arn}
        self._create_functions(functions_role)
        self._create_workflow(workflow_role, state_machine_arn)
        self._outputs = {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "stack": self.stack,
            "account_id": self.account_id,
            "bucket": names["bucket"],
            "table": names["table"],
            "stream_arn": stream_arn,
            "state_machine_arn": state_machine_arn,
            "secret_id": names["secret"],
            "secret_arn": secret_arn,
            "topic_arn": topic_arn,
            "notify_secret_id": names["notify_secret"],
            "notify_secret_arn": notify_arn,
            "alerts_queue_url": queue_url,
            "list_function": self.function_name("list"),
            "functions": {spec.name: self.function_name(spec.name) for spec in FUNCTIONS},
            "outputs_parameter": outputs_parameter_name(self.stack),
        }
        self._clients["ssm"].put_parameter(
            Name=outputs_parameter_name(self.stack), Type="String",
            Value=json.dumps(stack_contract.outputs_document(self._outputs), sort_keys=True),
            Overwrite=True,
        )

    def _create_role(self, name: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        return str(self._clients["iam"].create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"])

    def _create_table(self) -> str:
        """The tracker: keys, GSI, stream NEW_AND_OLD_IMAGES, PITR; returns the stream ARN."""
        ddb = self._clients["dynamodb"]
        table = ddb.create_table(**create_table_request(self.names["table"]))
        ddb.update_continuous_backups(
            TableName=self.names["table"],
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        return str(table["TableDescription"]["LatestStreamArn"])

    def _create_bucket(self) -> None:
        """The archive: versioned, encrypted, private, with the shared lifecycle rules."""
        s3, bucket = self._clients["s3"], self.names["bucket"]
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region}
            )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": True,
                "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, **lifecycle_request(self.lifecycle_rules())
        )

    def _create_alerts(self) -> tuple[str, str]:
        """The alerts topic, and a queue subscribed to it so every message can be read."""
        c = self._clients
        topic_arn = str(c["sns"].create_topic(Name=self.names["topic"])["TopicArn"])
        queue_url = str(c["sqs"].create_queue(QueueName=self.names["queue"])["QueueUrl"])
        queue_arn = c["sqs"].get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        c["sns"].subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        return topic_arn, queue_url

    def _create_functions(self, role: str) -> None:
        """Configuration only; invokes are routed in-process (see .invoke)."""
        code = _dummy_zip()
        variables = self.function_environment()
        for spec in FUNCTIONS:
            self.function_arns[spec.name] = self._create_function(spec, role, code, variables)

    def _create_workflow(self, role: str, expected_arn: str) -> None:
        """The per-medium workflow, rendered by the same function the Pulumi program calls."""
        self.definition = render_transfer_definition(
            function_arns=self.function_arns,
            table_name=self.names["table"],
            max_concurrent_media=self.max_concurrent_media,
            map_concurrency=self.map_concurrency,
            retry=self.retry,
        )
        created = self._clients["stepfunctions"].create_state_machine(
            name=self.names["state_machine"], definition=self.definition, roleArn=role,
            type="EXPRESS",
        )["stateMachineArn"]
        if created != expected_arn:
            raise RuntimeError(f"state machine {created}, expected {expected_arn}")

    def _create_function(
        self, spec: FunctionSpec, role: str, code: bytes, variables: Mapping[str, str]
    ) -> str:
        c = self._clients["lambda"]
        name = self.function_name(spec.name)
        arn = c.create_function(
            FunctionName=name, Runtime=stack_contract.LAMBDA_RUNTIME, Role=role,
            Handler=spec.handler,
            Code={"ZipFile": code}, Description=spec.description, Timeout=spec.timeout_s,
            MemorySize=spec.memory_mb, Architectures=[stack_contract.LAMBDA_ARCHITECTURE],
            Environment={"Variables": dict(variables)},
        )["FunctionArn"]
        if spec.reserved_concurrency:
            c.put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=spec.reserved_concurrency
            )
        return str(arn)

    def lifecycle_rules(self) -> list[dict[str, Any]]:
        """THE call site for the archive's lifecycle rules (``cloudsync_defs.lifecycle``)."""
        policy = policy_from_config(self.lifecycle)
        return lifecycle_rules(policy, [archive_prefix(p) for p in self.providers])

    # --- what it offers ------------------------------------------------------------------

    def outputs(self) -> dict[str, Any]:
        """endpoint_url, region, bucket, table, state_machine_arn, secret_id, topic_arn, ..."""
        if not self._outputs.get("endpoint_url"):
            raise RuntimeError("the local cloud is not started")
        return json.loads(json.dumps(self._outputs))  # type: ignore[no-any-return]

    def client(self, service: str) -> Any:
        """A boto3 client for this cloud (the local cloud's own, thread-safe)."""
        if service not in self._clients:
            raise KeyError(f"no client for {service!r}")
        return self._clients[service]

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise RuntimeError("the local cloud is not started")
        return self._dispatcher

    @property
    def stream_failures(self) -> list[dict[str, Any]]:
        """Batches the mapping gave up on (its on-failure destination)."""
        return list(self._player.failures) if self._player else []

    @property
    def async_failures(self) -> list[AsyncFailure]:
        """Async invokes that failed every attempt (the functions' on-failure destination)."""
        return list(self._dispatcher.async_failures) if self._dispatcher else []

    def inject_faults(self, plan: FaultPlan | None = None) -> FaultPlan:
        """Put a fault plan between the functions and AWS (see :mod:`.chaos`); returns it.

        It reaches the functions' clients, the workflow's own DynamoDB steps and the function
        invocations; ``faults.clear()`` (or a plan without faults) lets everything through.
        """
        from cloudsync_core.services import services

        plan = plan if plan is not None else FaultPlan()
        built = services()
        for client in (built.dynamodb, built.s3, built.secrets, built.sns, built.sfn):
            plan.attach(client)
        install_workflow_faults(plan)
        self.dispatcher.faults = plan
        self.faults = plan
        return plan

    @property
    def stream_stalls(self) -> int:
        """Times the stream mapping found itself behind the table and followed it (said)."""
        return self._player.stalls if self._player else 0

    def _record_stall(self, message: str) -> None:
        """Where `cloudsync status` finds it: the stack's local health parameter."""
        health = {"stream_stalls": self.stream_stalls, "last_stall": message,
                  "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        try:
            self._clients["ssm"].put_parameter(
                Name=health_parameter_name(self.stack), Type="String",
                Value=json.dumps(health, sort_keys=True), Overwrite=True,
            )
        except Exception as e:  # noqa: BLE001 - the log line already said it
            log.warning("could not record the stream stall for `cloudsync status`: %s", e)

    def trigger_schedule(self) -> None:
        """Invoke ``list`` as EventBridge Scheduler does: asynchronously, result unseen."""
        self.dispatcher.submit("list", dict(SCHEDULE_EVENT))

    def _schedule_loop(self) -> None:
        interval = self._schedule_interval_s or 0
        while not self._timer_stop.wait(interval):
            try:
                self.trigger_schedule()
            except RuntimeError:
                return

    def _deliver_to_start(self, records: list[dict[str, Any]]) -> DeliveryOutcome:
        result = self.dispatcher.call("start", {"Records": records})
        return DeliveryOutcome(
            function_error=result.error_type if result.error else None, response=result.value
        )

    def invoke(self, logical: str, event: Any = None) -> Any:
        """Call a function synchronously in-process; raises ``FunctionError`` when it fails."""
        result = self.dispatcher.call(logical, {} if event is None else event)
        if result.error:
            document = json.loads(result.payload)
            raise FunctionError(str(document.get("errorType")), str(document.get("errorMessage")))
        return result.value

    def messages(self, wait_s: float = 0.0) -> list[dict[str, Any]]:
        """Every SNS message published to the alerts topic since the last call (consumed).

        Each is the SNS envelope (``Subject``, ``Message``, ``MessageAttributes``, ...).
        """
        sqs = self._clients["sqs"]
        queue_url = self._outputs["alerts_queue_url"]
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait_s
        while True:
            answer = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            batch = answer.get("Messages", [])
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if batch:
                continue
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.1)

    def running_executions(self) -> list[str]:
        """ARNs of executions still running (moto answers this for Express; AWS does not)."""
        sfn = self._clients["stepfunctions"]
        arns: list[str] = []
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self._outputs["state_machine_arn"], statusFilter="RUNNING"
        ):
            arns.extend(e["executionArn"] for e in page.get("executions", []))
        return arns

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until nothing moves: no invocation, no running execution, the stream played out.

        For tests and the local CLI only (it lists executions, which Express does not allow on
        AWS). Raises ``TimeoutError`` naming what is still busy.
        """
        player, dispatcher = self._player, self.dispatcher
        if player is None:
            raise RuntimeError("the local cloud is not started")
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        while True:
            before = player.activity
            quiet = dispatcher.wait_quiet(left())
            running = self.running_executions()
            while running and left() > 0:
                time.sleep(0.05)
                running = self.running_executions()
            caught_up = player.wait_caught_up(left())
            if (
                quiet and caught_up and not running and dispatcher.inflight == 0
                and not self.running_executions() and player.activity[1] == before[1]
            ):
                return
            if left() <= 0:
                raise TimeoutError(
                    f"local cloud not idle after {timeout:.0f} s: {dispatcher.inflight} "
                    f"invocation(s) running, {len(self.running_executions())} execution(s) "
                    f"running, stream caught up: {caught_up}"
                )


class FunctionError(RuntimeError):
    """A function invoked through :meth:`LocalCloud.invoke` raised."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.error_message = message


def active() -> LocalCloud | None:
    """The local cloud running in this process, if any."""
    return _active

