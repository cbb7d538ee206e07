"""GoPro's own checksum end to end, and sources that change, drip or lie, through the real
workflow: the simulator's CDN serves S3-style ETags and the CDN-side faults."""

from __future__ import annotations

import io
import json
import time
import zlib
from collections.abc import Callable, Iterator

import pytest

from cloudsync_cli.main import main
from cloudsync_core.sync import transfer_step
from cloudsync_core.tracker import COMPLETED, FAILED
from cloudsync_core.transfer import SourceReadPolicy
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator
from cloudsync_local.simulator.library import SimFile

from .harness import Stack

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024


@pytest.fixture
def stack(make_local_cloud: Callable[..., LocalCloud]) -> Iterator[Stack]:
    with GoProSimulator() as sim:
        cloud = make_local_cloud(
            gopro_api_url=sim.base_url,
            settings={"CLOUDSYNC_PART_SIZE_MIB": "5", "CLOUDSYNC_PARALLEL_RANGES": "4"},
        )
        s = Stack(sim, cloud)
        s.login()
        yield s


def _only(sim: GoProSimulator, media_id: str) -> SimFile:
    (f,) = sim.library.originals(media_id)
    return f


def _verdicts(stack: Stack, media_id: str) -> list[tuple[str, str | None]]:
    row = stack.rows()[media_id]
    return [(str(o.get("origin")), o.get("origin_why")) for o in row.objects]


def test_every_file_whose_etag_allows_it_is_proven_against_gopros_checksum(
    stack: Stack,
) -> None:
    sim, lib = stack.sim, stack.sim.library
    media = {
        "aligned": lib.add_video(size=31 * MiB + 5),  # 7 origin parts of 5 MiB: unambiguous
        "guessed": lib.add_video(size=13 * MiB),  # 3 parts: 5 or 6 MiB fit, 5 is guessed
        "chapters": lib.add_video(size=12 * MiB, chapters=2),  # 2 x 6 MiB: 2 parts each
        "small": lib.add_video(size=3 * MiB),  # a single PUT: plain MD5
        "burst": lib.add_burst(frames=3, frame_size=200 * 1024),
        "no_etag": lib.add_video(size=7 * MiB),
        "opaque": lib.add_video(size=2 * MiB),
    }
    sim.origin.set_style(media["no_etag"], _only(sim, media["no_etag"]).file_id, "none")
    sim.origin.set_style(media["opaque"], _only(sim, media["opaque"]).file_id, "opaque")
    report = stack.sync()

    rows = stack.rows()
    assert {name: rows[m].status for name, m in media.items()} == dict.fromkeys(media, COMPLETED)
    for media_id in media.values():
        stack.assert_archived_exactly(media_id)
    for name in ("aligned", "guessed", "chapters", "small", "burst"):
        assert {v for v, _ in _verdicts(stack, media[name])} == {"match"}, name
    assert _verdicts(stack, media["no_etag"]) == [("unknown", "the source sent no ETag")]
    assert _verdicts(stack, media["opaque"]) == [
        ("unknown", "the ETag is not an S3 MD5 checksum")]
    for name, media_id in media.items():  # the verdict travels with the object
        for obj in stack.objects(media_id):
            want = "unknown" if name in ("no_etag", "opaque") else "match"
            assert obj["metadata"]["origin-check"] in (want, "pending"), name
            if obj["metadata"]["origin-check"] == "pending":  # decided after completion
                assert obj["tags"]["OriginCheck"] == want, name
    (guessed,) = stack.objects(media["guessed"])
    assert guessed["tags"]["OriginCheck"] == "match"
    run = stack.tracker.get_run(report["run_id"])
    assert run is not None and (run.origin_match, run.origin_unknown) == (1 + 1 + 2 + 1 + 3, 2)
    assert stack.incomplete_uploads() == []
    out, err = io.StringIO(), io.StringIO()
    assert main(["verify"], out=out, err=err) == 0, err.getvalue()
    assert "GoPro's own checksum (origin ETag): 8 objects match, 2 could not be checked." in (
        out.getvalue())
    out = io.StringIO()
    assert main(["verify", "--json"], out=out, err=err) == 0
    assert json.loads(out.getvalue())["origin"] == {"match": 8, "unknown": 2, "unrecorded": 0}


def test_a_checksum_that_does_not_match_is_never_archived(stack: Stack) -> None:
    sim = stack.sim
    bad = sim.library.add_video(size=3 * MiB)
    good = sim.library.add_video(size=2 * MiB)
    sim.origin.set_style(bad, _only(sim, bad).file_id, "corrupt")
    stack.sync()
    rows = stack.rows()
    assert (rows[bad].status, rows[bad].error_type) == (FAILED, "OriginChecksumMismatchError")
    assert stack.objects(bad) == []  # nothing archived, let alone reported verified
    assert rows[good].status == COMPLETED
    assert stack.incomplete_uploads() == []


def test_a_file_changed_mid_transfer_is_archived_whole_in_its_new_version(
    stack: Stack,
) -> None:
    sim = stack.sim
    media_id = sim.library.add_video(size=31 * MiB + 5)  # 7 parts
    f = _only(sim, media_id)
    old = f.content()
    # the probe and two parts are read, then GoPro's copy changes (a new ETag)
    sim.faults.add("change", "cdn_get", media_id=media_id, after=3)
    stack.sync()
    assert sim.stats.snapshot().get("cdn_412", 0) >= 1  # the pinned reads were refused
    row = stack.rows()[media_id]
    assert row.status == COMPLETED
    new = sim.origin.content(f)
    assert new != old
    (stored,) = stack.objects(media_id)
    assert (stored["size"], stored["crc32"]) == (len(new), zlib.crc32(new))  # whole, not spliced
    assert _verdicts(stack, media_id) == [("match", None)]
    assert stack.incomplete_uploads() == []


def test_a_dripping_source_fails_typed_within_the_budget_and_is_archived_on_retry(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer_step, "SOURCE_POLICY", SourceReadPolicy(
        attempts=2, base_delay=0.01, max_delay=0.05, max_total_sleep=1.0, connect_timeout=2.0,
        read_timeout=1.0, min_rate=20 * MiB))
    sim = stack.sim
    media_id = sim.library.add_video(size=12 * MiB)
    # every body trickles, a byte every half second: no socket read ever times out
    drip = sim.faults.add("drip", "cdn_get", media_id=media_id, count=None, delay_s=0.5)
    began = time.monotonic()
    stack.sync()
    took = time.monotonic() - began
    row = stack.rows()[media_id]
    assert (row.status, row.error_type) == (FAILED, "SourceStalledError")
    assert took < 90  # bounded by the reads' bounds, far inside the execution's 5 minutes
    sim.faults.remove(drip.id)
    stack.sync()
    assert stack.rows()[media_id].status == COMPLETED
    stack.assert_archived_exactly(media_id)
    assert stack.incomplete_uploads() == []
