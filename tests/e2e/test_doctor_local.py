"""`cloudsync doctor` against the local cloud (real handlers) and the GoPro simulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudsync_core.tracker import to_item
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator, MiB

from .test_cli_local import cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def sim() -> Iterator[GoProSimulator]:
    with GoProSimulator() as simulator:
        yield simulator


def checks(out: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(out)["checks"]}


def test_doctor_walks_a_new_stack_to_ready(
    sim: GoProSimulator, make_local_cloud: Callable[..., LocalCloud]
) -> None:
    sim.library.add_video(size=1 * MiB, captured_at="2025-05-01T10:00:00Z")
    cloud = make_local_cloud(gopro_api_url=sim.base_url)

    # Deployed, nobody logged in yet: one failure, with what to do.
    code, out, _ = cli("doctor")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("PASS  outputs")
    failing = [line for line in lines if line.startswith("FAIL")]
    assert [line.split()[1:3] for line in failing] == [["gopro", "login"]]
    assert "-> cloudsync login" in out
    assert "SKIP  schedule" in out and "`cloudsync sync` runs the job" in out
    assert "SKIP  archive write" in out and "iam:SimulatePrincipalPolicy" in out
    assert "SKIP  last run" in out

    code, _, _ = cli("login", "--username", sim.username, "--password-stdin",
                     stdin=sim.password + "\n")
    assert code == 0
    code, _, err = cli("sync", "--wait")
    assert code == 0, err

    code, out, _ = cli("doctor", "--json")
    assert code == 0, out
    found = checks(out)
    assert json.loads(out)["ok"] is True
    assert {n for n, c in found.items() if c["status"] == "pass"} == {
        "outputs", "gopro login", "alerts", "account pause", "last run", "failed media"}
    assert "accepted by gopro" in found["gopro login"]["detail"]
    assert "1 archived, 0 failed" in found["last run"]["detail"]
    assert {n for n, c in found.items() if c["status"] == "skip"} == {
        "schedule", "archive write", "bucket policy"}

    # A medium that failed for good: the failure queue is not empty.
    db = cloud.client("dynamodb")
    db.put_item(TableName=cloud.outputs()["table"], Item=to_item({
        "provider": "gopro", "media_id": "f" * 24, "status": "FAILED",
        "provider_status": "gopro#FAILED", "failures": 3, "wake": 1,
        "error_type": "SizeMismatchError", "status_changed_at": "2026-01-01T00:00:00.000Z"}))
    code, out, _ = cli("doctor", "--json")
    found = checks(out)
    assert code == 1 and found["failed media"]["status"] == "fail"
    assert "SizeMismatchError" in found["failed media"]["detail"]
    assert "cloudsync failures" in found["failed media"]["fix"]


def test_doctor_says_when_gopro_refuses_the_stored_login(
    sim: GoProSimulator, make_local_cloud: Callable[..., LocalCloud]
) -> None:
    make_local_cloud(gopro_api_url=sim.base_url)
    code, _, _ = cli("login", "--no-check", "--cookie-token", "not-a-token-gopro-knows",
                     "--user-id", "u1")
    assert code == 0
    code, out, _ = cli("doctor", "--json")
    found = checks(out)
    assert code == 1 and found["gopro login"]["status"] == "fail"
    assert "refused the stored cookie credentials" in found["gopro login"]["detail"]
    assert "--cookie-token" in found["gopro login"]["fix"]
