"""Where and when, end to end: media carrying GoPro's real telemetry are archived by the real
workflow, indexed, and ``cloudsync find`` answers from the tracker.

The simulator's videos carry GoPro's published GPMF payloads (HERO5, Fusion) moved to chosen
places and times; one video lists GoPro's ``gpmf`` sidecar, one is read from the archived
original by ranged reads, a photo carries EXIF GPS. Camera clocks are deliberately wrong: the
times ``find`` reports are the satellites'.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cloudsync_cli.main import main
from cloudsync_core.tracker import COMPLETED, from_item
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator, MiB, mp4gpmf
from cloudsync_local.simulator.mp4gpmf import (
    TrackSpec,
    add_photo_gps,
    add_track,
    samples_available,
)

from .harness import Stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not samples_available(),
                       reason="GoPro's GPMF samples (../shared/samples/gpmf) are not there"),
]
WRONG_CLOCK = "2016-01-01T00:00:00Z"  # a camera whose clock was never set
ZURICH = (47.3769, 8.5417)


@pytest.fixture(autouse=True)
def forget_telemetry_files() -> Iterator[None]:
    """Media ids repeat across simulators of one seed: no other test may see these bytes."""
    yield
    mp4gpmf.clear()


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def telemetry_library(sim: GoProSimulator) -> dict[str, str]:
    lib = sim.library
    media = {
        "lake": lib.add_video(size=2 * MiB, captured_at=WRONG_CLOCK, gpmf=True),
        "hill": lib.add_video(size=2 * MiB, chapters=2, captured_at=WRONG_CLOCK),
        "paris": lib.add_video(size=2 * MiB, captured_at=WRONG_CLOCK, gpmf=True),
        "photo": lib.add_photo(size=1 * MiB, captured_at=WRONG_CLOCK),
        "plain": lib.add_video(size=1 * MiB, captured_at="2024-06-05T09:00:00Z"),
    }
    add_track(lib.get(media["lake"]), TrackSpec(*ZURICH, when("2024-06-01T10:00:00Z"),
                                                seconds=8, speed_mps=5.0, camera="hero5"))
    # 2.6 km north-east of the lake; its two chapters split the track; no sidecar listed.
    add_track(lib.get(media["hill"]), TrackSpec(47.3950, 8.5650, when("2024-06-02T08:30:00Z"),
                                                seconds=6, speed_mps=3.0, heading_deg=0,
                                                camera="fusion"), sidecar=False)
    add_track(lib.get(media["paris"]), TrackSpec(48.8566, 2.3522, when("2024-06-01T15:00:00Z"),
                                                 seconds=4, camera="hero5"))
    add_photo_gps(lib.get(media["photo"]), 47.3700, 8.5500, when("2024-06-03T12:00:00Z"))
    return media  # "plain" has no telemetry at all: its index fails, its archive must not


@pytest.fixture
def stack(make_local_cloud: Callable[..., LocalCloud]) -> Iterator[Stack]:
    with GoProSimulator() as sim:
        cloud = make_local_cloud(gopro_api_url=sim.base_url)
        s = Stack(sim, cloud)
        s.login()
        yield s


def telemetry_of(stack: Stack) -> dict[str, dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName=stack.outputs["table"])["Items"]
    rows = [from_item(i) for i in items if not str(i["provider"]["S"]).startswith("#")]
    return {str(r["media_id"]): dict(r.get("telemetry") or {}) for r in rows}


def test_find_near_returns_exactly_the_media_shot_there_with_gps_times(
    stack: Stack, tmp_path: Path
) -> None:
    media = telemetry_library(stack.sim)
    stack.sync()
    rows = stack.rows()
    assert {rows[m].status for m in media.values()} == {COMPLETED}
    code, out, err = cli("index", "--rebuild", "--json")
    assert code == 1, err  # "plain" cannot be indexed: said, not hidden
    outcome = {r["media_id"]: r for r in json.loads(out)}
    assert {m: outcome[m]["status"] for m in media.values()} == {
        media["lake"]: "indexed", media["hill"]: "indexed", media["paris"]: "indexed",
        media["photo"]: "indexed", media["plain"]: "failed"}
    index = telemetry_of(stack)
    assert index[media["lake"]]["source"] == "gpmf-sidecar"
    assert index[media["hill"]]["source"] == "original"  # ranged reads of the archive
    assert index[media["plain"]]["error_type"] == "TelemetryError"
    assert stack.rows()[media["plain"]].status == COMPLETED

    code, out, err = cli("find", "--near", f"{ZURICH[0]},{ZURICH[1]}", "--radius", "5",
                         "--json", "--geojson", str(tmp_path / "tracks.geojson"))
    assert code == 0, err
    found = {f["media_id"]: f for f in json.loads(out)}
    assert set(found) == {media["lake"], media["hill"], media["photo"]}
    assert found[media["lake"]]["shot_at"] == "2024-06-01T10:00:00Z"
    assert found[media["hill"]]["shot_at"] == "2024-06-02T08:30:00Z"
    assert found[media["photo"]]["shot_at"] == "2024-06-03T12:00:00Z"
    assert found[media["lake"]]["start"] == pytest.approx(list(ZURICH), abs=1e-6)
    assert found[media["lake"]]["camera"] == "Camera"  # HERO5's DVNM
    assert found[media["hill"]]["camera"] == "Fusion"
    assert found[media["lake"]]["distance_m"] == pytest.approx(35.0, abs=3.0)  # 7 s at 5 m/s
    assert found[media["hill"]]["distance_m"] == pytest.approx(15.0, abs=3.0)  # both chapters
    assert found[media["lake"]]["max_speed_mps"] == pytest.approx(5.0, abs=1e-3)
    assert found[media["hill"]]["max_speed_mps"] == pytest.approx(3.0, abs=1e-3)

    features = json.loads((tmp_path / "tracks.geojson").read_text())["features"]
    lines = {f["properties"]["media_id"]: f["geometry"] for f in features}
    assert lines[media["lake"]]["type"] == "LineString"
    assert lines[media["lake"]]["coordinates"][0] == pytest.approx([ZURICH[1], ZURICH[0]],
                                                                   abs=1e-6)
    assert lines[media["photo"]]["type"] == "Point"

    code, out, _ = cli("find", "--near", f"{ZURICH[0]},{ZURICH[1]}", "--radius", "1", "--json")
    assert {f["media_id"] for f in json.loads(out)} == {media["lake"], media["photo"]}
    code, out, _ = cli("find", "--from", "2024-06-02", "--to", "2024-06-02", "--json")
    assert [f["media_id"] for f in json.loads(out)] == [media["hill"]]
    code, out, _ = cli("find", "--camera", "fusion", "--json")
    assert [f["media_id"] for f in json.loads(out)] == [media["hill"]]
    code, out, _ = cli("find", "--type", "Photo", "--near", "48.8566,2.3522", "--json")
    assert json.loads(out) == []
    code, out, _ = cli("find", "--near", "48.8566,2.3522")
    assert code == 0 and media["paris"] in out and "2024-06-01 15:00:00" in out
    code, out, _ = cli("find", "--near", f"{ZURICH[0]},{ZURICH[1]}", "--radius", "5")
    assert code == 0 and out.count("\n") == 2 + 3 + 1 and "2024-06-02 08:30:00" in out
    print(out)  # the README's example

    code, out, _ = cli("verify", "--json")
    assert code == 0, out  # _meta/telemetry.json is not an unrecorded original


def test_the_workflow_indexes_what_it_archived_and_an_index_crash_fails_nothing(
    make_local_cloud: Callable[..., LocalCloud],
) -> None:
    from cloudsync_handlers.index import handler as real_index

    crashed: list[str] = []
    with GoProSimulator() as sim:
        lib = sim.library
        lake = lib.add_video(size=2 * MiB, captured_at=WRONG_CLOCK, gpmf=True)
        photo = lib.add_photo(size=1 * MiB, captured_at=WRONG_CLOCK)
        add_track(lib.get(lake), TrackSpec(*ZURICH, when("2024-06-01T10:00:00Z"), seconds=3))
        add_photo_gps(lib.get(photo), 47.3700, 8.5500, when("2024-06-03T12:00:00Z"))

        def index_crashing_once_on_the_photo(event: dict[str, Any], context: Any) -> Any:
            if event["media_id"] == photo and not crashed:
                crashed.append(photo)
                raise RuntimeError("the index function died")
            return real_index(event, context)

        cloud = make_local_cloud(gopro_api_url=sim.base_url,
                                 handlers={"index": index_crashing_once_on_the_photo})
        stack = Stack(sim, cloud)
        stack.login()
        run = stack.sync()
        rows = stack.rows()
        assert rows[lake].status == COMPLETED and rows[photo].status == COMPLETED
        assert crashed == [photo]
        run_record = stack.tracker.get_run(run["run_id"])
        assert run_record is not None and run_record.failed == 0
        index = telemetry_of(stack)
        assert index[lake]["status"] == "indexed"  # by the workflow, right after archiving
        assert index[lake]["first_fix_utc"] == "2024-06-01T10:00:00Z"
        assert index[photo] == {}  # the crash left no index, and no failure

        code, out, err = cli("index")  # catches up on what is not indexed: the photo only
        assert code == 0, err
        assert "Indexed 1 media: 1 with GPS" in out
        assert telemetry_of(stack)[photo]["first_fix_utc"] == "2024-06-03T12:00:00Z"
