"""The per-medium transfer workflow: one ASL file, filled in by one function.

The Pulumi program and the local cloud both call ``render_transfer_definition``; a test checks
that what Pulumi deploys is byte-for-byte what the local cloud runs. Service-integration ARNs carry
the partition (``arn:${partition}:states:::...``): the Pulumi program passes the deploying
account's (aws, aws-cn, aws-us-gov); without one it is read from the function ARNs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cloudsync_core.errors import transient_error_names

ASL_PATH = Path(__file__).with_name("transfer.asl.json")
FUNCTIONS_IN_WORKFLOW = ("prepare", "transfer", "finalize", "mark_failed", "notify", "index")

# Lambda's own hiccups are worth a retry too; they are not ours to name.
LAMBDA_TRANSIENT = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
# Step Functions names a DynamoDB integration's error "DynamoDB.<code>"; a 500 arrives as
# InternalServerError(Exception) or, unnamed, as the generic AmazonDynamoDBException.
DYNAMODB_TRANSIENT = (
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.InternalServerError",
    "DynamoDB.AmazonDynamoDBException",
    "DynamoDB.ServiceUnavailableException",
    "DynamoDB.RequestLimitExceeded",
)


@dataclass(frozen=True)
class StateRetryPolicy:
    """The ASL ``Retry`` of a workflow state: Step Functions re-runs the whole step on transient
    errors. Production keeps the defaults; tests shrink them."""

    interval_s: int = 2
    max_attempts: int = 4
    backoff_rate: float = 2.0
    max_delay_s: int = 30


def _retrier(errors: tuple[str, ...] | list[str], policy: StateRetryPolicy) -> dict[str, object]:
    return {
        "ErrorEquals": list(errors),
        "IntervalSeconds": policy.interval_s,
        "MaxAttempts": policy.max_attempts,
        "BackoffRate": policy.backoff_rate,
        "MaxDelaySeconds": policy.max_delay_s,
        "JitterStrategy": "FULL",
    }


def _partition(function_arns: Mapping[str, str], given: str | None) -> str:
    """The partition every ARN of the definition lives in; the function ARNs must agree."""
    found = {arn.split(":")[1] for arn in function_arns.values() if arn.startswith("arn:")}
    partition = given or (found.pop() if len(found) == 1 else "")
    if not re.fullmatch(r"aws(-[a-z]+)*", partition):
        raise ValueError(f"no single AWS partition for the workflow (given {given!r}, "
                         f"function ARNs in {sorted(found) or 'none'})")
    if found - {partition}:
        raise ValueError(f"function ARNs in partition(s) {sorted(found - {partition})}, "
                         f"not {partition!r}")
    return partition


def render_transfer_definition(
    *,
    function_arns: Mapping[str, str],
    table_name: str,
    max_concurrent_media: int,
    map_concurrency: int,
    retry: StateRetryPolicy | None = None,
    partition: str | None = None,
) -> str:
    """The deployable definition: every placeholder filled, validated as JSON."""
    policy = retry or StateRetryPolicy()
    missing = [name for name in FUNCTIONS_IN_WORKFLOW if name not in function_arns]
    if missing:
        raise ValueError(f"function ARNs missing for: {', '.join(missing)}")
    partition = _partition(function_arns, partition)
    if max_concurrent_media < 1 or map_concurrency < 1:
        raise ValueError("concurrency bounds must be at least 1")
    failure_catch = [
        {"ErrorEquals": ["LeaseLostError"], "ResultPath": None, "Next": "NotOurs"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"},
    ]
    blocks = {
        "partition": partition,
        "table": table_name,
        "max_concurrent_media": str(max_concurrent_media),
        "map_concurrency": str(map_concurrency),
        "transient_retry": json.dumps(
            _retrier([*transient_error_names(), *LAMBDA_TRANSIENT], policy)
        ),
        "dynamodb_retry": json.dumps(_retrier(DYNAMODB_TRANSIENT, policy)),
        "everything_retry": json.dumps(
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": policy.interval_s,
                "MaxAttempts": 2,
                "BackoffRate": policy.backoff_rate,
            }
        ),
        "failure_catch": json.dumps(failure_catch)[1:-1],
        **{f"function:{name}": arn for name, arn in function_arns.items()},
    }

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in blocks:
            raise ValueError(f"unknown placeholder ${{{key}}} in {ASL_PATH.name}")
        return blocks[key]

    text = re.sub(r"\$\{([a-z_:]+)\}", fill, ASL_PATH.read_text(encoding="utf-8"))
    return json.dumps(json.loads(text), indent=2, sort_keys=False)
