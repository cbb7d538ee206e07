"""Stack configuration: read once, validated, clear messages at preview time."""

from __future__ import annotations

from typing import Any

import pytest

from cloudsync_defs.functions import FUNCTIONS
from cloudsync_defs.lifecycle import POLICIES
from components.config import KEYS, ConfigError, parse, validate_cron

from .conftest import build_stack, stack_config

pytestmark = pytest.mark.infra

BASE: dict[str, Any] = {"alertEmail": "me@example.com"}


def problems_of(raw: dict[str, Any], stack: str = "dev") -> str:
    with pytest.raises(ConfigError) as caught:
        parse(stack, {**BASE, **raw})
    return str(caught.value)


def test_defaults() -> None:
    cfg = parse("dev", BASE)
    assert cfg.schedule_cron == "cron(0 2 * * ? *)"
    assert cfg.schedule_timezone == "Europe/Berlin"
    assert cfg.max_concurrent_media == 5
    assert cfg.log_level == "INFO"
    assert cfg.providers == ("gopro",)
    assert cfg.prefixes == ("gopro-videos/",)
    assert cfg.lifecycle == {"gopro-videos/": POLICIES["default"]}
    assert cfg.secret_rotation is True and cfg.secret_rotation_days == 30
    assert {n: (s.memory_mb, s.timeout_s) for n, s in cfg.functions.items()} == {
        f.name: (f.memory_mb, f.timeout_s) for f in FUNCTIONS
    }


def test_the_committed_stacks_match_the_seeds_configuration_table() -> None:
    dev = parse("dev", {k.split(":", 1)[1]: v for k, v in stack_config("dev").items()
                        if k.startswith("cloudsync:")})
    prod = parse("prod", {k.split(":", 1)[1]: v for k, v in stack_config("prod").items()
                          if k.startswith("cloudsync:")})
    assert (dev.schedule_cron, dev.max_concurrent_media, dev.log_level) == (
        "cron(0 3 * * ? *)", 2, "DEBUG")
    assert (prod.schedule_cron, prod.max_concurrent_media, prod.log_level) == (
        "cron(0 2 * * ? *)", 5, "INFO")
    assert dev.alert_email != prod.alert_email


def test_the_seeds_lifecycle_fails_with_a_clear_message() -> None:
    message = problems_of({"lifecyclePolicy": "seed"})
    assert "cloudsync:lifecyclePolicy" in message
    assert "90 days after the GLACIER_IR transition at day 7" in message
    assert "earliest: day 97" in message


def test_a_custom_seed_like_lifecycle_per_provider_fails_too() -> None:
    message = problems_of({
        "lifecycleByProvider": {"gopro": {"transitions": [
            {"days": 7, "storageClass": "GLACIER_IR"}, {"days": 14, "storageClass": "DEEP_ARCHIVE"}
        ]}}})
    assert "cloudsync:lifecycleByProvider" in message and "90 days" in message


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"scheduleCron": "cron(0 2 * * *)"}, "needs 6"),
        ({"scheduleCron": "0 2 * * ? *"}, "is not 'cron("),
        ({"scheduleCron": "cron(0 2 * * * *)"}, "exactly one of day-of-month and day-of-week"),
        ({"scheduleCron": "cron(0 25 * * ? *)"}, "hours value 25"),
        ({"scheduleTimezone": "Europe/Bonn"}, "not an IANA time zone"),
        ({"maxConcurrentMedia": "0"}, "maxConcurrentMedia: must be between 1 and 100, not 0"),
        ({"maxConcurrentMedia": "two"}, "maxConcurrentMedia: must be a whole number"),
        ({"logLevel": "LOUD"}, "logLevel: must be one of"),
        ({"logRetentionDays": "31"}, "CloudWatch Logs accepts"),
        ({"alertEmail": "nobody"}, "alertEmail: must be an email address"),
        ({"providers": '["GoPro!"]'}, "not a safe key segment"),
        ({"functions": '{"transfer": {"timeoutSeconds": 600}}'}, "between 1 and 300"),
        ({"functions": '{"nope": {}}'}, "no function 'nope'"),
        ({"timeBudgetSeconds": "295"}, "below the transfer function's timeout"),
        ({"leaseSeconds": "200"}, "must outlast one Express execution"),
        ({"partSizeMib": "2"}, "at least 5 MiB"),
        ({"alarmThresholds": '{"syncFailure": 3}'}, "unknown alarm 'syncFailure'"),
        ({"scheduleCorn": "cron(0 2 * * ? *)"}, "did you mean 'scheduleCron'"),
        ({"secretRotation": "maybe"}, "must be true or false"),
        ({"includeRenders": "sometimes"}, "includeRenders: must be true or false"),
    ],
)
def test_invalid_values_fail_clearly(raw: dict[str, Any], fragment: str) -> None:
    assert fragment in problems_of(raw)


def test_every_problem_is_reported_at_once() -> None:
    message = problems_of({"maxConcurrentMedia": "0", "scheduleCron": "nightly",
                           "lifecyclePolicy": "seed"})
    assert message.count("\n  - ") == 3


def test_alert_email_is_required() -> None:
    with pytest.raises(ConfigError, match="alertEmail"):
        parse("dev", {})


def test_bad_stack_name() -> None:
    assert "stack name 'Prod_1'" in problems_of({}, stack="Prod_1")


@pytest.mark.parametrize("cron", ["cron(0 2 * * ? *)", "cron(0 3 ? * MON-FRI *)",
                                  "cron(15 2 1 * ? *)", "cron(0/30 * * * ? *)", "rate(1 day)"])
def test_valid_schedules(cron: str) -> None:
    assert validate_cron(cron) is None


def test_the_program_fails_before_registering_anything() -> None:
    config = {**stack_config("dev"), "cloudsync:lifecyclePolicy": "seed",
              "cloudsync:maxConcurrentMedia": "0", "cloudsync:scheduleCron": "cron(bad)"}
    with pytest.raises(Exception) as caught:
        build_stack("dev", config)
    error: BaseException | None = caught.value
    while error is not None and not isinstance(error, ConfigError):
        error = error.__cause__ or error.__context__
    assert isinstance(error, ConfigError), caught.value
    assert "lifecyclePolicy" in str(error) and "maxConcurrentMedia" in str(error)
    assert "scheduleCron" in str(error)


def test_every_key_is_documented_in_deploy_md() -> None:
    from .conftest import ROOT

    text = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    missing = [key for key in KEYS if f"`{key}`" not in text]
    assert not missing, f"docs/DEPLOY.md does not describe {missing}"


def test_include_renders_reaches_the_functions_that_open_the_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cloudsync_core import settings
    from components.functions import function_environment
    from components.naming import Naming

    assert parse("dev", BASE).include_renders is False
    cfg = parse("dev", {**BASE, "includeRenders": "true"})
    naming = Naming("dev", "123456789012", "eu-central-1")
    env = function_environment(cfg, naming, table_name="t", bucket_name="b", secret_arn="s",
                               topic_arn="a")
    assert env[settings.ENV_INCLUDE_RENDERS] == "true"
    monkeypatch.setenv(settings.ENV_INCLUDE_RENDERS, "true")
    assert settings.Settings.from_env().include_renders
    off = function_environment(parse("dev", BASE), naming, table_name="t", bucket_name="b",
                               secret_arn="s", topic_arn="a")
    assert settings.ENV_INCLUDE_RENDERS not in off
