"""Physical names and ARNs known before the resources exist.

Names carry the stack so two stacks share an account. Names in an account-wide (global) namespace
also carry the region, so one stack name deploys to two regions of one account: IAM roles and the
CloudWatch dashboard (``global_name``); the bucket carries account and region. The credentials
secret gets a generated suffix (see components/credentials.py): a deleted secret keeps its name for
its recovery window, and the CLI finds the secret through the outputs parameter, never by name.

Some ARNs are built here from a name rather than read from a resource, on purpose: the starter
function needs the state machine's ARN while the state machine needs every function's ARN (a
cycle), and the bucket policy names the writer roles before the functions component creates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi_aws as aws

from cloudsync_defs import stack as stack_contract

MAX_ROLE_NAME: Final = 64  # IAM's limit


@dataclass(frozen=True)
class Naming:
    """One stack in one account and region: every name and ARN derives from these."""

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

    def global_name(self, suffix: str) -> str:
        """A name in an account-wide namespace: it carries the region too."""
        return self.name(f"{self.region}-{suffix}")

    def function_name(self, function: str) -> str:
        return self.name(function.replace("_", "-"))

    def role(self, suffix: str) -> str:
        """An IAM role name (global): stack and region, checked against IAM's length limit."""
        name = self.global_name(suffix)
        if len(name) > MAX_ROLE_NAME:
            raise ValueError(f"IAM role name {name!r} is longer than {MAX_ROLE_NAME} characters; "
                             "use a shorter stack name")
        return name

    def role_name(self, function: str) -> str:
        return self.role(f"{function.replace('_', '-')}-fn")

    @property
    def workflow_role_name(self) -> str:
        return self.role("transfer-sfn")

    @property
    def schedule_role_name(self) -> str:
        return self.role("schedule")

    @property
    def dashboard_name(self) -> str:
        return self.global_name("operations")

    @property
    def secret_name_prefix(self) -> str:
        """The credentials secret's name, before the suffix Secrets Manager's client adds."""
        return f"cloudsync/{self.stack}/credentials-"

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
        return stack_contract.outputs_parameter(self.stack)

    @property
    def audit_bucket_name(self) -> str:
        """The audit log bucket (stack config ``audit``): account and region, as the archive."""
        return self.name(f"log-{self.account}-{self.region}")

    @property
    def trail_name(self) -> str:
        return self.name("trail")

    @property
    def trail_arn(self) -> str:
        """Built from the name: the log bucket's policy names the trail before it exists."""
        return (f"arn:{self.partition}:cloudtrail:{self.region}:{self.account}:"
                f"trail/{self.trail_name}")

    @property
    def fis_bucket_name(self) -> str:
        """Where AWS FIS hands fault configs to the Lambda extension (stack config ``fis``)."""
        return self.name(f"fis-{self.account}-{self.region}")

    def s3_arn(self, bucket: str, key: str = "") -> str:
        return f"arn:{self.partition}:s3:::{bucket}" + (f"/{key}" if key else "")

    def endpoint_service(self, service: str) -> str:
        """A VPC endpoint's service name (``com.amazonaws.eu-central-1.s3``)."""
        return f"com.amazonaws.{self.region}.{service}"

    def service(self, service: str) -> str:
        """A service endpoint name for kms:ViaService (``s3.eu-central-1.amazonaws.com``)."""
        return f"{service}.{self.region}.{self.dns_suffix}"

    def tags(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Project": "cloudsync", "Stack": self.stack, **(extra or {})}
