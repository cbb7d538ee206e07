"""The tracker table, built from cloudsync_core.schema (the local cloud builds the same one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from cloudsync_core import schema

from .naming import Naming


@dataclass
class TrackerTableArgs:
    naming: Naming
    tags: Mapping[str, str]


class TrackerTable(pulumi.ComponentResource):
    table: aws.dynamodb.Table

    def __init__(
        self, name: str, args: TrackerTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudsync:index:TrackerTable", name, None, opts)
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=args.naming.name("tracker"),
            billing_mode="PAY_PER_REQUEST",
            hash_key=schema.PARTITION_KEY,
            range_key=schema.SORT_KEY,
            attributes=[{"name": n, "type": t} for n, t in schema.ATTRIBUTES.items()],
            global_secondary_indexes=[
                {
                    "name": schema.STATUS_INDEX,
                    "hash_key": schema.STATUS_INDEX_PARTITION,
                    "range_key": schema.STATUS_INDEX_SORT,
                    "projection_type": "ALL",
                }
            ],
            stream_enabled=True,
            stream_view_type=schema.STREAM_VIEW_TYPE,
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True},
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.table_name: pulumi.Output[str] = self.table.name
        self.table_arn: pulumi.Output[str] = self.table.arn
        self.stream_arn: pulumi.Output[str] = self.table.stream_arn
        self.register_outputs(
            {"table_name": self.table_name, "table_arn": self.table_arn,
             "stream_arn": self.stream_arn}
        )
