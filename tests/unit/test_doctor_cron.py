"""The doctor's next-run computation for EventBridge Scheduler cron expressions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloudsync_cli.cron import CronError, next_run

BERLIN = "Europe/Berlin"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_default_nightly_schedule_in_winter_and_summer() -> None:
    # 02:00 Berlin is 01:00 UTC in winter (CET) and 00:00 UTC in summer (CEST).
    winter = next_run("cron(0 2 * * ? *)", BERLIN, at("2026-11-30T12:00:00"))
    assert winter is not None and winter.astimezone(UTC) == at("2026-12-01T01:00:00")
    summer = next_run("cron(0 2 * * ? *)", BERLIN, at("2026-07-01T00:30:00"))
    assert summer is not None and summer.astimezone(UTC) == at("2026-07-02T00:00:00")


def test_later_the_same_day_and_strictly_after_now() -> None:
    now = at("2026-11-30T00:59:00")  # 01:59 in Berlin
    first = next_run("cron(0 2 * * ? *)", BERLIN, now)
    assert first is not None and first.astimezone(UTC) == at("2026-11-30T01:00:00")
    again = next_run("cron(0 2 * * ? *)", BERLIN, first)
    assert again is not None and again.astimezone(UTC) == at("2026-12-01T01:00:00")


def test_weekdays_steps_lists_and_names() -> None:
    # 2026-11-30 is a Monday. SUN=1 ... SAT=7 in EventBridge.
    sunday = next_run("cron(30 3 ? * 1 *)", "UTC", at("2026-11-30T12:00:00"))
    assert sunday == at("2026-12-06T03:30:00")
    weekdays = next_run("cron(0 22 ? * MON-FRI *)", "UTC", at("2026-12-04T23:00:00"))  # Friday
    assert weekdays == at("2026-12-07T22:00:00")
    quarter = next_run("cron(*/15 * * * ? *)", "UTC", at("2026-11-30T12:07:00"))
    assert quarter == at("2026-11-30T12:15:00")
    listed = next_run("cron(0 6,18 1 JAN,JUL ? *)", "UTC", at("2026-11-30T12:00:00"))
    assert listed == at("2027-01-01T06:00:00")


def test_a_year_in_the_past_never_fires_again() -> None:
    assert next_run("cron(0 2 * * ? 2020)", "UTC", at("2026-11-30T12:00:00")) is None


@pytest.mark.parametrize("expression", [
    "rate(1 day)", "cron(0 2 * * ?)", "cron(0 2 L * ? *)", "cron(0 2 ? * 6#3 *)",
    "cron(61 2 * * ? *)",
])
def test_what_it_cannot_evaluate_is_an_error_not_a_wrong_time(expression: str) -> None:
    with pytest.raises(CronError):
        next_run(expression, "UTC", at("2026-11-30T12:00:00"))
