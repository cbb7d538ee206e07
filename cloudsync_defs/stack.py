"""The stack contract: what every deployer writes and every reader expects, written once.

Two deployers build a cloudsync stack (the Pulumi program and the local cloud in
``local/cloudsync_local/cloud``) and the CLI reads what they publish. They agree here on:

- the outputs parameter: an SSM parameter ``/cloudsync/<stack>/outputs`` holding one JSON object
  whose keys are camelCase (Pulumi's export names: ``stateMachineArn``, ``secretId``, ...).
  ``outputs_document`` turns either deployer's keys into that case; ``read_keys`` turns a
  published document into snake_case for Python readers (older local documents were snake_case);
- the Lambda runtime and architecture both deployers create and the policy pack enforces;
- S3's multipart limits (``cloudsync_core.s3_limits``, which Lambda code imports too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from cloudsync_core.s3_limits import (
    GIB,
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIB,
    MIN_PART_SIZE,
    TIB,
)

PARAMETER_ROOT: Final = "/cloudsync"
PARAMETER_PATTERN: Final = re.compile(r"^/cloudsync/([^/]+)/outputs$")
LAMBDA_RUNTIME: Final = "python3.12"
LAMBDA_ARCHITECTURE: Final = "arm64"

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def outputs_parameter(stack: str) -> str:
    """Where a stack publishes its outputs."""
    return f"{PARAMETER_ROOT}/{stack}/outputs"


def stack_of_parameter(name: str) -> str | None:
    """The stack whose outputs parameter this is, or None."""
    match = PARAMETER_PATTERN.match(name)
    return match.group(1) if match else None


def camel(key: str) -> str:
    """``state_machine_arn`` -> ``stateMachineArn`` (camelCase keys are left as they are)."""
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(key: str) -> str:
    """``stateMachineArn`` -> ``state_machine_arn``."""
    return _CAMEL.sub("_", key).lower()


def outputs_document(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs as published: top-level keys in camelCase (nested maps, e.g. the function
    names by logical name, keep their keys)."""
    return {camel(str(k)): v for k, v in outputs.items()}


def read_keys(document: Mapping[str, Any]) -> dict[str, Any]:
    """A published document's top-level keys in snake_case, whichever case it was written in."""
    return {snake(str(k)): v for k, v in document.items()}


__all__ = [
    "GIB", "LAMBDA_ARCHITECTURE", "LAMBDA_RUNTIME", "MAX_OBJECT_SIZE", "MAX_PARTS",
    "MAX_PART_SIZE", "MIB", "MIN_PART_SIZE", "PARAMETER_PATTERN", "PARAMETER_ROOT", "TIB",
    "camel", "outputs_document", "outputs_parameter", "read_keys", "snake", "stack_of_parameter",
]
