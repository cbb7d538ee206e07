"""An AWS FIS game-day template when stack config ``fis`` is on (seed: Chaos Engineering Testing).

One experiment template per stack, started by hand (``aws fis start-experiment``): first the
transfer function's invocations fail (``aws:lambda:invocation-error``), then they start late
(``aws:lambda:invocation-add-delay``), each for ``durationMinutes`` on the configured share of
invocations. The experiment stops by itself when one of the stack's essential alarms fires.

FIS's Lambda actions work through AWS's FIS extension, a layer on the transfer function (added by
``components.functions``) that reads the fault configuration FIS writes to an S3 location: the
bucket here, under ``FisConfigs/``. The FIS role may write and delete there and read the transfer
function's configuration, nothing else. FIS has no DynamoDB action for a single-region table
(its one DynamoDB action pauses global-table replication): docs/DEPLOY.md says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from cloudsync_defs import options
from cloudsync_defs.options import FisOptions

from . import iam
from .naming import Naming
from .private_bucket import lock_down

TARGET: Final = "transfer-function"


@dataclass
class GameDayArgs:
    naming: Naming
    options: FisOptions
    target_function_arn: pulumi.Input[str]
    stop_alarm_arns: Sequence[pulumi.Input[str]]  # at most FIS_MAX_STOP_CONDITIONS
    key_arn: pulumi.Input[str]  # the stack's key encrypts the fault configs too
    tags: Mapping[str, str]


def extension_layer_arn(architecture: str) -> pulumi.Output[str]:
    """The FIS Lambda extension's layer for this region (AWS's public SSM parameter)."""
    name = options.FIS_EXTENSION_PARAMETER.format(arch=architecture)
    return aws.ssm.get_parameter_output(name=name).value


def config_location(naming: Naming) -> str:
    """``AWS_FIS_CONFIGURATION_LOCATION``: the bucket's ARN and prefix (built from the name:
    the functions are created before this component)."""
    return naming.s3_arn(naming.fis_bucket_name, options.FIS_CONFIG_PREFIX)


def extension_reads(naming: Naming) -> list[iam.Statement]:
    """What the extension, running in the transfer function's role, reads."""
    bucket = naming.s3_arn(naming.fis_bucket_name)
    return [
        iam.statement("FisConfigList", ["s3:ListBucket"], bucket,
                      {"StringLike": {"s3:prefix": [f"{options.FIS_CONFIG_PREFIX}*"]}}),
        iam.statement("FisConfigRead", ["s3:GetObject"], f"{config_location(naming)}*"),
    ]


def _actions(o: FisOptions) -> list[Any]:
    duration = f"PT{o.duration_minutes}M"
    target = {"key": "Functions", "value": TARGET}
    return [
        {"name": "invocation-errors", "action_id": options.FIS_ACTIONS[0], "target": target,
         "description": "the transfer function fails without running",
         "parameters": [{"key": "duration", "value": duration},
                        {"key": "invocationPercentage", "value": str(o.error_percentage)},
                        {"key": "preventExecution", "value": "true"}]},
        {"name": "added-latency", "action_id": options.FIS_ACTIONS[1], "target": target,
         "description": "the transfer function starts late", "start_afters": ["invocation-errors"],
         "parameters": [{"key": "duration", "value": duration},
                        {"key": "invocationPercentage", "value": str(o.delay_percentage)},
                        {"key": "startupDelayMilliseconds", "value": str(o.delay_milliseconds)}]},
    ]


class GameDay(pulumi.ComponentResource):
    def __init__(self, name: str, args: GameDayArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cloudsync:index:GameDay", name, None, opts)
        self._name, self._args = name, args
        naming = args.naming
        self.bucket = aws.s3.Bucket(f"{name}-bucket", bucket=naming.fis_bucket_name,
                                    force_destroy=True, tags=dict(args.tags),
                                    opts=pulumi.ResourceOptions(parent=self, protect=True))
        self._bucket_settings()
        objects = pulumi.Output.concat(self.bucket.arn, f"/{options.FIS_CONFIG_PREFIX}*")
        self.role, policy = iam.service_role(self, f"{name}-fis", iam.ServiceRole(
            naming.role("fis"), "AWS FIS game days on the transfer function",
            "fis.amazonaws.com", [
                iam.statement("WriteFaultConfigs", ["s3:PutObject", "s3:DeleteObject"], objects),
                iam.statement("ReadTargetFunction", ["lambda:GetFunction"],
                              args.target_function_arn),
                iam.statement("EncryptFaultConfigs", ["kms:GenerateDataKey"], args.key_arn,
                              {"StringEquals": {"kms:ViaService": naming.service("s3")}}),
            ]), naming, args.tags)
        self.template = aws.fis.ExperimentTemplate(
            f"{name}-template", description=f"cloudsync {naming.stack}: game day on transfer",
            role_arn=self.role.arn,
            stop_conditions=[{"source": "aws:cloudwatch:alarm", "value": arn}
                             for arn in args.stop_alarm_arns],
            targets=[{"name": TARGET, "resource_type": "aws:lambda:function",
                      "selection_mode": "ALL", "resource_arns": [args.target_function_arn]}],
            actions=_actions(args.options),
            tags={**args.tags, "Name": naming.name("game-day")},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))
        self.template_id: pulumi.Output[str] = self.template.id
        self.register_outputs({"template_id": self.template_id})

    def _bucket_settings(self) -> None:
        """Private, TLS only, SSE-KMS, versioned; configs expire (FIS deletes its own)."""
        name, bucket = self._name, self.bucket.bucket
        child = pulumi.ResourceOptions(parent=self)
        basics = lock_down(name, bucket, self._args.key_arn, child)
        block, versioning = basics.block, basics.versioning
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=bucket, rules=[{
                "id": "fault-configs", "status": "Enabled",
                "filter": {"prefix": options.FIS_CONFIG_PREFIX}, "expiration": {"days": 2},
                "noncurrent_version_expiration": {"noncurrent_days": 1},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 1}}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]))
        arn = self.bucket.arn
        aws.s3.BucketPolicy(
            f"{name}-policy", bucket=bucket, policy=pulumi.Output.json_dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                    "Action": "s3:*", "Resource": [arn, pulumi.Output.concat(arn, "/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]))
