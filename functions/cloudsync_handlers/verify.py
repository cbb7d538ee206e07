"""Lambda `verify`: read archived objects back and recompute their checksums, inside AWS.

Invoked by ``cloudsync verify --read-data`` in batches (in-region reads cost no transfer; only
verdicts travel). Event: ``{"provider", "objects": [{"media_id", "key", "version_id"}],
"budget_s", "correlation_id"}``; the expected values come from the tracker, never the event.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cloudsync_core.observability import logger, tracer
from cloudsync_core.readback import ReadRequest, read_back
from cloudsync_core.services import services

MARGIN_S = 30.0  # left for the answer when an object runs late


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ReadRequest.from_event(event)
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - MARGIN_S
    return read_back(services(), request, deadline)
