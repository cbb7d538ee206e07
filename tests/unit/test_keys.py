"""The key scheme: identity is the media id; hostile names never leave the medium's folder."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloudsync_core.errors import InvalidMediaError
from cloudsync_core.keys import archive_prefix, object_key, safe_name

WHEN = datetime(2025, 11, 10, 14, 23, tzinfo=UTC)


def test_colliding_filenames_get_different_keys() -> None:
    a = object_key("gopro", "a" * 24, WHEN, "GX010123.MP4")
    b = object_key("gopro", "b" * 24, WHEN, "GX010123.MP4")
    assert a == f"gopro-videos/2025/11/{'a' * 24}/GX010123.MP4"
    assert a != b


@pytest.mark.parametrize(
    "hostile",
    [
        "../../x.MP4",
        "..\\..\\x.MP4",
        "/etc/passwd",
        "a/../../b.MP4",
        "..",
        ".",
        "",
        "\x00\x1b[31mred.MP4",
        "x" * 1000 + ".MP4",
        None,
    ],
)
def test_hostile_names_stay_inside_the_medium_folder(hostile: str | None) -> None:
    key = object_key("gopro", "c" * 24, WHEN, hostile)
    assert key.startswith(f"gopro-videos/2025/11/{'c' * 24}/")
    last = key.rsplit("/", 1)[1]
    assert last not in ("", ".", "..") and len(last) <= 180
    assert "\x00" not in key and "\x1b" not in key


def test_unicode_names_are_kept_readable() -> None:
    assert safe_name("Ski Tag \u2013 Zermatt \u2744.MP4", "x") == "Ski_Tag_Zermatt_.MP4"
    assert safe_name("Überfahrt.JPG", "x") == "Überfahrt.JPG"


def test_undated_media_have_their_own_folder() -> None:
    assert object_key("gopro", "d" * 24, None, "a.JPG").startswith("gopro-videos/undated/")


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a" * 200, None, 42])
def test_bad_media_ids_are_refused(bad: object) -> None:
    with pytest.raises(InvalidMediaError):
        object_key("gopro", bad, WHEN, "a.MP4")  # type: ignore[arg-type]


def test_provider_prefix_is_a_single_safe_segment() -> None:
    assert archive_prefix("google_drive") == "google-drive-videos/"
    with pytest.raises(InvalidMediaError):
        archive_prefix("../etc")
