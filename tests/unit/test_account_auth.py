"""The account side of the GoPro provider against the simulator (loopback): revoked and
blacklisted tokens, the remembered password, bot-blocking 403s, cookie mode's headers and its
Bearer fallback. Each test names the user outcome it protects."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest

from cloudsync_cli import main as cli
from cloudsync_cli.commands.login import credentials_from_args
from cloudsync_cli.errors import CliError
from cloudsync_core.credentials import AccessGrant, Authenticator, StoredCredentials
from cloudsync_core.errors import (
    AccountProblemError,
    AccountRefusedError,
    ReauthenticationRequiredError,
    account_problem_names,
)
from cloudsync_core.http import HttpRetryPolicy, new_session
from cloudsync_core.providers.gopro import GoProProvider, GoProTokenClient
from cloudsync_core.providers.gopro.auth import LAYOUT
from cloudsync_core.settings import Settings
from cloudsync_local.simulator import GoProSimulator
from tests.unit.auth_doubles import MemoryStore

PASSWORD = "correct horse battery staple"  # the simulator's fake account


@pytest.fixture
def sim() -> Iterator[GoProSimulator]:
    with GoProSimulator(password=PASSWORD) as s:
        yield s


def settings_for(sim: GoProSimulator, client_id: str = "") -> Settings:
    return replace(Settings.from_env(), gopro_api_url=sim.base_url, gopro_client_id=client_id,
                   gopro_client_secret="", secret_id="s")


def fast(waits: list[float]) -> HttpRetryPolicy:
    return HttpRetryPolicy(attempts=3, base=0.01, cap=0.05, sleep=waits.append, timeout=(2, 10))


def oauth_login(sim: GoProSimulator, *, remember: bool) -> StoredCredentials:
    tokens = sim.issue_tokens()
    return StoredCredentials(
        provider="gopro", mode="oauth", access_token=str(tokens["access_token"]),
        refresh_token=str(tokens["refresh_token"]), user_id=sim.user_id,
        expires_at=sim.now() + 3600, updated_at=sim.now(),
        username=sim.username if remember else None, password=PASSWORD if remember else None,
    )


def authenticator(sim: GoProSimulator, store: MemoryStore, waits: list[float]) -> Authenticator:
    return Authenticator(store, GoProTokenClient(settings_for(sim), new_session(2),
                                                 retry=fast(waits)))


def provider(sim: GoProSimulator, grant: AccessGrant, waits: list[float]) -> GoProProvider:
    return GoProProvider(settings=settings_for(sim), grant=grant, session=new_session(2),
                         retry=fast(waits))


def test_every_account_problem_is_one_family() -> None:
    names = account_problem_names()
    for name in ("ReauthenticationRequiredError", "AccountRefusedError",
                 "CredentialsMissingError", "AccountPausedError", "AuthError"):
        assert name in names
    assert "SourceLinkExpiredError" not in names and "InvalidMediaError" not in names


def test_a_blacklisted_refresh_token_is_renewed_with_the_remembered_password(
    sim: GoProSimulator,
) -> None:
    store = MemoryStore(oauth_login(sim, remember=True))
    old_refresh = store.creds.refresh_token
    sim.revoke_refresh_tokens()
    grant = authenticator(sim, store, []).ensure_fresh(min_valid_seconds=3 * 3600)
    assert sim.stats["token_refused"] == 1 and sim.stats["token_password"] == 1
    stored = store.creds
    assert stored.refresh_token and stored.refresh_token != old_refresh
    assert (stored.username, stored.password) == (sim.username, PASSWORD)  # kept for next time
    assert provider(sim, grant, [])._get_json("/media/user", "check")["id"] == sim.user_id


def test_a_login_revoked_mid_run_recovers_unattended_with_the_password(
    sim: GoProSimulator,
) -> None:
    store = MemoryStore(oauth_login(sim, remember=True))
    waits: list[float] = []
    grant = authenticator(sim, store, waits).ensure_fresh(min_valid_seconds=60)
    sim.auth.revoke_all()  # every token dead: refresh answers token_blacklisted
    assert provider(sim, grant, waits).account()["id"] == sim.user_id
    assert sim.stats["token_password"] == 1 and sim.stats["unauthorized"] == 1


def test_without_a_password_a_refused_refresh_is_an_account_problem_that_blames_no_client_id(
    sim: GoProSimulator,
) -> None:
    store = MemoryStore(oauth_login(sim, remember=False))
    sim.revoke_refresh_tokens()
    with pytest.raises(ReauthenticationRequiredError) as e:
        authenticator(sim, store, []).ensure_fresh(min_valid_seconds=3 * 3600)
    assert isinstance(e.value, AccountProblemError)
    text = str(e.value)
    assert "token_blacklisted" in text and "--remember" in text
    assert "client id" not in text  # today's alert blamed a missing client id
    assert sim.stats["token_password"] == 0


def test_a_refused_client_still_names_the_client_id(sim: GoProSimulator) -> None:
    sim.auth.client_id = "the-web-app"
    with pytest.raises(ReauthenticationRequiredError, match="no GoPro client id"):
        GoProTokenClient(settings_for(sim), new_session(2), retry=fast([])).refresh(
            oauth_login(sim, remember=False))


def test_a_wrong_remembered_password_is_an_account_problem(sim: GoProSimulator) -> None:
    creds = replace(oauth_login(sim, remember=True), password="not-it")
    sim.revoke_refresh_tokens()
    with pytest.raises(ReauthenticationRequiredError, match="remembered password failed"):
        authenticator(sim, MemoryStore(creds), []).ensure_fresh(min_valid_seconds=3 * 3600)


def test_the_password_never_shows(sim: GoProSimulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    creds = oauth_login(sim, remember=True)
    assert PASSWORD not in repr(creds) and "password=<hidden>" in repr(creds)
    assert StoredCredentials.from_json(creds.to_json()) == creds
    store = MemoryStore(creds)
    sim.revoke_refresh_tokens()
    auth = authenticator(sim, store, [])
    grant = auth.ensure_fresh(min_valid_seconds=3 * 3600)
    assert PASSWORD in grant.secrets()  # registered for log scrubbing
    assert auth.status()["password_remembered"] is True
    assert PASSWORD not in str(auth.status()) and PASSWORD not in caplog.text


def test_a_one_shot_api_403_is_retried(sim: GoProSimulator) -> None:
    media_id = sim.library.add_video(size=1000)
    sim.faults.add("forbidden", "download", count=1)
    waits: list[float] = []
    grant = AccessGrant(oauth_login(sim, remember=False))
    originals = provider(sim, grant, waits).originals(media_id, "Video")
    assert len(originals) == 1 and sim.stats["forbidden"] == 1 and len(waits) == 1


def test_a_403_that_persists_is_an_account_problem(sim: GoProSimulator) -> None:
    media_id = sim.library.add_video(size=1000)
    sim.faults.add("forbidden", "download", count=None)
    with pytest.raises(AccountRefusedError, match="403"):
        provider(sim, AccessGrant(oauth_login(sim, remember=False)), []).originals(media_id)
    assert sim.stats["forbidden"] == 3


def test_cookie_mode_looks_like_the_web_app(sim: GoProSimulator) -> None:
    sim.auth.require_browser_agent = True  # a browser token from a non-browser: blocked
    token = sim.issue_browser_token()
    grant = AccessGrant(StoredCredentials("gopro", "cookie", token.access_token, None,
                                          token.user_id), layout=LAYOUT)
    assert provider(sim, grant, []).account()["id"] == sim.user_id
    assert sim.stats["forbidden"] == 0 and sim.stats["unauthorized"] == 0


def test_a_refused_cookie_is_tried_as_bearer_once_and_kept(sim: GoProSimulator) -> None:
    sim.auth.browser_channels = {"bearer"}  # this API refuses the cookie
    token = sim.issue_browser_token()
    grant = AccessGrant(StoredCredentials("gopro", "cookie", token.access_token, None,
                                          token.user_id), layout=LAYOUT)
    p = provider(sim, grant, [])
    for _ in range(3):
        assert p.account()["id"] == sim.user_id
    assert sim.stats["unauthorized"] == 1  # only the first cookie; then bearer, remembered
    assert grant.channel == "bearer"


def test_a_cookie_accepted_never_tries_bearer(sim: GoProSimulator) -> None:
    token = sim.issue_browser_token()
    grant = AccessGrant(StoredCredentials("gopro", "cookie", token.access_token, None,
                                          token.user_id), layout=LAYOUT)
    p = provider(sim, grant, [])
    p.account()
    p.account()
    assert sim.stats["unauthorized"] == 0 and grant.channel == "cookie"


@pytest.mark.parametrize("argv", [("--access-token", "AT", "--remember"),
                                  ("--cookie-token", "CT", "--user-id", "U", "--remember")])
def test_remember_is_for_a_password_only(argv: tuple[str, ...]) -> None:
    with pytest.raises(CliError, match="--remember keeps a password"):
        credentials_from_args(cli.parse(["login", *argv]), None, io.StringIO(""), 0.0)  # type: ignore[arg-type]
