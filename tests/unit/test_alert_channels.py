"""Slack and webhook alerts without a network or a secret: the two body formats, URL checks,
the bounded retries of one post, and the per-channel claim (issue 16, item 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from cloudsync_core.alerts import (
    Alert,
    ChannelUrls,
    FailedMedium,
    Poster,
    deliver,
    slack_body,
    validate_url,
    webhook_body,
)
from cloudsync_core.errors import ConfigurationError, TransientError
from cloudsync_core.sync.summary import summary_alert
from cloudsync_core.tracker import RunRecord

SLACK = "https://hooks.slack.example/services/T000/B000/s3cr3tPathToken"
HOOK = "https://alerts.example.com/hook?token=s3cr3tQueryToken"


def failure(i: int) -> FailedMedium:
    return FailedMedium("gopro", f"m{i}", f"GX01{i:04d}.MP4", "SourceRequestError",
                        "download answered 400")


def run_alert(n_failures: int = 1) -> Alert:
    run = RunRecord(run_id="run-42", provider="gopro", trigger="schedule",
                    started_at="2026-11-30T02:00:00Z", queued=3, completed=2,
                    failed=n_failures, bytes=2_000_000)
    return summary_alert(run, tuple(failure(i) for i in range(n_failures)), "prod")


def test_the_webhook_body_carries_run_counts_failures_and_what_to_do() -> None:
    body = webhook_body(run_alert())
    assert body["kind"] == "run_summary" and body["run_id"] == "run-42"
    assert body["stack"] == "prod" and body["subject"] == "GoPro Sync Partial Failure"
    assert body["counts"] == {"queued": 3, "completed": 2, "failed": 1, "deleted": 0,
                              "skipped": 0, "timed_out": 0, "bytes": 2_000_000}
    assert body["failures"] == [{"provider": "gopro", "media_id": "m0", "file": "GX010000.MP4",
                                 "error_type": "SourceRequestError",
                                 "error_message": "download answered 400"}]
    assert "cloudsync resync" in body["what_to_do"] and "run-42" in body["message"]
    assert body["idempotency_key"] == "cloudsync:run_summary:prod:run-42"


def test_the_slack_body_has_text_for_notifications_and_blocks_listing_failures() -> None:
    body = slack_body(run_alert(12))
    assert body["text"] == "GoPro Sync Partial Failure (run run-42)"
    texts = [b["text"]["text"] for b in body["blocks"]]
    assert all(b["type"] == "section" and b["text"]["type"] == "mrkdwn" for b in body["blocks"])
    assert "run-42" in texts[0] and "failed: 12" in texts[0]
    assert "`gopro/m0` (GX010000.MP4) SourceRequestError: download answered 400" in texts[1]
    assert "m9" in texts[1] and "m10" not in texts[1] and "and 2 more" in texts[1]
    assert texts[-1].startswith("*What to do*")


def test_a_slack_section_stays_under_slacks_limit() -> None:
    long = Alert(kind="pause", subject="s", text="t", what_to_do="x" * 5000)
    assert all(len(b["text"]["text"]) <= 3000 for b in slack_body(long)["blocks"])


@pytest.mark.parametrize("url", ["https://hooks.slack.com/services/A/B/C",
                                 "http://127.0.0.1:8080/hook", "http://localhost/x",
                                 "http://[::1]:9/x"])
def test_https_or_loopback_http_is_accepted(url: str) -> None:
    assert validate_url(url, "--webhook-url") == url


@pytest.mark.parametrize("url", ["http://hooks.example.com/T/B/s3cr3t", "ftp://h/s3cr3t",
                                 "s3cr3t", "https:///s3cr3t"])
def test_other_urls_are_refused_without_repeating_them(url: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        validate_url(url, "--slack-url")
    assert "s3cr3t" not in str(refused.value) and "--slack-url" in str(refused.value)


def test_stored_urls_never_show_in_repr_and_an_empty_secret_means_no_channel() -> None:
    urls = ChannelUrls.from_secret(ChannelUrls(slack=SLACK).as_secret())
    assert urls.configured() == {"slack": SLACK} and "s3cr3t" not in repr(urls)
    assert ChannelUrls.from_secret("").configured() == {}


@dataclass
class FakeSession:
    """Answers with ``statuses`` in order (an exception instance is raised instead)."""

    statuses: list[int | Exception]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"url": url, **kwargs})
        answer = self.statuses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        response = requests.Response()
        response.status_code = answer
        response._content = b""
        response._content_consumed = True  # type: ignore[attr-defined]
        return response


def poster(*statuses: int | Exception) -> tuple[Poster, FakeSession, list[float]]:
    session, sleeps = FakeSession(list(statuses)), list[float]()
    p = Poster(sleep=sleeps.append, rng=lambda: 0.5, session=session)  # type: ignore[arg-type]
    return p, session, sleeps


def test_a_500_then_200_is_one_accepted_post_with_the_same_key_and_a_timeout() -> None:
    p, session, sleeps = poster(500, 200)
    assert p.post(HOOK, {"a": 1}, "k") == 200
    assert len(session.calls) == 2 and len(sleeps) == 1
    assert all(c["timeout"] and c["headers"]["Idempotency-Key"] == "k" for c in session.calls)


def test_connection_errors_are_retried_a_bounded_number_of_times() -> None:
    p, session, _ = poster(*[requests.ConnectionError(HOOK)] * 3)
    with pytest.raises(TransientError) as failed:
        p.post(HOOK, {}, "k")
    assert len(session.calls) == 3 and "s3cr3t" not in str(failed.value)
    assert failed.value.__cause__ is None  # the requests error (it names the URL) is dropped


def test_a_refusal_is_not_retried() -> None:
    p, session, _ = poster(404)
    with pytest.raises(ConfigurationError):
        p.post(SLACK, {}, "k")
    assert len(session.calls) == 1


def test_a_failed_channel_is_logged_without_its_url_released_and_others_still_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    p, _session, _ = poster(503, 503, 503, 200)  # the first channel (slack) fails for good
    claims: list[tuple[str, bool]] = []

    def claim(channel: str, release: bool) -> bool:
        claims.append((channel, release))
        return True

    results = deliver(run_alert(), ChannelUrls(slack=SLACK, webhook=HOOK), poster=p, claim=claim)
    assert [(r.channel, r.ok) for r in results] == [("slack", False), ("webhook", True)]
    assert claims == [("slack", False), ("slack", True), ("webhook", False)]
    logged = capsys.readouterr()
    assert "alert delivery failed" in logged.err + logged.out
    assert "s3cr3t" not in logged.err + logged.out + repr(results)


def test_a_channel_claimed_by_an_earlier_try_is_not_posted_again() -> None:
    p, session, _ = poster()
    results = deliver(run_alert(), ChannelUrls(webhook=HOOK), poster=p,
                      claim=lambda channel, release: False)
    assert [(r.channel, r.ok, r.detail) for r in results] == [
        ("webhook", True, "already delivered")]
    assert session.calls == []


def test_no_new_try_once_the_time_budget_is_spent() -> None:
    session = FakeSession([503, 200])
    ticks = iter([0.0, 14.9])  # the first try took 14.9 s: no time for a wait and another
    p = Poster(sleep=lambda s: None, clock=lambda: next(ticks), rng=lambda: 0.5,
               session=session, budget_s=15.0)  # type: ignore[arg-type]
    with pytest.raises(TransientError, match="HTTP 503 after 1 tries"):
        p.post(HOOK, {}, "k")
    assert len(session.calls) == 1
