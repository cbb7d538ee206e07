"""Lambda `mark_failed`: the workflow caught an error; record it on the medium's row."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cloudsync_core.contract import StepFailure
from cloudsync_core.observability import logger, tracer
from cloudsync_core.services import services
from cloudsync_core.sync.failure import mark_failed


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return mark_failed(services(), StepFailure.from_payload(event)).as_payload()
