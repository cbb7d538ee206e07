"""A small library with one of everything, for the standalone server and the CLI demo."""

from __future__ import annotations

from .library import KiB, Library, MiB


def build_demo_library(library: Library, *, scale: int = 1) -> list[str]:
    """Add a mixed library; ``scale`` multiplies file sizes. Returns the media ids added."""
    ids = [
        library.add_video(size=24 * MiB * scale, captured_at="2024-05-01T10:00:00Z"),
        library.add_video(size=40 * MiB * scale, chapters=3, captured_at="2024-05-02T11:30:00Z"),
        library.add_video(size=6 * MiB * scale, media_type="TimeLapseVideo",
                          captured_at="2024-05-03T06:15:00Z"),
        library.add_burst(frames=12, frame_size=512 * KiB * scale,
                          captured_at="2024-05-04T14:00:00Z"),
        library.add_photo(raw=True, size=3 * MiB * scale, raw_size=8 * MiB * scale,
                          captured_at="2024-05-05T09:45:00Z"),
        library.add_photo(size=2 * MiB * scale, captured_at="2024-05-05T09:46:00Z"),
        # the same camera filename twice in one month: identity is the id
        library.add_video(filename="GX010042.MP4", size=5 * MiB * scale,
                          captured_at="2024-05-06T08:00:00Z"),
        library.add_video(filename="GX010042.MP4", size=7 * MiB * scale,
                          captured_at="2024-05-20T08:00:00Z"),
        library.add_video(filename="Ünïcødé clip 🎥.MP4", size=3 * MiB * scale,
                          captured_at="2024-05-21T18:00:00Z"),
        library.add_item({"id": None, "filename": "../../escape.MP4", "type": "Video",
                          "file_size": "big", "captured_at": None}, source_size=1 * MiB),
    ]
    return ids
