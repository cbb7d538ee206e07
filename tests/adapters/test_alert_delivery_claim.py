"""The per-run, per-channel claim that keeps a retried notify from posting a summary twice to
Slack or the webhook (tracker ``claim_delivery``), against moto's DynamoDB."""

from __future__ import annotations

from cloudsync_core.tracker import Tracker


def test_one_claim_per_run_and_channel_released_after_a_failed_post(tracker: Tracker) -> None:
    tracker.start_run("run-1", "gopro", "schedule")
    assert tracker.claim_delivery("run-1", "webhook")
    assert not tracker.claim_delivery("run-1", "webhook")  # a retried notify: nothing again
    assert tracker.claim_delivery("run-1", "slack")  # each channel on its own
    assert tracker.claim_delivery("run-1", "webhook", release=True)
    assert tracker.claim_delivery("run-1", "webhook")  # the post failed: the retry may try


def test_no_claim_creates_a_run_record(tracker: Tracker) -> None:
    assert not tracker.claim_delivery("no-such-run", "webhook")
    assert tracker.get_run("no-such-run") is None
