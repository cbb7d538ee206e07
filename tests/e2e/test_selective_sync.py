"""Selective sync, incremental listing, `sync --dry-run` and `--limit`, end to end in the local
cloud against the GoPro simulator (real handlers, the CLI in-process).

- a stack selection leaves media out (no row: never queued, never FAILED), `cloudsync library`
  says why, and widening the selection picks them up on the next run;
- the nightly listing after a complete one is incremental (newest uploads first) and still finds
  a late upload of old footage, which a captured-date watermark would miss;
- `sync --dry-run` plans without a single write; `sync --limit N` archives the first N new media
  in queue order and the next run takes the rest.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator

import pytest

from cloudsync_cli.main import main
from cloudsync_core.settings import ENV_SELECTION
from cloudsync_core.sync import listing_state
from cloudsync_core.tracker import COMPLETED
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.cloud.requests_log import RequestLog
from cloudsync_local.simulator import GoProSimulator, KiB

from .harness import Stack

pytestmark = pytest.mark.e2e

WRITES = ("Put", "Update", "Delete", "Create", "Upload", "Complete", "Start", "Publish",
          "Transact", "BatchWrite", "Abort", "Copy", "Restore", "Send")


@pytest.fixture
def sim() -> Iterator[GoProSimulator]:
    with GoProSimulator() as simulator:
        yield simulator


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def completed(stack: Stack) -> set[str]:
    return {m for m, row in stack.rows().items() if row.status == COMPLETED}


def test_a_selection_leaves_media_out_and_widening_picks_them_up(
    sim: GoProSimulator, make_local_cloud: Callable[..., LocalCloud],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lib = sim.library
    old = lib.add_video(size=64 * KiB, captured_at="2023-05-01T10:00:00Z")
    kept = lib.add_video(size=64 * KiB, captured_at="2024-06-01T10:00:00Z")
    other_camera = lib.add_video(size=64 * KiB, captured_at="2024-06-02T10:00:00Z",
                                 camera_model="GoPro Max")
    big = lib.add_video(size=256 * KiB, captured_at="2024-06-03T10:00:00Z")
    render = lib.add_video(size=64 * KiB, captured_at="2024-06-04T10:00:00Z",
                           composition="export")
    narrow = {"capturedSince": "2024-01-01", "cameras": ["hero12  BLACK"], "maxSize": "128KiB"}
    cloud = make_local_cloud(gopro_api_url=sim.base_url,
                             settings={ENV_SELECTION: json.dumps(narrow)})
    stack = Stack(sim, cloud)
    stack.login()

    first = stack.sync()
    assert first["new"] == 1 and first["mode"] == "full"
    assert first["left_out"] == {  # capture dates go to GoPro's captured_range: not listed
        "camera not in cameras": 1, "larger than maxSize": 1,
        "a share render (includeRenders is false)": 1}
    assert set(stack.rows()) == {kept}  # left out: no row at all, so never FAILED or queued
    stack.assert_archived_exactly(kept)

    code, out, _ = cli("library", "--json")
    states = {i["media_id"]: i["state"] for i in json.loads(out)["items"]}
    assert code == 0 and states == {
        old: "left out: captured before capturedSince",
        kept: "archived",
        other_camera: "left out: camera not in cameras",
        big: "left out: larger than maxSize",
        render: "left out: a share render (includeRenders is false)",
    }

    # a deploy widens the selection (the function environment changes): the next night lists
    # everything again (the selection's fingerprint changed) and takes what it left out
    monkeypatch.setenv(ENV_SELECTION, json.dumps({"capturedSince": "2023-01-01"}))
    second = stack.sync()
    assert (second["mode"], second["mode_reason"]) == ("full", "the selection changed")
    assert second["new"] == 3 and second["left_out"] == {
        "a share render (includeRenders is false)": 1}
    assert completed(stack) == {kept, old, other_camera, big}
    for media_id in (old, other_camera, big):
        stack.assert_archived_exactly(media_id)


def test_dry_run_limit_and_an_incremental_night_that_finds_a_late_upload(
    sim: GoProSimulator, make_local_cloud: Callable[..., LocalCloud],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lib = sim.library
    media = [lib.add_video(size=48 * KiB, captured_at=f"2024-0{m}-01T10:00:00Z", chapters=2)
             for m in range(1, 5)]
    cloud = make_local_cloud(gopro_api_url=sim.base_url)
    stack = Stack(sim, cloud)
    stack.login()

    # --dry-run: the plan, and not one write anywhere (the request log sees every request)
    with RequestLog().attached(cloud) as log:
        code, out, err = cli("sync", "--dry-run", "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["dry_run"] and plan["queued"] == 4 and plan["plan_originals"] == 8
    assert plan["expected_bytes"] == 4 * 48 * KiB and plan["estimated_seconds"] > 0
    assert [e["media_id"] for e in plan["plan"]] == media[::-1]  # newest first
    writes = [c for c in log.calls if c.operation.startswith(WRITES)]
    assert writes == [] and any(c.operation == "BatchGetItem" for c in log.calls)
    assert stack.rows() == {}
    code, out, _ = cli("sync", "--dry-run")
    assert code == 0 and "Would queue 4 media (4 new, 0 re-queued), 8 originals" in out

    # --limit 2: the two newest; the next run (a full listing: --limit kept the listing state
    # from advancing) takes the rest
    code, out, err = cli("sync", "--limit", "2")
    cloud.wait_idle(60)
    assert code == 0, err
    assert "--limit left 2 new media for a later run" in out
    assert completed(stack) == set(media[2:])
    code, out, err = cli("sync", "--json")
    cloud.wait_idle(60)
    assert code == 0, err
    assert json.loads(out)["mode"] == "full"
    assert completed(stack) == set(media)
    for media_id in media:
        stack.assert_archived_exactly(media_id)

    # footage shot before anything archived, uploaded after the last complete listing: the
    # next night lists by upload time and stops early, and still finds it
    monkeypatch.setattr(listing_state, "ORDER_EVIDENCE", 2)  # a small library shows the order
    late = lib.add_video(size=32 * KiB, captured_at="2022-03-01T10:00:00Z")
    lib.get(late).item["created_at"] = "2025-02-01T00:00:00.000Z"
    searches = sim.stats["search"]
    night = stack.sync()
    assert night["mode"] == "incremental", night
    # the late one, one known inside the overlap, two known past it (they show the order)
    assert night["new"] == 1 and night["listed"] == 4
    assert sim.stats["search"] - searches == 1
    assert late in completed(stack)
    stack.assert_archived_exactly(late)
    code, out, _ = cli("status")
    assert code == 0 and "last full listing" in out and "newest upload seen 2025-02-01" in out
