"""The ASL and the error tree speak the same vocabulary; the definition renders completely."""

from __future__ import annotations

import json

import pytest

from cloudsync_core import errors
from cloudsync_defs.workflow import FUNCTIONS_IN_WORKFLOW, render_transfer_definition

ARNS = {n: f"arn:aws:lambda:us-east-1:123456789012:function:cs-{n}" for n in FUNCTIONS_IN_WORKFLOW}


def render(**overrides: object) -> dict[str, object]:
    args: dict[str, object] = {
        "function_arns": ARNS,
        "table_name": "tracker",
        "max_concurrent_media": 5,
        "map_concurrency": 4,
    }
    args.update(overrides)
    definition: dict[str, object] = json.loads(render_transfer_definition(**args))  # type: ignore[arg-type]
    return definition


def walk(states: dict[str, dict[str, object]]) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for state in states.values():
        found.append(state)
        processor = state.get("ItemProcessor")
        if isinstance(processor, dict):
            found += walk(processor["States"])
    return found


def test_every_transient_error_is_retried_by_every_lambda_step() -> None:
    definition = render()
    tasks = [
        s
        for s in walk(definition["States"])  # type: ignore[arg-type]
        if s["Type"] == "Task" and "lambda" in str(s["Resource"])
    ]
    assert len(tasks) == len(FUNCTIONS_IN_WORKFLOW)
    transient = {
        c.__name__
        for c in (errors.TransientError, errors.RateLimitedError, errors.SourceLinkExpiredError)
    }
    for task in tasks:
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}  # type: ignore[attr-defined]
        assert transient <= retried
        assert not (
            {c.__name__ for c in (errors.PermanentError, errors.SizeMismatchError)} & retried
        )


def test_permanent_errors_are_caught_into_mark_failed() -> None:
    states = render()["States"]
    for name in ("Prepare", "Transfer", "Finalize"):
        catches = states[name]["Catch"]  # type: ignore[index]
        assert catches[-1] == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Next": "MarkFailed",
        }
        assert catches[0]["ErrorEquals"] == ["LeaseLostError"]


def test_no_placeholder_survives_and_bounds_are_filled() -> None:
    text = render_transfer_definition(
        function_arns=ARNS, table_name="tracker", max_concurrent_media=3, map_concurrency=2
    )
    assert "${" not in text
    definition = json.loads(text)
    assert definition["States"]["Transfer"]["MaxConcurrency"] == 2
    slot = definition["States"]["TakeSlot"]["Parameters"]["ExpressionAttributeValues"][":max"]
    assert slot == {"N": "3"}


def test_nothing_secret_is_passed_between_states() -> None:
    """Every value a Lambda step receives is one of a few harmless identifiers."""
    allowed = {
        "provider",
        "media_id",
        "wake",
        "run_id",
        "correlation_id",
        "started_at",
        "deadline",
        "slice",
        "error",
        "value",  # the slot holder stamp: start time | execution name
    }
    for state in walk(render()["States"]):  # type: ignore[arg-type]
        for block in ("Parameters", "ItemSelector"):
            params = state.get(block)
            if isinstance(params, dict) and "TableName" not in params:
                assert {k.removesuffix(".$") for k in params} <= allowed


@pytest.mark.parametrize("bad", [{"max_concurrent_media": 0}, {"function_arns": {}}])
def test_bad_inputs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        render(**bad)


def test_every_dynamodb_step_retries_transient_errors_with_backoff() -> None:
    states = render()["States"]
    tasks = [s for s in walk(states) if "dynamodb" in str(s.get("Resource", ""))]  # type: ignore[arg-type]
    assert len(tasks) >= 6  # TakeSlot, Queue, RetakeSlot, Claim, Unclaim, ReleaseLostSlot
    must = {"DynamoDB.AmazonDynamoDBException", "DynamoDB.InternalServerErrorException",
            "DynamoDB.ProvisionedThroughputExceededException", "DynamoDB.ThrottlingException"}
    for task in tasks:
        retriers = task["Retry"]  # type: ignore[index]
        retried = {e for r in retriers for e in r["ErrorEquals"]}  # type: ignore[attr-defined]
        assert must <= retried
        assert "DynamoDB.ConditionalCheckFailedException" not in retried
        assert all(r["BackoffRate"] > 1 and r["MaxAttempts"] >= 3 for r in retriers)  # type: ignore[index]


def test_a_claim_that_keeps_failing_leaves_the_row_for_the_next_run() -> None:
    states: dict[str, dict[str, object]] = render()["States"]  # type: ignore[assignment]
    claim = states["Claim"]
    params = claim["Parameters"]
    assert "claimed_by = :me" in params["UpdateExpression"]  # type: ignore[index]
    assert "claimed_by = :me" in params["ConditionExpression"]  # type: ignore[index]
    assert params["ExpressionAttributeValues"][":me"] == {"S.$": "$$.Execution.Name"}  # type: ignore[index]
    catches = {c["Next"]: c["ErrorEquals"] for c in claim["Catch"]}  # type: ignore[attr-defined]
    assert catches == {"ReleaseLostSlot": ["DynamoDB.ConditionalCheckFailedException"],
                       "Unclaim": ["States.ALL"]}
    unclaim = states["Unclaim"]
    assert unclaim["Next"] == "ReleaseLostSlot"
    assert [c["Next"] for c in unclaim["Catch"]] == ["ReleaseLostSlot"]  # type: ignore[attr-defined]
    assert states["ReleaseLostSlot"]["Next"] == "NotOurs"


def test_a_slot_step_that_keeps_failing_never_strands_the_row_or_a_slot() -> None:
    """After its retries, every step before Prepare ends where the row is recoverable (QUEUED
    or stale PENDING, both swept by the next run) and this execution's slot stamp is given back."""
    states: dict[str, dict[str, object]] = render()["States"]  # type: ignore[assignment]

    def on_anything(name: str) -> str:
        catches = states[name]["Catch"]
        return next(c["Next"] for c in catches if c["ErrorEquals"] == ["States.ALL"])  # type: ignore[attr-defined,index]

    assert on_anything("TakeSlot") == "Queue"
    assert on_anything("Queue") == "ReleaseLostSlot"
    assert on_anything("RetakeSlot") == "ReleaseLostSlot"
    assert on_anything("Claim") == "Unclaim"
    assert on_anything("Unclaim") == "ReleaseLostSlot"
