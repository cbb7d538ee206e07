"""The bench's own code paths on small sizes (a few seconds), so `make bench` never rots.

Asserts only that ratios and counts come out and are sane; never an absolute time.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from bench.run import Config, Outcome, run

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[Outcome, Config]:
    cfg = Config.smoke(tmp_path_factory.mktemp("bench"))
    return run(cfg), cfg


def test_last_line_has_the_promised_shape(outcome: tuple[Outcome, Config]) -> None:
    out, _ = outcome
    assert re.fullmatch(
        r"throughput: engine \d+\.\d\d of limit, \d+\.\d\d x seed, (\d+\.\d\d|-) x rclone; "
        r"peak RSS \d+ MiB for 1 GiB", out.last_line)


def test_throughput_contenders_all_ran(outcome: tuple[Outcome, Config]) -> None:
    out, cfg = outcome
    results = out.throughput["moto"]
    for name in ("limit", "engine", "seed", "upload_fileobj"):
        assert results[name].mib_s is not None, results[name].note
    if cfg.rclone:
        assert results["rclone"].mib_s is not None, results["rclone"].note
    engine_vs_limit = out.ratio("moto", "engine", "limit")
    assert engine_vs_limit is not None and 0.05 < engine_vs_limit < 20
    # the engine's parts: 24 MiB in 8 MiB parts
    assert results["engine"].parts == 3


def test_scaling_under_a_cap_gains_from_ranges(outcome: tuple[Outcome, Config]) -> None:
    out, cfg = outcome
    speeds = {pt.parallel: pt.mib_s for pt in out.points}
    assert set(speeds) == set(cfg.parallels)
    assert all(v is not None and v > 0 for v in speeds.values())
    one, four = speeds[1], speeds[4]
    assert one is not None and four is not None and four > one  # 4 capped connections beat 1
    assert out.aws and all(e.seconds > 0 and 0 < e.efficiency <= 1.5 for e in out.aws)


def test_memory_stays_within_the_stated_bound(outcome: tuple[Outcome, Config]) -> None:
    out, _ = outcome
    assert out.memory
    for m in out.memory:
        assert 0 < m["ready_mib"] <= m["peak_rss_mib"] <= m["bound_mib"]


def test_lister_counts_are_exact(outcome: tuple[Outcome, Config]) -> None:
    out, cfg = outcome
    media = cfg.lister_media
    pages = math.ceil(media / 100)
    first, again = out.lister["first"], out.lister["unchanged"]
    assert first["listed"] == again["listed"] == media
    assert first["new"] == media and again["new"] == 0
    assert first["api"]["search"] == again["api"]["search"] == pages
    assert again["api"]["download"] == 0
    assert first["dynamodb"]["requests"]["BatchGetItem"] == pages
    assert again["dynamodb"]["requests"].get("BatchGetItem") == pages
    assert again["dynamodb"]["requests"].get("PutItem", 0) == 0  # an unchanged night writes 0
    assert first["dynamodb"]["requests"]["PutItem"] >= media
    assert again["dynamodb"]["total"] < pages + 10  # no per-medium request


def test_report_and_chart_are_written(outcome: tuple[Outcome, Config]) -> None:
    out, cfg = outcome
    assert cfg.output is not None and cfg.chart is not None
    text = Path(cfg.output).read_text(encoding="utf-8")
    for heading in ("## 1. Throughput", "## 2. Parallel", "## 3. Memory", "## 4. Lister",
                    "## 5. Cost model", "date (UTC)", out.last_line):
        assert heading in text
    assert Path(cfg.chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the cost model ran on what was measured
    assert out.usage.parts_per_gib == pytest.approx(128.0)  # 8 MiB parts
    assert out.usage.lister_read_units_per_medium > 0
