"""The archive: a customer-managed KMS key and the versioned, private, lifecycle-managed bucket.

The key and the bucket are ``protect=True``: no ``pulumi destroy`` can take the archive. Every
resource here is also ``retain_on_delete=True``: once unprotected, ``pulumi destroy`` forgets them
instead of deleting them, so the bucket outlives the stack with its versioning, encryption,
lifecycle, public access block and policy, and the key (and its alias) that decrypts it. Deleting
the archive is a deliberate act outside Pulumi (docs/DEPLOY.md, "Tear down safely"). The key also
encrypts the alerts topic, so its policy lets CloudWatch alarms of this account use it to publish.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from cloudsync_defs.lifecycle import (
    TRANSITION_DEFAULT_MINIMUM_OBJECT_SIZE,
    LifecyclePolicy,
    lifecycle_rules,
)

from .naming import Naming
from .private_bucket import lock_down


@dataclass
class ArchiveStorageArgs:
    naming: Naming
    lifecycle: Mapping[str, LifecyclePolicy]  # archive prefix -> policy
    writer_role_arns: Sequence[str]  # the only principals that may put objects
    tags: Mapping[str, str]


def pulumi_rules(
    rules: Sequence[Mapping[str, Any]],
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """S3 API ``Rules`` (cloudsync_defs.lifecycle) as BucketLifecycleConfiguration rule args."""
    s3 = aws.s3
    converted: list[aws.s3.BucketLifecycleConfigurationRuleArgs] = []
    for rule in rules:
        expiration = rule.get("NoncurrentVersionExpiration")
        converted.append(
            s3.BucketLifecycleConfigurationRuleArgs(
                id=rule["ID"],
                status=rule["Status"],
                filter=s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=rule["Filter"]["Prefix"]),
                abort_incomplete_multipart_upload=(
                    s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=rule["AbortIncompleteMultipartUpload"][
                            "DaysAfterInitiation"
                        ]
                    )
                ),
                transitions=[
                    s3.BucketLifecycleConfigurationRuleTransitionArgs(
                        days=t["Days"], storage_class=t["StorageClass"]
                    )
                    for t in rule.get("Transitions", [])
                ] or None,
                noncurrent_version_transitions=[
                    s3.BucketLifecycleConfigurationRuleNoncurrentVersionTransitionArgs(
                        noncurrent_days=t["NoncurrentDays"], storage_class=t["StorageClass"]
                    )
                    for t in rule.get("NoncurrentVersionTransitions", [])
                ] or None,
                noncurrent_version_expiration=(
                    s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=expiration["NoncurrentDays"]
                    )
                    if expiration else None
                ),
            )
        )
    return converted


_WRITES: Final = ("s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging")


def _deny(sid: str, action: str | list[str], condition: dict[str, Any] | None = None,
          **resources: Any) -> dict[str, Any]:
    """A bucket-policy Deny for every principal (``Resource=`` or ``NotResource=``)."""
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Deny", "Principal": "*",
                                 "Action": action, **resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _key_policy(naming: Naming) -> dict[str, Any]:
    root = f"arn:{naming.partition}:iam::{naming.account}:root"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # The default key policy: IAM policies of this account decide.
                "Sid": "AccountIamPolicies",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                # As AWS documents it for alarms publishing to an encrypted topic;
                # the topic policy limits publishing to this account's alarms.
                "Sid": "CloudWatchAlarmsPublishToEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                # Only on behalf of this account's alarms (no confused deputy).
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": naming.account}
                },
            },
        ],
    }


class ArchiveStorage(pulumi.ComponentResource):
    key: aws.kms.Key
    bucket: aws.s3.Bucket

    def __init__(
        self, name: str, args: ArchiveStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudsync:index:ArchiveStorage", name, None, opts)
        naming = args.naming
        prefixes = list(args.lifecycle)
        rules = lifecycle_rules(args.lifecycle, prefixes)  # validated again, fails at preview
        tags = dict(args.tags)

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"cloudsync {naming.stack}: archive objects and alert messages",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.json_dumps(_key_policy(naming)),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        # What outlives the stack (see the module docstring).
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        self.key_alias = aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{naming.name('archive')}",
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=naming.bucket_name,
            force_destroy=False,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        self._bucket_settings(name, child)
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.bucket,
            rules=pulumi_rules(rules),
            # Objects under 128 KiB stay in Standard (cheaper: cloudsync_defs.lifecycle).
            transition_default_minimum_object_size=TRANSITION_DEFAULT_MINIMUM_OBJECT_SIZE,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[self.versioning])),
        )
        self.policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.bucket,
            policy=self._bucket_policy(prefixes, args.writer_role_arns),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[self.public_access_block])),
        )

        self.bucket_name: pulumi.Output[str] = self.bucket.bucket
        self.bucket_arn: pulumi.Output[str] = self.bucket.arn
        self.key_arn: pulumi.Output[str] = self.key.arn
        self.register_outputs(
            {"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn,
             "key_arn": self.key_arn}
        )

    def _bucket_settings(self, name: str, child: pulumi.ResourceOptions) -> None:
        """Private, owner-enforced, versioned, encrypted with the stack's key."""
        basics = lock_down(name, self.bucket.bucket, self.key.arn, child)
        self.public_access_block = basics.block
        self.versioning = basics.versioning
        self.encryption = basics.encryption

    def _bucket_policy(
        self, prefixes: Sequence[str], writers: Sequence[str]
    ) -> pulumi.Output[str]:
        bucket = self.bucket.arn
        objects = pulumi.Output.concat(bucket, "/*")
        kms_header = "s3:x-amz-server-side-encryption"
        key_header = "s3:x-amz-server-side-encryption-aws-kms-key-id"
        return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [
            _deny("DenyInsecureTransport", "s3:*", {"Bool": {"aws:SecureTransport": "false"}},
                  Resource=[bucket, objects]),
            # Only a header that is sent and wrong: UploadPart, Complete... and a put that
            # relies on the bucket default carry none (the bucket applies the stack's key
            # after this policy is evaluated).
            _deny("DenyPutsNotEncryptedWithKms", "s3:PutObject",
                  {"StringNotEquals": {kms_header: "aws:kms"}, "Null": {kms_header: "false"}},
                  Resource=objects),
            _deny("DenyPutsWithAnotherKey", "s3:PutObject",
                  {"ArnNotEquals": {key_header: self.key.arn}, "Null": {key_header: "false"}},
                  Resource=objects),
            _deny("DenyWritesOutsideArchivePrefixes", list(_WRITES),
                  NotResource=[pulumi.Output.concat(bucket, "/", p, "*") for p in prefixes]),
            _deny("DenyWritesByAnyoneButTheTransferRoles", list(_WRITES),
                  {"ArnNotEquals": {"aws:PrincipalArn": list(writers)}}, Resource=objects),
        ]})
