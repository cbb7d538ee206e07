"""Lambda `list`: the nightly job (EventBridge Scheduler), or `cloudsync sync` on demand."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cloudsync_core.events import ListRequest
from cloudsync_core.observability import logger, tracer
from cloudsync_core.services import services
from cloudsync_core.sync.listing import list_library
from cloudsync_core.sync.source import account_guard, open_provider


@logger.inject_lambda_context(correlation_id_path="run_id", clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    request = ListRequest.parse(event)
    current = services()
    with account_guard(current, request.provider):  # the account refused: pause, one alert
        # A token good for a whole night of transfers, so the parallel steps never renew
        # (a dry run transfers nothing: it renews only a token about to expire).
        options = request.options
        valid_s = 300 if options.dry_run else 3 * 3600
        provider = open_provider(current, request.provider, min_valid_s=valid_s)
        report = list_library(current, provider, trigger=request.trigger, run_id=request.run_id,
                              options=options)
    return report.as_payload()
