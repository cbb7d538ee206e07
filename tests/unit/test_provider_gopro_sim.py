"""GoProProvider, the token client and the authenticator against the GoPro simulator (loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from cloudsync_core.credentials import Authenticator, StoredCredentials
from cloudsync_core.errors import (
    DeletedAtSourceError,
    ReauthenticationRequiredError,
)
from cloudsync_core.http import HttpRetryPolicy, new_session
from cloudsync_core.keys import object_key
from cloudsync_core.models import ListFilters, SourceFile
from cloudsync_core.providers import create_provider
from cloudsync_core.providers.gopro import GoProProvider, GoProTokenClient
from cloudsync_core.settings import Settings
from cloudsync_local.simulator import GoProSimulator, links
from tests.unit.auth_doubles import MemoryStore

CLIENT_ID, CLIENT_SECRET = "sim-client", "sim-secret"


@pytest.fixture
def sim() -> Iterator[GoProSimulator]:
    with GoProSimulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                  page_size_override=30) as s:
        yield s


def settings_for(sim: GoProSimulator) -> Settings:
    return Settings(
        table="", bucket="", secret_id="s", topic_arn="", state_machine_arn="",
        environment="test", gopro_api_url=sim.base_url, gopro_client_id=CLIENT_ID,
        gopro_client_secret=CLIENT_SECRET, max_concurrent_media=5, retry_budget=3,
        time_budget_s=240, lease_s=360, part_size_mib=0, parallel_ranges=8, media_types=(),
        max_items=None,
    )


def no_sleep(waits: list[float]) -> HttpRetryPolicy:
    return HttpRetryPolicy(attempts=5, base=0.01, cap=0.05, sleep=waits.append, timeout=(2, 10))


def login(sim: GoProSimulator) -> tuple[Authenticator, MemoryStore]:
    settings = settings_for(sim)
    tokens = GoProTokenClient(settings, new_session(2), clock=sim.now)
    creds = tokens.password_login(sim.username, sim.password)
    store = MemoryStore(creds)
    return Authenticator(store, tokens, clock=sim.now), store


def open_provider(sim: GoProSimulator, auth: Authenticator,
                  waits: list[float] | None = None) -> GoProProvider:
    provider = GoProProvider(settings=settings_for(sim), grant=auth.ensure_fresh(60),
                             session=new_session(4), retry=no_sleep([] if waits is None else waits))
    return provider


def sim_ids(files: list[SourceFile]) -> set[str]:
    out = set()
    for f in files:
        parsed = links.parse_path(urlsplit(f.url).path)
        assert parsed is not None
        out.add(parsed[1])
    return out


def expected_ids(sim: GoProSimulator, media_id: str) -> set[str]:
    return {f.file_id for f in sim.library.originals(media_id)}


def test_library_of_every_kind(sim: GoProSimulator) -> None:
    lib = sim.library
    may = datetime(2024, 5, 3, 12, tzinfo=UTC)
    twin_a = lib.add_video(filename="GX010001.MP4", captured_at=may)
    twin_b = lib.add_video(filename="GX010001.MP4", captured_at=may.replace(day=20))
    chaptered = lib.add_video(filename="GX010123.MP4", chapters=3, media_type="Video",
                              size=3 * 1024)
    burst = lib.add_burst(frames=12, frame_size=1024)
    raw = lib.add_photo(raw=True, size=1024, raw_size=2048)
    hostile = lib.add_item({"id": "0123456789abcdef01234567", "filename": "../../x.MP4",
                            "file_size": -1, "type": "Video", "captured_at": 17})
    lib.add_item({"id": "../../etc", "filename": "evil.MP4"})
    lib.add_item({"filename": "no-id.MP4"})
    for _ in range(40):
        lib.add_video(size=1024)

    auth, _ = login(sim)
    provider = open_provider(sim, auth)
    listed = {m.media_id: m for m in provider.list_media(ListFilters())}
    assert len(listed) == 46 and provider.skipped_items == 2
    assert listed[twin_a].filename == listed[twin_b].filename == "GX010001.MP4"
    keys = {object_key("gopro", i, listed[i].captured_at, listed[i].filename)
            for i in (twin_a, twin_b)}
    assert len(keys) == 2
    assert listed[hostile].file_size is None
    assert object_key("gopro", hostile, None, listed[hostile].filename).endswith(f"{hostile}/x.MP4")

    chapters = provider.originals(chaptered, listed[chaptered].media_type)
    assert [(f.file_id, f.filename) for f in chapters] == [
        ("source-1", "GX010123.MP4"), ("source-2", "GX020123.MP4"), ("source-3", "GX030123.MP4")]
    assert sim_ids(chapters) == expected_ids(sim, chaptered)

    frames = provider.originals(burst, listed[burst].media_type)
    assert len(frames) == 12 and frames[6].file_id == "frame-0007"
    assert sim_ids(frames) == expected_ids(sim, burst)
    assert sim_ids(provider.originals(burst)) == expected_ids(sim, burst)  # type inferred

    photo = provider.originals(raw, "Photo")
    assert [f.file_id for f in photo] == ["source-1", "raw_photo-1"]
    assert photo[1].filename.endswith(".GPR")
    assert sim_ids(photo) == expected_ids(sim, raw)

    assert provider.account()["id"] == sim.user_id
    assert sim.stats["missing_accept"] == 0 and sim.stats["search"] == 2  # 48 entries, 30 a page


def test_filters_reach_the_simulator(sim: GoProSimulator) -> None:
    lib = sim.library
    old = lib.add_video(captured_at=datetime(2023, 1, 1, tzinfo=UTC))
    new = lib.add_video(captured_at=datetime(2024, 6, 1, tzinfo=UTC))
    photo = lib.add_photo(captured_at=datetime(2024, 6, 2, tzinfo=UTC))
    lib.add_video(captured_at=datetime(2024, 6, 3, tzinfo=UTC), ready=False)
    auth, _ = login(sim)
    provider = open_provider(sim, auth)
    everything = [m.media_id for m in provider.list_media(ListFilters())]
    assert old in everything and photo in everything and len(everything) == 3
    recent = ListFilters(media_types=("Video",),
                         captured_after=datetime(2024, 1, 1, tzinfo=UTC))
    assert [m.media_id for m in provider.list_media(recent)] == [new]


def test_overlap_rate_limits_and_deletion(sim: GoProSimulator) -> None:
    ids = {sim.library.add_video(size=1024) for _ in range(70)}
    sim.faults.add("overlap", "search", count=None)
    sim.faults.add("rate_limit", "search", count=1, retry_after=3, retry_after_form="date")
    sim.faults.add("error", "search", count=1, after=1, status=502)
    auth, _ = login(sim)
    waits: list[float] = []
    provider = open_provider(sim, auth, waits)
    listed = [m.media_id for m in provider.list_media(ListFilters())]
    assert len(listed) == len(set(listed)) == 70 and set(listed) == ids
    assert len(waits) == 2 and 0 < waits[0] <= 3.5

    gone = next(iter(ids))
    sim.library.remove(gone)
    with pytest.raises(DeletedAtSourceError):
        provider.originals(gone)


def test_oauth_renewal_after_401_and_revocation(sim: GoProSimulator) -> None:
    media_id = sim.library.add_video(size=1024)
    auth, store = login(sim)
    provider = open_provider(sim, auth)
    first_token = store.creds.access_token
    sim.expire_access_tokens()  # the API now answers 401: renew once and go on
    assert provider.originals(media_id)
    assert store.creds.access_token != first_token and len(store.saved) == 1

    sim.expire_access_tokens()
    sim.revoke_refresh_tokens()
    with pytest.raises(ReauthenticationRequiredError) as e:
        provider.originals(media_id)
    assert "token_blacklisted" in str(e.value) and "--refresh-token" in str(e.value)
    assert store.creds.access_token not in str(e.value)


def test_ensure_fresh_refreshes_against_the_simulator(sim: GoProSimulator) -> None:
    auth, store = login(sim)
    sim.advance_clock(3600 - 600)  # ten minutes left
    grant = auth.ensure_fresh(1800)
    assert len(store.saved) == 1 and store.creds.expires_at is not None
    assert store.creds.expires_at - sim.now() > 1800
    provider = create_provider("gopro", settings=settings_for(sim), grant=grant,
                               session=new_session(2))
    assert provider.account()["id"] == sim.user_id


def test_browser_token_mode(sim: GoProSimulator) -> None:
    media_id = sim.library.add_video(size=1024)
    token = sim.issue_browser_token(lifetime_s=600)
    store = MemoryStore(StoredCredentials("gopro", "cookie", token.access_token, None,
                                          token.user_id, token.expires_at, sim.now()))
    auth = Authenticator(store, GoProTokenClient(settings_for(sim), clock=sim.now),
                         clock=sim.now)
    provider = open_provider(sim, auth)
    assert [m.media_id for m in provider.list_media(ListFilters())] == [media_id]
    assert provider.originals(media_id)

    sim.expire_access_tokens()  # cookies cannot be renewed: a person must log in
    with pytest.raises(ReauthenticationRequiredError) as e:
        provider.originals(media_id)
    assert "--cookie-token" in str(e.value) and token.access_token not in str(e.value)
    assert sim.stats["token_refresh"] == 0
