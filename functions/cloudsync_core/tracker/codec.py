"""DynamoDB's typed values to plain Python values and back.

The tracker talks to DynamoDB through the low-level client (thread-safe, unlike the resource
API), so every item crosses this codec: floats become Decimals on the way in (DynamoDB has no
float) and Decimals become ints or floats on the way out (callers never see a Decimal).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_ser = TypeSerializer()
_de = TypeDeserializer()


def plain(value: Any) -> Any:
    """DynamoDB's Decimals back into ints and floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values as a DynamoDB item (or expression attribute values)."""
    return {k: _ser.serialize(_dynamo_value(v)) for k, v in values.items()}


def _dynamo_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamo_value(v) for v in value]
    return value


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain values."""
    return {k: plain(_de.deserialize(v)) for k, v in item.items()}
