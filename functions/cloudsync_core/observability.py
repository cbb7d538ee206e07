"""Logger, Tracer and metrics for every function, configured once.

Metrics go out as EMF log lines (no PutMetricData calls), in the seed's namespace and names.
Each metric is emitted on its own (``single_metric``) so that concurrent invocations in the
local cloud never flush each other's metrics. Every log line passes through a scrubber that
replaces any secret registered with ``register_secret`` (tokens, cookies): defence in depth
behind the rule that code never logs them in the first place.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from .settings import ENV_ENVIRONMENT, ENV_METRICS

NAMESPACE = "GoProSync"
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


logger = Logger(service=SERVICE, json_serializer=_serialize, utc=True)
tracer = Tracer(service=SERVICE)


def emit(name: str, value: float, unit: MetricUnit, **dimensions: str) -> None:
    """One EMF metric with the stack's Environment (and any extra dimensions, e.g. Provider).

    Nothing when the stack turned custom metrics off (each one costs $0.30 a month).
    """
    if os.environ.get(ENV_METRICS, "on") == "off":
        return
    environment = os.environ.get(ENV_ENVIRONMENT, "dev")
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=NAMESPACE,
        default_dimensions={"Environment": environment, **dimensions},
    ):
        pass


__all__ = ["NAMESPACE", "MetricUnit", "emit", "logger", "register_secret", "scrub", "tracer"]
