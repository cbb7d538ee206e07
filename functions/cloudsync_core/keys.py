"""The archive key scheme: identity is the media id, the filename is only made safe.

``{provider}-videos/{yyyy}/{mm}/{media_id}/{safe original name}``. Camera filenames repeat
(the 4-digit counter wraps, several cameras feed one library), so the media id is part of the
key and two media can never share one. A hostile name (``../../x.MP4``) cannot leave its
medium's folder: every key is checked to stay under the provider's prefix.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from .errors import InvalidMediaError

_MEDIA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_PROVIDER = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)
MAX_NAME_CHARS = 180


def archive_prefix(provider: str) -> str:
    """The top folder of one provider's archive, which lifecycle rules and IAM scope to."""
    if not _PROVIDER.match(provider):
        raise InvalidMediaError(f"provider name {provider!r} is not a safe key segment")
    return f"{provider.replace('_', '-')}-videos/"


def check_media_id(media_id: object) -> str:
    if not isinstance(media_id, str) or not _MEDIA_ID.match(media_id):
        raise InvalidMediaError("media id is missing or not a safe identifier")
    return media_id


def safe_name(name: str | None, fallback: str) -> str:
    """A filename that is one harmless path segment, keeping as much of the original as it can."""
    if not isinstance(name, str):
        name = ""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip("._ ")
    if not name:
        return fallback
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[: MAX_NAME_CHARS - len(ext) - 1] + (f".{ext}" if ext else "")
    return name


def date_folder(captured_at: datetime | None) -> str:
    return f"{captured_at.year:04d}/{captured_at.month:02d}" if captured_at else "undated"


def object_key(
    provider: str, media_id: str, captured_at: datetime | None, filename: str | None
) -> str:
    """The key of one original file. Always under ``archive_prefix(provider)``."""
    check_media_id(media_id)
    prefix = archive_prefix(provider)
    key = f"{prefix}{date_folder(captured_at)}/{media_id}/{safe_name(filename, media_id)}"
    parts = key.split("/")
    if not key.startswith(prefix) or any(p in ("", ".", "..") for p in parts):
        raise InvalidMediaError("could not build a safe archive key")
    return key
