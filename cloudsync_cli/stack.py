"""Where the stack is: which AWS endpoint to talk to, and the stack's resources there.

Endpoint (first that applies):
1. ``--endpoint-url``, else ``AWS_ENDPOINT_URL`` (boto3's own variable);
2. ``--local``: the local cloud's default address, ``http://127.0.0.1:4599``;
3. no AWS credentials in the environment or the ``~/.aws`` files (no instance-metadata probe):
   the local cloud's default address too, so a running ``cloudsync local up`` needs no flag;
4. otherwise AWS itself, with the standard AWS environment (profile, region, credentials).
Against a loopback endpoint, missing credentials and region are filled with moto's fakes
(``testing`` / ``us-east-1``, what the local cloud uses).

Stack: the SSM parameter ``/cloudsync/<stack>/outputs`` (JSON written by the Pulumi program and by
the local cloud, camelCase keys: the stack contract, ``cloudsync_defs.stack``). ``--stack`` or
``CLOUDSYNC_STACK`` names it; without a name the only ``/cloudsync/*/outputs`` parameter in the
region is used, and several or none is a clear error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudsync_core.services import DYNAMODB_CONFIG
from cloudsync_defs import stack as stack_contract

from .errors import CliError, is_local

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

LOCAL_ENDPOINT_URL: Final = "http://127.0.0.1:4599"  # cloudsync_local.cloud.DEFAULT_ENDPOINT_URL
LOCAL_REGION: Final = "us-east-1"
FAKE_CREDENTIALS: Final = ("testing", "testing")
ENV_STACK: Final = "CLOUDSYNC_STACK"
PARAMETER_ROOT: Final = stack_contract.PARAMETER_ROOT
parameter_name = stack_contract.outputs_parameter


def _credentials_without_metadata_probe() -> bool:
    """True when credentials come from the environment, a profile or the ``~/.aws`` files."""
    session = botocore.session.Session()
    resolver = session.get_component("credential_provider")
    for name in ("iam-role", "container-role"):
        try:
            resolver.remove(name)
        except Exception:  # noqa: BLE001, S110 - an older botocore without that provider
            pass
    try:
        return resolver.load_credentials() is not None
    except Exception:  # noqa: BLE001 - a broken profile: let boto3 report it properly later
        return True


@dataclass(frozen=True)
class Target:
    """An AWS endpoint (None: AWS itself) with the session to reach it."""

    endpoint_url: str | None
    region: str | None = None
    profile: str | None = None
    chosen_because: str = ""

    @classmethod
    def resolve(
        cls,
        endpoint_url: str | None = None,
        *,
        local: bool = False,
        region: str | None = None,
        profile: str | None = None,
        environ: Mapping[str, str] | None = None,
        has_credentials: bool | None = None,
    ) -> Target:
        env = os.environ if environ is None else environ
        region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        if endpoint_url:
            return cls(endpoint_url.rstrip("/"), region, profile, "--endpoint-url was given")
        if env.get("AWS_ENDPOINT_URL"):
            url = env["AWS_ENDPOINT_URL"].rstrip("/")
            return cls(url, region, profile, "AWS_ENDPOINT_URL is set")
        if local:
            return cls(LOCAL_ENDPOINT_URL, region, profile, "--local was given")
        if profile is None and env.get("AWS_PROFILE") is None:
            found = _credentials_without_metadata_probe() if has_credentials is None else (
                has_credentials
            )
            if not found:
                return cls(LOCAL_ENDPOINT_URL, region, profile, "no AWS credentials are set")
        return cls(None, region, profile, "AWS credentials are set")

    @property
    def local(self) -> bool:
        return self.endpoint_url is not None and is_local(self.endpoint_url)

    def describe(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"{where} ({self.chosen_because})" if self.chosen_because else where


@dataclass
class Aws:
    """boto3 clients for one target and region, created on first use."""

    target: Target
    region_override: str | None = None
    fake_credentials: bool = False  # always moto's fakes (the demo's own local cloud)
    _session: boto3.session.Session | None = None
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def session(self) -> boto3.session.Session:
        if self._session is None:
            kwargs: dict[str, Any] = {}
            if self.target.profile:
                kwargs["profile_name"] = self.target.profile
            if self.fake_credentials or (self.target.local and not _has_env_credentials()):
                kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"] = FAKE_CREDENTIALS
            self._session = boto3.session.Session(**kwargs)
        return self._session

    @property
    def region(self) -> str | None:
        if self.region_override:
            return self.region_override
        if self.target.region:
            return self.target.region
        if self.session.region_name:
            return self.session.region_name
        return LOCAL_REGION if self.target.local else None

    def client(self, service: str, *, config: Config | None = None, variant: str = "") -> Any:
        """A cached client; ``variant`` names a non-default ``config``."""
        key = (service, variant)
        if key not in self._clients:
            base = Config(
                connect_timeout=5,
                read_timeout=60,
                retries={"mode": "standard", "max_attempts": 3},
                max_pool_connections=16,
            )
            self._clients[key] = self.session.client(
                service,  # type: ignore[call-overload]
                region_name=self.region,
                endpoint_url=self.target.endpoint_url,
                config=base.merge(config) if config else base,
            )
        return self._clients[key]

    def use_region(self, region: str | None) -> None:
        """Follow the stack's region (its outputs say where it lives)."""
        if region and region != self.region:
            self.region_override = region
            self._clients.clear()

    def ssm(self) -> SSMClient:
        return self.client("ssm")  # type: ignore[no-any-return]

    def dynamodb(self) -> DynamoDBClient:
        # Only the Tracker uses it: its with_retries is DynamoDB's one retry layer (services.py).
        return self.client(  # type: ignore[no-any-return]
            "dynamodb", config=DYNAMODB_CONFIG, variant="one-try"
        )

    def s3(self) -> S3Client:
        return self.client("s3")  # type: ignore[no-any-return]

    def secrets(self) -> SecretsManagerClient:
        return self.client("secretsmanager")  # type: ignore[no-any-return]

    def lambda_(self, read_timeout: int = 330) -> LambdaClient:
        # A synchronous invoke of the lister may take its whole timeout (300 s); never retry
        # it on the client side (a second listing would start).
        config = Config(read_timeout=read_timeout, retries={"total_max_attempts": 1})
        return self.client(  # type: ignore[no-any-return]
            "lambda", config=config, variant=f"read_timeout={read_timeout}"
        )


def _has_env_credentials() -> bool:
    return bool(os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"))


# --- the stack's outputs ----------------------------------------------------------------------


@dataclass(frozen=True)
class StackOutputs:
    """What the stack publishes (snake_case and the Pulumi program's camelCase both accepted)."""

    stack: str
    table: str
    bucket: str
    secret_id: str
    region: str | None = None
    state_machine_arn: str | None = None
    topic_arn: str | None = None
    list_function: str | None = None
    gopro_api_url: str | None = None
    providers: tuple[str, ...] = ("gopro",)
    functions: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, stack: str, text: str, where: str) -> StackOutputs:
        try:
            data = json.loads(text)
        except ValueError:
            raise CliError(f"the outputs of stack {stack!r} ({where}) are not JSON") from None
        if not isinstance(data, dict):
            raise CliError(f"the outputs of stack {stack!r} ({where}) are not a JSON object")
        values = stack_contract.read_keys(data)
        missing = [k for k in ("table", "bucket", "secret_id") if not values.get(k)]
        if missing:
            raise CliError(
                f"the outputs of stack {stack!r} ({where}) lack {', '.join(missing)}: "
                "redeploy the stack"
            )
        functions = values.get("functions")
        functions = (
            {str(k): str(v) for k, v in functions.items()} if isinstance(functions, dict) else {}
        )
        providers = values.get("providers")
        return cls(
            stack=str(values.get("stack") or stack),
            table=str(values["table"]),
            bucket=str(values["bucket"]),
            secret_id=str(values["secret_id"]),
            region=_opt(values.get("region")),
            state_machine_arn=_opt(values.get("state_machine_arn")),
            topic_arn=_opt(values.get("topic_arn")),
            list_function=_opt(values.get("list_function")) or functions.get("list"),
            gopro_api_url=_opt(values.get("gopro_api_url")),
            providers=tuple(str(p) for p in providers) if isinstance(providers, list) and providers
            else ("gopro",),
            functions=functions,
            raw=dict(data),
        )

    def function(self, logical: str) -> str:
        name = self.list_function if logical == "list" else self.functions.get(logical)
        if not name:
            raise CliError(
                f"the outputs of stack {self.stack!r} do not name its {logical!r} function: "
                "redeploy the stack"
            )
        return name


def _opt(value: object) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def find_stacks(ssm: SSMClient) -> list[str]:
    """Every stack with an outputs parameter in this region, sorted."""
    names: list[str] = []
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path=PARAMETER_ROOT, Recursive=True
    ):
        for parameter in page.get("Parameters", []):
            stack = stack_contract.stack_of_parameter(parameter.get("Name", ""))
            if stack:
                names.append(stack)
    return sorted(set(names))


def discover(aws: Aws, stack: str | None = None) -> StackOutputs:
    """The named stack's outputs, or the only stack's; ``CliError`` saying what to do."""
    ssm = aws.ssm()
    where = f"region {aws.region or '?'} at {aws.target.describe()}"
    name = stack or os.environ.get(ENV_STACK) or None
    if name is None:
        found = find_stacks(ssm)
        if not found:
            raise CliError(
                f"no cloudsync stack found (no {PARAMETER_ROOT}/*/outputs parameter in {where}): "
                + (
                    "start the local cloud with `cloudsync local up`"
                    if aws.target.local
                    else "deploy one with `pulumi up`, or check AWS_REGION / --region"
                )
            )
        if len(found) > 1:
            raise CliError(
                f"several cloudsync stacks in {where}: {', '.join(found)}; choose one with "
                f"--stack NAME or {ENV_STACK}"
            )
        name = found[0]
    try:
        answer = ssm.get_parameter(Name=parameter_name(name))
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
        others = find_stacks(ssm)
        known = f"stacks found: {', '.join(others)}" if others else "no stack is there at all"
        raise CliError(
            f"stack {name!r} has no outputs ({parameter_name(name)} is missing in {where}); "
            f"{known}"
        ) from None
    outputs = StackOutputs.parse(name, answer["Parameter"].get("Value", ""), where)
    aws.use_region(outputs.region)
    return outputs
