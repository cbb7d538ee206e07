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
