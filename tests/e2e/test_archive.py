"""The whole system on one machine: the real ASL in the local cloud, the real handlers, the
GoPro simulator as the source. Files are a few MiB (moto's S3 is the slow side here)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cloudsync_core.tracker import COMPLETED, DELETED_AT_SOURCE, FAILED
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator

from .harness import Stack

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024
NOV = datetime(2025, 11, 10, 14, 23, tzinfo=UTC)


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


def varied_library(sim: GoProSimulator) -> dict[str, str]:
    lib = sim.library
    return {
        "twin_a": lib.add_video(filename="GX010042.MP4", size=3 * MiB, captured_at=NOV),
        "twin_b": lib.add_video(filename="GX010042.MP4", size=2 * MiB, captured_at=NOV),
        "chaptered": lib.add_video(filename="GX010007.MP4", size=12 * MiB, chapters=3,
                                   captured_at=NOV),
        "big": lib.add_video(filename="GH010100.MP4", size=13 * MiB, captured_at=NOV),
        "burst": lib.add_burst(frames=5, frame_size=300 * 1024),
        "raw": lib.add_photo(raw=True, size=1 * MiB, raw_size=2 * MiB),
    }


def test_a_varied_library_is_archived_exactly_once(stack: Stack) -> None:
    media = varied_library(stack.sim)
    report = stack.sync()
    assert report["new"] == len(media)

    rows = stack.rows()
    assert {m: rows[m].status for m in media.values()} == {m: COMPLETED for m in media.values()}
    for media_id in media.values():
        stack.assert_archived_exactly(media_id)
    keys_a = {o["key"] for o in stack.objects(media["twin_a"])}
    keys_b = {o["key"] for o in stack.objects(media["twin_b"])}
    assert keys_a.isdisjoint(keys_b)  # same camera filename, two objects
    assert len(stack.objects(media["chaptered"])) == 3
    assert len(stack.objects(media["burst"])) == 5
    assert stack.incomplete_uploads() == []
    assert stack.cloud.messages() == []  # nothing failed: no alert

    run = stack.tracker.get_run(report["run_id"])
    assert run is not None and run.done and (run.completed, run.failed) == (len(media), 0)
    assert run.bytes == sum(f.size for m in media.values() for f in stack.sim.library.originals(m))


def test_listing_an_unchanged_library_again_writes_nothing(stack: Stack) -> None:
    varied_library(stack.sim)
    stack.sync()
    from cloudsync_core.services import services

    writes: list[str] = []
    services().dynamodb.meta.events.register(
        "before-call.dynamodb.*",
        lambda model, **_: writes.append(model.name) if model.name in (
            "PutItem", "UpdateItem", "TransactWriteItems", "BatchWriteItem", "DeleteItem"
        ) else None,
    )
    again = stack.sync()
    assert (again["new"], again["requeued"], again["queued"]) == (0, 0, 0)
    assert writes == []


def test_faults_at_the_source_recover_or_end_typed(stack: Stack) -> None:
    lib = stack.sim.library
    flaky = lib.add_video(filename="GX010001.MP4", size=11 * MiB, captured_at=NOV)
    reset = lib.add_video(filename="GX010002.MP4", size=6 * MiB, captured_at=NOV)
    no_range = lib.add_video(filename="GX010003.MP4", size=11 * MiB, captured_at=NOV)
    expired = lib.add_video(filename="GX010004.MP4", size=4 * MiB, captured_at=NOV)
    gone = lib.add_video(filename="GX010005.MP4", size=4 * MiB, captured_at=NOV)
    faults = stack.sim.faults
    faults.add("rate_limit", "search", count=1, retry_after=1)
    faults.add("overlap", "search", count=1)
    faults.add("rate_limit", "download", count=1, retry_after=1, retry_after_form="date")
    faults.add("error", "cdn_get", media_id=flaky, count=2, status=503)
    faults.add("reset", "cdn_get", media_id=reset, count=1)
    faults.add("truncate", "cdn_get", media_id=reset, count=1)
    faults.add("ignore_range", "cdn_get", media_id=no_range, count=None)
    faults.add("expired_link", "cdn_get", media_id=expired, count=1)
    faults.add("not_found", "download", media_id=gone, count=None)

    stack.sync()
    rows = stack.rows()
    for media_id in (flaky, reset, no_range, expired):
        assert rows[media_id].status == COMPLETED, rows[media_id]
        stack.assert_archived_exactly(media_id)
    assert rows[gone].status == DELETED_AT_SOURCE
    assert stack.incomplete_uploads() == []
    assert stack.cloud.messages() == []  # a medium deleted at the source is not a failure


def test_a_transient_failure_is_retried_by_the_workflow(stack: Stack) -> None:
    media_id = stack.sim.library.add_video(filename="GX010009.MP4", size=4 * MiB, captured_at=NOV)
    # More 503s than the engine's own retries: the step fails and the workflow's Retry runs it.
    stack.sim.faults.add("error", "cdn_get", media_id=media_id, count=5, status=503)
    stack.sync()
    row = stack.rows()[media_id]
    assert row.status == COMPLETED
    stack.assert_archived_exactly(media_id)


def test_a_permanent_failure_is_recorded_and_reported(stack: Stack) -> None:
    good = stack.sim.library.add_video(filename="GX010010.MP4", size=1 * MiB, captured_at=NOV)
    broken = stack.sim.library.add_item(
        {"id": "b" * 24, "filename": "GX010011.MP4", "type": "Video", "file_size": 100,
         "captured_at": "2025-11-10T10:00:00Z"},
        download={"filename": "GX010011.MP4", "_embedded": {"files": [], "variations": []}},
    )
    report = stack.sync()
    rows = stack.rows()
    assert rows[good].status == COMPLETED
    assert rows[broken].status == FAILED
    assert rows[broken].error_type == "InvalidMediaError"
    messages = stack.cloud.messages(wait_s=5)
    assert len(messages) == 1
    assert messages[0]["Subject"] == "GoPro Sync Partial Failure"
    text = messages[0]["Message"]
    assert "1 failures out of 2 videos" in text and report["run_id"] in text
    assert f"gopro/{broken}: InvalidMediaError" in text


def test_duplicate_deliveries_and_overlapping_runs_transfer_each_medium_once(
    stack: Stack,
) -> None:
    import threading

    media = [stack.sim.library.add_video(filename=f"GX01{i:04d}.MP4", size=6 * MiB,
                                         captured_at=NOV) for i in range(3)]
    results: list[Any] = []
    runs = [threading.Thread(target=lambda: results.append(
        stack.cloud.invoke("list", {"trigger": "test"}))) for _ in range(2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    # And a duplicated stream delivery: start the same medium's execution a second time.
    row = stack.tracker.get("gopro", media[0])
    assert row is not None
    stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.outputs["state_machine_arn"], name="duplicate-delivery",
        input=f'{{"provider": "gopro", "media_id": "{media[0]}", "wake": {row.wake}, '
              f'"run_id": "{row.run_id}", "correlation_id": "dup"}}',
    )
    stack.cloud.wait_idle(120)
    rows = stack.rows()
    served = stack.sim.stats["bytes_served"]
    for media_id in media:
        assert rows[media_id].status == COMPLETED
        stack.assert_archived_exactly(media_id)
        for obj in stack.objects(media_id):
            assert len(stack.versions(obj["key"])) == 1
    probes = 3  # prepare reads one byte of each file to learn its size and Range support
    assert served == 3 * 6 * MiB + probes  # not a byte fetched twice


def test_resync_re_archives_one_medium_as_a_new_version(stack: Stack) -> None:
    media_id = stack.sim.library.add_video(filename="GX010077.MP4", size=7 * MiB, captured_at=NOV)
    small = stack.sim.library.add_photo(size=1 * MiB)
    stack.sync()
    tracker = stack.tracker
    tracker.start_run("resync-1", "gopro", "resync")
    for m in (media_id, small):
        row = tracker.get("gopro", m)
        assert row is not None
        assert tracker.requeue(row, "resync-1", overwrite=True, reset_failures=True)
    tracker.end_listing("resync-1", queued=2)
    stack.cloud.wait_idle(120)
    for m in (media_id, small):
        row = tracker.get("gopro", m)
        assert row is not None and row.status == COMPLETED and not row.overwrite
        for obj in stack.objects(m):
            assert len(stack.versions(obj["key"])) == 2
        stack.assert_archived_exactly(m)
    run = tracker.get_run("resync-1")
    assert run is not None and run.done and run.completed == 2


def test_no_secret_reaches_a_log_line(stack: Stack, capfd: pytest.CaptureFixture[str]) -> None:
    creds = stack.login()
    stack.sim.library.add_video(filename="GX010099.MP4", size=2 * MiB, captured_at=NOV)
    stack.sim.faults.add("expired_link", "cdn_get", count=1)
    stack.sync()
    out, err = capfd.readouterr()
    assert out or err  # the handlers did log
    for secret in (creds.access_token, creds.refresh_token or "", "Signature="):
        assert secret not in out and secret not in err


def test_a_transfer_longer_than_the_time_budget_finishes_through_continuations(
    make_local_cloud: Callable[..., LocalCloud],
) -> None:
    # 2 MiB/s per connection and a 3 s budget: a 24 MiB file cannot finish in one execution.
    with GoProSimulator(cdn_rate_limit_bytes_per_s=2 * MiB) as sim:
        cloud = make_local_cloud(
            gopro_api_url=sim.base_url, time_budget_s=3,
            settings={"CLOUDSYNC_PART_SIZE_MIB": "5", "CLOUDSYNC_PARALLEL_RANGES": "2"},
        )
        stack = Stack(sim, cloud)
        stack.login()
        media_id = sim.library.add_video(filename="GX010500.MP4", size=24 * MiB, captured_at=NOV)
        from cloudsync_core.services import services

        uploaded: list[int] = []
        services().s3.meta.events.register(
            "provide-client-params.s3.UploadPart",
            lambda params, **_: uploaded.append(params["PartNumber"]),
        )
        stack.sync(timeout=180)
        row = stack.rows()[media_id]
        assert row.status == COMPLETED
        assert row.continuations >= 1
        stack.assert_archived_exactly(media_id)
        assert sorted(uploaded) == [1, 2, 3, 4, 5]  # no finished part was sent again
        assert stack.incomplete_uploads() == []


def test_a_crashed_executions_lease_expires_and_the_next_run_completes_it(stack: Stack) -> None:
    from cloudsync_core.tracker import to_item

    media_id = stack.sim.library.add_video(filename="GX010600.MP4", size=3 * MiB,
                                           captured_at=NOV)
    # What a crash (an execution timed out) leaves: the row claimed an hour ago, its transfer
    # slot still held, and its run waiting for it; a sibling failed for good in that run.
    db = stack.client("dynamodb")
    table = stack.outputs["table"]
    old = "2026-01-01T00:00:00.000Z"
    common = {"status_changed_at": old, "run_id": "crashed-run", "media_type": "Video",
              "captured_at": NOV.isoformat(), "wake": 1, "attempt": 1}
    db.put_item(TableName=table, Item=to_item({
        "provider": "gopro", "media_id": media_id, "status": "IN_PROGRESS",
        "provider_status": "gopro#IN_PROGRESS", "claimed_at": old, "failures": 0,
        "filename": "GX010600.MP4", **common}))
    db.put_item(TableName=table, Item=to_item({
        "provider": "gopro", "media_id": "f" * 24, "status": "FAILED",
        "provider_status": "gopro#FAILED", "failures": 3, "error_type": "SizeMismatchError",
        "filename": "GX010601.MP4", **common}))
    db.put_item(TableName=table, Item=to_item({
        "provider": "#run", "media_id": "crashed-run", "run_provider": "gopro",
        "queued": 2, "failed": 1, "listing": False, "started_at": old}))
    stack.tracker.ensure_slot_row()
    db.update_item(TableName=table, Key=to_item({"provider": "#slots", "media_id": "transfers"}),
                   UpdateExpression="SET holders.#h = :v",
                   ExpressionAttributeNames={"#h": f"gopro/{media_id}"},
                   ExpressionAttributeValues=to_item({":v": f"{old}|crashed"}))
    report = stack.sync()
    assert (report["requeued"], report["swept_slots"]) == (1, 1)
    row = stack.rows()[media_id]
    assert row.status == COMPLETED and row.run_id == report["run_id"]
    stack.assert_archived_exactly(media_id)
    assert stack.tracker.slot_holders() == {}
    # The crashed run closed once its stuck medium moved on, and reported its failure.
    crashed = stack.tracker.get_run("crashed-run")
    assert crashed is not None and crashed.done and crashed.notified
    messages = stack.cloud.messages(wait_s=5)
    assert [m["Subject"] for m in messages] == ["GoPro Sync Partial Failure"]
    assert "Execution: crashed-run" in messages[0]["Message"]
    assert f"gopro/{'f' * 24}: SizeMismatchError" in messages[0]["Message"]


def test_hostile_listings_never_crash_the_run_nor_escape_the_archive(stack: Stack) -> None:
    lib = stack.sim.library
    escape = lib.add_item({"id": "c" * 24, "filename": "../../x.MP4", "type": "Video",
                           "file_size": 4096, "captured_at": "2025-11-10T10:00:00Z"},
                          source_size=4096)
    unicode = lib.add_item({"id": "d" * 24, "filename": "Gipfel \u26f0 \u00dcberfahrt.MP4",
                            "type": "Video", "file_size": 2048,
                            "captured_at": "2025-11-11T10:00:00Z"}, source_size=2048)
    absurd = lib.add_item({"id": "e" * 24, "filename": 12345, "type": None,
                           "file_size": 10**30, "captured_at": "not a date"},
                          source_size=3000)
    lib.add_item({"id": None, "filename": "NOID.MP4"})
    lib.add_item({"id": "../../etc", "filename": "x.MP4"})
    report = stack.sync()
    assert report["skipped"] == 2
    rows = stack.rows()
    for media_id in (escape, unicode, absurd):
        assert rows[media_id].status == COMPLETED, rows[media_id]
        stack.assert_archived_exactly(media_id)
        for obj in stack.objects(media_id):
            assert obj["key"].startswith("gopro-videos/")
            assert ".." not in obj["key"].split("/")
    assert [o["key"] for o in stack.objects(escape)] == [f"gopro-videos/2025/11/{escape}/x.MP4"]
    assert stack.objects(absurd)[0]["key"].startswith(f"gopro-videos/undated/{absurd}/")


def test_at_most_the_stacks_bound_transfers_at_once_and_no_queued_medium_is_stranded(
    make_local_cloud: Callable[..., LocalCloud],
) -> None:
    import threading

    with GoProSimulator(cdn_rate_limit_bytes_per_s=8 * MiB) as sim:
        cloud = make_local_cloud(gopro_api_url=sim.base_url, max_concurrent_media=2,
                                 settings={"CLOUDSYNC_PART_SIZE_MIB": "5"})
        stack = Stack(sim, cloud)
        stack.login()
        media = [sim.library.add_video(filename=f"GX02{i:04d}.MP4", size=3 * MiB,
                                       captured_at=NOV) for i in range(6)]
        most = 0
        done = threading.Event()

        def watch() -> None:
            nonlocal most
            while not done.is_set():
                most = max(most, len(stack.tracker.slot_holders()))
                done.wait(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            stack.sync(timeout=180)
        finally:
            done.set()
            watcher.join()
        rows = stack.rows()
        assert [rows[m].status for m in media] == [COMPLETED] * len(media)
        assert most == 2  # the bound was reached and never passed
        assert stack.tracker.slot_holders() == {}
        assert list(stack.tracker.by_status("gopro", "QUEUED")) == []
