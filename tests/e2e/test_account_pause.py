"""An account problem pauses the run instead of failing media (issue 10, item 3), end to end:
the real ASL in the local cloud, the real handlers, the CLI in-process, the GoPro simulator
revoking the login in the middle of a run. Files are a few MiB."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator

import pytest

from cloudsync_cli.main import main
from cloudsync_core.tracker import COMPLETED, FAILED, QUEUED
from cloudsync_local.cloud import FunctionError, LocalCloud
from cloudsync_local.simulator import GoProSimulator

from .harness import Stack

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024
PAUSE_SUBJECT = "GoPro Sync paused: your GoPro login needs you"


@pytest.fixture
def stack(make_local_cloud: Callable[..., LocalCloud]) -> Iterator[Stack]:
    with GoProSimulator() as sim:
        cloud = make_local_cloud(
            gopro_api_url=sim.base_url,
            settings={"CLOUDSYNC_PART_SIZE_MIB": "5", "CLOUDSYNC_PARALLEL_RANGES": "4"},
        )
        yield Stack(sim, cloud)


def cli(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        code = main(list(argv), out=out, err=err)
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


def add_media(sim: GoProSimulator, n: int, first: int = 0) -> list[str]:
    return [sim.library.add_video(filename=f"GX01{first + i:04d}.MP4", size=MiB + i * 4096,
                                  captured_at="2025-11-10T10:00:00Z") for i in range(n)]


def assert_archived_untouched(stack: Stack, media: list[str]) -> None:
    """Every medium archived byte-exact, claimed once, no failure counted."""
    rows = stack.rows()
    for media_id in media:
        row = rows[media_id]
        assert (row.status, row.attempt, row.failures) == (COMPLETED, 1, 0), row
        stack.assert_archived_exactly(media_id)
    assert stack.incomplete_uploads() == []


def test_a_login_revoked_mid_run_with_a_remembered_password_recovers_unattended(
    stack: Stack,
) -> None:
    sim = stack.sim
    code, out, _ = cli("login", "--username", sim.username, "--password-stdin", "--remember",
                       stdin=sim.password + "\n")
    assert code == 0 and "password remembered" in out and sim.password not in out
    media = add_media(sim, 2)
    sim.faults.add("revoke", "download", count=1)  # the first download call revokes the login

    stack.sync()
    assert_archived_untouched(stack, media)
    assert sim.stats["token_password"] >= 2  # the CLI's login, then the unattended one
    assert stack.cloud.messages(wait_s=0.5) == []
    assert stack.tracker.get_pause() is None

    # Revoked between runs: the lister logs in again by itself too.
    later = add_media(sim, 1, first=10)
    sim.auth.revoke_all()
    report = stack.sync()
    assert report["new"] == 1
    assert_archived_untouched(stack, media + later)
    assert stack.cloud.messages(wait_s=0.5) == []


def test_without_a_password_one_alert_no_failure_and_login_resumes(stack: Stack) -> None:
    sim = stack.sim
    stack.login()  # a token pair: nothing can log in again by itself
    media = add_media(sim, 3)
    sim.faults.add("revoke", "download", count=1)

    first = stack.sync()
    rows = stack.rows()
    assert all(rows[m].status != FAILED for m in media)
    parked = [m for m in media if rows[m].status == QUEUED]
    assert parked  # what met the revoked login waits for the next run
    for media_id in media:  # no attempt counted, no retry budget spent
        assert (rows[media_id].attempt, rows[media_id].failures) == (0, 0), rows[media_id]
    pause = stack.tracker.get_pause()
    assert pause is not None and pause.alerted
    assert pause.error_type == "ReauthenticationRequiredError"
    run = stack.tracker.get_run(first["run_id"])
    assert run is not None and run.done and run.failed == 0  # the run closed: nobody waits

    messages = stack.cloud.messages(wait_s=3)
    assert [m["Subject"] for m in messages] == [PAUSE_SUBJECT]  # ONE alert, no summary
    text = messages[0]["Message"]
    assert "token_blacklisted" in text and "cloudsync login" in text and "--remember" in text
    assert "client id" not in text and "no medium was marked failed" in text

    # While paused, the nightly job checks the account, stays paused, alerts nobody again.
    with pytest.raises(FunctionError) as refused:
        stack.cloud.invoke("list", {"trigger": "test"})
    assert refused.value.error_type == "ReauthenticationRequiredError"
    code, out, _ = cli("status")
    assert code == 0 and "PAUSED since" in out and "ReauthenticationRequiredError" in out
    assert stack.cloud.messages(wait_s=0.5) == []

    code, out, _ = cli("login", "--username", sim.username, "--password-stdin",
                       stdin=sim.password + "\n")
    assert code == 0 and "Lifted the pause" in out
    code, out, err = cli("sync", "--wait")
    assert code == 0, err
    assert_archived_untouched(stack, media)
    assert stack.tracker.get_pause() is None
    assert stack.cloud.messages(wait_s=0.5) == []


def test_a_one_shot_api_403_costs_no_medium_and_no_retry_budget(stack: Stack) -> None:
    sim = stack.sim
    stack.login()
    media = add_media(sim, 2)
    sim.faults.add("forbidden", "search", count=1)  # bot blocking, once, on the listing
    sim.faults.add("forbidden", "download", media_id=media[0], count=1)  # and on one medium
    stack.sync()
    assert sim.stats["forbidden"] == 2
    assert_archived_untouched(stack, media)
    assert stack.tracker.get_pause() is None
    assert stack.cloud.messages(wait_s=0.5) == []
