"""Logger, Tracer and metrics for every function, configured once.

Metrics go out as EMF log lines (no PutMetricData calls), in the seed's namespace and names.
Each metric is emitted on its own (``single_metric``) so that concurrent invocations in the
local cloud never flush each other's metrics. Every log line passes through a scrubber that
replaces any secret registered with ``register_secret`` (tokens, cookies): defence in depth
behind the rule that code never logs them in the first place.

Where log lines and metrics go: stdout inside Lambda (its runtime sends both streams to
CloudWatch Logs), stderr everywhere else, decided at each write. The same code runs inside the
CLI (``resync``'s summary) and inside ``cloudsync local up``, where stdout carries ``--json``
documents and the ready line and must never get a log line.

Which function a line comes from: in the local cloud many handlers run at once in one process,
sharing this logger. The keys a handler's invocation sets (``inject_lambda_context``: the
function's name, request id, correlation id) belong to the thread running it, and the
``service`` of each line is the function's name, so no line names another function.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.base import SingleMetric

from . import metrics
from .settings import ENV_ENVIRONMENT, ENV_METRICS

NAMESPACE = metrics.NAMESPACE
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "cloudsync")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Never let this value reach a log line (masked as ``***``)."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _serialize(record: Any) -> str:
    return scrub(json.dumps(record, default=str, separators=(",", ":")))


def in_lambda() -> bool:
    """True inside AWS Lambda's runtime (which sets its API address for the function)."""
    return bool(os.environ.get("AWS_LAMBDA_RUNTIME_API"))


class _LogStream:
    """stdout in Lambda, stderr elsewhere, looked up at every write (tests swap streams)."""

    def write(self, text: str) -> int:
        return (sys.stdout if in_lambda() else sys.stderr).write(text)

    def flush(self) -> None:
        (sys.stdout if in_lambda() else sys.stderr).flush()


class _PerThreadFormatter(LambdaPowertoolsFormatter):
    """Powertools' formatter whose appended keys belong to the thread that appended them."""

    def __init__(self, **options: Any) -> None:
        self._local = threading.local()
        self._initial: dict[str, Any] | None = None
        super().__init__(**options)

    @property
    def log_format(self) -> dict[str, Any]:
        keys: dict[str, Any] | None = getattr(self._local, "keys", None)
        if keys is None:  # a thread's first line: what the logger was set up with
            keys = dict(self._initial or {})
            self._local.keys = keys
        return keys

    @log_format.setter
    def log_format(self, value: dict[str, Any]) -> None:
        if self._initial is None:
            self._initial = value
        self._local.keys = value

    def append_keys(self, **additional_keys: Any) -> None:
        if additional_keys.get("function_name"):
            additional_keys["service"] = additional_keys["function_name"]
        super().append_keys(**additional_keys)


logger = Logger(
    service=SERVICE,
    stream=_LogStream(),  # type: ignore[arg-type]
    logger_formatter=_PerThreadFormatter(json_serializer=_serialize, utc=True),
)
tracer = Tracer(service=SERVICE)


def emit(name: str, value: float, unit: MetricUnit, **dimensions: str) -> None:
    """One EMF metric with the stack's Environment (and any extra dimensions, e.g. Provider).

    Nothing when the stack turned custom metrics off (each one costs $0.30 a month).
    """
    if os.environ.get(ENV_METRICS, "on") == "off":
        return
    environment = os.environ.get(ENV_ENVIRONMENT, "dev")
    metric = SingleMetric(namespace=NAMESPACE)
    metric.add_metric(name=name, unit=unit, value=value)
    for dimension, dimension_value in {"Environment": environment, **dimensions}.items():
        metric.add_dimension(name=dimension, value=dimension_value)
    line = json.dumps(metric.serialize_metric_set(), separators=(",", ":"))
    stream = _LogStream()
    stream.write(line + "\n")
    stream.flush()


__all__ = ["NAMESPACE", "MetricUnit", "emit", "logger", "register_secret", "scrub", "tracer"]
