"""The simulated media library: what tests build in Python and the server lists and serves.

A medium is its listing item (a plain dict, exactly what /media/search returns for it) plus the
files its /download answer points at. File bytes are never stored: ``content.py`` computes them
from (media key, file_id).

The shapes follow /work/shared/gopro-api.md (dustin/gopro's fixtures and real library, rclone):
ids of 13 mixed-case characters (some 24 hex), chaptered videos with a ``concat`` join, bursts
with a cover, edits whose original is ``baked_source`` (filename ""), edit projects and share
renders (not media), time-lapses as numbered ``source`` variations, RAW series, media without a
``source``, ``available: false`` duplicates, gpmf / antishake sidecars. ``Media.kind`` says
what a correct archiver does with each: archive its originals, or skip it.
"""

from __future__ import annotations

import copy
import hashlib
import string
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .content import content_bytes, expected_crc32, expected_sha256, iter_content

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

_BASE_TIME = datetime(2024, 1, 1, 8, 0, 0, tzinfo=UTC)
_SANE_MAX = 64 * GiB  # a raw item's file_size above this is "absurd": serve a small file instead
_ID_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
HEX_ID_EVERY = 4  # every 4th medium gets a 24-hex id, the others 13 mixed-case characters


@dataclass(frozen=True)
class SimFile:
    """One downloadable object. ``file_id`` is stable within its medium and names its content."""

    media_id: str
    file_id: str
    size: int
    type: str  # extension-like: "mp4", "jpg", "gpr", "gpmf"
    original: bool  # True for what an archiver must keep (source/chapters/frames/RAW)
    label: str | None = None
    item_number: int | None = None
    quality: str | None = None
    width: int | None = None
    height: int | None = None
    available: bool | None = None  # sent as "available" when set; False: the CDN answers 404

    def content(self, offset: int = 0, length: int | None = None) -> bytes:
        """Expected bytes of this file (whole file by default)."""
        if length is None:
            length = max(0, self.size - offset)
        return content_bytes(self.media_id, self.file_id, offset, length)

    def iter_content(self, chunk_size: int = MiB) -> Iterator[bytes]:
        return iter_content(self.media_id, self.file_id, 0, self.size, chunk_size)

    def crc32(self) -> int:
        return expected_crc32(self.media_id, self.file_id, self.size)

    def sha256(self) -> str:
        return expected_sha256(self.media_id, self.file_id, self.size)


@dataclass
class Media:
    """A medium: listing item + the entries of its /download answer (lists may share files)."""

    key: str  # the id used in /media/{id}/download (== item["id"] unless the raw item lacks one)
    item: dict[str, Any]
    filename: Any  # the download answer's "filename" (any type, for hostile items)
    files: list[SimFile] = field(default_factory=list)
    variations: list[SimFile] = field(default_factory=list)
    sidecar_files: list[SimFile] = field(default_factory=list)
    sprites: list[SimFile] = field(default_factory=list)
    state: str = "ready"  # what processing_states filters on
    download_override: dict[str, Any] | None = None  # served verbatim by /download when set
    removed: bool = False
    keep_listed: bool = False  # removed but still listed ("404 after listing")
    kind: str = "media"  # "media": archive its originals; "project" / "render": skipped

    def all_files(self) -> list[SimFile]:
        seen: dict[str, SimFile] = {}
        for f in (*self.files, *self.variations, *self.sidecar_files, *self.sprites):
            seen.setdefault(f.file_id, f)
        return list(seen.values())

    def originals(self) -> list[SimFile]:
        return [f for f in self.all_files() if f.original]


def format_time(value: str | datetime) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 -> aware datetime; None for anything unparseable (hostile items)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _chapter_sizes(size: int, chapters: int, chapter_sizes: Sequence[int] | None) -> list[int]:
    """Chapter sizes as given, else ``size`` split evenly over ``chapters`` (remainder last)."""
    if chapter_sizes is not None:
        return list(chapter_sizes)
    if chapters < 1:
        raise ValueError("chapters must be >= 1")
    each = size // chapters
    return [each] * (chapters - 1) + [size - each * (chapters - 1)]


def _video_files(media_id: str, sizes: list[int], width: int, height: int,
                 file_type: str) -> tuple[list[SimFile], list[SimFile]]:
    """A video's ``files`` (a proxy) and ``variations`` (one ``source`` per chapter, then the
    decoys: ``concat`` when chaptered, ``high_res_proxy_mp4``, ``mp4_low``)."""
    total = sum(sizes)

    def mk(file_id: str, fsize: int, original: bool, **kw: Any) -> SimFile:
        kind = file_type if file_id.startswith("source") else "mp4"
        return SimFile(media_id, file_id, fsize, kind, original, **kw)

    files = [mk("proxy-1", total // 16 + 1, False, item_number=1, width=1920, height=1080)]
    variations = [
        mk(f"source-{i}", s, True, label="source", quality="high", item_number=i,
           width=width, height=height)
        for i, s in enumerate(sizes, start=1)
    ]
    if len(sizes) > 1:
        variations.append(mk("concat", total, False, label="concat", quality="high",
                             width=width, height=height))
    variations += [
        mk("high_res_proxy_mp4", total // 8 + 1, False, label="high_res_proxy_mp4",
           quality="1440p", width=1920, height=1440),
        mk("mp4_low", total // 64 + 1, False, label="mp4_low", quality="240p",
           width=320, height=240),
    ]
    return files, variations


def _video_extras(media: Media, sizes: list[int], n: int, *, gpmf: bool,
                  unavailable: bool) -> None:
    """gpmf sidecars (the telemetry track alone, type "1.mp4", and a stabilisation file) and an
    ``available: false`` duplicate of chapter 1 listed first (its link 404s)."""
    media_id, total = media.key, sum(sizes)
    if gpmf:
        media.sidecar_files = [
            SimFile(media_id, "gpmf", total // 256 + 1, "1.mp4", False, label="gpmf"),
            SimFile(media_id, "antishake", 2 * KiB + n % 31, "antishake.json", False,
                    label="gpmf"),
        ]
    if unavailable:
        first = media.variations[0]
        media.variations.insert(0, SimFile(
            media_id, "source-1-unavailable", sizes[0], first.type, False, label="source",
            quality="high", item_number=1, width=first.width, height=first.height,
            available=False))


class Library:
    """Thread-safe media store. Every ``add_*`` returns the media id: 13 mixed-case
    alphanumerics as in the real library, every ``HEX_ID_EVERY``-th one 24 lowercase hex."""

    def __init__(self, seed: str = "cloudsync") -> None:
        self.seed = seed
        self._lock = threading.RLock()
        self._media: dict[str, Media] = {}
        self._counter = 0

    # ---- building -------------------------------------------------------------------------
    def _next(self) -> tuple[str, int]:
        """Deterministic id from (seed, counter), skipping ids already taken."""
        while True:
            self._counter += 1
            digest = hashlib.sha256(f"{self.seed}:{self._counter}".encode()).digest()
            if self._counter % HEX_ID_EVERY == 0:
                media_id = digest.hex()[:24]
            else:
                value = int.from_bytes(digest, "big")
                chars = []
                for _ in range(13):
                    value, rest = divmod(value, len(_ID_ALPHABET))
                    chars.append(_ID_ALPHABET[rest])
                media_id = "".join(chars)
            if media_id not in self._media:
                return media_id, self._counter

    def _times(self, n: int, captured_at: str | datetime | None) -> tuple[str, str]:
        captured = _BASE_TIME + timedelta(hours=n) if captured_at is None else captured_at
        parsed = parse_time(format_time(captured))
        created = format_time(parsed + timedelta(hours=1)) if parsed else format_time(_BASE_TIME)
        return format_time(captured), created

    def add_video(
        self,
        filename: str | None = None,
        size: int = 4 * MiB,
        captured_at: str | datetime | None = None,
        chapters: int = 1,
        media_type: str = "Video",
        *,
        chapter_sizes: Sequence[int] | None = None,
        listed_size: int | None = None,
        ready: bool = True,
        gpmf: bool = False,
        width: int = 3840,
        height: int = 2160,
        camera_model: str = "HERO12 Black",
        file_type: str = "mp4",
        unavailable_duplicate: bool = False,
        composition: str | None = None,
    ) -> str:
        """A video; ``size`` is the total over its chapters (split evenly, remainder last).

        ``files[0]`` is a proxy; originals are the ``source`` variations (one per chapter).
        Decoys: ``high_res_proxy_mp4``, ``mp4_low``, a sprite, ``concat`` when chaptered, and a
        ``gpmf`` sidecar when asked. ``listed_size`` overrides the listing's file_size (drift).
        """
        with self._lock:
            media_id, n = self._next()
            sizes = _chapter_sizes(size, chapters, chapter_sizes)
            total = sum(sizes)
            name = filename if filename is not None else f"GX01{n % 10000:04d}.MP4"
            captured, created = self._times(n, captured_at)
            media = Media(key=media_id, item={}, filename=name)
            media.files, media.variations = _video_files(media_id, sizes, width, height,
                                                         file_type)
            media.sprites = [SimFile(media_id, "sprite", 4 * KiB + n % 97, "jpg", False)]
            _video_extras(media, sizes, n, gpmf=gpmf, unavailable=unavailable_duplicate)
            media.item = {
                "id": media_id,
                "filename": name,
                "file_extension": "mp4",
                "type": media_type,
                "captured_at": captured,
                "created_at": created,
                "file_size": total if listed_size is None else listed_size,
                "item_count": len(sizes),
                "source_duration": str(max(1, total // MiB) * 1000),
                "camera_model": camera_model,
                "width": width,
                "height": height,
                "ready_to_view": "ready" if ready else "transcoding",
                "content_title": None,
            }
            if composition is not None:  # "export": a render GoPro made for sharing
                media.item["composition"] = composition
                media.kind = "render" if composition == "export" else "media"
            media.state = "ready" if ready else "transcoding"
            self._media[media_id] = media
            return media_id

    def add_burst(
        self,
        frames: int = 10,
        frame_size: int = 256 * KiB,
        filename: str | None = None,
        captured_at: str | datetime | None = None,
        media_type: str = "Burst",
        *,
        width: int = 4000,
        height: int = 3000,
        raw_size: int | None = None,
    ) -> str:
        """A burst / time-lapse photo set: ``files[]`` holds one original per frame (item 1..N);
        the lone ``source`` variation is a cover image (not an original). ``raw_size`` makes
        it a RAW series: one ``raw_photo`` sidecar (.GPR) per frame, numbered by item."""
        with self._lock:
            media_id, n = self._next()
            name = filename if filename is not None else f"G00{n % 100000:05d}.JPG"
            captured, created = self._times(n, captured_at)
            media = Media(key=media_id, item={}, filename=name)
            media.files = [
                SimFile(media_id, f"frame-{i}", frame_size, "jpg", True, item_number=i,
                        width=width, height=height)
                for i in range(1, frames + 1)
            ]
            media.variations = [SimFile(media_id, "cover", frame_size // 2 + 1, "jpg", False,
                                        label="source", quality="high", width=width,
                                        height=height)]
            if raw_size is not None:
                media.sidecar_files = [
                    SimFile(media_id, f"raw_photo-{i}", raw_size + i, "gpr", True,
                            label="raw_photo", item_number=i)
                    for i in range(1, frames + 1)
                ]
            media.item = {
                "id": media_id, "filename": name, "file_extension": "jpg", "type": media_type,
                "captured_at": captured, "created_at": created,
                "file_size": frames * frame_size, "item_count": frames,
                "source_duration": None, "camera_model": "HERO11 Black",
                "width": width, "height": height, "ready_to_view": "ready",
                "content_title": None,
            }
            self._media[media_id] = media
            return media_id

    def add_photo(
        self,
        raw: bool = False,
        size: int = 3 * MiB,
        filename: str | None = None,
        captured_at: str | datetime | None = None,
        media_type: str = "Photo",
        *,
        raw_size: int = 20 * MiB,
        width: int = 5568,
        height: int = 4176,
    ) -> str:
        """A photo: the JPG is both ``files[0]`` and the ``source`` variation (same object);
        ``raw=True`` adds a ``raw_photo`` sidecar (.GPR) that is also an original."""
        with self._lock:
            media_id, n = self._next()
            name = filename if filename is not None else f"GOPR{n % 10000:04d}.JPG"
            captured, created = self._times(n, captured_at)
            jpg = SimFile(media_id, "source-1", size, "jpg", True, label="source",
                          quality="high", item_number=1, width=width, height=height)
            media = Media(key=media_id, item={}, filename=name, files=[jpg], variations=[jpg])
            if raw:
                media.sidecar_files = [SimFile(media_id, "raw_photo", raw_size, "gpr", True,
                                               label="raw_photo")]
            media.item = {
                "id": media_id, "filename": name, "file_extension": "jpg", "type": media_type,
                "captured_at": captured, "created_at": created,
                "file_size": size + (raw_size if raw else 0), "item_count": 1,
                "source_duration": None, "camera_model": "HERO12 Black",
                "width": width, "height": height, "ready_to_view": "ready",
                "content_title": None,
            }
            self._media[media_id] = media
            return media_id

    def _simple_item(self, media_id: str, n: int, name: str, media_type: str, ext: str,
                     captured_at: str | datetime | None, **fields: Any) -> dict[str, Any]:
        captured, created = self._times(n, captured_at)
        return {
            "id": media_id, "filename": name, "file_extension": ext, "type": media_type,
            "captured_at": captured, "created_at": created, "file_size": None, "item_count": 1,
            "source_duration": None, "camera_model": "HERO12 Black", "width": 1920,
            "height": 1080, "ready_to_view": "ready", "content_title": None, **fields,
        }

    def add_edit(self, size: int = 2 * MiB, media_type: str = "MultiClipEdit",
                 captured_at: str | datetime | None = None) -> str:
        """An edit (dustin/gopro's multiclip.json): no ``source``; the original is the
        ``baked_source`` render (no item number); ``filename`` is ""; an ``edl_mce`` sidecar."""
        with self._lock:
            media_id, n = self._next()
            media = Media(key=media_id, item={}, filename="")
            media.files = [SimFile(media_id, "proxy-1", size // 8 + 1, "mp4", False,
                                   item_number=1, width=1920, height=1080)]
            media.variations = [
                SimFile(media_id, "baked_source", size, "mp4", True, label="baked_source",
                        quality="1080p", width=1920, height=1080),
                SimFile(media_id, "mp4_low", size // 64 + 1, "mp4", False, label="mp4_low",
                        quality="240p", width=320, height=240),
            ]
            media.sidecar_files = [SimFile(media_id, "edl_mce", 3 * KiB, "json", False,
                                           label="edl_mce")]
            media.item = self._simple_item(media_id, n, "", media_type, "mp4", captured_at)
            self._media[media_id] = media
            return media_id

    def add_edit_project(self, captured_at: str | datetime | None = None) -> str:
        """An edit project (``play_as: "edl"``, ``user_created``): a thumbnail and the edit
        list, no original at all. Not a medium: an archiver skips it."""
        with self._lock:
            media_id, n = self._next()
            media = Media(key=media_id, item={}, filename="", kind="project")
            media.files = [SimFile(media_id, "thumbnail", 20 * KiB, "jpg", False,
                                   item_number=1)]
            media.sidecar_files = [SimFile(media_id, "edl_mce", 2 * KiB, "json", False,
                                           label="edl_mce")]
            media.item = self._simple_item(media_id, n, "", "MultiClipEdit", "mp4", captured_at,
                                           play_as="edl", user_created=True)
            self._media[media_id] = media
            return media_id

    def add_timelapse(self, frames: int = 40, frame_size: int = 64 * KiB,
                      filename: str | None = None,
                      captured_at: str | datetime | None = None) -> str:
        """A TimeLapse whose originals are ``frames`` numbered ``source`` variations (JPG)
        whose sizes add up exactly to the listing's file_size; ``files[0]`` is a cover."""
        with self._lock:
            media_id, n = self._next()
            name = filename if filename is not None else f"G00{n % 100000:05d}.JPG"
            sizes = [frame_size + (i * 37) % 1000 for i in range(1, frames + 1)]
            media = Media(key=media_id, item={}, filename=name)
            media.files = [SimFile(media_id, "cover", frame_size // 2 + 1, "jpg", False,
                                   item_number=1)]
            media.variations = [
                SimFile(media_id, f"source-{i}", s, "jpg", True, label="source",
                        quality="high", item_number=i)
                for i, s in enumerate(sizes, start=1)
            ]
            media.item = self._simple_item(media_id, n, name, "TimeLapse", "jpg", captured_at,
                                           file_size=sum(sizes), item_count=frames)
            self._media[media_id] = media
            return media_id

    def add_no_source(self, size: int = 2 * MiB, media_type: str = "TimeLapseVideo",
                      captured_at: str | datetime | None = None) -> str:
        """A ready single-item medium without any ``source`` variation: ``files[0]`` is the
        original (rclone's fallback); the variations are proxies only."""
        with self._lock:
            media_id, n = self._next()
            name = f"GX01{n % 10000:04d}.MP4"
            media = Media(key=media_id, item={}, filename=name)
            media.files = [SimFile(media_id, "file-1", size, "mp4", True, item_number=1)]
            media.variations = [SimFile(media_id, "high_res_proxy_mp4", size // 8 + 1, "mp4",
                                        False, label="high_res_proxy_mp4", quality="1440p")]
            media.item = self._simple_item(media_id, n, name, media_type, "mp4", captured_at,
                                           file_size=size)
            self._media[media_id] = media
            return media_id

    def add_item(
        self,
        raw: Mapping[str, Any],
        *,
        source_size: int | None = None,
        download: Mapping[str, Any] | None = None,
        state: str = "ready",
    ) -> str:
        """A hostile/malformed item, listed exactly as given (missing/null fields, wrong types).

        Its /download offers one ``source`` variation of ``source_size`` bytes (default: the
        item's file_size when it is a sane int, else 1 KiB), or ``download`` verbatim.
        Returns the id to use in /media/{id}/download: ``raw["id"]`` when it is an unused
        string, else a generated one (the listing still shows the raw value, or nothing).
        """
        with self._lock:
            raw_id = raw.get("id")
            if isinstance(raw_id, str) and raw_id and raw_id not in self._media:
                key = raw_id
            else:
                key, _ = self._next()
            size = KiB if source_size is None else source_size
            listed = raw.get("file_size")
            if (source_size is None and isinstance(listed, int)
                    and not isinstance(listed, bool) and 0 <= listed <= _SANE_MAX):
                size = listed
            ext = raw.get("file_extension")
            media = Media(key=key, item=copy.deepcopy(dict(raw)), filename=raw.get("filename"),
                          state=state)
            media.variations = [SimFile(key, "source-1", size,
                                        ext if isinstance(ext, str) else "mp4", True,
                                        label="source", quality="high", item_number=1)]
            if download is not None:
                media.download_override = copy.deepcopy(dict(download))
            self._media[key] = media
            return key

    def remove(self, media_id: str, *, keep_listed: bool = False) -> None:
        """Delete at the source: /download answers 404 and CDN links stop working.
        ``keep_listed=True`` keeps it in listings (a stale index: listed, then 404)."""
        with self._lock:
            media = self._media[media_id]
            media.removed = True
            media.keep_listed = keep_listed

    # ---- reading --------------------------------------------------------------------------
    def get(self, media_id: str) -> Media:
        with self._lock:
            return self._media[media_id]

    def find(self, media_id: str) -> Media | None:
        """The live (not removed) medium, or None."""
        with self._lock:
            media = self._media.get(media_id)
            return media if media is not None and not media.removed else None

    def file(self, media_id: str, file_id: str) -> SimFile:
        for f in self.get(media_id).all_files():
            if f.file_id == file_id:
                return f
        raise KeyError(file_id)

    def originals(self, media_id: str) -> list[SimFile]:
        """What a correct archiver must store for this medium."""
        return self.get(media_id).originals()

    def ids(self) -> list[str]:
        with self._lock:
            return [k for k, m in self._media.items() if not m.removed]

    def __len__(self) -> int:
        return len(self.ids())

    def query(
        self,
        *,
        types: set[str] | None = None,
        states: set[str] | None = None,
        captured_range: tuple[datetime, datetime] | None = None,
        include_removed: bool = False,
        order_by: str = "captured_at",
    ) -> list[Media]:
        """Matching media, newest first by ``order_by`` (``captured_at`` or ``created_at``,
        the upload time; unparseable times last)."""
        with self._lock:
            media = list(self._media.values())
        out: list[Media] = []
        for m in media:
            if m.removed and not (m.keep_listed or include_removed):
                continue
            if types is not None and str(m.item.get("type")) not in types:
                continue
            if states is not None and m.state not in states:
                continue
            if captured_range is not None:
                when = parse_time(m.item.get("captured_at"))
                if when is None or not captured_range[0] <= when <= captured_range[1]:
                    continue
            out.append(m)
        floor = datetime.min.replace(tzinfo=UTC)
        field = "created_at" if order_by == "created_at" else "captured_at"
        out.sort(key=lambda m: (parse_time(m.item.get(field)) or floor, m.key), reverse=True)
        return out
