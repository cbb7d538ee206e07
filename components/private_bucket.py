"""The settings every bucket of the stack's own starts with: private, owner-enforced, versioned,
SSE-KMS with a bucket key. A helper, not a component: the caller's component stays the parent,
so the resources keep their names and place in the graph."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class LockedDown:
    """What later settings of the bucket depend on (policies after the block, lifecycle after
    versioning)."""

    block: aws.s3.BucketPublicAccessBlock
    versioning: aws.s3.BucketVersioning
    encryption: aws.s3.BucketServerSideEncryptionConfiguration


def lock_down(name: str, bucket: pulumi.Input[str], key_arn: pulumi.Input[str],
              opts: pulumi.ResourceOptions) -> LockedDown:
    """Block public access, enforce the owner, turn versioning on, encrypt with ``key_arn``."""
    block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block", bucket=bucket, block_public_acls=True,
        block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
        opts=opts)
    aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket,
                                   rule={"object_ownership": "BucketOwnerEnforced"}, opts=opts)
    versioning = aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket,
                                         versioning_configuration={"status": "Enabled"},
                                         opts=opts)
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption", bucket=bucket, rules=[{
            "apply_server_side_encryption_by_default": {
                "sse_algorithm": "aws:kms", "kms_master_key_id": key_arn},
            "bucket_key_enabled": True}], opts=opts)
    return LockedDown(block, versioning, encryption)
