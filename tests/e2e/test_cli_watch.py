"""Watching a run by the byte, and coming back to it: ``sync --wait``, Ctrl-C, ``watch``.

The tests share one local cloud, in file order (a failed medium would be re-queued by any later
``sync``, so the test that leaves one runs last).

The simulator's CDN is rate-limited so a medium takes seconds; parts are the smallest S3 allows
and go one at a time, so the parts already stored show before the medium finishes.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cloudsync_cli.main import main
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator, MiB

from .conftest import FAST_RETRY

pytestmark = pytest.mark.e2e

SLOW = {"CLOUDSYNC_PART_SIZE_MIB": "5", "CLOUDSYNC_PARALLEL_RANGES": "1"}


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[GoProSimulator]:
    with GoProSimulator(cdn_rate_limit_bytes_per_s=4 * MiB) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def cloud(slow_sim: GoProSimulator) -> Iterator[LocalCloud]:
    """One local cloud for the module (starting one takes seconds); each test adds its media."""
    with LocalCloud(gopro_api_url=slow_sim.base_url, settings=SLOW, retry=FAST_RETRY) as local:
        login(slow_sim)
        yield local


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def login(sim: GoProSimulator) -> None:
    tokens = sim.issue_tokens()
    code, _, err = cli("login", "--no-check", "--access-token", str(tokens["access_token"]),
                       "--refresh-token", str(tokens["refresh_token"]), "--expires-in", "3600")
    assert code == 0, err


def events(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_interrupted_watch_leaves_the_run_going_and_is_followed_again(
    slow_sim: GoProSimulator, cloud: LocalCloud
) -> None:
    videos = [slow_sim.library.add_video(size=10 * MiB) for _ in range(2)]
    command = [sys.executable, "-m", "cloudsync_cli.main", "--endpoint-url", cloud.endpoint_url,
               "sync", "--wait", "--every", "0.2"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=dict(os.environ))
    assert child.stderr is not None
    deadline = time.monotonic() + 20
    line = ""
    while "in flight" not in line and time.monotonic() < deadline:
        line = child.stderr.readline()  # the first progress line: the run is under way
    child.send_signal(signal.SIGINT)
    _, rest = child.communicate(timeout=20)
    assert child.returncode == 130
    run_id = rest.strip().splitlines()[-1].split("run ")[1].split(" ")[0]
    assert f"goes on in the cloud. Watch it again with `cloudsync watch {run_id}`" in rest

    code, out, err = cli("sync", "--wait")  # nothing new: it follows the run in flight
    assert code == 0, err
    assert f"nothing new, but run {run_id} is still in flight" in out
    assert "archived:          2" in out and f"Run {run_id} finished: 2 archived" in err

    code, out, _ = cli("watch", run_id, "--json")
    document = json.loads(out)
    assert code == 0 and document["ok"] is True and document["run"]["completed"] == 2
    assert set(videos) <= {r.media_id for r in cloud_rows(cloud)}


def test_bytes_rise_before_the_medium_finishes_and_failures_count_as_failures(
    slow_sim: GoProSimulator, cloud: LocalCloud
) -> None:
    slow_sim.library.add_video(size=10 * MiB)
    broken = slow_sim.library.add_video(size=1 * MiB)
    slow_sim.faults.add("error", "download", count=None, media_id=broken, status=400)

    code, out, err = cli("sync", "--wait", "--json")

    assert code == 1
    seen = events(err)
    during = [e for e in seen if e["event"] == "progress" and e["archived"] == 0]
    assert any(0 < e["bytes"] < 10 * MiB and e["in_flight"] >= 1 for e in during), seen
    assert [e["media"] for e in seen if e["event"] == "failed"] == [f"gopro/{broken}"]
    end = seen[-1]
    assert end["event"] == "end" and end["archived"] == 1 and end["failed"] == 1
    assert end["bytes"] == 10 * MiB and "FAILED: 1 archived, 1 FAILED of 2 media" in end["text"]
    assert [m["media_id"] for m in json.loads(out)["failed_media"]] == [broken]


def cloud_rows(cloud: LocalCloud) -> list[Any]:
    from cloudsync_core.tracker import COMPLETED, Tracker

    tracker = Tracker(cloud.client("dynamodb"), cloud.outputs()["table"])
    return list(tracker.by_status("gopro", COMPLETED))
