"""A second provider plugs in without touching the core: it is defined only in this test, and
registered by one line (its ``ProviderSpec``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

import pytest
import requests

from cloudsync_core.credentials import AccessGrant, SecretLayout, StoredCredentials
from cloudsync_core.errors import ConfigurationError, UnknownProviderError
from cloudsync_core.keys import object_key
from cloudsync_core.models import ListFilters, MediaItem, SourceFile
from cloudsync_core.providers import (
    CloudProvider,
    Page,
    ProviderSpec,
    create_provider,
    display_name,
    provider_spec,
    register_provider,
    registered_providers,
    token_client,
    unregister_provider,
)
from cloudsync_core.providers.gopro import GOPRO, GoProProvider, GoProTokenClient
from cloudsync_core.providers.gopro.originals import RULES
from cloudsync_core.settings import Settings

SETTINGS = Settings(
    table="t", bucket="b", secret_id="s", topic_arn="", state_machine_arn="",
    environment="test", gopro_api_url="https://gopro.test", gopro_client_id="",
    gopro_client_secret="", max_concurrent_media=5, retry_budget=3, time_budget_s=240,
    lease_s=360, part_size_mib=0, parallel_ranges=8, media_types=(), max_items=None,
)
GRANT = AccessGrant(StoredCredentials("tinycloud", "oauth", "tok"))


class TinyCloud(CloudProvider):
    """A whole provider in a few lines: three pages, the middle one overlapping."""

    name: ClassVar[str] = "tinycloud"
    PAGES: ClassVar[list[list[str]]] = [["a1", "a2"], ["a2", "a3"], ["a4"]]

    def __init__(self, *, settings: Settings, grant: AccessGrant,
                 session: requests.Session | None = None) -> None:
        super().__init__()
        self.grant = grant

    def fetch_pages(self, filters: ListFilters) -> Iterator[Page]:
        for number, ids in enumerate(self.PAGES, start=1):
            items = [MediaItem(self.name, i, f"{i}.mov", "Video", None, None, 1) for i in ids]
            yield Page(number, items, len(ids), total_pages=len(self.PAGES))

    def originals(self, media_id: str, media_type: str | None = None) -> list[SourceFile]:
        return [SourceFile("source-1", 1, "source", f"{media_id}.mov",
                           f"https://tiny.test/{media_id}")]

    def account(self) -> dict[str, Any]:
        return {"id": "tiny"}


class TinyTokens:
    """Its token client: this tiny cloud's tokens never need renewing."""

    layout = SecretLayout(provider="tinycloud", display_name="TinyCloud")

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.settings = settings

    def refresh(self, credentials: StoredCredentials) -> StoredCredentials:
        return credentials

    def password_login(self, username: str, password: str,
                       client_secret: str | None = None) -> StoredCredentials:
        return StoredCredentials("tinycloud", "oauth", f"tok-{username}")


TINY = ProviderSpec(name="tinycloud", factory=TinyCloud, token_client=TinyTokens,
                    secret=TinyTokens.layout)


@pytest.fixture
def tiny() -> Iterator[None]:
    register_provider(TINY)
    yield
    unregister_provider("tinycloud")


def test_gopro_is_registered() -> None:
    assert "gopro" in registered_providers()
    provider = create_provider("gopro", settings=SETTINGS, grant=GRANT)
    assert isinstance(provider, GoProProvider) and provider.name == "gopro"


def test_gopro_brings_its_auth_rules_and_name() -> None:
    spec = provider_spec("gopro")
    assert spec is GOPRO and spec.display_name == "GoPro" and display_name("gopro") == "GoPro"
    assert isinstance(token_client("gopro", SETTINGS), GoProTokenClient)
    assert spec.rules == RULES and spec.secret.modes == ("oauth", "cookie")
    assert spec.secret.secret_name == "gopro-credentials"
    assert display_name("") == "GoPro" and display_name("dropbox") == "dropbox"


def test_a_second_provider_is_addable(tiny: None) -> None:
    assert {"gopro", "tinycloud"} <= set(registered_providers())
    assert display_name("tinycloud") == "TinyCloud"
    assert isinstance(token_client("tinycloud", SETTINGS), TinyTokens)
    provider = create_provider("tinycloud", settings=SETTINGS, grant=GRANT)
    listed = list(provider.list_media(ListFilters()))
    assert [m.media_id for m in listed] == ["a1", "a2", "a3", "a4"]  # deduplicated by the base
    assert [m.media_id for m in provider.list_media(ListFilters(max_items=2))] == ["a1", "a2"]
    assert provider.originals("a1")[0].filename == "a1.mov"
    assert object_key(provider.name, "a1", None, "a1.mov") == "tinycloud-videos/undated/a1/a1.mov"


def test_unknown_and_bad_names() -> None:
    with pytest.raises(UnknownProviderError) as e:
        create_provider("dropbox", settings=SETTINGS, grant=GRANT)
    assert "gopro" in str(e.value)
    for bad in ("", "#run", "Gopro", "a/b", "x" * 40):
        with pytest.raises(ConfigurationError):
            register_provider(replace(TINY, name=bad, secret=replace(TINY.secret, provider=bad)))
    with pytest.raises(ConfigurationError):  # a layout for another provider's logins
        replace(TINY, secret=GOPRO.secret)


def test_re_registering_needs_replace(tiny: None) -> None:
    register_provider(TINY)  # the same spec again is harmless

    def other(**kw: Any) -> CloudProvider:
        return TinyCloud(**kw)

    with pytest.raises(ConfigurationError):
        register_provider(replace(TINY, factory=other))
    register_provider(replace(TINY, factory=other), replace=True)
    assert isinstance(create_provider("tinycloud", settings=SETTINGS, grant=GRANT), TinyCloud)
