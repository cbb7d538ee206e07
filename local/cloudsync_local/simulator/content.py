"""Deterministic file content: any byte range of any simulated file, computed, never stored.

Each file has a 64 KiB pattern derived from sha256(media_id/file_id). Block ``k`` of the file is
that pattern rotated by a block-dependent amount, with its first 8 bytes replaced by a stamp of
``k``: every block of every file differs (so a wrong offset is caught), yet producing a block is
one slice and one concatenation (fast enough to stream well above 1 GiB/s).

A file that "changed at the source" is generation ``n > 0`` of it: other bytes, same size.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from functools import lru_cache

from . import mp4gpmf

BLOCK_SIZE = 64 * 1024
STREAM_CHUNK = 1024 * 1024  # what the server writes per send; 16 blocks
_STAMP = 8
_ROTATE_STEP = 40503  # odd: rotations cycle through all offsets before repeating


@lru_cache(maxsize=512)
def _pattern(media_id: str, file_id: str, generation: int = 0) -> tuple[bytes, int, int]:
    """(doubled pattern, rotation seed, stamp salt) for one file; cached, 128 KiB each."""
    name = f"{media_id}/{file_id}" + (f"@{generation}" if generation else "")
    seed = hashlib.sha256(name.encode()).digest()
    # shake_256 expands the seed to a full block in C, once per file.
    block = hashlib.shake_256(seed).digest(BLOCK_SIZE)
    rot_seed = int.from_bytes(seed[:4], "big")
    salt = int.from_bytes(seed[4:12], "big")
    return block + block, rot_seed, salt


def _block(doubled: bytes, rot_seed: int, salt: int, index: int) -> bytes:
    rot = (rot_seed + index * _ROTATE_STEP) % BLOCK_SIZE
    stamp = (index ^ salt).to_bytes(_STAMP, "big")
    return stamp + doubled[rot + _STAMP : rot + BLOCK_SIZE]


def iter_content(
    media_id: str, file_id: str, offset: int, length: int, chunk_size: int = STREAM_CHUNK,
    generation: int = 0,
) -> Iterator[bytes]:
    """Yield the bytes [offset, offset+length) of a file in chunks of about ``chunk_size``."""
    if offset < 0 or length < 0:
        raise ValueError("offset and length must be >= 0")
    patches = mp4gpmf.patches_for(media_id, file_id)  # telemetry laid over the pattern
    pieces = _pattern_content(media_id, file_id, offset, length, chunk_size, generation)
    if not patches:
        yield from pieces
        return
    for piece in pieces:
        yield mp4gpmf.apply(patches, offset, piece)
        offset += len(piece)


def _pattern_content(
    media_id: str, file_id: str, offset: int, length: int, chunk_size: int, generation: int
) -> Iterator[bytes]:
    doubled, rot_seed, salt = _pattern(media_id, file_id, generation)
    end = offset + length
    pos = offset
    per_chunk = max(1, chunk_size // BLOCK_SIZE)
    while pos < end:
        first = pos // BLOCK_SIZE
        start_in = pos - first * BLOCK_SIZE
        # Only the blocks this chunk needs: small ranges stay cheap.
        count = min(per_chunk, -(-(start_in + end - pos) // BLOCK_SIZE))
        data = b"".join(_block(doubled, rot_seed, salt, first + i) for i in range(count))
        piece = data[start_in : start_in + (end - pos)]
        yield piece
        pos += len(piece)


def content_bytes(
    media_id: str, file_id: str, offset: int, length: int, generation: int = 0
) -> bytes:
    """The exact bytes [offset, offset+length) of file ``file_id`` of medium ``media_id``.

    Pure: the server serves exactly these bytes, so tests can check any range they received.
    """
    return b"".join(iter_content(media_id, file_id, offset, length, generation=generation))


def s3_etag(
    media_id: str, file_id: str, size: int, part_size: int | None, generation: int = 0
) -> str:
    """The ETag S3 would give this file (unquoted): the MD5 of a single PUT when ``part_size``
    is None, else ``md5(concat of part MD5s)-N`` of a multipart upload cut at ``part_size``."""
    if part_size is None:
        whole = hashlib.md5(usedforsecurity=False)
        for chunk in iter_content(media_id, file_id, 0, size, generation=generation):
            whole.update(chunk)
        return whole.hexdigest()
    digests = []
    for start in range(0, max(size, 1), part_size):
        part = hashlib.md5(usedforsecurity=False)
        length = min(part_size, size - start)
        for chunk in iter_content(media_id, file_id, start, length, generation=generation):
            part.update(chunk)
        digests.append(part.digest())
    joined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{joined}-{len(digests)}"


def expected_crc32(media_id: str, file_id: str, size: int) -> int:
    """CRC32 (zlib, unsigned) of a whole file of ``size`` bytes."""
    crc = 0
    for chunk in iter_content(media_id, file_id, 0, size):
        crc = zlib.crc32(chunk, crc)
    return crc


def expected_sha256(media_id: str, file_id: str, size: int) -> str:
    """Hex SHA-256 of a whole file of ``size`` bytes."""
    digest = hashlib.sha256()
    for chunk in iter_content(media_id, file_id, 0, size):
        digest.update(chunk)
    return digest.hexdigest()
