"""One SSM parameter holding the stack's outputs as JSON: what the ``cloudsync`` CLI reads.

Its name and key case are the stack contract (``cloudsync_defs.stack``), which the local cloud
writes to as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from cloudsync_defs import stack as stack_contract

from .naming import Naming


@dataclass
class DiscoveryArgs:
    naming: Naming
    outputs: Mapping[str, Any]  # plain values and Outputs; nothing secret
    tags: Mapping[str, str]


class Discovery(pulumi.ComponentResource):
    parameter: aws.ssm.Parameter

    def __init__(
        self, name: str, args: DiscoveryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudsync:index:Discovery", name, None, opts)
        self.parameter = aws.ssm.Parameter(
            f"{name}-parameter",
            name=args.naming.outputs_parameter,
            description="cloudsync stack outputs (JSON), read by the cloudsync CLI",
            type="String",
            tier="Standard",
            # Not secret, and readable in diffs: `value` would be stored as a Pulumi secret.
            insecure_value=pulumi.Output.json_dumps(stack_contract.outputs_document(args.outputs)),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.parameter_name: pulumi.Output[str] = self.parameter.name
        self.register_outputs({"parameter_name": self.parameter_name})
