"""The embedded local cloud: moto's server running the real workflow and handlers.

``LocalCloud`` (see :mod:`.app`) for tests and the CLI; ``main`` is ``cloudsync local up``.
"""

from .app import (
    DEFAULT_STACK,
    FunctionError,
    LocalCloud,
    active,
    outputs_parameter_name,
    resource_names,
)
from .filters import matches as filter_matches
from .invoke import AsyncFailure, Dispatcher, InvokeResult, LambdaContext
from .main import DEFAULT_ENDPOINT_URL, DEFAULT_PORT, main
from .streams import StreamPlayer, lambda_record

__all__ = [
    "DEFAULT_ENDPOINT_URL",
    "DEFAULT_PORT",
    "DEFAULT_STACK",
    "AsyncFailure",
    "Dispatcher",
    "FunctionError",
    "InvokeResult",
    "LambdaContext",
    "LocalCloud",
    "StreamPlayer",
    "active",
    "filter_matches",
    "lambda_record",
    "main",
    "outputs_parameter_name",
    "resource_names",
]
