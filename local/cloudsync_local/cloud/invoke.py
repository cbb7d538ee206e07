"""The invoke seam: every Lambda invoke that reaches moto runs the catalog's handler in-process.

moto's Lambda runs code only in docker. Every invoke path in moto (the HTTP ``Invoke`` and
``InvokeAsync`` APIs, the Step Functions interpreter's Lambda tasks, moto's own event senders)
ends in ``LambdaFunction.invoke``; the local cloud replaces that one method while it runs and
routes by function name to a :class:`Dispatcher`. Functions it does not know keep moto's own
behaviour.

What a handler sees is what Lambda gives it: a parsed JSON event and a context object. What a
caller sees is what Lambda answers: the JSON result, or for a raised exception an error payload
``{"errorType": ClassName, "errorMessage": str(e), ...}`` with ``FunctionError: Unhandled``; the
Step Functions interpreter turns ``errorType`` into the ASL error name (so ``TransientError``
matches ``Retry.ErrorEquals: ["TransientError"]``). ``InvocationType=Event`` returns at once and
runs the handler on a background thread, retrying a failure twice as Lambda does, then keeping
it in :attr:`Dispatcher.async_failures` (the on-failure destination).
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudsync_defs.functions import FunctionSpec

from .chaos import FaultPlan, FunctionKilled

log = logging.getLogger("cloudsync_local.cloud")

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    def __init__(self, spec: FunctionSpec, function_name: str, function_arn: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class InvokeResult:
    """One invocation's answer, as Lambda would give it."""

    payload: bytes  # the JSON body the caller receives
    error: bool  # True: ``FunctionError: Unhandled`` and ``payload`` is the error document
    value: Any = None  # the handler's return value (None on error)
    error_type: str | None = None


@dataclass(frozen=True)
class AsyncFailure:
    """An async invocation that failed every attempt (Lambda's on-failure destination)."""

    function: str
    event: Any
    error_type: str
    error_message: str
    attempts: int
    at: float = field(default_factory=time.time)


def _error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


class Dispatcher:
    """Runs catalog functions in-process, from any thread, as Lambda would."""

    def __init__(
        self,
        specs: Mapping[str, FunctionSpec],  # logical name -> spec
        function_names: Mapping[str, str],  # logical name -> deployed function name
        function_arns: Mapping[str, str],  # logical name -> function ARN
        handlers: Mapping[str, Handler] | None = None,  # logical name -> callable (tests)
        *,
        async_retries: int = 2,
        async_retry_delay_s: float = 1.0,
    ) -> None:
        self._specs = dict(specs)
        self._names = dict(function_names)
        self._arns = dict(function_arns)
        self._by_function_name = {fn: logical for logical, fn in self._names.items()}
        self._overrides = dict(handlers or {})
        self._resolved: dict[str, Handler] = {}
        self._resolve_lock = threading.Lock()
        # Reserved concurrency (the serial functions): further calls wait their turn.
        self._gates = {
            name: threading.BoundedSemaphore(spec.reserved_concurrency)
            for name, spec in self._specs.items()
            if spec.reserved_concurrency
        }
        self._async_retries = async_retries
        self._async_retry_delay_s = async_retry_delay_s
        self._inflight = 0
        self._inflight_cond = threading.Condition()
        self._threads: set[threading.Thread] = set()
        self._closed = False
        self.async_failures: list[AsyncFailure] = []
        self.invocations: dict[str, int] = dict.fromkeys(self._specs, 0)
        self.faults: FaultPlan | None = None  # invocation errors and latency (the chaos layer)

    # --- routing -------------------------------------------------------------------------

    def logical_name(self, function_name: str) -> str | None:
        """The catalog name for a deployed function name or ARN; None if not ours."""
        name = function_name.split(":function:", 1)[-1].split(":", 1)[0]
        return self._by_function_name.get(name)

    def handler_for(self, logical: str) -> Handler:
        if logical in self._overrides:
            return self._overrides[logical]
        with self._resolve_lock:
            if logical not in self._resolved:
                module_name, _, attr = self._specs[logical].handler.rpartition(".")
                module = importlib.import_module(module_name)
                handler = getattr(module, attr)
                if not callable(handler):
                    raise TypeError(f"{self._specs[logical].handler} is not callable")
                self._resolved[logical] = handler
            return self._resolved[logical]

    # --- invoking ------------------------------------------------------------------------

    def call(self, logical: str, event: Any) -> InvokeResult:
        """A synchronous (RequestResponse) invoke; never raises for handler errors."""
        spec = self._specs[logical]
        context = LambdaContext(spec, self._names[logical], self._arns[logical])
        gate = self._gates.get(logical)
        if gate is not None:
            gate.acquire()
        started = time.monotonic()
        with self._inflight_cond:
            self._inflight += 1
            self.invocations[logical] += 1
        try:
            try:
                handler = self.handler_for(logical)
            except Exception as e:  # noqa: BLE001 - Lambda reports a broken bundle so
                err = RuntimeError(f"Unable to import module for {spec.handler}: {e}")
                return self._failed(logical, err, context, "Runtime.ImportModuleError")
            fault = self.faults.before_invoke(logical) if self.faults is not None else None
            if fault is not None:  # the Lambda service refused the invoke: the code never ran
                err = RuntimeError(f"injected invocation error for {logical}")
                return self._failed(logical, err, context, fault.code)
            try:
                value = handler(event, context)
            except Exception as e:  # noqa: BLE001 - the function's error, as Lambda reports it
                return self._failed(logical, e, context)
            except FunctionKilled as e:  # the sandbox died: Step Functions learns no error type
                return self._failed(logical, e, context, "Lambda.Unknown")
            try:
                payload = json.dumps(value).encode("utf-8")
            except (TypeError, ValueError) as e:
                return self._failed(logical, e, context, "Runtime.MarshalError")
            return InvokeResult(payload=payload, error=False, value=value)
        finally:
            elapsed = time.monotonic() - started
            if elapsed > spec.timeout_s:
                log.warning(
                    "%s ran %.1f s, beyond its %d s timeout (Lambda would have stopped it)",
                    logical, elapsed, spec.timeout_s,
                )
            with self._inflight_cond:
                self._inflight -= 1
                self._inflight_cond.notify_all()
            if gate is not None:
                gate.release()

    def _failed(
        self,
        logical: str,
        exc: BaseException,
        context: LambdaContext,
        error_type: str | None = None,
    ) -> InvokeResult:
        document = _error_payload(exc, context.aws_request_id)
        if error_type:
            document["errorType"] = error_type
        log.info("%s raised %s: %s", logical, document["errorType"], exc)
        log.debug("%s traceback:\n%s", logical, "".join(document["stackTrace"]))
        return InvokeResult(
            payload=json.dumps(document).encode("utf-8"),
            error=True,
            error_type=str(document["errorType"]),
        )

    def submit(self, logical: str, event: Any) -> None:
        """An asynchronous (Event) invoke: returns at once; retried twice on failure."""
        with self._inflight_cond:
            if self._closed:
                raise RuntimeError("the local cloud is stopping")
            self._inflight += 1
        thread = threading.Thread(
            target=self._run_async, args=(logical, event), name=f"lambda-async-{logical}",
            daemon=True,
        )
        with self._inflight_cond:
            self._threads.add(thread)
        thread.start()

    def _run_async(self, logical: str, event: Any) -> None:
        try:
            attempts = 0
            while True:
                attempts += 1
                result = self.call(logical, event)
                if not result.error:
                    return
                if attempts > self._async_retries or self._closed:
                    document = json.loads(result.payload)
                    failure = AsyncFailure(
                        logical, event, str(document.get("errorType")),
                        str(document.get("errorMessage")), attempts,
                    )
                    with self._inflight_cond:
                        self.async_failures.append(failure)
                    log.warning(
                        "async invoke of %s failed %d times (%s: %s); sent to on-failure",
                        logical, attempts, failure.error_type, failure.error_message,
                    )
                    return
                time.sleep(self._async_retry_delay_s)
        finally:
            with self._inflight_cond:
                self._inflight -= 1
                self._threads.discard(threading.current_thread())
                self._inflight_cond.notify_all()

    # --- quiescence and shutdown ---------------------------------------------------------

    @property
    def inflight(self) -> int:
        with self._inflight_cond:
            return self._inflight

    def wait_quiet(self, timeout: float) -> bool:
        """Until no invocation runs (sync or async); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._inflight_cond:
            while self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._inflight_cond.wait(left)
            return True

    def close(self, timeout: float) -> None:
        """No new async invokes; give running ones ``timeout`` seconds (they are daemons)."""
        with self._inflight_cond:
            self._closed = True
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


# --- the moto patch ------------------------------------------------------------------------

_patch_lock = threading.Lock()
_dispatchers: list[Dispatcher] = []
_original_invoke: Any = None


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key in (name, name.lower(), name.title()):
        try:
            value = headers.get(key)
        except AttributeError:
            return None
        if value:
            return str(value)
    for key, value in getattr(headers, "items", dict)():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def _parse_event(body: Any) -> Any:
    if body is None or body == "" or body == b"":
        return {}
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    if isinstance(body, str):
        return json.loads(body)
    return body  # already parsed by a moto-internal sender


def _patched_invoke(
    fn: Any, body: Any, request_headers: Any, response_headers: Any
) -> str | bytes:
    function_name = str(getattr(fn, "function_name", ""))
    with _patch_lock:
        found = [(d, d.logical_name(function_name)) for d in _dispatchers]
    route = next(((d, name) for d, name in found if name is not None), None)
    if route is None:
        result: str | bytes = _original_invoke(fn, body, request_headers, response_headers)
        return result
    dispatcher, logical = route
    assert logical is not None
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    response_headers["x-amz-executed-version"] = "$LATEST"
    if invocation_type == "DryRun":
        return b""
    try:
        event = _parse_event(body)
    except ValueError as e:
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(
            {"errorType": "InvalidRequestContentException", "errorMessage": str(e)}
        ).encode("utf-8")
    if invocation_type == "Event":
        dispatcher.submit(logical, event)
        return b""
    outcome = dispatcher.call(logical, event)
    if outcome.error:
        response_headers["x-amz-function-error"] = "Unhandled"
    tail = f"local cloud: {logical} {'failed' if outcome.error else 'ok'}\n"
    response_headers["x-amz-log-result"] = base64.b64encode(tail.encode()).decode()
    return outcome.payload


def install(dispatcher: Dispatcher) -> None:
    """Route invokes of ``dispatcher``'s functions to it (patches moto on first use)."""
    global _original_invoke
    from moto.awslambda.models import LambdaFunction

    with _patch_lock:
        if _original_invoke is None:
            _original_invoke = LambdaFunction.invoke
            setattr(LambdaFunction, "invoke", _patched_invoke)  # noqa: B010
        _dispatchers.append(dispatcher)


def uninstall(dispatcher: Dispatcher) -> None:
    """Undo :func:`install`; moto's own ``invoke`` comes back with the last dispatcher."""
    global _original_invoke
    from moto.awslambda.models import LambdaFunction

    with _patch_lock:
        if dispatcher in _dispatchers:
            _dispatchers.remove(dispatcher)
        if not _dispatchers and _original_invoke is not None:
            setattr(LambdaFunction, "invoke", _original_invoke)  # noqa: B010
            _original_invoke = None
