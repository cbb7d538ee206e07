"""The operator against a local cloud just started: it says it is empty and in memory, and
``login`` proves credentials with GoPro before it stores them.

One local cloud for the module (starting one takes seconds), the tests in file order.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from cloudsync_cli.main import main
from cloudsync_core.credentials import SecretStore
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator, MiB

from .conftest import FAST_RETRY

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sim() -> Iterator[GoProSimulator]:
    with GoProSimulator() as simulator:
        yield simulator


@pytest.fixture(scope="module")
def cloud(sim: GoProSimulator) -> Iterator[LocalCloud]:
    with LocalCloud(gopro_api_url=sim.base_url, retry=FAST_RETRY) as local:
        yield local


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def stored_access_token(cloud: LocalCloud) -> str | None:
    store = SecretStore(cloud.client("secretsmanager"), cloud.outputs()["secret_id"])
    return store.load().access_token


def test_a_fresh_local_cloud_says_it_is_empty_and_in_memory(cloud: LocalCloud) -> None:
    for command in (("status",), ("verify",), ("status", "--json")):
        _, out, err = cli(*command)
        assert "this local cloud started empty" in err, command
        assert "in memory: it ends with this process" in err
        assert "started empty" not in out  # stdout stays the command's own (--json parses)
    code, _, err = cli("sync")
    assert code == 1 and "this local cloud started empty" in err
    assert "CredentialsMissingError" in err and "cloudsync login" in err


def test_login_proves_credentials_and_a_refusal_keeps_what_was_stored(
    sim: GoProSimulator, cloud: LocalCloud
) -> None:
    tokens = sim.issue_tokens()
    good = str(tokens["access_token"])
    code, out, err = cli("login", "--access-token", good, "--refresh-token",
                         str(tokens["refresh_token"]), "--expires-in", "3600")
    assert code == 0, err
    assert "checked with GoPro" in out and good not in out
    assert stored_access_token(cloud) == good

    code, out, err = cli("login", "--access-token", "garbage", "--refresh-token", "garbage")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "GoPro refused these credentials" in err and "nothing was stored" in err
    assert "garbage" not in err
    assert stored_access_token(cloud) == good  # untouched

    code, out, _ = cli("login", "--no-check", "--json", "--cookie-token", "offline",
                       "--user-id", "u1")
    assert code == 0 and json.loads(out)["checked"] is False
    assert stored_access_token(cloud) == "offline"


def test_once_a_run_exists_the_empty_note_is_gone(
    sim: GoProSimulator, cloud: LocalCloud
) -> None:
    tokens = sim.issue_tokens()
    assert cli("login", "--access-token", str(tokens["access_token"]), "--refresh-token",
               str(tokens["refresh_token"]), "--expires-in", "3600")[0] == 0
    sim.library.add_video(size=1 * MiB)
    code, _, err = cli("sync", "--wait")
    assert code == 0, err
    code, _, err = cli("status")
    assert code == 0 and "started empty" not in err
