"""The CDN's origin as S3 shows it: ETags, Last-Modified, and files that change.

GoPro's CDN serves its origin's (S3's) ETag: the MD5 of a single PUT for small files, and for
bigger ones a multipart ETag, ``md5(concat of part MD5s)-N``, with a whole-MiB part size. The
simulator computes the same from the bytes it serves (cached per file version). Per file, a test
may choose another shape (``set_style``): ``md5``, ``multipart`` (optionally at another part
size), ``none`` (no ETag header at all) or ``opaque`` (an ETag that is no MD5), to exercise an
archiver's ``unknown`` verdicts, or ``corrupt`` (the checksum of other bytes than the ones
served: what a damaged copy on the way looks like). ``change`` makes a file a new version at
the source: other bytes, same size, a new ETag and Last-Modified (the "changes between reads"
fault calls it).

Hashing costs ~6 s per GiB here, so files above ``hash_limit`` (256 MiB unless a test raises
it) carry an opaque ETag by default: the benchmarks' GiB files would otherwise spend longer in
the simulator's MD5 than in the transfer being measured.
"""

from __future__ import annotations

import hashlib
import threading

from .content import content_bytes, s3_etag
from .library import SimFile

MiB = 1024 * 1024
STYLES = ("auto", "md5", "multipart", "none", "opaque", "corrupt")
_CORRUPT = 1_000_000  # "corrupt": the ETag of other bytes than the ones served
_MAX_PARTS = 10_000


class OriginStore:
    """Thread-safe per-file origin state: ETag style, version (generation), ETag cache."""

    def __init__(self, part_mib: int = 5, single_put_max: int = 5 * MiB,
                 hash_limit: int = 256 * MiB) -> None:
        # The uploader's multipart part size (5 MiB: S3's minimum and the AWS SDKs' default)
        # and the largest file it sent as one PUT (plain MD5 ETag).
        self.part_mib = part_mib
        self.single_put_max = single_put_max
        self.hash_limit = hash_limit
        self._lock = threading.Lock()
        self._styles: dict[tuple[str, str], tuple[str, int | None]] = {}
        self._generations: dict[tuple[str, str], int] = {}
        self._cache: dict[tuple[object, ...], str] = {}

    def set_style(self, media_id: str, file_id: str, style: str,
                  part_mib: int | None = None) -> None:
        if style not in STYLES:
            raise ValueError(f"unknown ETag style {style!r}; one of {STYLES}")
        with self._lock:
            self._styles[(media_id, file_id)] = (style, part_mib)

    def generation(self, f: SimFile) -> int:
        with self._lock:
            return self._generations.get((f.media_id, f.file_id), 0)

    def change(self, f: SimFile) -> int:
        """The file becomes a new version at the source; returns its generation."""
        with self._lock:
            key = (f.media_id, f.file_id)
            self._generations[key] = self._generations.get(key, 0) + 1
            return self._generations[key]

    def content(self, f: SimFile, offset: int = 0, length: int | None = None) -> bytes:
        """The bytes of the file's current version (what the CDN serves now)."""
        if length is None:
            length = max(0, f.size - offset)
        return content_bytes(f.media_id, f.file_id, offset, length, self.generation(f))

    def part_size(self, f: SimFile) -> int | None:
        """The multipart part size behind the file's ETag; None for a single PUT."""
        with self._lock:
            style, part_mib = self._styles.get((f.media_id, f.file_id), ("auto", None))
        if style == "md5" or (style in ("auto", "corrupt") and f.size <= self.single_put_max):
            return None
        mib = part_mib or self.part_mib
        while -(-f.size // (mib * MiB)) > _MAX_PARTS:
            mib += 1
        return mib * MiB

    def etag(self, f: SimFile) -> str | None:
        """The ETag header value (quoted), or None when the origin sends none."""
        with self._lock:
            style, _ = self._styles.get((f.media_id, f.file_id), ("auto", None))
        generation = self.generation(f)
        if style == "none":
            return None
        if style == "opaque" or (style == "auto" and f.size > self.hash_limit):
            seed = f"{f.media_id}/{f.file_id}/{generation}".encode()
            return '"sim-' + hashlib.sha256(seed).hexdigest()[:20] + '"'
        part = self.part_size(f)
        if style == "corrupt":
            generation += _CORRUPT
        key = (f.media_id, f.file_id, f.size, generation, part)
        with self._lock:  # one computation at a time: a big file hashes once
            cached = self._cache.get(key)
            if cached is None:
                cached = s3_etag(f.media_id, f.file_id, f.size, part, generation)
                self._cache[key] = cached
        return f'"{cached}"'
