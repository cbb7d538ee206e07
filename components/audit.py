"""The audit trail when stack config ``audit`` is on (seed: Audit and Compliance).

A CloudTrail trail (every region, log file validation) records management events and the
archive bucket's S3 data events, reads and writes, into a log bucket of its own: encrypted with
a key of its own, versioned, private, TLS only, moved to Glacier and expired by lifecycle. Its
policy lets CloudTrail write only on behalf of this trail (``aws:SourceArn``). AWS Config judges
the archive, the tracker table and the functions with the seed's managed rules; the stack brings
its own recorder (recording only those resource types) unless ``configRecorder: existing`` says
the region has one already (a region holds one).

The log bucket and its key are protected and outlive the stack like the archive: audit logs are
kept for their retention whatever happens to the stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from cloudsync_defs import options
from cloudsync_defs.options import AuditOptions

from . import iam
from .naming import Naming
from .private_bucket import lock_down

LOG_PREFIX: Final = "AWSLogs/"
CONFIG_ROLE_POLICY: Final = "service-role/AWS_ConfigRole"  # Config's documented read policy


@dataclass
class AuditArgs:
    naming: Naming
    options: AuditOptions
    archive_bucket_arn: pulumi.Input[str]
    archive_bucket_name: pulumi.Input[str]
    table_name: pulumi.Input[str]
    tags: Mapping[str, str]


def key_policy(naming: Naming) -> dict[str, Any]:
    """The account decides through IAM; CloudTrail may encrypt for this trail only."""
    account = naming.account
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountIamPolicies", "Effect": "Allow",
         "Principal": {"AWS": f"arn:{naming.partition}:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "CloudTrailEncryptsThisTrail", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceArn": naming.trail_arn},
                       "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                      f"arn:{naming.partition}:cloudtrail:*:{account}:trail/*"}}},
        {"Sid": "CloudTrailDescribesKey", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "kms:DescribeKey", "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceArn": naming.trail_arn}}},
    ]}


def bucket_policy(naming: Naming) -> dict[str, Any]:
    """TLS only; CloudTrail checks the ACL and writes its logs for this trail only."""
    bucket = naming.s3_arn(naming.audit_bucket_name)
    trail = {"StringEquals": {"aws:SourceArn": naming.trail_arn}}
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [bucket, f"{bucket}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "CloudTrailAclCheck", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
         "Resource": bucket, "Condition": trail},
        {"Sid": "CloudTrailWrite", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"{bucket}/{LOG_PREFIX}{naming.account}/*",
         "Condition": {"StringEquals": {"aws:SourceArn": naming.trail_arn,
                                        "s3:x-amz-acl": "bucket-owner-full-control"}}},
    ]}


def event_selectors(archive_bucket_arn: pulumi.Input[str]) -> list[Any]:
    """Management events, and the archive's object-level events (reads and writes)."""
    return [
        {"name": "management events",
         "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}]},
        {"name": "archive object reads and writes", "field_selectors": [
            {"field": "eventCategory", "equals": ["Data"]},
            {"field": "resources.type", "equals": ["AWS::S3::Object"]},
            {"field": "resources.ARN",
             "starts_withs": [pulumi.Output.concat(archive_bucket_arn, "/")]},
        ]},
    ]


class Audit(pulumi.ComponentResource):
    def __init__(self, name: str, args: AuditArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cloudsync:index:Audit", name, None, opts)
        self._name, self._args = name, args
        naming, tags = args.naming, dict(args.tags)
        kept = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        self.key = aws.kms.Key(
            f"{name}-key", description=f"cloudsync {naming.stack}: audit logs",
            enable_key_rotation=True, deletion_window_in_days=30,
            policy=pulumi.Output.json_dumps(key_policy(naming)), tags=tags, opts=kept)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", bucket=naming.audit_bucket_name,
                                    force_destroy=False, tags=tags, opts=kept)
        settings = self._bucket_settings()
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail", name=naming.trail_name, s3_bucket_name=self.bucket.bucket,
            kms_key_id=self.key.arn, is_multi_region_trail=True,
            include_global_service_events=True, enable_log_file_validation=True,
            advanced_event_selectors=event_selectors(args.archive_bucket_arn), tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=settings))
        recorder = self._recorder() if args.options.config_recorder == "create" else []
        self.rules = [self._rule(rule, identifier, recorder)
                      for rule, identifier in options.CONFIG_RULES.items()]
        self.trail_arn: pulumi.Output[str] = self.trail.arn
        self.bucket_name: pulumi.Output[str] = self.bucket.bucket
        self.register_outputs({"trail_arn": self.trail_arn, "bucket_name": self.bucket_name})

    def _bucket_settings(self) -> list[pulumi.Resource]:
        """Private, owner-enforced, versioned, SSE-KMS, lifecycle, policy: as the archive."""
        name, bucket, o = self._name, self.bucket.bucket, self._args.options
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        basics = lock_down(name, bucket, self.key.arn, child)
        block, versioning, encryption = basics.block, basics.versioning, basics.encryption
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=bucket, rules=[{
                "id": "audit-logs", "status": "Enabled", "filter": {"prefix": LOG_PREFIX},
                "transitions": [{"days": o.glacier_after_days, "storage_class": "GLACIER"}],
                "expiration": {"days": o.log_retention_days},
                "noncurrent_version_expiration": {"noncurrent_days": 30},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}],
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                depends_on=[versioning])))
        policy = aws.s3.BucketPolicy(
            f"{name}-policy", bucket=bucket,
            policy=pulumi.Output.json_dumps(bucket_policy(self._args.naming)),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                depends_on=[block])))
        return [policy, encryption]

    def _recorder(self) -> list[pulumi.Resource]:
        """The region's recorder (only what the rules judge) delivering to the log bucket."""
        name, naming = self._name, self._args.naming
        objects = pulumi.Output.concat(self.bucket.arn, f"/{LOG_PREFIX}{naming.account}/Config/*")
        role, policy = iam.service_role(self, f"{name}-config", iam.ServiceRole(
            naming.role("config"), "AWS Config's recorder", "config.amazonaws.com", [
                iam.statement("DeliverSnapshots", ["s3:PutObject"], objects,
                              {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}),
                iam.statement("CheckBucketAcl", ["s3:GetBucketAcl"], self.bucket.arn),
                iam.statement("EncryptSnapshots", ["kms:GenerateDataKey", "kms:Decrypt"],
                              self.key.arn),
            ]), naming, self._args.tags)
        read = aws.iam.RolePolicyAttachment(
            f"{name}-config-read", role=role.name,
            policy_arn=f"arn:{naming.partition}:iam::aws:policy/{CONFIG_ROLE_POLICY}",
            opts=pulumi.ResourceOptions(parent=self))
        recorder = aws.cfg.Recorder(
            f"{name}-recorder", name=naming.name("recorder"), role_arn=role.arn,
            recording_group={"all_supported": False, "include_global_resource_types": False,
                             "resource_types": list(options.RECORDED_TYPES)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, read]))
        channel = aws.cfg.DeliveryChannel(
            f"{name}-delivery", name=naming.name("delivery"), s3_bucket_name=self.bucket.bucket,
            s3_kms_key_arn=self.key.arn, opts=pulumi.ResourceOptions(parent=self,
                                                                       depends_on=[recorder]))
        status = aws.cfg.RecorderStatus(
            f"{name}-recorder-status", name=recorder.name, is_enabled=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[channel]))
        return [status]

    def _rule(self, rule: str, identifier: str,
              recorder: list[pulumi.Resource]) -> aws.cfg.Rule:
        args = self._args
        scope: Any
        if identifier.startswith("S3_"):
            scope = {"compliance_resource_types": ["AWS::S3::Bucket"],
                     "compliance_resource_id": args.archive_bucket_name}
        elif identifier.startswith("DYNAMODB_"):
            scope = {"compliance_resource_types": ["AWS::DynamoDB::Table"],
                     "compliance_resource_id": args.table_name}
        else:  # the stack's functions, by the tag every resource of the stack carries
            scope = {"tag_key": "Stack", "tag_value": args.naming.stack}
        return aws.cfg.Rule(
            f"{self._name}-{rule}", name=args.naming.name(rule),
            source={"owner": "AWS", "source_identifier": identifier}, scope=scope,
            tags=dict(args.tags), opts=pulumi.ResourceOptions(parent=self, depends_on=recorder))
