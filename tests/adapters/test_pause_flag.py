"""The pause flag, parking and the one alert against moto: an account problem stops the stack
once, tells a person once, and costs no medium its attempt or retry budget."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from cloudsync_core.contract import StepFailure
from cloudsync_core.errors import AccountPausedError, ReauthenticationRequiredError
from cloudsync_core.models import ListFilters, MediaItem, SourceFile
from cloudsync_core.providers import CloudProvider, Page
from cloudsync_core.services import Services
from cloudsync_core.settings import Settings
from cloudsync_core.sync.account import raise_if_paused, resume_if_working
from cloudsync_core.sync.failure import mark_failed
from cloudsync_core.sync.listing import list_library
from cloudsync_core.tracker import FAILED, IN_PROGRESS, PENDING, QUEUED, Tracker, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REGION = "us-east-1"
REASON = "GoPro refused to renew the access token (token_blacklisted, HTTP 400): log in again"


@pytest.fixture
def world(dynamodb: DynamoDBClient, tracker: Tracker) -> tuple[Services, str]:
    """Services on moto, and an SQS queue subscribed to the alerts topic."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    settings = replace(Settings.from_env(), table="tracker", bucket="archive", topic_arn=topic)
    services = Services(
        settings=settings, dynamodb=dynamodb, s3=boto3.client("s3", region_name=REGION),
        secrets=boto3.client("secretsmanager", region_name=REGION), sns=sns,
        sfn=boto3.client("stepfunctions", region_name=REGION), tracker=tracker,
    )
    return services, queue


def medium(media_id: str) -> MediaItem:
    return MediaItem(provider="gopro", media_id=media_id, filename="GX010001.MP4",
                     media_type="Video", captured_at=None, created_at=None, file_size=10)


def claim(db: DynamoDBClient, tracker: Tracker, media_id: str, wake: int) -> None:
    """What the workflow's Claim state does."""
    db.update_item(
        TableName=tracker.table, Key=to_item({"provider": "gopro", "media_id": media_id}),
        UpdateExpression="SET #s = :busy, provider_status = :ps, claimed_at = :now, "
        "attempt = if_not_exists(attempt, :zero) + :one",
        ConditionExpression="(#s = :pending OR #s = :queued) AND wake = :wake",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item({
            ":busy": IN_PROGRESS, ":ps": "gopro#IN_PROGRESS", ":now": "2026-11-24T02:00:00.000Z",
            ":pending": PENDING, ":queued": QUEUED, ":wake": wake, ":zero": 0, ":one": 1}),
    )


def alerts(queue: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    answer = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def failure(media_id: str, error_type: str, run_id: str = "run-1") -> StepFailure:
    cause = json.dumps({"errorType": error_type, "errorMessage": REASON})
    return StepFailure.from_payload({"provider": "gopro", "media_id": media_id, "wake": 1,
                              "run_id": run_id, "correlation_id": "c",
                              "error": {"Error": error_type, "Cause": cause}})


def claimed(dynamodb: DynamoDBClient, tracker: Tracker, media_id: str, run_id: str) -> None:
    tracker.add_pending(medium(media_id), run_id)
    claim(dynamodb, tracker, media_id, wake=1)
    dynamodb.update_item(TableName="tracker", Key=to_item({"provider": "gopro",
                                                           "media_id": media_id}),
                         UpdateExpression="SET failures = :f, uploads = :u",
                         ExpressionAttributeValues=to_item({":f": 1, ":u": {"source-1": {
                             "key": "k", "upload_id": "u-1", "size": 10, "part_size": 10}}}))


def test_one_pause_keeps_its_first_reason_and_one_alert_claim(tracker: Tracker) -> None:
    first = tracker.pause("gopro", "ReauthenticationRequiredError", "refused")
    again = tracker.pause("gopro", "AccountRefusedError", "403")
    assert (again.since, again.reason, again.error_type) == (first.since, "refused",
                                                             "ReauthenticationRequiredError")
    assert tracker.claim_pause_alert(first.since)
    assert not tracker.claim_pause_alert(first.since)  # exactly one sender
    tracker.release_pause_alert(first.since)  # the send failed: the next caller may try
    assert tracker.claim_pause_alert(first.since)
    assert tracker.clear_pause("another pause") is None
    lifted = tracker.clear_pause(first.since)
    assert lifted is not None and lifted.alerted and tracker.get_pause() is None
    assert list(tracker.by_status("gopro", QUEUED)) == []  # the control row is no medium


def test_account_failures_park_media_with_one_alert_and_no_budget_spent(
    world: tuple[Services, str], dynamodb: DynamoDBClient, tracker: Tracker
) -> None:
    services, queue = world
    tracker.start_run("run-1", "gopro", "test")
    media = ["a" * 24, "b" * 24, "c" * 24]
    for media_id in media:
        claimed(dynamodb, tracker, media_id, "run-1")
    tracker.end_listing("run-1", queued=3)
    tracker.ensure_slot_row()
    refused = "ReauthenticationRequiredError"
    outcomes = [mark_failed(services, failure(m, refused)) for m in media[:2]]
    # a medium whose prepare found the stack already paused
    outcomes.append(mark_failed(services, failure(media[2], "AccountPausedError")))
    assert [o.status for o in outcomes] == ["PAUSED"] * 3
    assert [o.run_complete for o in outcomes] == [False, False, True]  # the run can close
    for media_id in media:
        row = tracker.get("gopro", media_id)
        assert row is not None
        assert (row.status, row.attempt, row.failures, row.run_id) == (QUEUED, 0, 1, None)
        assert row.uploads["source-1"].upload_id == "u-1"  # kept: the next run resumes
    run = tracker.get_run("run-1")
    assert run is not None and (run.failed, run.moved, run.done) == (0, 3, True)
    sent = alerts(queue)
    assert len(sent) == 1
    assert sent[0]["Subject"] == "GoPro Sync paused: your GoPro login needs you"
    assert "token_blacklisted" in sent[0]["Message"] and "cloudsync login" in sent[0]["Message"]
    assert list(tracker.by_status("gopro", FAILED)) == []


def test_a_parked_medium_is_not_parked_twice(
    world: tuple[Services, str], dynamodb: DynamoDBClient, tracker: Tracker
) -> None:
    services, _ = world
    claimed(dynamodb, tracker, "d" * 24, "run-9")  # no run record: only the row moves
    assert tracker.park("gopro", "d" * 24, 1, run_id="run-9")
    assert not tracker.park("gopro", "d" * 24, 1, run_id="run-9")
    outcome = mark_failed(services, failure("d" * 24, "ReauthenticationRequiredError"))
    assert outcome.status == "NOT_OURS"


def test_while_paused_prepare_asks_nothing_and_the_lister_resumes_once_the_account_answers(
    world: tuple[Services, str], tracker: Tracker
) -> None:
    services, queue = world
    raise_if_paused(services)  # not paused: nothing happens

    class Account:
        def __init__(self, error: Exception | None) -> None:
            self.error = error
            self.calls = 0

        def account(self) -> dict[str, Any]:
            self.calls += 1
            if self.error:
                raise self.error
            return {"id": "u"}

    assert resume_if_working(services, Account(None)) is None  # type: ignore[arg-type]
    tracker.pause("gopro", "ReauthenticationRequiredError", REASON)
    with pytest.raises(AccountPausedError, match="token_blacklisted"):
        raise_if_paused(services)
    broken = Account(ReauthenticationRequiredError("still refused"))
    with pytest.raises(ReauthenticationRequiredError):
        resume_if_working(services, broken)  # type: ignore[arg-type]
    assert tracker.get_pause() is not None and broken.calls == 1
    working = Account(None)
    lifted = resume_if_working(services, working)  # type: ignore[arg-type]
    assert lifted is not None and tracker.get_pause() is None
    raise_if_paused(services)
    assert alerts(queue) == []  # lifting the pause tells nobody anything


def test_an_in_progress_row_of_another_wake_is_not_parked(
    dynamodb: DynamoDBClient, tracker: Tracker
) -> None:
    tracker.add_pending(medium("e" * 24), "run-2")
    claim(dynamodb, tracker, "e" * 24, wake=1)
    assert not tracker.park("gopro", "e" * 24, 2, run_id=None)
    row = tracker.get("gopro", "e" * 24)
    assert row is not None and (row.status, row.attempt) == (IN_PROGRESS, 1)


class RefusedOnPage2(CloudProvider):
    """Page 1 lists 100 media (queued at once); page 2 is refused (revoked mid-listing)."""

    name = "gopro"

    def fetch_pages(self, filters: ListFilters) -> Iterator[Page]:
        items = [medium(f"{n:024x}") for n in range(100)]
        yield Page(number=1, items=items, returned=100, total_pages=2)
        raise ReauthenticationRequiredError("listing page 2: GoPro refused the renewed token")

    def originals(self, media_id: str, media_type: str | None = None) -> list[SourceFile]:
        raise AssertionError("not asked")

    def account(self) -> dict[str, Any]:
        return {}


def test_a_listing_refused_midway_still_ends_its_run(
    world: tuple[Services, str], tracker: Tracker
) -> None:
    services, _ = world
    tracker.ensure_slot_row()
    with pytest.raises(ReauthenticationRequiredError):
        list_library(services, RefusedOnPage2(), trigger="test", run_id="run-r")
    run = tracker.get_run("run-r")
    assert run is not None and not run.listing and run.queued == 100  # it can end, not hang
