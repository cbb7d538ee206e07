"""The alarms catalog (cloudsync_defs.alarms) is the one place an alarm is defined: the stack
config validates against it, the Pulumi program builds from it, the cost model counts from it,
and the custom metrics it reads are the ones the functions emit (cloudsync_core.metrics)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from cloudsync_cli import cost
from cloudsync_core import metrics
from cloudsync_defs import alarms
from components.config import ConfigError, parse

from .conftest import ROOT, build_stack, stack_config

pytestmark = pytest.mark.infra

STUCK = alarms.AlarmDef(
    "Stuck-Media", "stuckMedia", "Media claimed for longer than a run", alarms.Reads.CUSTOM,
    metrics.NAMESPACE, "MediaStuck", "Maximum", 0, period=900, essential=True,
)
T_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def test_an_alarm_added_to_the_catalog_is_configured_deployed_and_priced(
    monkeypatch: pytest.MonkeyPatch, bundle: Any
) -> None:
    monkeypatch.setattr(alarms, "ALARMS", (*alarms.ALARMS, STUCK))

    # stack config: its threshold key is known, and checked like every other
    cfg = parse("dev", {"alertEmail": "me@example.com", "alarmThresholds": {"stuckMedia": 2}})
    assert cfg.alarms.threshold(STUCK) == 2
    with pytest.raises(ConfigError, match="stuckMedia must be a number >= 0"):
        parse("dev", {"alertEmail": "me@example.com", "alarmThresholds": {"stuckMedia": -1}})

    # the Pulumi program: one more alarm, reading the catalog's metric
    config = {**stack_config("dev"), "cloudsync:customMetrics": "true",
              "cloudsync:alarmThresholds": json.dumps({"stuckMedia": 2})}
    graph = build_stack("dev", config)
    built = {a.inputs["name"].removeprefix("cloudsync-dev-"): a.inputs
             for a in graph.of_type(T_ALARM)}
    stuck = built["Stuck-Media"]
    assert stuck["threshold"] == 2
    assert stuck["alarmDescription"] == "cloudsync dev: Media claimed for longer than a run"
    assert stuck["metricQueries"][0]["expression"] == (
        "SELECT MAX(MediaStuck) FROM GoProSync WHERE Environment = 'dev'")
    assert stuck["metricQueries"][0]["period"] == 900

    # the cost model: the metrics those alarms read, counted from the same catalog
    read = sum(sum(1 for q in a["metricQueries"] if "metric" in q
                   or str(q.get("expression", "")).startswith("SELECT")) for a in built.values())
    assert read == cost.alarm_metric_count("essential", True) == 8
    usage = cost.Usage().stack(custom_metrics=True, alarms="essential")
    assert usage.alarm_metrics == 8


def test_the_default_stack_builds_exactly_the_catalogs_essential_alarms(dev: Any) -> None:
    built = {a.inputs["name"].removeprefix("cloudsync-dev-") for a in dev.of_type(T_ALARM)}
    assert built == {a.key for a in alarms.selected("essential", custom_metrics=False)}
    assert all(not a.custom for a in alarms.selected("essential", custom_metrics=False))


def _emitted_metric_names() -> set[str]:
    """The first argument of every ``emit(...)`` call under functions/: a ``metrics.X`` name."""
    names: set[str] = set()
    for path in Path(ROOT / "functions").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "emit" and node.args):
                continue
            first = node.args[0]
            assert isinstance(first, ast.Attribute) and isinstance(first.value, ast.Name) \
                and first.value.id == "metrics", (
                    f"{path.relative_to(ROOT)}:{node.lineno}: name the metric from "
                    "cloudsync_core.metrics, not a bare string")
            names.add(getattr(metrics, first.attr))
    return names


def test_every_custom_metric_is_named_once_and_every_custom_alarm_reads_an_emitted_one() -> None:
    emitted = _emitted_metric_names()
    assert emitted == {m.name for m in metrics.CUSTOM_METRICS}
    for alarm in alarms.catalog():
        if alarm.custom:
            assert alarm.metric in emitted, f"{alarm.key} reads {alarm.metric}: nothing emits it"
            assert alarm.namespace == metrics.NAMESPACE


def test_catalog_entries_are_well_formed() -> None:
    keys = [a.key for a in alarms.catalog()]
    config_keys = [a.config_key for a in alarms.catalog()]
    assert len(set(keys)) == len(keys) and len(set(config_keys)) == len(config_keys)
    for alarm in alarms.catalog():
        assert alarm.comparison in (alarms.GREATER, alarms.LESS)
        assert alarm.period % 60 == 0 and alarm.evaluation_periods >= 1
        assert alarm.threshold >= 0
        assert (alarm.reads is alarms.Reads.FUNCTION) == bool(alarm.function)
    with pytest.raises(ValueError, match="alarms is one of essential, all"):
        alarms.selected("some", custom_metrics=False)
