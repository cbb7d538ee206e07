"""``sync --wait`` tells the truth about media a later run took over ("moved").

A run whose QUEUED media a later run swept up closes with ``moved`` counted; before, the CLI
exited 0 saying "archived 1" of 3 queued and never showed the other two.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cloudsync_cli import main as cli
from cloudsync_cli.commands import sync
from cloudsync_cli.context import Context
from cloudsync_cli.stack import Aws, Target
from cloudsync_core import schema
from cloudsync_core.tracker import QUEUED, to_item
from cloudsync_defs.table import create_table_request

REGION = "us-east-1"
TABLE = "cloudsync-test-tracker"
OUTPUTS = {"stack": "test", "region": REGION, "table": TABLE, "bucket": "b", "secret_id": "s",
           "list_function": "cloudsync-test-list", "topic_arn": "arn:aws:sns:us-east-1:1:t"}


@pytest.fixture
def ctx(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(**create_table_request(TABLE))
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/cloudsync/test/outputs", Type="String", Value=json.dumps(OUTPUTS))
        context = Context(Aws(Target(None, REGION, None, "test")), None, out=io.StringIO(),
                          err=io.StringIO(), poll_s=0.01)
        answer = {"run_id": "r1", "queued": 3, "listed": 3, "new": 3, "provider": "gopro"}

        class Lambda:
            def invoke(self, **kwargs: Any) -> dict[str, Any]:
                return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}

        monkeypatch.setattr(context.aws, "lambda_", lambda read_timeout=330: Lambda())
        yield context


def _db() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def _row(media_id: str, status: str, run_id: str, **attrs: Any) -> None:
    _db().put_item(TableName=TABLE, Item=to_item({
        schema.PARTITION_KEY: "gopro", schema.SORT_KEY: media_id, "status": status,
        schema.STATUS_INDEX_PARTITION: f"gopro#{status}",
        schema.STATUS_INDEX_SORT: "2026-11-30T02:00:00.000Z", "wake": 1, "run_id": run_id,
        "filename": f"{media_id}.MP4", **attrs,
    }))


def _count(run_id: str, **counts: int) -> None:
    names = {f"#{k}": k for k in counts}
    _db().update_item(
        TableName=TABLE, Key=to_item({"provider": "#run", "media_id": run_id}),
        UpdateExpression="ADD " + ", ".join(f"#{k} :{k}" for k in counts),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=to_item({f":{k}": v for k, v in counts.items()}),
    )


def _two_media_move_to_a_later_run(ctx: Context) -> None:
    """r1 queues three; one is archived there, two wait QUEUED; run r2 sweeps them up."""
    tracker = ctx.tracker
    tracker.start_run("r1", "gopro", "cli")
    tracker.end_listing("r1", queued=3)
    _count("r1", completed=1)
    for media_id in ("m2", "m3"):
        _row(media_id, QUEUED, "r1")
    tracker.start_run("r2", "gopro", "schedule")
    for media_id in ("m2", "m3"):
        row = tracker.get("gopro", media_id)
        assert row is not None and tracker.requeue(row, "r2")
    tracker.end_listing("r2", queued=2)


def test_moved_media_are_followed_into_the_later_run(ctx: Context) -> None:
    _two_media_move_to_a_later_run(ctx)
    _count("r2", completed=1, failed=1)
    _row("m3", "FAILED", "r2", error_type="SizeMismatchError", error_message="short")
    assert sync.run(cli.parse(["sync", "--wait", "--json"]), ctx) == 1
    assert isinstance(ctx.out, io.StringIO)
    document = json.loads(ctx.out.getvalue())
    assert (document["run"]["completed"], document["run"]["moved"]) == (1, 2)
    assert [r["run_id"] for r in document["moved_to_runs"]] == ["r2"]
    assert [m["media_id"] for m in document["failed_media"]] == ["m3"]
    assert document["ok"] is False


def test_moved_media_archived_later_make_a_clean_exit_that_says_so(ctx: Context) -> None:
    _two_media_move_to_a_later_run(ctx)
    _count("r2", completed=2)
    assert sync.run(cli.parse(["sync", "--wait"]), ctx) == 0
    assert isinstance(ctx.out, io.StringIO)
    text = ctx.out.getvalue()
    assert "moved to a later run: 2 (taken over by run r2" in text
    assert "Media of run r1 moved to run r2, followed there:" in text


def test_media_moved_where_they_cannot_be_followed_fail_the_wait(ctx: Context) -> None:
    ctx.tracker.start_run("r1", "gopro", "cli")
    ctx.tracker.end_listing("r1", queued=3)
    _count("r1", completed=1, moved=2)  # parked for the next run (no run to follow yet)
    assert sync.run(cli.parse(["sync", "--wait"]), ctx) == 1
    assert isinstance(ctx.out, io.StringIO)
    assert "2 media left the run unfinished and could not be followed" in ctx.out.getvalue()
