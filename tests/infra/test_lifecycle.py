"""Lifecycle policies against S3's transition constraints (cloudsync_defs.lifecycle)."""

from __future__ import annotations

from typing import Any

import pytest

from cloudsync_defs.lifecycle import (
    POLICIES,
    LifecycleError,
    LifecyclePolicy,
    Transition,
    lifecycle_rules,
    policy_from_config,
    problems,
    validate,
    validate_rules,
)

pytestmark = pytest.mark.infra


def test_the_seed_policy_is_refused_with_the_reason_and_the_earliest_legal_day() -> None:
    with pytest.raises(LifecycleError) as caught:
        validate(POLICIES["seed"])
    message = str(caught.value)
    assert "'seed'" in message
    assert "less than 90 days after the GLACIER_IR transition at day 7" in message
    assert "earliest: day 97" in message
    with pytest.raises(LifecycleError):
        policy_from_config("seed")


@pytest.mark.parametrize("name", ["default", "deep-archive-now"])
def test_shipped_policies_are_valid(name: str) -> None:
    assert problems(POLICIES[name]) == []
    assert policy_from_config(name) == POLICIES[name]


def test_default_keeps_the_seeds_intent_two_weeks_then_deep_archive() -> None:
    default = POLICIES["default"]
    assert default.transitions == (Transition(14, "DEEP_ARCHIVE"),)
    assert default.noncurrent_transitions == (Transition(30, "DEEP_ARCHIVE"),)
    assert default.noncurrent_expiration_days is None  # an archive never deletes by itself
    assert default.abort_incomplete_upload_days >= 1


def test_deep_archive_now_moves_on_the_first_night() -> None:
    assert POLICIES["deep-archive-now"].transitions == (Transition(0, "DEEP_ARCHIVE"),)


def test_the_public_projects_fix_day_97_is_legal() -> None:
    fixed = LifecyclePolicy("ir-97", (Transition(7, "GLACIER_IR"), Transition(97, "DEEP_ARCHIVE")))
    assert problems(fixed) == []


@pytest.mark.parametrize(
    ("transitions", "fragment"),
    [
        ([(10, "STANDARD_IA")], "30 days in Standard before STANDARD_IA"),
        ([(30, "STANDARD_IA"), (45, "GLACIER")], "less than 30 days after the STANDARD_IA"),
        ([(30, "GLACIER"), (60, "DEEP_ARCHIVE")], "less than 90 days after the GLACIER"),
        ([(0, "DEEP_ARCHIVE"), (10, "GLACIER")], "cannot go from DEEP_ARCHIVE to GLACIER"),
        ([(30, "ONEZONE_IA"), (90, "GLACIER_IR")], "cannot transition from ONEZONE_IA"),
        ([(5, "STANDARD")], "cannot transition to 'STANDARD'"),
        ([(5, "GLACIER_IR"), (5, "GLACIER_IR")], "waterfall"),
        ([(-1, "DEEP_ARCHIVE")], "at least 0"),
    ],
)
def test_constraints(transitions: list[tuple[int, str]], fragment: str) -> None:
    policy = LifecyclePolicy("p", tuple(Transition(d, c) for d, c in transitions))
    assert any(fragment in p for p in problems(policy)), problems(policy)


def test_noncurrent_versions_follow_the_same_rules() -> None:
    policy = LifecyclePolicy(
        "p", (), (Transition(7, "GLACIER_IR"), Transition(14, "DEEP_ARCHIVE")),
    )
    assert any("noncurrent versions" in p and "90 days" in p for p in problems(policy))
    zero = LifecyclePolicy("p", (), (Transition(0, "DEEP_ARCHIVE"),))
    assert any("at least 1" in p for p in problems(zero))


def test_expiring_before_the_minimum_duration_is_refused() -> None:
    policy = LifecyclePolicy("p", (), (Transition(30, "DEEP_ARCHIVE"),),
                             noncurrent_expiration_days=60)
    assert any("minimum storage duration" in p and "day 210" in p for p in problems(policy))


def test_custom_policy_from_config() -> None:
    policy = policy_from_config(
        {"transitions": [{"days": 30, "storageClass": "glacier_ir"},
                         {"days": 120, "storageClass": "DEEP_ARCHIVE"}],
         "noncurrentTransitions": [{"days": 1, "storageClass": "DEEP_ARCHIVE"}],
         "abortIncompleteUploadDays": 3}
    )
    assert policy.transitions[0] == Transition(30, "GLACIER_IR")
    with pytest.raises(LifecycleError, match="unknown keys"):
        policy_from_config({"transitions": [], "typo": 1})
    with pytest.raises(LifecycleError, match="unknown lifecycle policy 'nope'"):
        policy_from_config("nope")
    with pytest.raises(LifecycleError, match="whole number"):
        policy_from_config({"transitions": [{"days": "x", "storageClass": "GLACIER"}]})


def test_rules_in_s3_api_shape_one_per_prefix() -> None:
    rules = lifecycle_rules(POLICIES["default"], ["gopro-videos/", "google-drive-videos/"])
    assert rules[0] == {
        "ID": "archive-gopro-videos",
        "Status": "Enabled",
        "Filter": {"Prefix": "gopro-videos/"},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        "Transitions": [{"Days": 14, "StorageClass": "DEEP_ARCHIVE"}],
        "NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "DEEP_ARCHIVE"}],
    }
    assert [r["Filter"]["Prefix"] for r in rules] == ["gopro-videos/", "google-drive-videos/"]
    validate_rules(rules)
    per_prefix = lifecycle_rules(
        {"gopro-videos/": POLICIES["deep-archive-now"]}, ["gopro-videos/"]
    )
    assert per_prefix[0]["Transitions"] == [{"Days": 0, "StorageClass": "DEEP_ARCHIVE"}]
    with pytest.raises(LifecycleError):
        lifecycle_rules(POLICIES["seed"], ["gopro-videos/"])
    assert lifecycle_rules(POLICIES["default"], ["gopro", "google_drive"]) == rules
    assert lifecycle_rules({"gopro": POLICIES["default"]}, ["gopro"]) == rules[:1]
    with pytest.raises(LifecycleError, match="not a safe key segment"):
        lifecycle_rules(POLICIES["default"], ["Go Pro"])


def test_validate_rules_rechecks_s3_api_rules() -> None:
    seed_rule = {
        "ID": "transition-to-deep-archive", "Status": "Enabled",
        "Filter": {"Prefix": "gopro-videos/"},
        "Transitions": [{"Days": 7, "StorageClass": "GLACIER_IR"},
                        {"Days": 14, "StorageClass": "DEEP_ARCHIVE"}],
        "NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "DEEP_ARCHIVE"}],
    }
    with pytest.raises(LifecycleError) as caught:
        validate_rules([seed_rule])
    assert "90 days" in str(caught.value)
    assert "AbortIncompleteMultipartUpload" in str(caught.value)


def test_small_objects_stay_in_standard_in_aws_the_local_cloud_and_the_cost_model(
        dev: Any, prod: Any) -> None:
    """Objects under 128 KiB never transition: decided, written down, known everywhere."""
    from cloudsync_cli import cost
    from cloudsync_defs import lifecycle

    assert lifecycle.TRANSITION_DEFAULT_MINIMUM_OBJECT_SIZE == "all_storage_classes_128K"
    for graph in (dev, prod):
        deployed = graph.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        assert deployed.inputs["transitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    # the local cloud's put_bucket_lifecycle_configuration arguments
    rules = lifecycle_rules(POLICIES["default"], ["gopro"])
    assert lifecycle.lifecycle_request(rules) == {
        "LifecycleConfiguration": {"Rules": rules},
        "TransitionDefaultMinimumObjectSize": "all_storage_classes_128K",
    }
    assert not lifecycle.transitions_apply(128 * 1024 - 1)
    assert lifecycle.transitions_apply(128 * 1024)

    prices = cost.load_prices()
    tiny = cost.Model(prices, cost.Usage(), cost.Library(videos=1000, gb=0.05),
                      POLICIES["deep-archive-now"])  # 50 KiB an object
    assert [s.storage_class for s in tiny.segments] == ["STANDARD"]
    steady = tiny.steady().items
    assert not any("Deep Archive" in item or "transition" in item for item in steady), steady
    big = cost.Model(prices, cost.Usage(), cost.Library(videos=1000, gb=100.0),
                     POLICIES["deep-archive-now"])
    assert [s.storage_class for s in big.segments] == ["STANDARD", "DEEP_ARCHIVE"]
