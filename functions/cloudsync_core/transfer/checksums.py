"""CRC32 arithmetic for S3 full-object checksums.

S3 stores a multipart object's full-object CRC32 and checks the one we send at completion. We
never hold a whole file, so the full-object value is combined from the per-part CRC32s (each
computed from the bytes read at the source) with zlib's ``crc32_combine`` algorithm: appending
``len2`` bytes multiplies the first CRC by x^(8*len2) modulo the CRC polynomial in GF(2).
Python's ``zlib`` does not expose ``crc32_combine``, so it is written out here in pure Python.

The operator x^(8*len2) costs ~log2(len2) polynomial products; every part but the last has the
same length, so it is cached per length and combining 10,000 parts takes milliseconds.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable
from functools import lru_cache

_POLY = 0xEDB88320  # CRC-32 (IEEE 802.3), reflected, as zlib uses it
_MASK = 0xFFFFFFFF


def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """zlib's CRC32 of ``data``, continuing from ``value``; always an unsigned 32-bit int."""
    return zlib.crc32(data, value) & _MASK


def _multmodp(a: int, b: int) -> int:
    """a(x) * b(x) modulo p(x), both reflected 32-bit polynomials (zlib's ``multmodp``)."""
    m = 1 << 31
    p = 0
    for _ in range(32):
        if a & m:
            p ^= b
            if not a & (m - 1):
                break
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return p


def _x2n_table() -> tuple[int, ...]:
    """x^(2^n) modulo p(x) for n = 0..31."""
    table = []
    p = 1 << 30  # x^1
    table.append(p)
    for _ in range(1, 32):
        p = _multmodp(p, p)
        table.append(p)
    return tuple(table)


_X2N = _x2n_table()


@lru_cache(maxsize=64)
def _x8nmodp(length: int) -> int:
    """x^(8 * length) modulo p(x): the operator that shifts a CRC over ``length`` zero bytes."""
    p = 1 << 31  # x^0
    k = 3  # 8 == 2^3
    n = length
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC32 of A+B from crc32(A), crc32(B) and len(B), as zlib's ``crc32_combine``."""
    if len2 < 0:
        raise ValueError("len2 must not be negative")
    if len2 == 0:
        return crc1 & _MASK
    return (_multmodp(_x8nmodp(len2), crc1 & _MASK) ^ (crc2 & _MASK)) & _MASK


def combine_parts(parts: Iterable[tuple[int, int]]) -> int:
    """The CRC32 of the concatenation of parts given in order as ``(crc32, length)`` pairs."""
    total = 0
    for crc, length in parts:
        total = crc32_combine(total, crc, length)
    return total


def crc32_to_b64(value: int) -> str:
    """S3's ``ChecksumCRC32`` format: the 4 big-endian bytes of the CRC, base64-encoded."""
    if not 0 <= value <= _MASK:
        raise ValueError("a CRC32 is an unsigned 32-bit integer")
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


def b64_to_crc32(text: str) -> int:
    """The integer from S3's ``ChecksumCRC32`` text; ValueError on anything else (e.g. ``-N``)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise ValueError("not a base64 CRC32 checksum") from e
    if len(raw) != 4:
        raise ValueError("not a base64 CRC32 checksum")
    return int.from_bytes(raw, "big")


def crc32_b64(data: bytes | bytearray | memoryview) -> str:
    """``ChecksumCRC32`` of ``data``."""
    return crc32_to_b64(crc32(data))
