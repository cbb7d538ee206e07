"""Lambda `transfer`: one slice of part ranges, source → S3, until done or the deadline."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cloudsync_core.contract import TransferSlice
from cloudsync_core.observability import logger, tracer
from cloudsync_core.services import services
from cloudsync_core.sync.transfer_step import transfer_slice


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return transfer_slice(
        services(),
        TransferSlice.from_payload(event),
        remaining_s=lambda: context.get_remaining_time_in_millis() / 1000,
    ).as_payload()
