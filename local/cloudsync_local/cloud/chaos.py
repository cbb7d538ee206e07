"""Faults on purpose: the local cloud's fault-injecting layer (the chaos suite's lever).

A :class:`FaultPlan` holds faults, each for one service and operation (``"*"`` for all), one
caller (``source``: ``"handlers"`` for the functions' clients, ``"workflow"`` for the Step
Functions interpreter's own DynamoDB steps, ``"*"`` for both), a count and/or a probability
(or every Nth call, after ``skip`` calls). Kinds:

- ``error``: the call is not made; the caller gets the AWS error (``code``, ``status``);
- ``lost``: the call is made and succeeds, then its answer is lost (a 500, or with
  ``code="ReadTimeout"`` a read timeout): what a retried conditional write must survive;
- ``latency``: the call is made ``latency_s`` later;
- ``kill``: the calling function dies on the spot (:class:`FunctionKilled`), as a Lambda whose
  sandbox is torn down; the local cloud reports ``Lambda.Unknown`` as Step Functions would.

Where faults reach: botocore event hooks on any client (:meth:`FaultPlan.attach`: the functions'
clients in the local cloud process), the interpreter's DynamoDB client factory
(:func:`install_workflow_faults`: moto's interpreter builds its clients from a fixed endpoint,
so endpoint variables and proxies never see those calls), and the function dispatcher
(service ``"lambda"``, operation = the function's logical name: invocation errors and latency).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import ClientError, ReadTimeoutError

log = logging.getLogger("cloudsync_local.cloud.chaos")

KINDS: Final = ("error", "lost", "latency", "kill")
HANDLERS: Final = "handlers"
WORKFLOW: Final = "workflow"


class FunctionKilled(BaseException):
    """The function was killed mid-call. A BaseException: no ``except Exception`` absorbs it."""


@dataclass
class Fault:
    """One fault: where it applies, what it does, how often."""

    service: str  # botocore service name ("s3", "dynamodb", "secretsmanager", "sns", "lambda")
    operation: str = "*"  # API operation ("UploadPart") or function logical name; "*": all
    kind: str = "error"
    code: str = "InternalServerError"
    status: int = 500
    count: int | None = 1  # times it fires; None: no limit
    probability: float = 1.0
    skip: int = 0  # let this many matching calls through first
    every: int = 1  # then fire on every Nth matching call only (spread over a run)
    latency_s: float = 0.0
    source: str = "*"  # "handlers", "workflow" or "*"
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind {self.kind!r}: one of {', '.join(KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within 0..1")
        if self.every < 1:
            raise ValueError("every must be at least 1")

    def matches(self, service: str, operation: str, source: str) -> bool:
        return (
            self.service == service
            and self.operation in ("*", operation)
            and self.source in ("*", source)
        )


class FaultPlan:
    """The faults in force, shared by every hook; thread-safe. ``fired`` counts what happened."""

    def __init__(self, seed: int | None = None) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.fired: Counter[tuple[str, str, str]] = Counter()  # (service, operation, kind)
        self.calls: Counter[tuple[str, str]] = Counter()  # every call seen, by operation

    def add(self, service: str, operation: str = "*", **options: Any) -> Fault:
        fault = Fault(service, operation, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(
        self, service: str, operation: str, source: str, kinds: tuple[str, ...]
    ) -> Fault | None:
        """The fault that fires for this call (counted), if any."""
        with self._lock:
            for fault in self._faults:
                if fault.kind not in kinds or not fault.matches(service, operation, source):
                    continue
                fault.seen += 1
                if fault.seen <= fault.skip or (fault.seen - fault.skip - 1) % fault.every:
                    continue
                if fault.count is not None and fault.fired >= fault.count:
                    continue
                if fault.probability < 1.0 and self._random.random() >= fault.probability:
                    continue
                fault.fired += 1
                self.fired[(service, operation, fault.kind)] += 1
                return fault
        return None

    # --- botocore hooks ------------------------------------------------------------------

    def attach(self, client: Any, source: str = HANDLERS) -> Any:
        """Put this plan between ``client`` and its service; returns the client."""
        events = client.meta.events
        events.register("before-call", self._before_hook(source), unique_id=f"chaos-b-{id(self)}")
        events.register("after-call", self._after_hook(source), unique_id=f"chaos-a-{id(self)}")
        return client

    def _before_hook(self, source: str) -> Callable[..., None]:
        def before(model: Any, **_: Any) -> None:
            service, operation = model.service_model.service_name, model.name
            with self._lock:
                self.calls[(service, operation)] += 1
            fault = self.take(service, operation, source, ("error", "latency", "kill"))
            if fault is None:
                return
            log.info("chaos: %s %s.%s (%s)", fault.kind, service, operation, source)
            if fault.kind == "latency":
                time.sleep(fault.latency_s)
            elif fault.kind == "kill":
                raise FunctionKilled(f"killed during {service}.{operation}")
            else:
                raise _client_error(fault, operation)

        return before

    def _after_hook(self, source: str) -> Callable[..., None]:
        def after(model: Any, http_response: Any, **_: Any) -> None:
            if getattr(http_response, "status_code", 500) >= 300:
                return  # only a call that succeeded can lose its answer
            service, operation = model.service_model.service_name, model.name
            fault = self.take(service, operation, source, ("lost",))
            if fault is None:
                return
            log.info("chaos: answer of %s.%s lost after it succeeded (%s)",
                     service, operation, source)
            if fault.code == "ReadTimeout":
                raise ReadTimeoutError(endpoint_url=f"{service}.{operation}")
            raise _client_error(fault, operation)

        return after

    # --- the function dispatcher ---------------------------------------------------------

    def before_invoke(self, logical: str) -> Fault | None:
        """For the dispatcher: sleeps for a latency fault; returns an error fault to report."""
        fault = self.take("lambda", logical, HANDLERS, ("error", "latency"))
        if fault is not None and fault.kind == "latency":
            time.sleep(fault.latency_s)
            return None
        return fault


def _client_error(fault: Fault, operation: str) -> ClientError:
    response: Any = {
        "Error": {"Code": fault.code, "Message": "injected by the chaos layer"},
        "ResponseMetadata": {"HTTPStatusCode": fault.status, "RequestId": "chaos"},
    }
    return ClientError(response, operation)


# --- the workflow's own DynamoDB steps ------------------------------------------------------

_workflow_lock = threading.Lock()
_workflow_original: Any = None
_workflow_plan: FaultPlan | None = None


def install_workflow_faults(plan: FaultPlan | None) -> None:
    """Attach ``plan`` to every DynamoDB client moto's interpreter builds (None: detach).

    The interpreter's DynamoDB task module imported its client factory by name; that name is
    replaced by one that attaches the plan (source ``"workflow"``) to each client it builds.
    """
    global _workflow_original, _workflow_plan
    import importlib

    module: Any = importlib.import_module(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
        "state_task_service_dynamodb"
    )

    with _workflow_lock:
        if plan is None:
            if _workflow_original is not None:
                module.boto_client_for = _workflow_original
            _workflow_original, _workflow_plan = None, None
            return
        if _workflow_original is None:
            _workflow_original = module.boto_client_for
            original = _workflow_original

            def factory(*args: Any, **kwargs: Any) -> Any:
                client = original(*args, **kwargs)
                current = _workflow_plan
                return current.attach(client, WORKFLOW) if current is not None else client

            module.boto_client_for = factory
        _workflow_plan = plan
