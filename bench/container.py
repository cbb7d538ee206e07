"""A warm Lambda container in its own process: the real handlers, one invocation at a time.

Lambda runs each invocation of a function in a container of its own (one invocation at a time,
kept warm between them); the production-path benchmark does the same with one process per
container. The container imports the handler named in the function catalog
(``cloudsync_defs.functions``), calls it with the workflow's event and a context whose remaining
time counts down from the function's timeout, and answers with the handler's result or its error
type (the name the workflow's Retry/Catch match), the wall time and the invocation's peak RSS.

Protocol (JSON lines): the bench writes ``{"fn": "transfer", "event": {...}, "env": {...}}`` on
stdin; the answer comes on the original stdout. The handlers' own log lines go to stderr.
``{"warm": true, "env": {...}}`` only builds the clients (``services()``), as a container's
first invocation does: the bench warms its containers so that cold starts are measured apart.
``env`` is the function's environment (Pulumi sets it per function); a changed one rebuilds the
container's clients, as a new deployment would.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import IO, Any

MIB = 1024 * 1024


class Context:
    """The attributes and method of the Python runtime's context object."""

    def __init__(self, name: str, memory_mb: int, timeout_s: int) -> None:
        self.function_name = f"bench-{name}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:bench-{name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/bench-{name}"
        self.log_stream_name = uuid.uuid4().hex
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _status(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> bool:
    """Start a new high-water mark (VmHWM) for this invocation; False where Linux refuses."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _profiler(fn: str) -> Callable[[], None] | None:
    """With BENCH_PROFILE=DIR, each invocation's wall-clock profile goes to DIR/fn-pid-n.prof."""
    where = os.environ.get("BENCH_PROFILE")
    if not where:
        return None
    import cProfile

    prof = cProfile.Profile(time.perf_counter)
    prof.enable()
    path = os.path.join(where, f"{fn}-{os.getpid()}-{uuid.uuid4().hex[:6]}.prof")

    def done() -> None:
        prof.disable()
        prof.dump_stats(path)

    return done


class RequestLog:
    """Every request an invocation makes, by what it asks and how long its answer took.

    AWS requests are timed around botocore's ``Endpoint.make_request`` (one operation, its
    retries included), named ``service.Operation``; the source's around requests'
    ``HTTPAdapter.send`` (to the answer's headers), named ``api.METHOD`` (GoPro's API) or
    ``cdn.METHOD`` (a file's bytes). Installed
    once per container; ``take()`` hands over and clears what the invocation recorded.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[tuple[str, float]] = []

    def install(self) -> None:
        import requests.adapters
        from botocore.endpoint import Endpoint

        log = self
        make_request = Endpoint.make_request
        send = requests.adapters.HTTPAdapter.send

        def timed_make_request(endpoint: Any, operation_model: Any, request_dict: Any) -> Any:
            started = time.perf_counter()
            try:
                return make_request(endpoint, operation_model, request_dict)
            finally:
                name = f"{operation_model.service_model.endpoint_prefix}.{operation_model.name}"
                log.add(name, time.perf_counter() - started)

        def timed_send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return send(adapter, request, *args, **kwargs)
            finally:
                where = "cdn" if "/cdn/" in str(request.url) else "api"
                log.add(f"{where}.{request.method}", time.perf_counter() - started)

        Endpoint.make_request = timed_make_request  # type: ignore[method-assign, assignment]
        requests.adapters.HTTPAdapter.send = timed_send  # type: ignore[method-assign, assignment]

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self._seen.append((name, seconds))

    def take(self) -> list[tuple[str, float]]:
        with self._lock:
            seen, self._seen = self._seen, []
        return seen


class Container:
    def __init__(self) -> None:
        self._env: dict[str, str] = {}
        self._handlers: dict[str, tuple[Callable[[Any, Any], Any], int, int]] = {}
        self.requests = RequestLog()
        self.requests.install()

    def _apply_env(self, env: dict[str, str]) -> None:
        if env == self._env:
            return
        for key in self._env:
            os.environ.pop(key, None)
        os.environ.update(env)
        self._env = dict(env)
        from cloudsync_core.services import set_services

        set_services(None)  # the next services() reads the new environment

    def _handler(self, name: str) -> tuple[Callable[[Any, Any], Any], int, int]:
        if name not in self._handlers:
            from cloudsync_defs.functions import FUNCTIONS

            spec = next(f for f in FUNCTIONS if f.name == name)
            module, attr = spec.handler.rsplit(".", 1)
            self._handlers[name] = (getattr(importlib.import_module(module), attr),
                                    spec.memory_mb, spec.timeout_s)
        return self._handlers[name]

    def warm(self, env: dict[str, str]) -> dict[str, Any]:
        """What a container's first invocation does before the handler: build the clients."""
        from cloudsync_core.services import services

        self._apply_env(env)
        started = time.perf_counter()
        services()
        return {"ok": True, "seconds": time.perf_counter() - started}

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("warm"):
            return self.warm(request.get("env") or {})
        self._apply_env(request.get("env") or {})
        handler, memory_mb, timeout_s = self._handler(str(request["fn"]))
        fresh = reset_peak()
        before = _status("VmRSS")
        self.requests.take()
        started, cpu = time.perf_counter(), time.process_time()
        answer: dict[str, Any] = {"ok": True}
        profile = _profiler(str(request["fn"]))
        try:
            answer["result"] = handler(request["event"], Context(request["fn"], memory_mb,
                                                                   timeout_s))
        except Exception as e:  # noqa: BLE001 - the error's type is the workflow's answer
            answer = {"ok": False, "error_type": type(e).__name__, "message": str(e)[:300]}
        if profile is not None:
            profile()
        answer.update(seconds=time.perf_counter() - started,
                      cpu_seconds=time.process_time() - cpu, rss_before_mib=before,
                      peak_rss_mib=_status("VmHWM"), peak_is_per_invocation=fresh,
                      memory_mb=memory_mb,
                      requests=[[n, round(t, 5)] for n, t in self.requests.take()])
        return answer


def serve() -> int:
    """Answer invocations until stdin closes."""
    answers: IO[str] = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # print() and the handlers' logs go to stderr
    sys.stdout = sys.stderr
    container = Container()
    for fn in ("prepare", "transfer", "finalize"):  # import before the first (timed) call
        container._handler(fn)
    answers.write(json.dumps({"ready": True, "pid": os.getpid(),
                              "rss_mib": _status("VmRSS")}) + "\n")
    answers.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        answer = container.invoke(json.loads(line))
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()
    return 0
