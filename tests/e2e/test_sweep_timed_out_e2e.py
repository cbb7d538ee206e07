"""A TIMED_OUT execution, end to end: `cloudsync status` sees it, the next run sweeps it, archives
the medium, counts the timeout in the run it left and says so in that run's summary."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from cloudsync_core.tracker import COMPLETED, to_item
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator, MiB

from .harness import Stack
from .test_cli_local import cli

pytestmark = pytest.mark.e2e
CLAIMED = "2026-01-01T00:00:00.000Z"  # long past any execution's 300 s


def test_a_timed_out_execution_is_seen_swept_counted_and_archived(
    make_local_cloud: Callable[..., LocalCloud],
) -> None:
    with GoProSimulator() as sim:
        stack = Stack(sim, make_local_cloud(gopro_api_url=sim.base_url))
        stack.login()
        media_id = sim.library.add_video(filename="GX010700.MP4", size=2 * MiB,
                                         captured_at="2025-11-10T14:23:00Z")
        # What Step Functions leaves when an Express execution hits TimeoutSeconds: no Catch
        # ran, so the row is still claimed, its slot held, its run waiting for it.
        db, table = stack.client("dynamodb"), stack.outputs["table"]
        db.put_item(TableName=table, Item=to_item({
            "provider": "gopro", "media_id": media_id, "status": "IN_PROGRESS",
            "provider_status": "gopro#IN_PROGRESS", "status_changed_at": CLAIMED,
            "claimed_at": CLAIMED, "run_id": "timed-out-run", "wake": 1, "attempt": 1,
            "failures": 0, "filename": "GX010700.MP4", "media_type": "Video",
            "captured_at": "2025-11-10T14:23:00+00:00"}))
        db.put_item(TableName=table, Item=to_item({
            "provider": "#run", "media_id": "timed-out-run", "run_provider": "gopro",
            "provider_status": "#run", "status_changed_at": CLAIMED, "trigger": "schedule",
            "queued": 1, "listing": False, "started_at": CLAIMED}))
        stack.tracker.ensure_slot_row()
        db.update_item(TableName=table,
                       Key=to_item({"provider": "#slots", "media_id": "transfers"}),
                       UpdateExpression="SET holders.#h = :v",
                       ExpressionAttributeNames={"#h": f"gopro/{media_id}"},
                       ExpressionAttributeValues=to_item({":v": f"{CLAIMED}|timed-out"}))

        code, out, _ = cli("status")
        assert code == 0 and "Timed out (their executions hit the time limit" in out
        assert f"gopro/{media_id}" in out.split("Timed out", 1)[1]

        code, out, err = cli("sync", "--wait", "--json")
        assert code == 0, err
        document = json.loads(out)
        assert document["listing"]["timed_out"] == 1 and document["listing"]["swept_slots"] == 1
        row = stack.rows()[media_id]
        assert row.status == COMPLETED and row.failures == 1
        stack.assert_archived_exactly(media_id)
        assert stack.tracker.slot_holders() == {}

        left = stack.tracker.get_run("timed-out-run")
        assert left is not None and (left.timed_out, left.moved, left.notified) == (1, 1, True)
        messages = stack.cloud.messages(wait_s=5)
        assert [m["Subject"] for m in messages] == ["GoPro Sync Complete"]
        assert "Execution: timed-out-run" in messages[0]["Message"]
        assert "Timed out: 1 workflow execution(s)" in messages[0]["Message"]

        code, out, _ = cli("status", "--json")
        runs = {r["run_id"]: r for r in json.loads(out)["recent_runs"]}
        assert runs["timed-out-run"]["timed_out"] == 1
        assert json.loads(out)["timed_out_unswept"] == []
        code, out, _ = cli("status")
        assert "Run timed-out-run: 1 execution(s) timed out (swept later)" in out
