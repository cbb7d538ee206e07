"""``cloudsync cost``'s optional features (stack config vpc, audit, fis): what each adds."""

from __future__ import annotations

import argparse

import pytest

from cloudsync_cli import cost, options_cost

PRICES = cost.load_prices()
LIB = cost.Library(30_000, 3_000.0)


def by_name() -> dict[str, options_cost.OptionCost]:
    return {c.name: c for c in options_cost.option_costs(PRICES, cost.Usage(), LIB)}


def test_the_nat_gateway_bills_a_month_and_every_gb_downloaded() -> None:
    costs = by_name()
    vpc = costs["vpc: create"]
    assert vpc.fixed_month == pytest.approx(720 * (0.045 + 0.005))  # NAT hours + its IPv4
    assert vpc.first_month.total == pytest.approx(36.0 + 3_000 * 0.045)
    assert "$0.045 per GB" in vpc.rates
    endpoints = costs["vpc: create + interfaceEndpoints"]
    assert endpoints.fixed_month - vpc.fixed_month == pytest.approx(5 * 2 * 0.01 * 720)


def test_audit_and_game_days_cost_what_they_record_and_run() -> None:
    costs = by_name()
    audit = costs["audit: enabled"]
    assert 1.0 < audit.steady_month.total < 1.5  # the key, Config items and evaluations
    data_events = audit.first_month.items["CloudTrail S3 data events (archiving)"]
    assert data_events == pytest.approx(30_000 * 14 * 0.10 / 1e5)  # 7 parts + 7 other requests
    fis = costs["fis: enabled"]
    assert fis.fixed_month == 0.0
    assert fis.first_month.total == pytest.approx(2.0)


def test_the_report_shows_each_option_when_on(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cost.add_arguments(parser)
    assert cost.run(parser.parse_args(["--gb", "3000"])) == 0
    text = capsys.readouterr().out
    for line in ("vpc: create", "audit: enabled", "fis: enabled", "$36.00", "$108.00"):
        assert line in text
