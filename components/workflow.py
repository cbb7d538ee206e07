"""The per-medium Express workflow and the stream mapping that starts it.

The definition is ``render_transfer_definition`` of cloudsync_defs.workflow with this stack's
ARNs, table, concurrency bounds and partition: the local cloud renders the very same text. The
workflow logs errors only, never execution data (no payload reaches CloudWatch Logs), and is
traced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from cloudsync_core import schema
from cloudsync_defs.workflow import FUNCTIONS_IN_WORKFLOW, render_transfer_definition

from . import iam
from .naming import Naming


@dataclass
class TransferWorkflowArgs:
    naming: Naming
    function_arns: Mapping[str, pulumi.Input[str]]
    table_name: pulumi.Input[str]
    table_arn: pulumi.Input[str]
    stream_arn: pulumi.Input[str]
    starter_function_arn: pulumi.Input[str]
    starter_ready: pulumi.Resource  # the starter's role policy: the mapping checks it on create
    failure_queue_arn: pulumi.Input[str]
    max_concurrent_media: int
    map_concurrency: int
    batch_size: int
    max_retries: int
    log_retention_days: int
    tags: Mapping[str, str]


def definition(
    arns: Mapping[str, pulumi.Input[str]],
    table_name: pulumi.Input[str],
    max_concurrent_media: int,
    map_concurrency: int,
    partition: str,
) -> pulumi.Output[str]:
    """The deployed ASL: the shared renderer, fed once every ARN is known."""
    names = list(FUNCTIONS_IN_WORKFLOW)

    def render(values: list[Any]) -> str:
        *resolved, table = values
        return render_transfer_definition(
            function_arns=dict(zip(names, resolved, strict=True)),
            table_name=table,
            max_concurrent_media=max_concurrent_media,
            map_concurrency=map_concurrency,
            partition=partition,
        )

    return pulumi.Output.all(*[arns[n] for n in names], table_name).apply(render)


class TransferWorkflow(pulumi.ComponentResource):
    state_machine: aws.sfn.StateMachine

    def __init__(
        self, name: str, args: TransferWorkflowArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudsync:index:TransferWorkflow", name, None, opts)
        naming = args.naming
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=naming.workflow_log_group,
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child,
        )
        self.role, self.role_policy = iam.service_role(self, name, iam.ServiceRole(
            naming.workflow_role_name, "the transfer workflow", "states.amazonaws.com", [
                iam.invoke([args.function_arns[n] for n in FUNCTIONS_IN_WORKFLOW]),
                iam.statement("TableUpdate", ["dynamodb:UpdateItem"], args.table_arn),
                iam.xray(),
                iam.log_delivery(),
            ],
        ), naming, tags)
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-state-machine",
            name=naming.state_machine_name,
            type="EXPRESS",
            role_arn=self.role.arn,
            definition=definition(
                args.function_arns, args.table_name, args.max_concurrent_media,
                args.map_concurrency, naming.partition,
            ),
            logging_configuration={
                "level": "ERROR",
                "include_execution_data": False,
                "log_destination": pulumi.Output.concat(self.log_group.arn, ":*"),
            },
            tracing_configuration={"enabled": True},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )
        self.stream_mapping = self._stream_mapping(name, args)
        self.state_machine_arn: pulumi.Output[str] = self.state_machine.arn
        self.register_outputs({"state_machine_arn": self.state_machine_arn})

    def _stream_mapping(
        self, name: str, args: TransferWorkflowArgs
    ) -> aws.lambda_.EventSourceMapping:
        """New PENDING rows start the starter, in batches; batches that fail for good end in
        the failure queue."""
        return aws.lambda_.EventSourceMapping(
            f"{name}-stream",
            event_source_arn=args.stream_arn,
            function_name=args.starter_function_arn,
            starting_position="LATEST",
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=1,
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=args.max_retries,
            function_response_types=["ReportBatchItemFailures"],
            filter_criteria={"filters": [{"pattern": json.dumps(schema.PENDING_FILTER_PATTERN)}]},
            destination_config={"on_failure": {"destination_arn": args.failure_queue_arn}},
            # The starter starts executions of this state machine (its ARN is built from the
            # name): records must not flow before it exists.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[args.starter_ready, self.state_machine]
            ),
        )
