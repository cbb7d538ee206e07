"""A library shaped like real GoPro libraries, through the real workflow in the local cloud.

Every kind of medium gopro-api.md describes: chapters (GX, MAX GS .360, HERO5 GOPR/GP), edits
(baked_source, filename ""), edit projects and share renders (not media), a 40-frame time-lapse
of numbered sources, a RAW burst, a medium without source, an ``available: false`` duplicate,
gpmf sidecars, bursts with covers; ids of 13 mixed-case characters and some 24 hex.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from cloudsync_core.services import services
from cloudsync_core.tracker import COMPLETED, DELETED_AT_SOURCE, FAILED, SKIPPED
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator, KiB, MiB

from .harness import Stack

pytestmark = pytest.mark.e2e


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


def real_library(sim: GoProSimulator) -> dict[str, str]:
    lib = sim.library
    return {
        "video_gpmf": lib.add_video(filename="GX010001.MP4", size=1 * MiB, gpmf=True),
        "chaptered": lib.add_video(filename="GX010639.MP4", size=6 * MiB + 3, chapters=3),
        "max360": lib.add_video(filename="GS010045.360", size=1 * MiB, chapters=2,
                                file_type="360", camera_model="GoPro Max"),
        "hero5": lib.add_video(filename="GOPR0123.MP4", size=1 * MiB, chapters=2),
        "unavailable": lib.add_video(filename="GX010002.MP4", size=512 * KiB,
                                     unavailable_duplicate=True),
        "edit": lib.add_edit(size=512 * KiB),
        "timelapse": lib.add_timelapse(frames=40, frame_size=8 * KiB, filename="G0010001.JPG"),
        "raw_burst": lib.add_burst(frames=4, frame_size=32 * KiB, raw_size=64 * KiB,
                                   filename="G0070001.JPG"),
        "raw_photo": lib.add_photo(raw=True, size=128 * KiB, raw_size=256 * KiB,
                                   filename="GOPR0042.JPG"),
        "no_source": lib.add_no_source(size=512 * KiB),
        "burst": lib.add_burst(frames=5, frame_size=32 * KiB),
        "project": lib.add_edit_project(),
        "render": lib.add_video(filename="GX010003.MP4", size=256 * KiB, composition="export"),
    }


def names(stack: Stack, media_id: str) -> set[str]:
    return {o["key"].rsplit("/", 1)[1] for o in stack.objects(media_id)}


def test_every_shape_is_archived_once_and_what_is_not_media_is_skipped(stack: Stack) -> None:
    media = real_library(stack.sim)
    assert sum(len(m) == 13 for m in media.values()) >= 8  # the real id shape, mixed case
    assert any(len(m) == 24 for m in media.values())
    # A CDN 404 once on a probe and once on a transfer GET: a fresh link, not a deletion.
    stack.sim.faults.add("not_found", "cdn_get", media_id=media["video_gpmf"], count=1)
    stack.sim.faults.add("not_found", "cdn_get", media_id=media["chaptered"], count=1, after=3)
    report = stack.sync()
    # the share render: left out by the stack's selection (includeRenders false), never queued
    assert report["new"] == len(media) - 1
    assert report["left_out"] == {"a share render (includeRenders is false)": 1}

    rows = stack.rows()
    assert media["render"] not in rows
    skipped = {media["project"]}
    for name, media_id in media.items():
        if name == "render":
            continue
        row = rows[media_id]
        if media_id in skipped:
            assert row.status == SKIPPED, (name, row)
            assert stack.objects(media_id) == []
        else:
            assert row.status == COMPLETED, (name, row)
            stack.assert_archived_exactly(media_id)  # every original once, byte-exact
            # GoPro's own checksum: every file here carries an ETag that proves it
            assert [o.get("origin") for o in row.objects] == ["match"] * len(row.objects), name
        assert row.failures == 0, name  # nothing spent of any retry budget
    assert "edit project" in (rows[media["project"]].error_message or "")
    assert stack.sim.stats["fault_not_found"] == 2

    assert names(stack, media["chaptered"]) == {"GX010639.MP4", "GX020639.MP4", "GX030639.MP4"}
    assert names(stack, media["max360"]) == {"GS010045.360", "GS020045.360"}
    assert names(stack, media["hero5"]) == {"GOPR0123.MP4", "GP010123.MP4"}
    assert names(stack, media["edit"]) == {f"{media['edit']}.mp4"}
    assert names(stack, media["raw_photo"]) == {"GOPR0042.JPG", "GOPR0042.GPR"}
    assert names(stack, media["raw_burst"]) == {
        f"G0070001-{n:04d}.{ext}" for n in range(1, 5) for ext in ("JPG", "GPR")}
    assert len(names(stack, media["timelapse"])) == 40
    assert stack.incomplete_uploads() == []
    assert stack.cloud.messages() == []  # nothing failed: no alert

    run = stack.tracker.get_run(report["run_id"])
    assert run is not None and run.done
    assert (run.completed, run.failed, run.skipped_media, run.deleted) == (
        len(media) - 2, 0, 1, 0)

    served = stack.sim.stats["bytes_served"]
    writes: list[str] = []
    services().dynamodb.meta.events.register(
        "before-call.dynamodb.*",
        lambda model, **_: writes.append(model.name) if model.name in (
            "PutItem", "UpdateItem", "TransactWriteItems", "BatchWriteItem", "DeleteItem"
        ) else None,
    )
    again = stack.sync()
    assert (again["new"], again["requeued"], again["queued"]) == (0, 0, 0)
    assert stack.sim.stats["bytes_served"] == served  # a second sync moves nothing
    assert writes == []  # and writes nothing: skipped media stay skipped


def test_only_the_api_says_deleted_and_a_listed_medium_is_asked_again(stack: Stack) -> None:
    lib = stack.sim.library
    flaky = lib.add_video(filename="GX010011.MP4", size=512 * KiB)
    gone = lib.add_video(filename="GX010012.MP4", size=512 * KiB)
    # the CDN refuses every link of `flaky` twice over: refreshed, retried, never "deleted"
    stack.sim.faults.add("not_found", "cdn_get", media_id=flaky, count=2)
    stack.sim.faults.add("not_found", "download", media_id=gone, count=1)  # the API says gone
    stack.sync()
    rows = stack.rows()
    assert rows[flaky].status == COMPLETED and rows[flaky].failures == 0
    stack.assert_archived_exactly(flaky)
    assert rows[gone].status == DELETED_AT_SOURCE and stack.objects(gone) == []

    # still listed: the next run asks the API again, which now serves it
    report = stack.sync()
    assert report["requeued"] == 1
    row = stack.rows()[gone]
    assert row.status == COMPLETED
    stack.assert_archived_exactly(gone)


def test_an_incomplete_answer_is_never_completed_and_the_next_run_looks_again(
    stack: Stack,
) -> None:
    lib = stack.sim.library
    media_id = lib.add_video(filename="GX010020.MP4", size=3 * MiB, chapters=3)
    medium = lib.get(media_id)
    third = medium.variations.pop(2)  # chapter 3 not in the answer yet (item_count says 3)
    assert third.file_id == "source-3"
    stack.sync()
    row = stack.rows()[media_id]
    assert row.status == FAILED and row.error_type == "IncompleteMediumError"
    assert "2 of the 3 items" in (row.error_message or "")
    assert stack.objects(media_id) == []
    assert stack.incomplete_uploads() == []

    medium.variations.insert(2, third)
    stack.sync()
    assert stack.rows()[media_id].status == COMPLETED
    stack.assert_archived_exactly(media_id)
