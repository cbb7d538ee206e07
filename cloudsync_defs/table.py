"""The tracker table as a CreateTable request, built from ``cloudsync_core.schema``.

The local cloud and the adapter tests create the table with exactly this; the Pulumi component
builds its ``aws.dynamodb.Table`` from the same schema constants.
"""

from __future__ import annotations

from typing import Any

from cloudsync_core import schema


def create_table_request(name: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": n, "AttributeType": t} for n, t in schema.ATTRIBUTES.items()
        ],
        "KeySchema": [
            {"AttributeName": schema.PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": schema.SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": schema.STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": schema.STATUS_INDEX_PARTITION, "KeyType": "HASH"},
                    {"AttributeName": schema.STATUS_INDEX_SORT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": schema.STREAM_VIEW_TYPE},
        "SSESpecification": {"Enabled": True},
    }
