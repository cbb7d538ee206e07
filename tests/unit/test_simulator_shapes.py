"""The simulator serves the shapes real libraries have, and the provider's rule table, reading
them over HTTP, picks exactly what the simulator says a correct archiver must keep."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from cloudsync_core.credentials import AccessGrant, StoredCredentials
from cloudsync_core.errors import NotMediaError
from cloudsync_core.http import HttpRetryPolicy, new_session
from cloudsync_core.models import ListFilters, MediaItem
from cloudsync_core.providers.gopro import GoProProvider
from cloudsync_core.settings import Settings
from cloudsync_local.simulator import GoProSimulator, KiB, MiB, links

T = 10


@pytest.fixture
def sim() -> Iterator[GoProSimulator]:
    with GoProSimulator() as s:
        yield s


def provider(sim: GoProSimulator, include_renders: bool = False) -> GoProProvider:
    settings = Settings(
        table="", bucket="", secret_id="s", topic_arn="", state_machine_arn="",
        environment="test", gopro_api_url=sim.base_url, gopro_client_id="", gopro_client_secret="",
        max_concurrent_media=5, retry_budget=3, time_budget_s=240, lease_s=360, part_size_mib=0,
        parallel_ranges=4, media_types=(), max_items=None, include_renders=include_renders,
    )
    tokens = sim.issue_tokens()
    creds = StoredCredentials("gopro", "oauth", str(tokens["access_token"]),
                              str(tokens["refresh_token"]), None, sim.now() + 3600, sim.now())
    return GoProProvider(settings=settings, grant=AccessGrant(creds), session=new_session(2),
                         retry=HttpRetryPolicy(attempts=2, base=0.01, cap=0.02, timeout=(2, 10)))


def file_ids(urls: list[str]) -> set[str]:
    out = set()
    for url in urls:
        parsed = links.parse_path(urlsplit(url).path)
        assert parsed is not None
        out.add(parsed[1])
    return out


def test_every_shape_is_listed_and_selected_as_the_simulator_intends(
    sim: GoProSimulator,
) -> None:
    lib = sim.library
    media = [
        lib.add_video(size=64 * KiB, gpmf=True),
        lib.add_video(filename="GS010045.360", size=64 * KiB, chapters=2, file_type="360"),
        lib.add_video(size=64 * KiB, unavailable_duplicate=True),
        lib.add_edit(size=64 * KiB),
        lib.add_timelapse(frames=40, frame_size=KiB),
        lib.add_burst(frames=3, frame_size=KiB, raw_size=2 * KiB),
        lib.add_no_source(size=64 * KiB),
        lib.add_photo(raw=True, size=KiB, raw_size=KiB),
    ]
    project, render = lib.add_edit_project(), lib.add_video(size=KiB, composition="export")
    p = provider(sim)
    listed: dict[str, MediaItem] = {m.media_id: m for m in p.list_media(ListFilters())}
    assert set(listed) == {*media, project, render}
    for media_id in media:
        chosen = p.select(listed[media_id])
        assert file_ids([o.url for o in chosen.originals]) == {
            f.file_id for f in lib.originals(media_id)}, (media_id, chosen.rule)
    for media_id in (project, render):
        with pytest.raises(NotMediaError):
            p.select(listed[media_id])
        assert lib.get(media_id).kind in ("project", "render")
    # a stack that asks for renders gets the render's source
    assert [o.file_id for o in provider(sim, include_renders=True).select(
        listed[render]).originals] == ["source-1"]


def test_download_answers_carry_the_real_fields(sim: GoProSimulator) -> None:
    lib = sim.library
    edit = lib.add_edit(size=KiB)
    series = lib.add_burst(frames=2, frame_size=KiB, raw_size=KiB)
    dup = lib.add_video(size=KiB, unavailable_duplicate=True, gpmf=True)
    lapse = lib.add_timelapse(frames=40, frame_size=KiB)
    headers = {"Authorization": f"Bearer {sim.issue_tokens()['access_token']}"}

    def body(media_id: str) -> dict[str, object]:
        got = requests.get(f"{sim.base_url}/media/{media_id}/download", headers=headers,
                           timeout=T)
        assert got.status_code == 200
        answer: dict[str, object] = got.json()
        return answer

    e = body(edit)
    assert e["filename"] == ""
    variations = e["_embedded"]["variations"]  # type: ignore[index]
    assert [v["label"] for v in variations] == ["baked_source", "mp4_low"]
    assert "item_number" not in variations[0]
    sidecars = body(series)["_embedded"]["sidecar_files"]  # type: ignore[index]
    assert [(s["label"], s["item_number"]) for s in sidecars] == [("raw_photo", 1),
                                                                  ("raw_photo", 2)]
    d = body(dup)["_embedded"]
    first = d["variations"][0]  # type: ignore[index]
    assert (first["label"], first["available"], first["item_number"]) == ("source", False, 1)
    assert requests.get(first["url"], timeout=T).status_code == 404  # its link 404s
    assert [s["type"] for s in d["sidecar_files"]] == ["1.mp4", "antishake.json"]  # type: ignore[index]
    sources = [v for v in body(lapse)["_embedded"]["variations"]  # type: ignore[index]
               if v["label"] == "source"]
    assert [v["item_number"] for v in sources] == list(range(1, 41))
    item = lib.get(lapse).item
    assert sum(f.size for f in lib.originals(lapse)) == item["file_size"]
    assert item["item_count"] == 40
    assert lib.get(lib.add_edit_project()).item["play_as"] == "edl"
    assert len({f.size for f in lib.originals(lapse)}) > 1  # frames differ in size
    assert MiB > item["file_size"]
