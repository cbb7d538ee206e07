"""The CLI against a running local cloud (real handlers) and the GoPro simulator, in-process.

The local cloud sets AWS_ENDPOINT_URL for its process, so the commands need no flag at all.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator

import pytest

from cloudsync_cli.main import main
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator, MiB

pytestmark = pytest.mark.e2e


@pytest.fixture
def sim() -> Iterator[GoProSimulator]:
    with GoProSimulator() as simulator:
        yield simulator


def cli(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        import sys

        saved = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            code = main(list(argv), out=out, err=err)
        finally:
            sys.stdin = saved
    else:
        code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_operator_session(
    sim: GoProSimulator, make_local_cloud: Callable[..., LocalCloud]
) -> None:
    lib = sim.library
    video = lib.add_video(size=6 * MiB, chapters=2, captured_at="2024-05-01T10:00:00Z")
    photo = lib.add_photo(raw=True, size=1 * MiB, raw_size=2 * MiB)
    make_local_cloud(gopro_api_url=sim.base_url)

    code, _, err = cli("sync")
    note, error = err.splitlines()  # a fresh local cloud says so, then the one error line
    assert code == 1 and "this local cloud started empty" in note
    assert "CredentialsMissingError" in error and "cloudsync login" in error

    code, out, _ = cli("login", "--username", sim.username, "--password-stdin",
                       stdin=sim.password + "\n")
    assert code == 0 and "mode oauth" in out

    code, out, _ = cli("library")
    assert code == 0 and "2 media at gopro: 2 new" in out

    code, out, err = cli("sync", "--wait")
    assert code == 0, err
    assert "archived:          2" in out and "finished: 2 archived of 2 media" in err

    code, out, _ = cli("status", "--json")
    assert json.loads(out)["counts"]["gopro"]["COMPLETED"] == 2

    code, out, _ = cli("verify", "--json")
    assert code == 0 and json.loads(out)["objects"] == 4

    code, out, _ = cli("sync", "--wait", "--json")
    document = json.loads(out)
    assert code == 0 and document["listing"]["queued"] == 0 and document["ok"] is True

    code, out, _ = cli("resync", video, "--wait", "--json")
    assert code == 0 and json.loads(out)["run"]["completed"] == 1

    code, out, _ = cli("restore", photo)
    assert code == 0 and "no restore needed" in out

    code, _, err = cli("resync", "000000000000000000000000")
    assert code == 1 and "unknown media id" in err


def test_failed_and_deleted_media(
    sim: GoProSimulator, make_local_cloud: Callable[..., LocalCloud]
) -> None:
    lib = sim.library
    ok = lib.add_video(size=1 * MiB)
    gone = lib.add_video(size=1 * MiB)
    broken = lib.add_video(size=1 * MiB)
    sim.faults.add("not_found", "download", count=None, media_id=gone)
    sim.faults.add("error", "download", count=None, media_id=broken, status=400)
    make_local_cloud(gopro_api_url=sim.base_url)
    tokens = sim.issue_tokens()
    assert cli("login", "--access-token", str(tokens["access_token"]), "--refresh-token",
               str(tokens["refresh_token"]), "--expires-in", "3600")[0] == 0

    code, out, _ = cli("sync", "--wait", "--json")
    document = json.loads(out)
    assert code == 1
    assert document["run"]["completed"] == 1 and document["run"]["deleted"] == 1
    assert [m["media_id"] for m in document["failed_media"]] == [broken]

    code, out, _ = cli("failures")
    assert broken in out and ok not in out

    # the credentials expire and cannot be renewed: one line saying what to do
    sim.revoke_refresh_tokens()
    sim.expire_access_tokens()
    assert cli("login", "--no-check", "--access-token", "stale", "--refresh-token", "revoked",
               "--expires-in", "1")[0] == 0
    code, _, err = cli("sync")
    assert code == 1 and err.count("\n") == 1
    assert "ReauthenticationRequiredError" in err and "cloudsync login" in err
