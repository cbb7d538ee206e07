"""Lambda `authenticate` (seed component 1): make sure the stored token is valid.

Returns only facts a person may see (mode, user id, expiry): never a token.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cloudsync_core.observability import logger, tracer
from cloudsync_core.services import services
from cloudsync_core.sync.source import authenticate


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    return authenticate(services())
