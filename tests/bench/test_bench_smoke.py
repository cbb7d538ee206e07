"""The production-path bench on small sizes (seconds), so `make bench` never rots.

Asserts that the real workflow archived every byte, that every contender ran side by side and
that ratios, memory and counts come out sane; never an absolute time.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from bench.production import fixed_work, library_spec
from bench.run import Config, Outcome, run

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[Outcome, Config]:
    cfg = Config.smoke(tmp_path_factory.mktemp("bench"))
    return run(cfg), cfg


def test_last_line_has_the_promised_shape(outcome: tuple[Outcome, Config]) -> None:
    out, _ = outcome
    assert re.fullmatch(
        r"production: medium \d+\.\d\dx limit, library \d+\.\d\dx limit, \d+\.\d\dx seed "
        r"under a \d+ MiB/s cap; peak RSS \d+ MiB per part in flight \(\d+ MiB parts\)",
        out.last_line), out.last_line


def test_the_workflow_archived_every_medium_through_the_real_functions(
        outcome: tuple[Outcome, Config]) -> None:
    out, cfg = outcome
    medium = next(c for c in out.cases if c.scenario == "medium")
    library = next(c for c in out.cases if c.scenario == "library")
    for case in (medium, library):
        assert case.run is not None and not case.run.failed, case.results["product"].note
        assert case.run.bytes == case.bytes  # every byte the simulator holds, archived
        calls = {fn: len(case.run.of(fn)) for fn in ("prepare", "transfer", "finalize")}
        assert calls["prepare"] == calls["finalize"] == case.media
        assert calls["transfer"] >= case.media
    assert medium.bytes == cfg.medium_size
    assert library.media == cfg.library_media
    assert library.files > library.media  # chapters, RAW sidecars, burst frames
    # each invocation ran in a container process of its own (its own peak RSS)
    assert all(i.peak_rss_mib >= i.rss_before_mib > 0 for i in medium.run.invocations)  # type: ignore[union-attr]


def test_every_request_is_counted_on_both_sides(outcome: tuple[Outcome, Config]) -> None:
    """What the functions timed and what the two moto processes served agree, operation by
    operation: the tables of where the time goes count every request once, in the right place."""
    out, _ = outcome
    library = next(c for c in out.cases if c.scenario == "library")
    assert library.run is not None
    asked: dict[str, int] = {}
    for inv in library.run.invocations:
        for op, _seconds in inv.requests:
            asked[op] = asked.get(op, 0) + 1
    sink, control = library.served["sink"], library.served["control"]
    for op in ("UploadPart", "PutObject", "CompleteMultipartUpload"):
        assert asked.get(f"s3.{op}", 0) == sink.get(f"s3.{op}", [0])[0] > 0, op
    assert not any(op.startswith("dynamodb.") for op in sink)  # the tracker is not on the sink
    assert control["dynamodb.GetItem"][0] >= asked["dynamodb.GetItem"] > 0
    assert asked.get("cdn.GET", 0) > 0 and asked.get("api.GET", 0) > 0
    work = fixed_work(library)
    assert work is not None and 5 < work.per_medium < 40
    assert 0 < work.modeled_s <= work.measured_s


def test_every_contender_ran_against_the_same_sink(outcome: tuple[Outcome, Config]) -> None:
    out, _ = outcome
    for case in out.cases:
        for name in ("limit", "product", "seed"):
            assert case.speed(name) is not None, case.results[name].note
        if case.scenario == "library":
            rclone = case.results["rclone"]
            assert rclone.mib_s is not None or rclone.note == "not installed", rclone.note
        assert case.limit_mib_s is not None
        assert 0.01 < case.speed("product") / case.limit_mib_s < 20  # type: ignore[operator]


def test_ranges_scale_under_a_cap(outcome: tuple[Outcome, Config]) -> None:
    out, cfg = outcome
    speeds = {p.n: p.transfer_mib_s for p in out.points if p.what == "ranges"}
    assert set(speeds) == set(cfg.ranges)
    one, four = speeds[1], speeds[4]
    assert one is not None and four is not None and four > 1.5 * one  # 4 capped ranges beat 1


def test_memory_and_compute_are_measured(outcome: tuple[Outcome, Config]) -> None:
    out, _ = outcome
    assert out.memory is not None and out.compute is not None
    assert out.memory.peak_mib > out.memory.before_mib > 0
    assert out.memory.part_mib >= 5
    assert out.compute.transfer_gb_s > 0 and out.compute.cpu_s_per_gib > 0
    assert out.usage.transfer_cpu_s_per_gib == pytest.approx(out.compute.cpu_s_per_gib)


def test_lister_counts_are_exact(outcome: tuple[Outcome, Config]) -> None:
    out, cfg = outcome
    media = cfg.lister_media
    pages = math.ceil(media / 100)
    first, again = out.lister["first"], out.lister["unchanged"]
    assert first["listed"] == again["listed"] == media
    assert first["new"] == media and again["new"] == 0
    assert first["api"]["search"] == again["api"]["search"] == pages
    assert again["dynamodb"]["requests"].get("PutItem", 0) == 0  # an unchanged night writes 0
    assert again["dynamodb"]["total"] < pages + 10  # no per-medium request


def test_report_and_chart_are_written(outcome: tuple[Outcome, Config]) -> None:
    out, cfg = outcome
    assert cfg.output is not None
    text = Path(cfg.output).read_text(encoding="utf-8")
    for heading in ("## 1. The production path", "### Where the product's time goes",
                    "#### The library's requests",
                    "## 2. Scaling", "## 3. Memory", "## 4. Lister", "## 5. Cost model",
                    "date (UTC)", out.last_line):
        assert heading in text


def test_the_library_follows_a_real_library_mix() -> None:
    spec = library_spec()
    kinds = [m["kind"] for m in spec]
    assert len(spec) == 40
    assert kinds.count("video") == 29 and kinds.count("photo") == 10  # 72% / 26% (gopro-api.md)
    sizes = [m["size"] for m in spec]
    assert min(sizes) == 64 * 1024 and max(sizes) == 1024**3
    assert sum(1 for m in spec if m.get("chapters", 1) > 1) == 2
