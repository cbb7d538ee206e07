"""The GoPro rule table: every row of gopro-api.md's originals rules, by name, on answers shaped
like the public clients' fixtures (dustin/gopro multiclip.json, gpmf.json, mediabrk.json)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cloudsync_core.errors import IncompleteMediumError, InvalidMediaError, NotMediaError
from cloudsync_core.models import MediaItem, SourceFile
from cloudsync_core.providers.gopro import parse_media_item
from cloudsync_core.providers.gopro.originals import (
    RULE_NAMES,
    RULES,
    chapter_filename,
    select,
    size_shortfall,
)
from cloudsync_core.sync.prepare import check_sizes
from cloudsync_core.transfer import SourceInfo

MID = "62NzWRrpPXm7o"  # a real library's id shape: 13 mixed-case characters


def link(name: str) -> str:
    return f"https://cdn.test/{name}?Expires=1&Signature=SIG&Key-Pair-Id=K"


def entry(name: str, label: str | None = None, n: int | None = None, kind: str | None = None,
          **extra: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"url": link(name), "head": link(name + "-head"), **extra}
    if label is not None:
        e["label"] = label
    if n is not None:
        e["item_number"] = n
    if kind is not None:
        e["type"] = kind
    return e


def answer(filename: str | None, files: list[dict[str, Any]] | None = None,
           variations: list[dict[str, Any]] | None = None,
           sidecars: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"filename": filename, "_embedded": {
        "files": files or [], "variations": variations or [], "sidecar_files": sidecars or [],
        "sprites": []}}


def listed(media_type: str | None = None, item_count: int | None = None,
           file_size: int | None = None, filename: str | None = None,
           **facts: str) -> MediaItem:
    return MediaItem("gopro", MID, filename, media_type, None, None, file_size, item_count,
                     facts=facts)


def names(originals: list[SourceFile]) -> list[tuple[str, str]]:
    return [(o.file_id, o.filename) for o in originals]


def links_of(originals: list[SourceFile]) -> set[str]:
    return {o.url.split("?")[0].rsplit("/", 1)[1] for o in originals}


GPMF = [entry("gpmf", "gpmf", kind="1.mp4"), entry("antishake", "gpmf", kind="antishake.json")]
PROXIES = [entry("hrp", "high_res_proxy_mp4", kind="mp4"), entry("low", "mp4_low", kind="mp4")]


# --- one test per row (the mapping below checks that none is left out) ---------------------


def rule_edit_project() -> None:
    a = answer("", files=[entry("thumb", n=1)], sidecars=[entry("edl", "edl_mce", kind="json")])
    for facts in ({"play_as": "edl"}, {"user_created": "true"}):
        with pytest.raises(NotMediaError) as e:
            select(MID, a, listed("MultiClipEdit", 1, **facts))
        assert "edit project" in str(e.value)
    # the same answer without the project's marks is a single-item medium: files[0]
    assert select(MID, a, listed(None, 1)).rule == "first-file"


def rule_share_render() -> None:
    a = answer("GX010001.MP4", files=[entry("p", n=1)],
               variations=[entry("src", "source", 1, "mp4"), *PROXIES])
    with pytest.raises(NotMediaError) as e:
        select(MID, a, listed("Video", 1, composition="export"))
    assert "includeRenders" in str(e.value)
    chosen = select(MID, a, listed("Video", 1, composition="export"), include_renders=True)
    assert names(chosen.originals) == [("source-1", "GX010001.MP4")]


def rule_cover_beside_frames() -> None:
    frames = [entry(f"f{n}", n=n) for n in range(1, 11)]
    for cover in (entry("cover", "source", kind="jpg"), entry("cover", "source", 1, "jpg")):
        for kind in ("Burst", "TimeLapse", "Photo", None):  # never decided by type
            s = select(MID, answer("G0012345.JPG", files=frames, variations=[cover]),
                       listed(kind, 10))
            assert s.rule == "cover-beside-frames"
            assert [o.file_id for o in s.originals] == [f"frame-{n:04d}" for n in range(1, 11)]
            assert s.originals[6].filename == "G0012345-0007.JPG"
            assert "cover" not in links_of(s.originals)
    # one item only: the lone source is the original after all
    one = select(MID, answer("GOPR0001.JPG", files=frames[:2],
                             variations=[entry("s", "source", 1, "jpg")]), listed("Photo", 1))
    assert one.rule == "numbered-sources" and links_of(one.originals) == {"s"}


def rule_numbered_sources() -> None:
    # a chaptered video (gpmf.json): one source per chapter, never concat, proxies or gpmf
    chapters = [entry(f"c{n}", "source", n, "mp4") for n in (3, 1, 2)]
    a = answer("GX010639.MP4", files=[entry("p", n=1)],
               variations=[entry("concat", "concat", kind="mp4"), *chapters, *PROXIES],
               sidecars=GPMF)
    s = select(MID, a, listed("Video", 3, file_size=3000))
    assert names(s.originals) == [("source-1", "GX010639.MP4"), ("source-2", "GX020639.MP4"),
                                  ("source-3", "GX030639.MP4")]
    assert s.expected_bytes == 3000  # chapters add up to file_size: checked after probing
    # a time-lapse of 40 numbered JPG sources: every frame, named as frames; never by type
    frames = [entry(f"t{n}", "source", n, "jpg") for n in range(1, 41)]
    for kind in ("TimeLapse", "Video", None):
        t = select(MID, answer("G0010001.JPG", files=[entry("cover", n=1)], variations=frames),
                   listed(kind, 40, file_size=40 * 5000))
        assert t.rule == "numbered-sources" and len(t.originals) == 40
        assert t.originals[39].filename == "G0010001-0040.JPG"
        assert t.expected_bytes == 200_000
    # one source: the video itself; its size is not checked against file_size
    single = select(MID, answer("GX010001.MP4", variations=[entry("s", "source", 1, "mp4")]),
                    listed("Video", 1, file_size=10))
    assert single.expected_bytes is None


def rule_baked_source() -> None:
    # multiclip.json: filename "", no source, baked_source without item number, edl_mce
    a = answer("", files=[entry("p", n=1)],
               variations=[entry("baked", "baked_source", kind="mp4"), entry("low", "mp4_low")],
               sidecars=[entry("edl", "edl_mce", kind="json")])
    for kind in ("MultiClipEdit", "Edit", None):
        s = select(MID, a, listed(kind, 1, filename=""))
        assert s.rule == "baked-source"
        assert names(s.originals) == [("baked_source-1", f"{MID}.mp4")]
        assert links_of(s.originals) == {"baked"}


def rule_files_as_frames() -> None:
    files = [entry(f"f{n}", n=n) for n in range(1, 4)]
    s = select(MID, answer("G001.JPG", files=files, variations=PROXIES), listed("Photo"))
    assert s.rule == "files-as-frames" and len(s.originals) == 3
    with pytest.raises(IncompleteMediumError):
        select(MID, answer("G001.JPG", files=files), listed("Burst", 5))


def rule_first_file() -> None:
    # a ready TimeLapseVideo without any source (dustin's library): files[0]
    a = answer("GX010077.MP4", files=[entry("f1", n=1)], variations=PROXIES, sidecars=GPMF)
    s = select(MID, a, listed("TimeLapseVideo", 1))
    assert s.rule == "first-file"
    assert [(o.file_id, o.label, o.filename) for o in s.originals] == [
        ("source-1", "file", "GX010077.MP4")]
    # beside a concat join the chapters are missing: no guess
    with pytest.raises(InvalidMediaError) as e:
        select(MID, answer("GX010001.MP4", files=[entry("f", n=1)],
                           variations=[entry("concat", "concat")]), listed("Video"))
    assert "concat" in str(e.value) and "SIG" not in str(e.value)


def rule_raw_sidecars() -> None:
    # a single RAW photo: the JPG source and its .GPR
    photo = answer("GOPR0042.JPG", files=[entry("f", n=1)],
                   variations=[entry("jpg", "source", 1, "jpg")],
                   sidecars=[entry("raw", "raw_photo", kind="gpr"), *GPMF])
    assert names(select(MID, photo, listed("Photo", 1)).originals) == [
        ("source-1", "GOPR0042.JPG"), ("raw_photo-1", "GOPR0042.GPR")]
    # a RAW burst: every frame and every frame's .GPR, paired by item number
    frames = [entry(f"f{n}", n=n) for n in range(1, 6)]
    raws = [entry(f"r{n}", "raw_photo", n, "gpr") for n in range(5, 0, -1)]
    s = select(MID, answer("G0070001.JPG", files=frames,
                           variations=[entry("cover", "source", kind="jpg")], sidecars=raws),
               listed("Burst", 5))
    assert len(s.originals) == 10
    assert ("raw_photo-3", "G0070001-0003.GPR") in names(s.originals)
    assert ("frame-0003", "G0070001-0003.JPG") in names(s.originals)


def rule_prefer_available() -> None:
    # of two entries for item 1 the first is unavailable: the available one is archived
    a = answer("GX010001.MP4", variations=[
        entry("gone", "source", 1, "mp4", available=False),
        entry("here", "source", 1, "mp4", available=True),
        entry("two", "source", 2, "mp4", available=False)])  # nothing else for item 2: kept
    assert links_of(select(MID, a, listed("Video", 2)).originals) == {"here", "two"}
    frames = [entry("f1x", n=1, available=False), entry("f1", n=1), entry("f2", n=2)]
    s = select(MID, answer("G1.JPG", files=frames), listed("Burst", 2))
    assert links_of(s.originals) == {"f1", "f2"}


def rule_never_derived() -> None:
    a = answer("GX010639.MP4", files=[entry("p1", n=1), entry("p2", n=2)],
               variations=[entry("concat", "concat", kind="mp4"),
                           entry("c1", "source", 1, "mp4"), entry("c2", "source", 2, "mp4"),
                           *PROXIES],
               sidecars=[*GPMF, entry("edl", "edl_mce", kind="json")])
    assert links_of(select(MID, a, listed("Video", 2)).originals) == {"c1", "c2"}


ROW_TESTS: dict[str, Callable[[], None]] = {
    "edit-project": rule_edit_project,
    "share-render": rule_share_render,
    "cover-beside-frames": rule_cover_beside_frames,
    "numbered-sources": rule_numbered_sources,
    "baked-source": rule_baked_source,
    "files-as-frames": rule_files_as_frames,
    "first-file": rule_first_file,
    "raw-sidecars": rule_raw_sidecars,
    "prefer-available": rule_prefer_available,
    "never-derived": rule_never_derived,
}


def test_every_row_of_the_table_has_a_test() -> None:
    assert set(ROW_TESTS) == set(RULE_NAMES)
    assert all(rule.says for rule in RULES)


@pytest.mark.parametrize("row", RULE_NAMES)
def test_rule_row(row: str) -> None:
    ROW_TESTS[row]()


# --- what the listing lets us check -----------------------------------------------------------


def test_fewer_originals_than_item_count_is_incomplete_never_completed() -> None:
    chapters = [entry(f"c{n}", "source", n, "mp4") for n in (1, 2)]
    with pytest.raises(IncompleteMediumError) as e:
        select(MID, answer("GX010001.MP4", variations=chapters), listed("Video", 3))
    assert "2 of the 3 items" in str(e.value)
    assert len(select(MID, answer("GX010001.MP4", variations=chapters),
                      listed("Video", 2)).originals) == 2


def test_sizes_account_for_file_size_within_its_drift() -> None:
    assert size_shortfall(10_000_000, 10_000_000 - 3_000) == 0  # a few KB off: fine
    assert size_shortfall(10_000_000, 10_000_000 + 50_000) == 0
    assert size_shortfall(12 * 2**30, 8 * 2**30) > 0  # a 4 GiB chapter missing
    originals = select(MID, answer("GX010001.MP4", variations=[
        entry(f"c{n}", "source", n, "mp4") for n in (1, 2)]), listed("Video", 2)).originals
    check_sizes(3_000_000, originals, [SourceInfo(1_500_000, True)], {"source-1": 1_499_000})
    with pytest.raises(IncompleteMediumError) as e:
        check_sizes(9_000_000, originals, [SourceInfo(1_500_000, True)],
                    {"source-1": 1_500_000})
    assert "9000000" in str(e.value)
    check_sizes(None, originals, [], {})


def test_listing_facts_are_kept_as_plain_words() -> None:
    item = parse_media_item({"id": MID, "type": "MultiClipEdit", "play_as": "EDL",
                             "user_created": True, "composition": "export<script>",
                             "filename": ""})
    assert isinstance(item, MediaItem)
    assert dict(item.facts) == {"play_as": "edl", "user_created": "true",
                                "composition": "exportscript"}
    assert item.filename is None
    plain = parse_media_item({"id": MID, "user_created": False, "play_as": None})
    assert isinstance(plain, MediaItem) and dict(plain.facts) == {"user_created": "false"}


@pytest.mark.parametrize(("listed_name", "chapter", "expected"), [
    ("GX010123.MP4", 3, "GX030123.MP4"),  # HERO6+ HEVC
    ("GH010123.MP4", 12, "GH120123.MP4"),  # AVC
    ("GL010123.LRV", 2, "GL020123.LRV"),  # low-res companions
    ("GS010045.360", 2, "GS020045.360"),  # MAX .360
    ("GOPR0123.MP4", 1, "GOPR0123.MP4"),  # HERO4/5: the first chapter keeps GOPR
    ("GOPR0123.MP4", 2, "GP010123.MP4"),  # then GP01, GP02, ...
    ("GOPR0123.MP4", 4, "GP030123.MP4"),
    ("gopr0123.mp4", 2, "gp010123.mp4"),
    ("GXAA0001.MP4", 3, "GXAA0003.MP4"),  # looped: the counter is the chapter
    ("GHAB0007.MP4", 2, "GHAB0008.MP4"),
    ("PXL_2024.mp4", 2, "PXL_2024_02.mp4"),  # not a camera name
])
def test_chapter_names(listed_name: str, chapter: int, expected: str) -> None:
    assert chapter_filename(listed_name, chapter, 4) == expected


def test_select_refuses_what_is_not_an_answer() -> None:
    with pytest.raises(InvalidMediaError):
        select(MID, ["not", "an", "object"])
    with pytest.raises(InvalidMediaError) as e:  # mediabrk-like: proxies only, 3 items
        select(MID, answer("", files=[], variations=PROXIES), listed("Video", 3))
    assert "high_res_proxy_mp4" in str(e.value) and "mp4_low" in str(e.value)
