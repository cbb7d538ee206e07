"""Pre-signed-style CDN links and Range parsing.

A link is ``/cdn/<opaque>?Expires=<epoch>&Signature=<hmac>&Key-Pair-Id=SIM``; the HMAC covers the
path and the expiry, so a client cannot extend a link, and the opaque part hides which file it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

CDN_PREFIX = "/cdn/"
KEY_PAIR_ID = "SIM"


def _sign(secret: bytes, path: str, expires: int) -> str:
    return hmac.new(secret, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()[:40]


def make_path(media_key: str, file_id: str) -> str:
    raw = f"{media_key}\x00{file_id}".encode()
    return CDN_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parse_path(path: str) -> tuple[str, str] | None:
    """(media key, file_id) from a CDN path, or None if it is not one of ours."""
    opaque = path[len(CDN_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(opaque + "=" * (-len(opaque) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    media_key, sep, file_id = raw.partition("\x00")
    return (media_key, file_id) if sep else None


def signed_query(secret: bytes, path: str, expires: int) -> str:
    return f"Expires={expires}&Signature={_sign(secret, path, expires)}&Key-Pair-Id={KEY_PAIR_ID}"


def check_signature(secret: bytes, path: str, expires: str, signature: str) -> bool:
    try:
        when = int(expires)
    except ValueError:
        return False
    return hmac.compare_digest(_sign(secret, path, when), signature)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """Range header -> (start, end inclusive); "unsatisfiable"; or None (serve the whole body).

    Malformed and multi-range headers are ignored (RFC 9110 allows that): 200 with the body.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid syntax -> ignore the header
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size - 1)
