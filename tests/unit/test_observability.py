"""Metrics go out as EMF lines, unless the stack turned custom metrics off."""

from __future__ import annotations

import json

import pytest

from cloudsync_core.observability import MetricUnit, emit


def test_a_metric_is_one_emf_line_with_the_stacks_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLOUDSYNC_ENVIRONMENT", "prod")
    monkeypatch.delenv("CLOUDSYNC_METRICS", raising=False)
    emit("VideosSynced", 1, MetricUnit.Count, Provider="gopro")
    line = json.loads(capsys.readouterr().err.strip())  # not in Lambda: stderr
    assert line["VideosSynced"] == [1.0]
    assert (line["Environment"], line["Provider"]) == ("prod", "gopro")
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "GoProSync"


def test_no_metric_when_the_stack_turned_them_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLOUDSYNC_METRICS", "off")
    emit("VideosSynced", 1, MetricUnit.Count, Provider="gopro")
    assert capsys.readouterr() == ("", "")
