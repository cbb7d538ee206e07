"""``cloudsync find``'s matching rules, on tracker rows as the index writes them."""

from __future__ import annotations

from typing import Any

import pytest

from cloudsync_cli.commands import find
from cloudsync_cli.main import parse

ROW: dict[str, Any] = {
    "media_id": "A1", "media_type": "Video", "filename": "GX010001.MP4",
    "captured_at": "2016-01-01T00:00:00Z",  # the camera clock: wrong
    "telemetry": {"has_gps": True, "camera": "HERO11 Black", "first_fix_utc":
                  "2024-06-01T23:30:00Z", "start": [47.0, 8.0], "end": [47.01, 8.0],
                  "bbox": [47.0, 8.0, 47.01, 8.0], "distance_m": 1112.0, "max_speed_mps": 4.0},
}


def args(*argv: str) -> Any:
    return parse(["find", *argv])


def test_near_uses_the_tracks_box_not_only_its_start() -> None:
    # 1.1 km north of the start, but on the track's end: inside a 0.2 km radius
    found = find.match(ROW, args("--near", "47.01,8.0", "--radius", "0.2"))
    assert found is not None and found.distance_km == pytest.approx(0.0, abs=1e-6)
    assert find.match(ROW, args("--near", "47.03,8.0", "--radius", "1")) is None
    assert find.match(ROW, args("--near", "47.03,8.0", "--radius", "2.5")) is not None


def test_times_are_the_gps_ones_and_a_date_means_the_whole_day() -> None:
    assert find.match(ROW, args("--from", "2024-06-01", "--to", "2024-06-01")) is not None
    assert find.match(ROW, args("--to", "2024-06-01T23:00:00Z")) is None
    assert find.match(ROW, args("--from", "2024-06-02")) is None
    assert find.match(ROW, args("--to", "2016-01-02")) is None  # not the camera clock


def test_camera_type_and_media_without_gps() -> None:
    assert find.match(ROW, args("--camera", "hero11")) is not None
    assert find.match(ROW, args("--camera", "max")) is None
    assert find.match(ROW, args("--type", "photo")) is None
    no_gps = {**ROW, "telemetry": {"has_gps": False, "camera": "HERO9 Black"}}
    assert find.match(no_gps, args("--near", "47.0,8.0", "--radius", "100")) is None
    listed = find.match(no_gps, args("--from", "2015-12-31"))
    assert listed is not None and listed.shot_at == "2016-01-01T00:00:00Z"
    assert listed.as_dict()["time_source"] == "camera"


def test_bad_points_are_usage_errors() -> None:
    with pytest.raises(SystemExit):
        parse(["find", "--near", "91,0"])
    with pytest.raises(SystemExit):
        parse(["find", "--near", "north"])
