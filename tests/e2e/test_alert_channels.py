"""Slack and webhook alerts through the local cloud (issue 16, item 1): the CLI stores loopback
receivers' URLs in the notify secret, a run with a failure posts its summary there once (a 500
first is retried; a retried notify posts nothing twice), and a receiver that is down costs the
email nothing. Files are a few KiB."""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from cloudsync_cli.main import main
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator
from tests.alert_receiver import AlertReceiver

from .harness import Stack

pytestmark = pytest.mark.e2e
SUMMARY = "GoPro Sync Partial Failure"


@pytest.fixture
def stack(make_local_cloud: Callable[..., LocalCloud]) -> Iterator[Stack]:
    with GoProSimulator() as sim:
        yield Stack(sim, make_local_cloud(gopro_api_url=sim.base_url))


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    r = AlertReceiver().start()
    yield r
    r.stop()


def cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        code = main(list(argv), out=out, err=err)
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


def one_good_one_broken(stack: Stack) -> tuple[str, str]:
    lib = stack.sim.library
    good = lib.add_video(filename="GX010001.MP4", size=64 * 1024,
                         captured_at="2025-11-10T10:00:00Z")
    broken = lib.add_video(filename="GX010002.MP4", size=64 * 1024,
                           captured_at="2025-11-10T10:00:00Z")
    stack.sim.faults.add("error", "download", count=None, media_id=broken, status=400)
    return good, broken


def test_a_failed_run_posts_one_summary_to_each_channel_after_a_500(
    stack: Stack, receiver: AlertReceiver,
) -> None:
    stack.login()
    hook, slack = receiver.url("/hook"), receiver.url("/slack")
    code, out, err = cli("notify-setup", "--webhook-url", hook, "--slack-url", "-",
                         stdin=slack + "\n")
    assert code == 0, err
    assert "slack, webhook" in out and hook not in out + err and slack not in out + err
    receiver.answers["/hook"] = [500]  # the webhook fails once, then accepts
    _, broken = one_good_one_broken(stack)

    report = stack.sync()

    assert [m["Subject"] for m in stack.cloud.messages(wait_s=2)] == [SUMMARY]
    assert receiver.tries("/hook") == 2
    [body] = receiver.accepted("/hook")
    assert body["run_id"] == report["run_id"] and body["kind"] == "run_summary"
    assert body["counts"]["failed"] == 1 and body["counts"]["completed"] == 1
    [failure] = body["failures"]
    assert (failure["media_id"], failure["file"]) == (broken, "GX010002.MP4")
    assert failure["error_type"] and "cloudsync resync" in body["what_to_do"]
    # the retry after the 500 was the same message: the receiver can tell (Idempotency-Key)
    assert {r.headers["Idempotency-Key"] for r in receiver.requests
            if r.path == "/hook"} == {body["idempotency_key"]}
    [posted] = receiver.accepted("/slack")
    assert report["run_id"] in posted["text"] and broken in json.dumps(posted["blocks"])

    # A retried notify (Step Functions retries a Lambda error) posts nothing twice.
    stack.cloud.invoke("notify", {"run_id": report["run_id"]})
    assert (receiver.tries("/hook"), receiver.tries("/slack")) == (2, 1)

    code, out, _ = cli("notify-test", "--json")
    results = {r["channel"]: r["ok"] for r in json.loads(out)["results"]}
    assert code == 0 and results == {"email": True, "slack": True, "webhook": True}
    assert [b["kind"] for b in receiver.accepted("/hook")] == ["run_summary", "test"]

    # A resync that fails again reaches the channels too (the CLI sends the summary of a
    # resync run that ends before it closes its listing; the workflow's notify otherwise).
    code, out, err = cli("resync", broken, "--wait", "--json")
    assert code == 1, err
    deadline = time.monotonic() + 10  # the workflow's Notify step may post after the run ends
    while len(receiver.accepted("/hook")) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    *_, again = receiver.accepted("/hook")
    assert again["kind"] == "run_summary" and again["run_id"] != report["run_id"]
    assert [f["media_id"] for f in again["failures"]] == [broken]


def test_a_receiver_that_is_down_costs_the_email_nothing(stack: Stack) -> None:
    down = AlertReceiver().start()
    url = down.url("/hook")
    down.stop()  # nothing listens there any more
    stack.login()
    assert cli("notify-setup", "--webhook-url", url)[0] == 0
    # Bad input is one clear line, and what was stored stays.
    code, out, err = cli("notify-setup", "--slack-url", "http://hooks.example.com/T/B/secret")
    assert code == 2 and "https://" in err and "secret" not in out + err
    assert err.strip().count("\n") == 0
    one_good_one_broken(stack)

    stack.sync()

    assert [m["Subject"] for m in stack.cloud.messages(wait_s=2)] == [SUMMARY]
    code, out, _ = cli("notify-test")
    assert code == 1 and "email    ok" in out and "webhook  FAILED" in out and url not in out
    assert "slack" not in out
