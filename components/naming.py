"""Physical names and ARNs known before the resources exist.

Names carry the stack so two stacks share an account. Some ARNs are built here from a name rather
than read from a resource, on purpose: the starter function needs the state machine's ARN while the
state machine needs every function's ARN (a cycle), and the bucket policy names the writer roles
before the functions component creates them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws


@dataclass(frozen=True)
class Naming:
    stack: str
    account: str
    region: str
    partition: str = "aws"
    dns_suffix: str = "amazonaws.com"

    @classmethod
    def lookup(cls, stack: str) -> Naming:
        """Account, region and partition of the deploying credentials (invokes, run at preview)."""
        identity = aws.get_caller_identity()
        region = aws.get_region()
        partition = aws.get_partition()
        return cls(
            stack=stack,
            account=identity.account_id,
            region=region.region,
            partition=partition.partition,
            dns_suffix=partition.dns_suffix,
        )

    def name(self, suffix: str) -> str:
        return f"cloudsync-{self.stack}-{suffix}"

    def function_name(self, function: str) -> str:
        return self.name(function.replace("_", "-"))

    def role_name(self, function: str) -> str:
        return self.name(f"{function.replace('_', '-')}-fn")

    def role_arn(self, role_name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{role_name}"

    def function_log_group(self, function: str) -> str:
        return f"/aws/lambda/{self.function_name(function)}"

    @property
    def bucket_name(self) -> str:
        return self.name(f"{self.account}-{self.region}")

    @property
    def state_machine_name(self) -> str:
        return self.name("workflow")

    @property
    def state_machine_arn(self) -> str:
        return (
            f"arn:{self.partition}:states:{self.region}:{self.account}:stateMachine:"
            f"{self.state_machine_name}"
        )

    @property
    def workflow_log_group(self) -> str:
        return f"/aws/vendedlogs/states/{self.state_machine_name}"

    @property
    def outputs_parameter(self) -> str:
        return f"/cloudsync/{self.stack}/outputs"

    def service(self, service: str) -> str:
        """A service endpoint name for kms:ViaService (``s3.eu-central-1.amazonaws.com``)."""
        return f"{service}.{self.region}.{self.dns_suffix}"

    def tags(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Project": "cloudsync", "Stack": self.stack, **(extra or {})}
