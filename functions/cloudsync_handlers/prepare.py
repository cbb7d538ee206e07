"""Lambda `prepare`: originals, sizes, uploads created or resumed, part ranges planned."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cloudsync_core.contract import ExecutionInput
from cloudsync_core.observability import logger, tracer
from cloudsync_core.services import services
from cloudsync_core.sync.prepare import prepare_medium


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return prepare_medium(services(), ExecutionInput.from_payload(event)).as_payload()
