"""Requests the stack must refuse: they prove the evaluator, and the policies, bite.

Each case is one IAM request, and optionally a resource policy to judge it against instead of
the stack's own (the bucket policy as it was before the ``Null`` fix). One case must be allowed
that a run in moto cannot show: S3's own s3:ListBucket check behind a 404 for a missing key.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from cloudsync_local.cloud.requests_log import function_principal

from .iam_requests import BUCKET, KEY, IamRequest, StackPolicies

TRANSFER = function_principal("transfer")
OTHER_KEY = "arn:aws:kms:{region}:123456789012:key/1111-another-key"
# What each case must come to, and which statement must decide it (None: no statement allows).
EXPECTED: dict[str, tuple[str, str | None]] = {
    "sse_s3_header": ("ExplicitlyDenied", "DenyPutsNotEncryptedWithKms"),
    "another_kms_key_header": ("ExplicitlyDenied", "DenyPutsWithAnotherKey"),
    "another_kms_key_used": ("ImplicitlyDenied", None),
    "plain_http_upload_part": ("ExplicitlyDenied", "DenyInsecureTransport"),
    "plain_http_read": ("ExplicitlyDenied", "DenyInsecureTransport"),
    "write_outside_archive_prefix": ("ExplicitlyDenied", "DenyWritesOutsideArchivePrefixes"),
    "write_by_notify_role": ("ExplicitlyDenied", "DenyWritesByAnyoneButTheTransferRoles"),
    "write_by_list_role": ("ExplicitlyDenied", "DenyWritesByAnyoneButTheTransferRoles"),
    "kms_outside_s3_and_sns": ("ImplicitlyDenied", None),
    "old_policy_upload_part_without_header": ("ExplicitlyDenied", "DenyPutsNotEncryptedWithKms"),
    "missing_key_answers_404": ("Allowed", "ArchiveList"),
    # The Slack / webhook URLs: the transfer reads the credentials secret, never the notify one.
    "notify_secret_read_by_transfer": ("ImplicitlyDenied", None),
}


def old_bucket_policy(current: dict[str, Any]) -> dict[str, Any]:
    """The bucket policy before the fix: ``...IfExists`` denied a put that sent no header."""
    old = copy.deepcopy(current)
    for stmt in old["Statement"]:
        if stmt.get("Sid") == "DenyPutsNotEncryptedWithKms":
            stmt["Condition"] = {
                "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}
        if stmt.get("Sid") == "DenyPutsWithAnotherKey":
            header = "s3:x-amz-server-side-encryption-aws-kms-key-id"
            key = stmt["Condition"]["ArnNotEquals"][header]
            stmt["Condition"] = {"ArnNotEqualsIfExists": {header: key}}
    return old


def _put(stack: StackPolicies, principal: str, key: str, action: str = "s3:PutObject",
         **context: str) -> IamRequest:
    ctx = {**stack.base_context(principal), **context}
    return IamRequest(principal, stack.roles[principal], action, f"{stack.bucket_arn}/{key}",
                      ctx, BUCKET, f"negative {action}")


def _archive_key(stack: StackPolicies) -> str:
    """A key under the first archive prefix, as the transfer role's grant names it."""
    grants = stack.identity[TRANSFER]["Statement"]
    writes = next(s for s in grants if "s3:PutObject" in s["Action"])
    resources = writes["Resource"] if isinstance(writes["Resource"], list) else [writes["Resource"]]
    prefix = str(resources[0]).split(":::", 1)[1].split("/", 1)[1].rstrip("*")
    return f"{prefix}2025/11/{'a' * 24}/GX010042.MP4"


def negative_cases(stack: StackPolicies) -> dict[str, tuple[IamRequest, dict[str, Any] | None]]:
    key = _archive_key(stack)
    other_key = OTHER_KEY.format(region=stack.region)
    kms_write = stack.kms(TRANSFER, ("kms:GenerateDataKey",), "s3",
                          {"aws:s3:arn": stack.bucket_arn}, "negative kms")[0]
    insecure = {"aws:SecureTransport": "false"}
    cases: dict[str, tuple[IamRequest, dict[str, Any] | None]] = {
        "sse_s3_header": (_put(stack, TRANSFER, key, **{
            "s3:x-amz-server-side-encryption": "AES256"}), None),
        "another_kms_key_header": (_put(stack, TRANSFER, key, **{
            "s3:x-amz-server-side-encryption": "aws:kms",
            "s3:x-amz-server-side-encryption-aws-kms-key-id": other_key}), None),
        "another_kms_key_used": (replace(kms_write, resource=other_key, resource_policy=None),
                                 None),
        "plain_http_upload_part": (_put(stack, TRANSFER, key, **insecure), None),
        "plain_http_read": (_put(stack, TRANSFER, key, "s3:GetObject", **insecure), None),
        "write_outside_archive_prefix": (_put(stack, TRANSFER, "elsewhere/GX010042.MP4"), None),
        "write_by_notify_role": (_put(stack, function_principal("notify"), key), None),
        "write_by_list_role": (_put(stack, function_principal("list"), key), None),
        "kms_outside_s3_and_sns": (replace(kms_write, context={
            **kms_write.context, "kms:ViaService": f"sqs.{stack.region}.amazonaws.com"}), None),
        "old_policy_upload_part_without_header": (
            _put(stack, TRANSFER, key), old_bucket_policy(stack.resource[BUCKET])),
        # finalize's HeadObject of a key not there yet: S3 checks ListBucket (no prefix sent).
        "missing_key_answers_404": (replace(
            _put(stack, function_principal("finalize"), key, "s3:ListBucket"),
            resource=stack.bucket_arn), None),
        "notify_secret_read_by_transfer": (IamRequest(
            TRANSFER, stack.roles[TRANSFER], "secretsmanager:GetSecretValue",
            stack.notify_secret_arn, stack.base_context(TRANSFER), None,
            "negative secretsmanager GetSecretValue"), None),
    }
    assert set(cases) == set(EXPECTED)
    assert kms_write.resource_policy == KEY
    return cases
