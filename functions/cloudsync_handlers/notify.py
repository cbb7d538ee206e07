"""Lambda `notify`: the last medium of a run has finished; publish the summary if needed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cloudsync_core.contract import RunEvent
from cloudsync_core.observability import logger, tracer
from cloudsync_core.services import services
from cloudsync_core.sync.summary import publish_summary


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = RunEvent.from_payload(event)
    return {"published": publish_summary(services(), request.run_id)}
