"""Lambda `rotate`: Secrets Manager's rotation of the source credentials (every 30 days)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import SecretsManagerEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from cloudsync_core.observability import logger, tracer
from cloudsync_core.services import services
from cloudsync_core.sync.rotation import rotate


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_source(data_class=SecretsManagerEvent)
def handler(event: SecretsManagerEvent, context: LambdaContext) -> dict[str, Any]:
    rotate(services(), event.secret_id, event.client_request_token, event.step)
    return {"step": event.step}
