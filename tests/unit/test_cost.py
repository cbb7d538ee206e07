"""The cost model (cloudsync_cli.cost): prices file, lifecycle schedules, the seed's estimate."""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import pytest

from cloudsync_cli import cost
from cloudsync_defs.functions import FUNCTIONS
from cloudsync_defs.lifecycle import POLICIES

PRICES = cost.load_prices()
USAGE = cost.Usage()
LIB = cost.Library(1_000, 100.0)


def m(policy: str, lib: cost.Library = LIB) -> cost.Model:
    return cost.model(PRICES, USAGE, lib, policy)


def test_every_price_has_a_source_and_the_file_a_date() -> None:
    raw = json.loads(cost.PRICES_FILE.read_text(encoding="utf-8"))
    assert raw["taken"] == PRICES.taken and raw["region"] == "us-east-1"
    for name, entry in raw["prices"].items():
        assert isinstance(entry["value"], int | float), name
        assert entry["source"].strip(), name
    assert PRICES["data_transfer_in_gb"] == 0.0


def test_the_three_policies_are_the_lifecycle_modules() -> None:
    assert set(cost.POLICY_NAMES) <= set(POLICIES)
    assert [(s.storage_class, s.start, s.end) for s in cost.schedule(POLICIES["seed"])] == [
        ("STANDARD", 0, 7), ("GLACIER_IR", 7, 14), ("DEEP_ARCHIVE", 14, float("inf"))]
    assert [s.storage_class for s in cost.schedule(POLICIES["default"])] == [
        "STANDARD", "DEEP_ARCHIVE"]
    first = cost.schedule(POLICIES["deep-archive-now"])[0]
    assert (first.storage_class, first.end) == ("STANDARD", 1.0)  # the first midnight


def test_glacier_ir_bills_its_90_day_minimum_on_an_early_transition() -> None:
    items = m("seed").month(1).items
    stored = 100 * 0.004 * 7 / 30
    early = 100 * 0.004 * (90 - 7) / 30
    assert items["storage: Glacier IR"] == pytest.approx(stored)
    assert items["early transition: rest of Glacier IR's 90-day minimum"] == pytest.approx(early)
    assert items["transitions to Glacier IR"] == pytest.approx(1000 * 0.02 / 1000)
    assert items["transitions to Deep Archive"] == pytest.approx(1000 * 0.05 / 1000)
    # and nothing of the kind where nothing leaves a class early
    assert not any("early" in k for k in m("default").month(1).items)


def test_deep_archive_adds_40_kb_per_object() -> None:
    steady = m("default").steady().items
    kb = 1 / 1024 / 1024
    assert steady["storage: Deep Archive"] == pytest.approx((100 + 1000 * 32 * kb) * 0.00099)
    assert steady["storage: Deep Archive overhead (8 KB/object at Standard)"] == pytest.approx(
        1000 * 8 * kb * 0.023)


def test_glacier_ir_bills_at_least_128_kb_per_object() -> None:
    tiny = cost.Model(PRICES, USAGE, cost.Library(1_000_000, 1.0), POLICIES["seed"])
    assert tiny.billable_gb("GLACIER_IR")["GLACIER_IR"] == pytest.approx(1_000_000 * 128 / 1024**2)


def test_ingress_is_free_and_requests_count_parts() -> None:
    one_time = m("default").one_time().items
    assert "data transfer in" not in one_time  # $0
    # 0.1 GB objects (S3's GB are binary: 102.4 MiB) in 16 MiB parts: 7 + create + complete
    expected = 1000 * (2 + 7) * 0.005 / 1000
    assert one_time["S3 PUT requests (create, parts, complete)"] == pytest.approx(expected)


def test_first_month_orders_policies_for_a_big_library() -> None:
    big = cost.Library(30_000, 3_000.0)
    seed, default, now = (m(p, big).month(1).total for p in cost.POLICY_NAMES)
    assert now < default < seed
    steady = {m(p, big).steady().total for p in cost.POLICY_NAMES}
    assert len({round(s, 6) for s in steady}) == 1  # the same place in the end


def test_cumulative_grows_every_month() -> None:
    series = m("default").cumulative(12)
    assert series[0] == 0 and len(series) == 13
    assert all(b > a for a, b in itertools.pairwise(series))
    assert series[1] == pytest.approx(m("default").month(1).total)


def test_the_seed_estimate_is_reproduced_and_corrected() -> None:
    lines = cost.seed_lines(PRICES, USAGE)
    listed = sum(line.listed for line in lines)
    assert listed == pytest.approx(cost.SEED_TOTAL, abs=0.015)
    by = {(line.service, line.usage): line for line in lines}
    transfer = by[("Data transfer", "100 GB 'out'")]
    assert (transfer.listed, transfer.corrected) == (9.0, 0.0)
    ir = by[("S3", "Glacier IR 7 days")]
    assert ir.corrected == pytest.approx(100 * 0.004 * 90 / 30, rel=0.05)
    compute = by[("Lambda", "compute 250 GB-s")]
    assert compute.recomputed == pytest.approx(250 * 0.0000166667)
    assert compute.listed / compute.recomputed > 900  # the seed's 1,000x slip
    corrected = sum(line.corrected for line in lines)
    assert corrected == pytest.approx(m("seed").month(1).total)


def test_library_defaults_follow_the_seed_ratio() -> None:
    assert cost.Library.of(None, 100) == cost.Library(1_000, 100.0)
    assert cost.Library.of(500, None) == cost.Library(500, 50.0)
    with pytest.raises(ValueError):
        cost.Library.of(None, 0)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cost.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_prints_the_comparison_and_the_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.run(parse()) == 0
    text = capsys.readouterr().out
    for needle in ("100 GB, 1,000 videos", "3 TB, 30,000 videos", "deep-archive-now",
                   "$23.86", "ingress"):
        assert needle in text


def test_cli_policy_json_and_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.run(parse("--gb", "250", "--policy", "default")) == 0
    assert "250 GB, 2,500 videos, policy default" in capsys.readouterr().out
    assert cost.run(parse("--videos", "10", "--gb", "40", "--json", "--months", "3")) == 0
    data = json.loads(capsys.readouterr().out)
    assert {e["policy"] for e in data["estimates"]} == set(cost.POLICY_NAMES)
    assert all(len(e["cumulative"]) == 4 for e in data["estimates"])
    chart = tmp_path / "c.png"
    assert cost.run(parse("--gb", "100", "--chart", str(chart))) == 0
    assert chart.read_bytes()[:4] == b"\x89PNG"


def test_cli_refuses_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.run(parse("--gb", "-5")) == 2
    assert cost.run(parse("--months", "0")) == 2


@pytest.mark.parametrize(("argv", "says"), [
    (("--gb", "0"), "--gb must be more than 0 and at most 1,000,000,000, not 0"),
    (("--videos", "0"), "--videos must be at least 1, not 0"),
    (("--gb", "inf"), "--gb must be more than 0 and at most 1,000,000,000, not inf"),
    (("--gb", "nan"), "--gb must be more than 0 and at most 1,000,000,000, not nan"),
    (("--gb", "1e308"), "--gb must be more than 0 and at most 1,000,000,000, not 1e+308"),
    (("--months", "100000"), "--months must be between 1 and 120, not 100000"),
])
def test_bad_library_or_months_is_one_clear_line_and_a_failure(
    argv: tuple[str, ...], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14: ``--gb 0`` printed the 100 GB default, ``--gb inf`` crashed (OverflowError)."""
    assert cost.run(parse(*argv)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"cloudsync cost: {says}\n"


def test_months_name_the_cumulative_column(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14: ``--months 24`` kept the text table's "12 months" column."""
    assert cost.run(parse("--gb", "100", "--months", "24")) == 0
    text = capsys.readouterr().out
    header = next(line for line in text.splitlines() if line.startswith("| library"))
    assert header.rstrip(" |").endswith("24 months") and "12 months" not in header
    row = next(line for line in text.splitlines() if "| default " in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    two_years = cost.model(PRICES, USAGE, cost.Library(1_000, 100.0), "default").cumulative(24)
    assert cells[-1] == cost.money(two_years[-1])


def test_monitoring_counts_come_from_the_catalogs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Custom metric-months from cloudsync_core.metrics, alarm metrics from the alarms catalog,
    per-function alarms from the function catalog: no count kept by hand."""
    from cloudsync_core import metrics
    from cloudsync_defs import alarms

    assert USAGE.functions == len(FUNCTIONS)
    assert USAGE.custom_metric_count == sum(m.series for m in metrics.CUSTOM_METRICS) == 13
    extra = alarms.AlarmDef("Stuck-Media", "stuckMedia", "media claimed for hours",
                            alarms.Reads.CUSTOM, metrics.NAMESPACE, "MediaStuck", "Maximum", 0,
                            essential=True)
    before = cost.alarm_metric_count("essential", True)
    monkeypatch.setattr(alarms, "ALARMS", (*alarms.ALARMS, extra))
    assert cost.alarm_metric_count("essential", True) == before + 1
    assert cost.alarm_metric_count("essential", False) == 4  # a custom one needs the metrics


def test_the_default_stack_costs_under_five_dollars_a_month_fixed() -> None:
    """Issue 13: KMS key, secret and the four essential alarms; no custom metrics."""
    fixed = cost.model(PRICES, USAGE, LIB, "default").monthly_fixed()
    assert USAGE.custom_metrics == 0 and USAGE.alarm_metrics == 4
    # two secrets: the credentials and the notify secret (Slack / webhook URLs), $0.40 each
    assert USAGE.secrets == 2
    assert fixed.total == pytest.approx(PRICES["kms_key_month"] + 2 * PRICES["secret_month"]
                                        + 4 * PRICES["cloudwatch_alarm_metric_month"])
    assert fixed.total < 5.0


def test_every_monitoring_option_is_priced() -> None:
    def fixed(custom: bool, alarms: str) -> float:
        usage = USAGE.stack(custom_metrics=custom, alarms=alarms)
        return cost.model(PRICES, usage, LIB, "default").monthly_fixed().total

    base = fixed(False, "essential")
    metric, alarm = PRICES["cloudwatch_metric_month"], PRICES["cloudwatch_alarm_metric_month"]
    # custom metrics: 13 metric-months and the three alarms on them
    assert fixed(True, "essential") - base == pytest.approx(13 * metric + 3 * alarm)
    # all alarms: errors and throttles per function of the catalog
    per_function = 2 * len(FUNCTIONS)
    assert fixed(False, "all") - base == pytest.approx(per_function * alarm)
    assert fixed(True, "all") == pytest.approx(base + 13 * metric + (3 + per_function) * alarm)
    with pytest.raises(ValueError, match="alarms"):
        USAGE.stack(custom_metrics=False, alarms="some")


def test_lambda_is_billed_at_the_arm64_price_the_stack_runs_on() -> None:
    from components.functions import ARCHITECTURE

    assert ARCHITECTURE == "arm64" and cost.LAMBDA_GB_SECOND == "lambda_gb_second_arm64"
    first = m("default").one_time()
    gb_s = cost.transfer_gb_s_per_gb(USAGE) * LIB.gb * 1024**3 / 1e9
    assert first.items["Lambda GB-seconds (transfer)"] == pytest.approx(
        gb_s * PRICES["lambda_gb_second_arm64"], rel=0.01)


def test_gb_seconds_per_gb_and_the_memory_advice_follow_the_measured_rates() -> None:
    usage = USAGE.replace(transfer_mbit_s=400.0, transfer_cpu_s_per_gib=3.0)
    assert cost.transfer_gb_s_per_gb(usage, 1024) == pytest.approx(20.0)  # 1 GB x 8000/400 s
    assert cost.transfer_gb_s_per_gb(usage, 512) == pytest.approx(10.0)
    assert cost.recommended_memory_mb(usage) == 512  # 3 CPU-s per GiB at 400 Mbit/s: 0.14 vCPU
    hungry = usage.replace(transfer_cpu_s_per_gib=10.0)  # 0.47 vCPU at that rate
    assert cost.cpu_busy(hungry, 1769) == pytest.approx(0.463, abs=0.01)
    assert cost.recommended_memory_mb(hungry) == 1769


def test_cli_shows_the_monitoring_choice(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.run(parse("--gb", "100", "--videos", "1000")) == 0
    text = capsys.readouterr().out
    assert "Stack: alarms essential (4 alarm metrics), no custom metrics" in text
    assert "| `customMetrics: false`, `alarms: essential` (default) | 0 " in text
    assert "Recommended transfer memory:" in text
    assert cost.run(parse("--gb", "100", "--custom-metrics", "--alarms", "all", "--json")) == 0
    data = json.loads(capsys.readouterr().out)
    alarm_metrics = 4 + 3 + 2 * len(FUNCTIONS)  # essential, custom, errors and throttles
    assert data["stack"] == f"alarms all ({alarm_metrics} alarm metrics), custom metrics on"
    fixed = data["estimates"][0]["first_month_items"]
    assert fixed["CloudWatch custom metrics"] == pytest.approx(3.9)
    assert fixed["CloudWatch alarms"] == pytest.approx(alarm_metrics * 0.10)
