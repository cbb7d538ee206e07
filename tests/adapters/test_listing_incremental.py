"""The lister against DynamoDB (moto) and a scripted source: when it lists incrementally, when it
falls back to a full listing, what it writes (nothing in a dry run), and what a selection does
to the sweep. The source counts how many items the lister consumed and which order it asked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from cloudsync_core.events import ListOptions
from cloudsync_core.models import ListFilters, MediaItem, SourceFile
from cloudsync_core.providers import CloudProvider, Page
from cloudsync_core.services import Services
from cloudsync_core.settings import ENV_FULL_LISTING_DAYS, ENV_SELECTION
from cloudsync_core.sync.listing import list_library
from cloudsync_core.sync.listing_state import ORDER_EVIDENCE, ListingStateStore
from cloudsync_core.tracker import FAILED, IN_PROGRESS, PENDING, Tracker

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WRITES = ("PutItem", "UpdateItem", "TransactWriteItems", "BatchWriteItem", "DeleteItem")


def medium(n: int, *, uploaded: datetime | None = None, size: int = 1000,
           captured: datetime | None = None) -> MediaItem:
    return MediaItem("gopro", f"m{n:05d}", f"GX{n:06d}.MP4", "Video",
                     captured or T0 + timedelta(days=n), uploaded or T0 + timedelta(days=n),
                     size, 1)


class Scripted(CloudProvider):
    """Lists ``items`` newest upload first (or as given when ``ordered`` is False)."""

    name = "gopro"

    def __init__(self, items: list[MediaItem], *, ordered: bool = True) -> None:
        super().__init__()
        self.items, self.ordered = items, ordered
        self.consumed = 0
        self.orders: list[str] = []

    def fetch_pages(self, filters: ListFilters) -> Iterator[Page]:
        self.orders.append(filters.order)
        items = list(self.items)
        if self.ordered and filters.order == "uploaded":
            items.sort(key=lambda m: m.created_at or T0, reverse=True)
        for start in range(0, max(1, len(items)), 100):
            page = items[start:start + 100]
            self.consumed += len(page)
            yield Page(number=start // 100 + 1, items=page, returned=len(page),
                       total_pages=-(-len(items) // 100))

    def originals(self, media_id: str, media_type: str | None = None) -> list[SourceFile]:
        raise AssertionError("the lister never reads originals")

    def account(self) -> dict[str, Any]:
        return {}


@pytest.fixture
def services(dynamodb: DynamoDBClient, monkeypatch: pytest.MonkeyPatch) -> Services:
    monkeypatch.setenv("CLOUDSYNC_TABLE", "tracker")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv(ENV_SELECTION, raising=False)
    monkeypatch.delenv(ENV_FULL_LISTING_DAYS, raising=False)
    return Services.from_env()


def writes_of(client: DynamoDBClient) -> list[str]:
    seen: list[str] = []
    client.meta.events.register(
        "before-call.dynamodb.*",
        lambda model, **_: seen.append(model.name) if model.name in WRITES else None)
    return seen


def test_a_normal_night_lists_by_upload_time_and_stops_early(services: Services) -> None:
    library = [medium(n) for n in range(150)]
    first = Scripted(library)
    report = list_library(services, first, trigger="test")
    assert (report.mode, report.new, first.orders) == ("full", 150, ["captured"])
    state = ListingStateStore(services.dynamodb, "tracker").get_state("gopro")
    newest = library[-1].created_at
    assert state is not None and state.full_at and newest and state.mark == newest.isoformat()

    late = medium(9999, uploaded=T0 + timedelta(days=400), captured=T0 - timedelta(days=900))
    night = Scripted([*library, late])
    report = list_library(services, night, trigger="test")
    assert (report.mode, report.new, night.orders) == ("incremental", 1, ["uploaded"])
    # one page read (no second GoPro call); looked at: the late one, the three uploads within
    # the 48 h overlap before the mark (days 147 to 149), and the evidence of the order
    assert night.consumed == 100 and report.listed == 1 + 3 + ORDER_EVIDENCE
    row = services.tracker.get("gopro", late.media_id)
    assert row is not None and row.status == PENDING

    asked = Scripted([*library, late])
    assert list_library(services, asked, trigger="test",
                        options=ListOptions(full=True)).mode == "full"
    assert asked.consumed == 151


def test_a_source_out_of_upload_order_gets_a_full_listing(services: Services) -> None:
    library = [medium(n) for n in range(120)]
    list_library(services, Scripted(library), trigger="test")
    hidden = medium(7777, uploaded=T0 + timedelta(days=500))
    shuffled = Scripted([*library, hidden], ordered=False)  # the source ignores order_by
    report = list_library(services, shuffled, trigger="test")
    assert (report.mode, report.mode_reason) == ("full", "the source did not show upload order")
    assert shuffled.consumed == 121 and report.new == 1


def test_limit_and_dry_run_leave_the_listing_state_alone(services: Services) -> None:
    store = ListingStateStore(services.dynamodb, "tracker")
    library = [medium(n) for n in range(5)]
    writes = writes_of(services.dynamodb)
    dry = list_library(services, Scripted(library), trigger="test",
                       options=ListOptions(dry_run=True, limit=2))
    assert writes == [] and store.get_state("gopro") is None
    assert (dry.new, dry.not_queued, [e["media_id"] for e in dry.plan]) == (
        2, 3, ["m00004", "m00003"])  # newest captured first

    limited = list_library(services, Scripted(library), trigger="test",
                           options=ListOptions(limit=2, selection={"order": "oldest"}))
    assert (limited.new, limited.not_queued) == (2, 3)
    assert set(services.tracker.get_many("gopro", [m.media_id for m in library])) == {
        "m00000", "m00001"}
    assert store.get_state("gopro") is None  # three new media wait: the next run lists fully
    again = list_library(services, Scripted(library), trigger="test")
    assert (again.mode, again.new) == ("full", 3) and store.get_state("gopro") is not None


def test_the_sweep_retries_no_failure_the_selection_now_leaves_out(
    services: Services, tracker: Tracker, monkeypatch: pytest.MonkeyPatch,
) -> None:
    small, big = medium(1, size=10), medium(2, size=10_000)
    tracker.start_run("run-1", "gopro", "test")
    for item in (small, big):
        assert tracker.add_pending(item, "run-1")
        row = tracker.get("gopro", item.media_id)
        assert row is not None
        services.dynamodb.update_item(
            TableName="tracker", Key={"provider": {"S": "gopro"}, "media_id": {"S": item.media_id}},
            UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": IN_PROGRESS}})
        assert tracker.finish("gopro", item.media_id, 1, FAILED, run_id="run-1",
                              error_type="TransientError")
    monkeypatch.setenv(ENV_SELECTION, json.dumps({"maxSize": 100}))
    report = list_library(services, Scripted([]), trigger="test")
    assert report.requeued == 1
    assert [tracker.get("gopro", m.media_id).status for m in (small, big)] == [  # type: ignore[union-attr]
        PENDING, FAILED]
