"""``cloudsync doctor``'s checks that ask AWS services: alerts, schedule, the policy simulator.

Each reads what AWS answers, never what the stack was meant to be: SNS lists an unconfirmed
email as ``PendingConfirmation``; EventBridge Scheduler says whether the schedule is ENABLED (its
next run is computed from the cron and time zone, which GetSchedule does not give); IAM's policy
simulator judges the transfer role's ``s3:PutObject`` with the context keys the real request
carries (TLS on, no SSE header: the bucket's default encryption applies the stack's key).
moto 5.2.5 implements SNS and Scheduler but not the policy simulator: that check is skipped with
the reason wherever the endpoint lacks it, never passed.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from cloudsync_core.keys import archive_prefix

from ..context import Context
from ..cron import CronError, next_run
from .doctor import Check, failed, passed, skipped

ACTION = "s3:PutObject"  # UploadPart and CompleteMultipartUpload are authorised as PutObject
TRANSFER_FUNCTION = "transfer"
SIMULATED_CALLER = "cloudsync-doctor-simulated-caller"  # an IAM user name, when we are none
_NOT_HERE = frozenset({"InvalidAction", "NotImplemented", "UnknownOperationException"})


# --- alerts -------------------------------------------------------------------------------------


def check_subscription(ctx: Context, args: argparse.Namespace) -> Check:
    name = "alerts"
    topic = ctx.outputs.topic_arn
    if not topic:
        return skipped(name, "the stack's outputs name no alert topic")
    sns = ctx.aws.client("sns")
    subscriptions: list[dict[str, Any]] = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
        subscriptions.extend(page.get("Subscriptions", []))
    if not subscriptions:
        return failed(name, f"nobody is subscribed to {topic}: alerts reach no one",
                      "pulumi config set alertEmail you@example.com && pulumi up, then confirm "
                      "the email AWS sends")
    pending = [s for s in subscriptions if s.get("SubscriptionArn") == "PendingConfirmation"]
    if pending:
        who = ", ".join(f"{s.get('Protocol')}:{s.get('Endpoint')}" for s in pending)
        return failed(name, f"not confirmed yet: {who}",
                      "open the email 'AWS Notification - Subscription Confirmation' and click "
                      "'Confirm subscription' (it expires after 3 days; `pulumi up` after "
                      "`pulumi config set alertEmail ...` sends a new one)")
    who = ", ".join(f"{s.get('Protocol')}:{s.get('Endpoint')}" for s in subscriptions)
    return passed(name, f"{len(subscriptions)} confirmed subscription(s): {who}")


# --- schedule -----------------------------------------------------------------------------------


def _function_arn(ctx: Context, logical: str) -> dict[str, Any]:
    answer = ctx.aws.lambda_(read_timeout=30).get_function_configuration(
        FunctionName=ctx.outputs.function(logical)
    )
    return dict(answer)


def find_schedule(ctx: Context) -> tuple[str, str] | None:
    """(group, name) of the nightly schedule: the outputs' ``scheduleName`` when published,
    else the schedule whose target is the stack's list function."""
    raw = ctx.outputs.raw
    named = raw.get("scheduleName") or raw.get("schedule_name")
    if isinstance(named, str) and named:
        group = raw.get("scheduleGroup") or raw.get("schedule_group") or "default"
        return str(group), named
    target = str(_function_arn(ctx, "list")["FunctionArn"])
    scheduler = ctx.aws.client("scheduler")
    for page in scheduler.get_paginator("list_schedules").paginate():
        for schedule in page.get("Schedules", []):
            arn = str(schedule.get("Target", {}).get("Arn", ""))
            if arn == target or arn.startswith(target + ":"):  # a version or alias
                return str(schedule.get("GroupName") or "default"), str(schedule["Name"])
    return None


def check_schedule(ctx: Context, args: argparse.Namespace) -> Check:
    name = "schedule"
    found = find_schedule(ctx)
    if found is None:
        if ctx.target.local:
            return skipped(name, "the local cloud has no nightly schedule: `cloudsync sync` "
                                 "runs the job")
        return failed(name, "no EventBridge Scheduler schedule invokes the list function",
                      "`pulumi up` creates it (check `pulumi stack` is the right stack)")
    group, schedule_name = found
    schedule = ctx.aws.client("scheduler").get_schedule(Name=schedule_name, GroupName=group)
    expression = str(schedule.get("ScheduleExpression", ""))
    zone = str(schedule.get("ScheduleExpressionTimezone") or "UTC")
    if schedule.get("State") != "ENABLED":
        return failed(name, f"{schedule_name} is {schedule.get('State')}: no nightly run",
                      "aws scheduler update-schedule ... --state ENABLED, or `pulumi up` "
                      "(the stack deploys it ENABLED)")
    try:
        when = next_run(expression, zone, datetime.now(UTC))
    except CronError as e:
        return passed(name, f"{schedule_name} enabled, {expression} {zone} (next run unknown: "
                            f"{e})")
    if when is None:
        return failed(name, f"{schedule_name}: {expression} {zone} never fires again",
                      "pulumi config set scheduleCron 'cron(0 2 * * ? *)' && pulumi up")
    return passed(name, f"{schedule_name} enabled, {expression} {zone}; next run "
                        f"{when.strftime('%Y-%m-%d %H:%M %Z')}")


# --- the archive write, judged by IAM's policy simulator ----------------------------------------


def probe_key(ctx: Context) -> str:
    """A key like the ones the transfer writes (nothing is written there)."""
    month = datetime.now(UTC).strftime("%Y/%m")
    return f"{archive_prefix(ctx.providers[0])}{month}/doctor-check/GX010001.MP4"


def _context_entries(role_arn: str) -> list[dict[str, Any]]:
    """What the real UploadPart carries: TLS on, the role as principal, and no
    ``s3:x-amz-server-side-encryption`` key at all (the code sends no SSE header)."""
    return [
        {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["true"],
         "ContextKeyType": "boolean"},
        {"ContextKeyName": "aws:PrincipalArn", "ContextKeyValues": [role_arn],
         "ContextKeyType": "string"},
    ]


def _decision(answer: dict[str, Any]) -> tuple[str, str]:
    """(EvalDecision, the statements that decided it)."""
    result = (answer.get("EvaluationResults") or [{}])[0]
    decision = str(result.get("EvalDecision", "unknown"))
    statements = [
        f"{m.get('SourcePolicyId', '?')} ({m.get('SourcePolicyType', '?')}, line "
        f"{m.get('StartPosition', {}).get('Line', '?')})"
        for m in result.get("MatchedStatements", [])
    ]
    return decision, ", ".join(statements) or "no statement matched"


def _not_here(e: Exception) -> str | None:
    """Why this endpoint cannot simulate (moto has no policy simulator); None: a real error."""
    if isinstance(e, NotImplementedError):
        return "the endpoint does not implement the IAM policy simulator (moto does not)"
    if isinstance(e, ClientError):
        code = str(e.response.get("Error", {}).get("Code", ""))
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _NOT_HERE or status in (500, 501):
            return f"the endpoint cannot run the IAM policy simulator ({code or status})"
    return None


def check_archive_write(ctx: Context, args: argparse.Namespace) -> list[Check]:
    role_name, policy_name = "archive write", "bucket policy"
    if ctx.target.local:
        why = ("the local cloud evaluates no IAM policy (moto has no "
               "iam:SimulatePrincipalPolicy); the effective-permission tests judge the policies")
        return [skipped(role_name, why), skipped(policy_name, why)]
    role = str(_function_arn(ctx, TRANSFER_FUNCTION)["Role"])
    resource = f"arn:{role.split(':')[1]}:s3:::{ctx.outputs.bucket}/{probe_key(ctx)}"
    return [_simulate_role(ctx, role, resource), _simulate_bucket_policy(ctx, role, resource)]


def _simulate_role(ctx: Context, role: str, resource: str) -> Check:
    name = "archive write"
    try:
        answer = ctx.aws.client("iam").simulate_principal_policy(
            PolicySourceArn=role, ActionNames=[ACTION], ResourceArns=[resource],
            ContextEntries=_context_entries(role),
        )
    except (ClientError, NotImplementedError) as e:
        why = _not_here(e)
        if why is None:
            raise
        return skipped(name, f"not simulated: {why}")
    decision, statements = _decision(answer)
    if decision != "allowed":
        return failed(name, f"IAM's simulator: the transfer role's {ACTION} on {resource} is "
                            f"{decision} ({statements})",
                      "`pulumi up` restores the role's policy; `pulumi preview --diff` shows "
                      "what changed it")
    return passed(name, f"IAM's simulator allows the transfer role {role.rsplit('/', 1)[-1]} "
                        f"{ACTION} on s3://{resource.split(':::', 1)[1]} (TLS, no SSE header)")


def _caller_user(ctx: Context) -> str | None:
    """This CLI's own identity when it is an IAM user (the simulator's favourite caller)."""
    arn = str(ctx.aws.client("sts").get_caller_identity().get("Arn", ""))
    return arn if ":user/" in arn else None


def _simulate_bucket_policy(ctx: Context, role: str, resource: str) -> Check:
    """The bucket policy's denies, for the same request. The simulator needs an IAM user as
    the caller when a resource policy is given; the deciding key is ``aws:PrincipalArn``."""
    name = "bucket policy"
    s3 = ctx.aws.s3()
    try:
        policy = s3.get_bucket_policy(Bucket=ctx.outputs.bucket)["Policy"]
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
            return failed(name, "the archive bucket has no policy (TLS-only and KMS-only rules "
                                "are gone)", "`pulumi up` puts it back")
        raise
    partition, account = role.split(":")[1], role.split(":")[4]
    caller = _caller_user(ctx) or f"arn:{partition}:iam::{account}:user/{SIMULATED_CALLER}"
    allow = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ACTION, "Resource": resource}]})
    try:
        answer = ctx.aws.client("iam").simulate_custom_policy(
            PolicyInputList=[allow], ActionNames=[ACTION], ResourceArns=[resource],
            ResourcePolicy=policy, ResourceOwner=f"arn:{partition}:iam::{account}:root",
            CallerArn=caller,
            ContextEntries=_context_entries(role),
        )
    except (ClientError, NotImplementedError) as e:
        why = _not_here(e)
        if why is None and isinstance(e, ClientError):
            code = e.response.get("Error", {}).get("Code", "")
            why = f"IAM refused the simulation ({code})" if code in (
                "InvalidInput", "NoSuchEntity", "PolicyEvaluation") else None
        if why is None:
            raise
        return skipped(name, f"not simulated: {why}")
    decision, statements = _decision(answer)
    if decision == "explicitDeny":
        return failed(name, f"the bucket policy denies the transfer role's {ACTION} "
                            f"({statements})",
                      "`pulumi up` with this version of cloudsync (the policy must deny only an "
                      "SSE header that is present and wrong)")
    return passed(name, f"the bucket policy does not deny the transfer role's {ACTION} "
                        f"(simulator: {decision})")
