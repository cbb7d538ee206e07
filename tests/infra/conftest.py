"""Pulumi mocks for the whole program: a recorded resource graph per stack, built once per session.

``build_stack`` runs the real ``__main__.py`` (its ``main()``) inside ``@pulumi.runtime.test`` with
the stack's own ``Pulumi.<stack>.yaml`` config, and records every RegisterResource request (type,
name, inputs, parent, protect, retain_on_delete) through a MockMonitor subclass.

``build_stack(..., preview=True)`` is a new stack's first ``pulumi preview``: the mocks return no
computed output (ARNs, ids, generated names), so everything built from one is unknown, and the
recorded inputs keep Pulumi's unknown sentinel where the engine would have one.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pulumi
import pytest
import yaml  # type: ignore[import-untyped]
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from cloudsync_defs import bundle as bundles
from cloudsync_defs.policy_rules import Resource

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
PARTITION = "aws"
GENERATED_SUFFIX = "20261130054500000000000001"  # what name_prefix gets (26 characters, as AWS)
UNKNOWN = rpc.UNKNOWN  # the engine's unknown-value sentinel


def pytest_configure(config: pytest.Config) -> None:
    # pulumi_aws warns about its own deprecated modules as it imports them: not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws")


def stack_config(stack: str) -> dict[str, str]:
    """The committed Pulumi.<stack>.yaml, as ``set_all_config`` takes it."""
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in (raw.get("config") or {}).items()
    }


@dataclass
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    custom: bool
    parent: str = ""
    protect: bool = False
    dependencies: list[str] = field(default_factory=list)
    urn: str = ""
    retain_on_delete: bool = False


def partition_of(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else PARTITION


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:{partition_of(region)}:{service}:{region}:{ACCOUNT}:{resource}"


class Mocks(pulumi.runtime.Mocks):
    def __init__(self, region: str, preview: bool = False) -> None:
        self.region = region
        self.preview = preview
        self.records: dict[tuple[str, str], Recorded] = {}
        self.calls: list[str] = []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        if self.preview:  # a first preview: nothing computed is known yet
            self.records[(args.typ, args.name)] = Recorded(
                args.typ, args.name, inputs, dict(inputs), bool(args.custom))
            return "", dict(inputs)
        state = dict(inputs)
        if "namePrefix" in inputs and "name" not in inputs:
            state["name"] = inputs["namePrefix"] + GENERATED_SUFFIX
        name = str(state.get("name") or args.name)
        rid = f"{args.name}-id"
        r = self.region
        p = partition_of(r)
        t = args.typ
        if t == "aws:iam/role:Role":
            state["arn"] = f"arn:{p}:iam::{ACCOUNT}:role/{name}"
            rid = name
        elif t == "aws:s3/bucket:Bucket":
            bucket = str(inputs.get("bucket"))
            state.update(arn=f"arn:{p}:s3:::{bucket}", bucket=bucket)
            rid = bucket
        elif t == "aws:kms/key:Key":
            state.update(arn=_arn("kms", r, "key/0000-key-id"), keyId="0000-key-id")
            rid = "0000-key-id"
        elif t == "aws:dynamodb/table:Table":
            arn = _arn("dynamodb", r, f"table/{name}")
            state.update(arn=arn, streamArn=f"{arn}/stream/2026-01-01T00:00:00.000")
            rid = name
        elif t == "aws:lambda/function:Function":
            arn = _arn("lambda", r, f"function:{name}")
            state.update(arn=arn, invokeArn=f"{arn}/invocations", qualifiedArn=f"{arn}:$LATEST")
            rid = name
        elif t == "aws:lambda/layerVersion:LayerVersion":
            state["arn"] = _arn("lambda", r, f"layer:{inputs.get('layerName')}:1")
        elif t == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = _arn("logs", r, f"log-group:{name}")
            rid = name
        elif t == "aws:secretsmanager/secret:Secret":
            state["arn"] = _arn("secretsmanager", r, f"secret:{name}-AbCdEf")
            rid = state["arn"]
        elif t == "aws:sns/topic:Topic":
            state["arn"] = _arn("sns", r, name)
            rid = state["arn"]
        elif t == "aws:sqs/queue:Queue":
            state.update(arn=_arn("sqs", r, name),
                         url=f"https://sqs.{r}.amazonaws.com/{ACCOUNT}/{name}")
            rid = state["url"]
        elif t == "aws:sfn/stateMachine:StateMachine":
            state["arn"] = _arn("states", r, f"stateMachine:{name}")
            rid = state["arn"]
        elif t == "aws:scheduler/schedule:Schedule":
            state["arn"] = _arn("scheduler", r, f"schedule/default/{name}")
        elif t == "aws:cloudtrail/trail:Trail":
            state["arn"] = _arn("cloudtrail", r, f"trail/{name}")
        elif t == "aws:cloudwatch/metricAlarm:MetricAlarm":
            state["arn"] = _arn("cloudwatch", r, f"alarm:{name}")
        elif t == "aws:cloudwatch/dashboard:Dashboard":
            state["dashboardArn"] = f"arn:{p}:cloudwatch::{ACCOUNT}:dashboard/x"
        elif args.custom:
            state.setdefault("arn", _arn("mock", r, f"{t.rsplit(':', 1)[-1]}/{name}"))
        self.records[(t, args.name)] = Recorded(t, args.name, inputs, state, bool(args.custom))
        return rid, state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        self.calls.append(args.token)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer",
                    "userId": "AIDEXAMPLE", "id": ACCOUNT}, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region,
                    "endpoint": f"ec2.{self.region}.amazonaws.com",
                    "description": self.region}, []
        if args.token == "aws:index/getPartition:getPartition":
            p = partition_of(self.region)
            suffix = "amazonaws.com.cn" if p == "aws-cn" else "amazonaws.com"
            return {"partition": p, "dnsSuffix": suffix, "id": p,
                    "reverseDnsPrefix": ".".join(reversed(suffix.split(".")))}, []
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":  # vpc on
            names = [f"{self.region}{z}" for z in "abc"]
            return {"names": names, "zoneIds": names, "id": self.region, "groupNames": []}, []
        if args.token == "aws:ssm/getParameter:getParameter":  # fis on: AWS's public parameter
            name = str(args.args["name"])
            arch = "arm64" if "arm64" in name else "x86_64"
            layer = f"arn:aws:lambda:{self.region}:211125607513:layer:aws-fis-extension-{arch}:9"
            return {"name": name, "value": layer, "insecureValue": layer, "type": "String",
                    "id": name, "arn": name, "version": 1}, []
        raise AssertionError(f"the program made an unexpected invoke: {args.token}")


def _as_the_engine_sends(value: Any) -> Any:
    """Unknowns as the engine sends them to a policy pack: the sentinel string."""
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _as_the_engine_sends(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_the_engine_sends(v) for v in value]
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Sees what MockResourceArgs does not: parent, protect, dependencies."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.requests: dict[tuple[str, str], dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method's name
        self.requests[(request.type, request.name)] = {
            "parent": request.parent,
            "protect": bool(request.protect),
            "retain_on_delete": bool(request.retainOnDelete),
            "dependencies": list(request.dependencies),
        }
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        key = (request.type, request.name)
        if key in self.requests:
            self.requests[key]["urn"] = response.urn
            # The inputs as the engine (and a policy pack) sees them: unknowns kept.
            self.requests[key]["raw_inputs"] = _as_the_engine_sends(rpc.deserialize_properties(
                request.object, keep_unknowns=True))
        return response


@dataclass
class Graph:
    stack: str
    config: dict[str, str]
    resources: list[Recorded]
    exports: dict[str, Any]
    calls: list[str]

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Recorded:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {len(found)}"
        return found[0]

    def by_urn(self, urn: str) -> Recorded:
        return next(r for r in self.resources if r.urn == urn)

    def policy_resources(self) -> list[Resource]:
        return [Resource(r.type, r.name, r.inputs, r.protect, r.urn)
                for r in self.resources if r.custom]

    def function(self, name: str) -> Recorded:
        return next(r for r in self.of_type("aws:lambda/function:Function")
                    if r.inputs["name"].endswith(f"-{name.replace('_', '-')}"))


def load_program() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cloudsync_program", ROOT / "__main__.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_stack(
    stack: str,
    config: Mapping[str, str],
    program: Callable[[], dict[str, Any]] | None = None,
    preview: bool = False,
) -> Graph:
    region = config.get("aws:region", "eu-central-1")
    mocks = Mocks(region, preview=preview)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="cloudsync", stack=stack, preview=preview,
                             monitor=monitor)
    pulumi.runtime.set_all_config(dict(config))
    exports: dict[str, Any] = {}
    main = program or load_program().main

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> pulumi.Output[Any]:
        outputs = main()
        return pulumi.Output.all(**outputs).apply(exports.update)

    run()
    resources: list[Recorded] = []
    for key, record in mocks.records.items():
        request = monitor.requests.get(key, {})
        record.parent = request.get("parent", "")
        record.protect = request.get("protect", False)
        record.retain_on_delete = request.get("retain_on_delete", False)
        record.dependencies = request.get("dependencies", [])
        record.urn = request.get("urn", "")
        if preview:
            record.inputs = request.get("raw_inputs", record.inputs)
        resources.append(record)
    return Graph(stack, dict(config), resources, exports, mocks.calls)


@pytest.fixture(scope="session")
def bundle() -> bundles.Bundle:
    """The real Lambda bundle (arm64 wheels), built once; the program reuses it from the cache."""
    return bundles.build()


@pytest.fixture(scope="session")
def dev(bundle: bundles.Bundle) -> Graph:
    return build_stack("dev", stack_config("dev"))


@pytest.fixture(scope="session")
def prod(bundle: bundles.Bundle) -> Graph:
    return build_stack("prod", stack_config("prod"))


@pytest.fixture(scope="session", params=["dev", "prod"])
def graph(request: pytest.FixtureRequest) -> Iterator[Graph]:
    yield request.getfixturevalue(request.param)
