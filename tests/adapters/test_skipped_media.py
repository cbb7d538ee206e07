"""SKIPPED media in the tracker and the CLI: a terminal state with its reason, counted by the
run, shown apart from failures; a medium still listed after a deletion is asked again."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cloudsync_cli import main as cli
from cloudsync_cli.commands import status
from cloudsync_cli.context import Context
from cloudsync_cli.stack import Aws, Target
from cloudsync_core.models import ListFilters, MediaItem, SourceFile
from cloudsync_core.providers import CloudProvider, Page
from cloudsync_core.services import Services
from cloudsync_core.sync.listing import list_library
from cloudsync_core.tracker import DELETED_AT_SOURCE, IN_PROGRESS, PENDING, SKIPPED, Tracker
from cloudsync_defs.table import create_table_request

REGION = "us-east-1"
TABLE = "cloudsync-test-tracker"
OUTPUTS = {"stack": "test", "region": REGION, "table": TABLE, "bucket": "b", "secret_id": "s",
           "list_function": "cloudsync-test-list", "topic_arn": "arn:aws:sns:us-east-1:1:t"}


@pytest.fixture
def tracker(aws_credentials: None) -> Iterator[Tracker]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(**create_table_request(TABLE))
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/cloudsync/test/outputs", Type="String", Value=json.dumps(OUTPUTS))
        yield Tracker(client, TABLE, sleep=lambda _s: None)


def claim(tracker: Tracker, media_id: str, run_id: str, **facts: str) -> None:
    item = MediaItem("gopro", media_id, "", "MultiClipEdit", datetime(2024, 5, 1, tzinfo=UTC),
                     None, None, 1, facts=facts)
    assert tracker.add_pending(item, run_id)
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=TABLE, Key={"provider": {"S": "gopro"}, "media_id": {"S": media_id}},
        UpdateExpression="SET #s = :b", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":b": {"S": IN_PROGRESS}})


def test_skipped_is_terminal_counted_and_shown_apart_from_failures(tracker: Tracker) -> None:
    tracker.start_run("run-1", "gopro", "test")
    claim(tracker, "62NzWRrpPXm7o", "run-1", play_as="edl", user_created="true")
    row = tracker.get("gopro", "62NzWRrpPXm7o")
    assert row is not None and row.item_count == 1
    assert row.facts == {"play_as": "edl", "user_created": "true"}  # kept for the rule table
    tracker.end_listing("run-1", queued=1)
    assert tracker.finish("gopro", "62NzWRrpPXm7o", 1, SKIPPED, run_id="run-1",
                          error_type="NotMediaError", error_message="an edit project")
    row = tracker.get("gopro", "62NzWRrpPXm7o")
    assert row is not None and row.status == SKIPPED and row.failures == 0
    run = tracker.get_run("run-1")
    assert run is not None and run.skipped_media == 1 and run.failed == 0 and run.done
    assert [r.media_id for r in tracker.by_status("gopro", SKIPPED)] == ["62NzWRrpPXm7o"]

    ctx = Context(Aws(Target(None, REGION, None, "test")), None, out=io.StringIO(),
                  err=io.StringIO(), poll_s=0.01)
    assert status.run_failures(cli.parse(["failures"]), ctx) == 0
    text = ctx.out.getvalue()  # type: ignore[attr-defined]
    assert "1 skipped (not media to archive)" in text and "an edit project" in text
    assert "No failed media." in text
    ctx = Context(Aws(Target(None, REGION, None, "test")), None, out=io.StringIO(),
                  err=io.StringIO(), poll_s=0.01)
    assert status.run_status(cli.parse(["status", "--json"]), ctx) == 0
    doc = json.loads(ctx.out.getvalue())  # type: ignore[attr-defined]
    assert doc["counts"]["gopro"][SKIPPED] == 1
    assert doc["recent_runs"][0]["skipped_media"] == 1


class OneListed(CloudProvider):
    """A source whose listing still shows ``gone1`` (a stale index, or a CDN hiccup earlier)."""

    name = "gopro"

    def __init__(self, *items: MediaItem) -> None:
        super().__init__()
        self.items = list(items) or [MediaItem("gopro", "gone1", "x.MP4", "Video", None, None,
                                               10)]

    def fetch_pages(self, filters: ListFilters) -> Iterator[Page]:
        yield Page(number=1, items=self.items, returned=len(self.items), total_pages=1)

    def originals(self, media_id: str, media_type: str | None = None) -> list[SourceFile]:
        raise AssertionError("the lister never reads originals")

    def account(self) -> dict[str, Any]:
        return {}


def test_a_deleted_medium_still_listed_is_queued_again(
    tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker.start_run("run-1", "gopro", "test")
    claim(tracker, "gone1", "run-1")
    claim(tracker, "gone2", "run-1")
    for media_id in ("gone1", "gone2"):
        assert tracker.finish("gopro", media_id, 1, DELETED_AT_SOURCE, run_id="run-1")

    monkeypatch.setenv("CLOUDSYNC_TABLE", TABLE)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    report = list_library(Services.from_env(), OneListed(), trigger="test")
    assert report.requeued == 1 and report.new == 0
    again = tracker.get("gopro", "gone1")
    assert again is not None and again.status == PENDING and again.wake == 2
    still = tracker.get("gopro", "gone2")  # not listed any more: deleted it stays
    assert still is not None and still.status == DELETED_AT_SOURCE


def test_a_retried_medium_is_judged_by_todays_listing(
    tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker.start_run("run-1", "gopro", "test")
    claim(tracker, "lapse", "run-1")
    claim(tracker, "done", "run-1")
    assert tracker.finish("gopro", "lapse", 1, "FAILED", run_id="run-1",
                          error_type="IncompleteMediumError")
    assert tracker.finish("gopro", "done", 1, "COMPLETED", run_id="run-1")
    now = [MediaItem("gopro", m, "G1.JPG", "TimeLapse", None, None, 4000, 40,
                     facts={"user_created": "false"}) for m in ("lapse", "done")]
    monkeypatch.setenv("CLOUDSYNC_TABLE", TABLE)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    list_library(Services.from_env(), OneListed(*now), trigger="test")
    lapse, done = tracker.get("gopro", "lapse"), tracker.get("gopro", "done")
    assert lapse is not None and (lapse.item_count, lapse.listed_size) == (40, 4000)
    assert lapse.facts == {"user_created": "false"}
    assert done is not None and done.item_count == 1  # an archived medium is left alone
