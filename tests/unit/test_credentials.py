"""Credentials: the stored shape, the grant, the authenticator and the token client (no network)."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from cloudsync_core.credentials import AccessGrant, Authenticator, StoredCredentials, jwt_expiry
from cloudsync_core.errors import (
    AuthError,
    CredentialsMissingError,
    RateLimitedError,
    ReauthenticationRequiredError,
    SourceRequestError,
    TransientError,
)
from cloudsync_core.http import HttpRetryPolicy
from cloudsync_core.providers.gopro.auth import BROWSER_USER_AGENT, LAYOUT, GoProTokenClient
from cloudsync_core.settings import Settings
from tests.unit.auth_doubles import FakeTransport, MemoryStore, Reply, in_threads

NOW = 1_750_000_000.0
ACCESS = "SECRET-ACCESS-aaaa"
REFRESH = "SECRET-REFRESH-bbbb"
NEW_ACCESS = "SECRET-ACCESS-new-cccc"
NEW_REFRESH = "SECRET-REFRESH-new-dddd"


def jwt(claims: dict[str, Any]) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join([b64(b'{"alg":"HS256"}'), b64(json.dumps(claims).encode()), b64(b"sig")])


def oauth(expires_at: float | None = NOW + 7200, refresh: str | None = REFRESH,
          ) -> StoredCredentials:
    return StoredCredentials("gopro", "oauth", ACCESS, refresh, "user-1", expires_at, NOW - 10)


class FakeTokens:
    layout = LAYOUT  # GoPro's: the messages the tests read are GoPro's

    def __init__(self, refresh_token: str | None = NEW_REFRESH,
                 fail: Exception | None = None) -> None:
        self.calls: list[StoredCredentials] = []
        self.refresh_token = refresh_token
        self.fail = fail
        self.lock = threading.Lock()

    def refresh(self, credentials: StoredCredentials) -> StoredCredentials:
        with self.lock:
            self.calls.append(credentials)
        if self.fail is not None:
            raise self.fail
        return StoredCredentials("gopro", "oauth", f"{NEW_ACCESS}-{len(self.calls)}",
                                 self.refresh_token, None, NOW + 3600, NOW)


# --- StoredCredentials ----------------------------------------------------------------------


def test_repr_and_str_hide_tokens() -> None:
    creds = oauth()
    for text in (repr(creds), str(creds), f"{creds}", repr(AccessGrant(creds))):
        assert ACCESS not in text and REFRESH not in text
        assert "user-1" in text


def test_json_round_trip() -> None:
    creds = oauth()
    assert StoredCredentials.from_json(creds.to_json()) == creds
    cookie = StoredCredentials("gopro", "cookie", "tok", None, "u", None, NOW)
    assert StoredCredentials.from_json(cookie.to_json()) == cookie


@pytest.mark.parametrize("text", [
    None, "", "   ", "not json", "[]", "42", '{"mode": "oauth"}', '{"access_token": ""}',
    '{"access_token": "SECRET-X", "mode": "magic"}', b"\xff\xfe",
])
def test_bad_json_means_log_in(text: str | bytes | None) -> None:
    with pytest.raises(CredentialsMissingError) as e:
        StoredCredentials.from_json(text)
    assert "cloudsync login" in str(e.value)
    assert "SECRET-X" not in str(e.value)


def test_from_json_is_tolerant() -> None:
    creds = StoredCredentials.from_json(json.dumps({
        "access_token": " tok ", "refresh_token": "r", "user_id": 1234,
        "expires_at": "2025-06-15T15:06:40Z", "updated_at": None}))
    assert creds.mode == "oauth" and creds.provider == "gopro"
    assert creds.access_token == "tok" and creds.user_id == "1234"
    assert creds.expires_at == 1_750_000_000.0 and creds.updated_at == 0.0
    assert StoredCredentials.from_json('{"access_token": "t"}').mode == "cookie"


def test_jwt_expiry() -> None:
    assert jwt_expiry(jwt({"exp": 1234567890, "sub": "x"})) == 1234567890.0
    assert jwt_expiry(jwt({"sub": "x"})) is None
    assert jwt_expiry(jwt({"exp": "soon"})) is None
    assert jwt_expiry("a.b.c.d.e") is None  # JWE
    assert jwt_expiry("opaque") is None
    assert jwt_expiry("a.!!!.c") is None


# --- AccessGrant ----------------------------------------------------------------------------


def test_grant_applies_per_mode() -> None:
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    AccessGrant(oauth()).apply(headers, cookies)
    assert headers == {"Authorization": f"Bearer {ACCESS}"} and cookies == {}

    headers = {"Authorization": "stale"}
    AccessGrant(StoredCredentials("gopro", "cookie", "jwe", None, "u9"), layout=LAYOUT).apply(
        headers, cookies)
    # cookie mode looks like the web app: a browser's User-Agent, its Origin and Referer
    assert headers == {"User-Agent": BROWSER_USER_AGENT, "Origin": "https://gopro.com",
                       "Referer": "https://gopro.com/"}
    assert "Mozilla/5.0" in BROWSER_USER_AGENT
    assert cookies == {"gp_access_token": "jwe", "gp_user_id": "u9"}


def test_grant_renews_once_for_many_threads() -> None:
    calls: list[int] = []
    barrier = threading.Barrier(8)

    def renewer(old: StoredCredentials) -> StoredCredentials:
        calls.append(1)
        return replace(old, access_token=NEW_ACCESS)

    grant = AccessGrant(oauth(), renewer)

    def work() -> None:
        generation = grant.apply({}, {})
        barrier.wait(timeout=5)
        grant.renew(generation)

    in_threads(work, 8)
    assert calls == [1] and grant.generation == 1
    headers: dict[str, str] = {}
    grant.apply(headers, {})
    assert headers["Authorization"] == f"Bearer {NEW_ACCESS}"
    assert set(grant.secrets()) == {ACCESS, REFRESH, NEW_ACCESS}


def test_grant_without_renewer_needs_a_person() -> None:
    with pytest.raises(ReauthenticationRequiredError) as e:
        AccessGrant(StoredCredentials("gopro", "cookie", "jwe"), layout=LAYOUT).renew()
    assert "--cookie-token" in str(e.value)


# --- Authenticator --------------------------------------------------------------------------


def test_fresh_oauth_token_is_used_as_is() -> None:
    store, tokens = MemoryStore(oauth(NOW + 7200)), FakeTokens()
    grant = Authenticator(store, tokens, lambda: NOW).ensure_fresh(1800)
    assert tokens.calls == [] and store.saved == []
    assert grant.mode == "oauth" and grant.user_id == "user-1"


def test_another_providers_login_is_never_sent_to_this_providers_token_endpoint() -> None:
    store = MemoryStore(replace(oauth(NOW - 5), provider="tinycloud"))
    tokens = FakeTokens()
    with pytest.raises(CredentialsMissingError) as e:
        Authenticator(store, tokens, lambda: NOW).ensure_fresh(1800)
    assert tokens.calls == [] and store.saved == []
    assert "for tinycloud, not gopro" in str(e.value) and ACCESS not in str(e.value)


def test_a_login_mode_the_provider_does_not_accept_is_never_used() -> None:
    class OAuthOnly(FakeTokens):
        layout = replace(LAYOUT, modes=("oauth",))

    store = MemoryStore(StoredCredentials("gopro", "cookie", "jwe", None, "u"))
    with pytest.raises(CredentialsMissingError) as e:
        Authenticator(store, OAuthOnly(), lambda: NOW).ensure_fresh(1800)
    assert "cookie login is not one GoPro accepts" in str(e.value)


@pytest.mark.parametrize("expires_at", [NOW + 600, NOW - 5, None])
def test_expiring_or_unknown_oauth_token_is_refreshed_and_written_back(
    expires_at: float | None,
) -> None:
    store, tokens = MemoryStore(oauth(expires_at)), FakeTokens(refresh_token=None)
    grant = Authenticator(store, tokens, lambda: NOW).ensure_fresh(1800)
    assert len(tokens.calls) == 1
    [saved] = store.saved
    assert saved.access_token == f"{NEW_ACCESS}-1"
    assert saved.refresh_token == REFRESH  # none returned: the old one is kept
    assert saved.user_id == "user-1" and saved.expires_at == NOW + 3600
    assert saved.updated_at == NOW
    headers: dict[str, str] = {}
    grant.apply(headers, {})
    assert headers["Authorization"] == f"Bearer {NEW_ACCESS}-1"


def test_a_new_refresh_token_is_stored() -> None:
    store = MemoryStore(oauth(NOW + 10))
    Authenticator(store, FakeTokens(), lambda: NOW).ensure_fresh()
    assert store.saved[0].refresh_token == NEW_REFRESH


def test_refused_refresh_needs_a_person(caplog: pytest.LogCaptureFixture) -> None:
    refused = ReauthenticationRequiredError(
        "refused (token_blacklisted): log in again: "
        "cloudsync login --access-token ... --refresh-token ..."
    )
    store = MemoryStore(oauth(NOW + 10))
    with caplog.at_level(logging.DEBUG), pytest.raises(ReauthenticationRequiredError) as e:
        Authenticator(store, FakeTokens(fail=refused), lambda: NOW).ensure_fresh()
    assert "--refresh-token" in str(e.value)
    assert store.saved == []
    assert ACCESS not in caplog.text and REFRESH not in caplog.text


def test_refused_refresh_uses_tokens_renewed_elsewhere() -> None:
    class RacingStore(MemoryStore):
        loads = 0

        def load(self) -> StoredCredentials:
            self.loads += 1
            if self.loads > 1:  # another Lambda refreshed meanwhile
                return replace(oauth(NOW + 3600), access_token="other", refresh_token="other-r")
            return super().load()

    store = RacingStore(oauth(NOW + 10))
    tokens = FakeTokens(fail=ReauthenticationRequiredError("token_blacklisted"))
    grant = Authenticator(store, tokens, lambda: NOW).ensure_fresh()
    headers: dict[str, str] = {}
    grant.apply(headers, {})
    assert headers["Authorization"] == "Bearer other"


def test_oauth_without_refresh_token() -> None:
    store = MemoryStore(oauth(NOW - 1, refresh=None))
    with pytest.raises(ReauthenticationRequiredError):
        Authenticator(store, FakeTokens(), lambda: NOW).ensure_fresh()
    store = MemoryStore(oauth(NOW + 60, refresh=None))  # still valid: used, with a warning
    assert Authenticator(store, FakeTokens(), lambda: NOW).ensure_fresh().mode == "oauth"


def test_browser_token_expired_jwt_needs_a_person() -> None:
    token = jwt({"exp": NOW - 1})
    store = MemoryStore(StoredCredentials("gopro", "cookie", token, None, "u"))
    with pytest.raises(ReauthenticationRequiredError) as e:
        Authenticator(store, FakeTokens(), lambda: NOW).ensure_fresh()
    assert "cloudsync login --cookie-token ... --user-id ..." in str(e.value)
    assert token not in str(e.value)


def test_browser_token_valid_jwt_or_jwe_is_used_without_refresh() -> None:
    tokens = FakeTokens()
    for token in (jwt({"exp": NOW + 60}), "h..iv.ct.tag", "opaque"):
        store = MemoryStore(StoredCredentials("gopro", "cookie", token, None, "u"))
        grant = Authenticator(store, tokens, lambda: NOW).ensure_fresh(1800)
        cookies: dict[str, str] = {}
        grant.apply({}, cookies)
        assert cookies["gp_access_token"] == token
    assert tokens.calls == []


def test_grant_renewal_after_401() -> None:
    store, tokens = MemoryStore(oauth(NOW + 7200)), FakeTokens()
    grant = Authenticator(store, tokens, lambda: NOW).ensure_fresh()
    grant.renew(grant.generation)  # the API said 401 although the token looked fresh
    assert len(tokens.calls) == 1 and store.creds is not None
    assert store.creds.access_token == f"{NEW_ACCESS}-1"

    cookie_store = MemoryStore(StoredCredentials("gopro", "cookie", "jwe", None, "u"))
    cookie_grant = Authenticator(cookie_store, tokens, lambda: NOW).ensure_fresh()
    with pytest.raises(ReauthenticationRequiredError):
        cookie_grant.renew()
    cookie_store.creds = StoredCredentials("gopro", "cookie", "jwe-new", None, "u")  # re-login
    cookie_grant.renew()
    cookies: dict[str, str] = {}
    cookie_grant.apply({}, cookies)
    assert cookies["gp_access_token"] == "jwe-new"


def test_status_has_facts_only() -> None:
    auth = Authenticator(MemoryStore(oauth(NOW + 100)), FakeTokens(), lambda: NOW)
    status = auth.status()
    assert status == {"provider": "gopro", "mode": "oauth", "user_id": "user-1",
                      "expires_at": "2025-06-15T15:08:20Z", "seconds_left": 100,
                      "password_remembered": False}
    assert ACCESS not in json.dumps(status) and REFRESH not in json.dumps(status)
    cookie = MemoryStore(StoredCredentials("gopro", "cookie", jwt({"exp": NOW + 5}), None, "u"))
    assert Authenticator(cookie, FakeTokens(), lambda: NOW).status()["seconds_left"] == 5
    opaque = MemoryStore(StoredCredentials("gopro", "cookie", "jwe", None, "u"))
    assert Authenticator(opaque, FakeTokens(), lambda: NOW).status()["expires_at"] is None


# --- GoProTokenClient -----------------------------------------------------------------------

def settings(client_id: str = "web-client", secret: str = "web-secret") -> Settings:  # noqa: S107
    return Settings(
        table="", bucket="", secret_id="s", topic_arn="", state_machine_arn="",
        environment="test", gopro_api_url="https://gopro.test/", gopro_client_id=client_id,
        gopro_client_secret=secret, max_concurrent_media=5, retry_budget=3, time_budget_s=240,
        lease_s=360, part_size_mib=0, parallel_ranges=8, media_types=(), max_items=None,
    )


def token_client(handler: Callable[[requests.PreparedRequest], Reply],
                 **kw: Any) -> tuple[GoProTokenClient, FakeTransport, list[float]]:
    transport = FakeTransport(handler, require_timeout=True)
    session = requests.Session()
    session.mount("https://", transport)
    waits: list[float] = []
    retry = HttpRetryPolicy(attempts=3, sleep=waits.append, clock=lambda: NOW, rng=lambda: 0.5)
    client = GoProTokenClient(kw.pop("settings", settings()), session, retry=retry,
                              clock=lambda: NOW)
    return client, transport, waits


def form(request: requests.PreparedRequest) -> dict[str, str]:
    body = request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return {k: v[0] for k, v in parse_qs(text).items()}


def test_refresh_posts_the_form_and_parses_the_answer() -> None:
    client, transport, _ = token_client(lambda r: (200, {}, {
        "access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH, "expires_in": 3600,
        "token_type": "Bearer", "resource_owner_id": "owner-1"}))
    fresh = client.refresh(oauth(refresh=REFRESH))
    [request] = transport.requests
    assert request.method == "POST" and request.url == "https://gopro.test/v1/oauth2/token"
    assert form(request) == {"grant_type": "refresh_token", "refresh_token": REFRESH,
                             "client_id": "web-client", "client_secret": "web-secret"}
    assert "Authorization" not in request.headers
    assert (fresh.access_token, fresh.refresh_token, fresh.expires_at) == (
        NEW_ACCESS, NEW_REFRESH, NOW + 3600)
    assert fresh.user_id == "user-1"  # the stored one wins over resource_owner_id


def test_refresh_refused_needs_a_person() -> None:
    client, _, waits = token_client(lambda r: (400, {}, {
        "error": "token_blacklisted", "error_description": f"token {REFRESH} revoked"}))
    with pytest.raises(ReauthenticationRequiredError) as e:
        client.refresh(oauth())
    message = str(e.value)
    assert "token_blacklisted" in message
    assert "cloudsync login --access-token ... --refresh-token ..." in message
    assert REFRESH not in message and waits == []


def test_refresh_is_never_sent_twice_after_a_timeout_but_503_is_retried() -> None:
    client, transport, _ = token_client(lambda r: requests.ReadTimeout("slow"))
    with pytest.raises(TransientError):
        client.refresh(oauth())
    assert len(transport.requests) == 1

    replies: list[Reply] = [(503, {}, {}), (200, {}, {"access_token": "a", "expires_in": "60"})]
    client, transport, waits = token_client(lambda r: replies.pop(0))
    assert client.refresh(oauth()).expires_at == NOW + 60
    assert len(transport.requests) == 2 and waits == [0.5]

    client, transport, _ = token_client(lambda r: (500, {}, {}))
    with pytest.raises(SourceRequestError):
        client.refresh(oauth())
    assert len(transport.requests) == 1

    client, _, _ = token_client(lambda r: (429, {}, {}))
    with pytest.raises(RateLimitedError):
        client.refresh(oauth())


def test_refresh_answer_without_token_is_an_auth_error() -> None:
    client, _, _ = token_client(lambda r: (200, {}, {"nothing": True}))
    with pytest.raises(AuthError):
        client.refresh(oauth())
    client, _, _ = token_client(lambda r: (200, {}, b"not json"))
    with pytest.raises(AuthError):
        client.refresh(oauth())


def test_missing_client_settings_are_named_when_refused() -> None:
    client, transport, _ = token_client(lambda r: (401, {}, {"error": "invalid_client"}),
                                        settings=settings("", ""))
    with pytest.raises(ReauthenticationRequiredError) as e:
        client.refresh(oauth())
    assert "goproClientId" in str(e.value)  # the stack setting a person can change
    assert "client_id" not in form(transport.requests[0])


def test_password_login() -> None:
    client, transport, _ = token_client(lambda r: (200, {}, {
        "access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH, "expires_in": 100,
        "resource_owner_id": "owner-9"}))
    creds = client.password_login("me@example.com", "hunter2")
    sent = form(transport.requests[0])
    assert sent["grant_type"] == "password" and sent["username"] == "me@example.com"
    assert sent["password"] == "hunter2" and "media_library_beta" in sent["scope"]
    assert creds.mode == "oauth" and creds.user_id == "owner-9"
    assert creds.expires_at == NOW + 100 and creds.updated_at == NOW

    client, _, _ = token_client(lambda r: (400, {}, {"error": "invalid_grant"}))
    with pytest.raises(AuthError) as e:
        client.password_login("me@example.com", "hunter2")
    assert "hunter2" not in str(e.value) and "--cookie-token" in str(e.value)
