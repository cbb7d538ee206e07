"""Lambda `start`: tracker stream records (PENDING only, by the mapping's filter) → executions.

Partial batch failures: a record whose start failed is reported back and redelivered alone;
the rest of the batch is not started twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cloudsync_core.observability import logger, tracer
from cloudsync_core.services import services
from cloudsync_core.sync.starter import StartRequest, start_transfer


def start_record(record: DynamoDBRecord) -> str:
    image = record.dynamodb.new_image if record.dynamodb else None
    request = StartRequest.from_values(image or {})
    if request is None:
        return ""
    logger.append_keys(media_id=request.media_id, wake=request.wake)
    return start_transfer(services(), request, record.event_id or "")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # One processor per invocation: its bookkeeping is not shared between concurrent calls.
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    return dict(
        process_partial_response(
            event=event, record_handler=start_record, processor=processor, context=context
        )
    )
