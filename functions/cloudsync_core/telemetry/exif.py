"""Where and when a photo was taken: the EXIF GPS IFD of a JPEG, read from its first bytes.

A GoPro JPEG starts with an APP1 ``Exif`` segment (at most 64 KiB): one ranged read of the
head of the file is enough, never the whole photo, and no imaging library is needed in Lambda.
Read: ``Model`` (IFD0), ``DateTimeOriginal`` + ``OffsetTimeOriginal`` (Exif IFD), and from the
GPS IFD latitude/longitude with their refs, altitude, and the satellites' date and time stamp
(UTC, preferred to the camera clock like ``GPSU`` for videos).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..errors import TelemetryError
from .mp4 import Reader

HEAD_BYTES = 128 * 1024
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}
EXIF_IFD, GPS_IFD, MODEL = 0x8769, 0x8825, 0x0110
DATETIME_ORIGINAL, OFFSET_ORIGINAL = 0x9003, 0x9011
Tag = str | int | float | tuple[float, ...]


@dataclass(frozen=True)
class PhotoFacts:
    camera: str | None
    lat: float | None
    lon: float | None
    alt: float | None
    taken_utc: datetime | None  # GPS time when present, else the camera clock with its offset
    camera_time: datetime | None
    gps_utc: datetime | None = None  # the satellites' time stamp alone

    @property
    def has_gps(self) -> bool:
        return self.lat is not None and self.lon is not None


class _Tiff:
    def __init__(self, data: bytes) -> None:
        if data[:2] not in (b"II", b"MM"):
            raise TelemetryError("EXIF block has no TIFF byte order mark")
        self.data = data
        self.end = "<" if data[:2] == b"II" else ">"

    def u(self, fmt: str, pos: int) -> tuple[int, ...]:
        if pos + struct.calcsize(self.end + fmt) > len(self.data):
            raise TelemetryError("EXIF offset points past its block")
        return struct.unpack_from(self.end + fmt, self.data, pos)

    def value(self, kind: int, count: int, pos: int) -> Tag:
        size = _TYPE_SIZES.get(kind, 1) * count
        at = pos if size <= 4 else self.u("I", pos)[0]
        if kind == 2:
            return self.data[at : at + count].split(b"\0", 1)[0].decode("latin-1").strip()
        if kind in (5, 10):
            pairs = [self.u("ii" if kind == 10 else "II", at + 8 * i) for i in range(count)]
            return tuple(n / d if d else 0.0 for n, d in pairs)
        if kind == 3:
            return self.u("H", at)[0]
        if kind in (4, 9):
            return self.u("I" if kind == 4 else "i", at)[0]
        return self.data[at] if kind in (1, 7) and at < len(self.data) else 0

    def ifd(self, offset: int) -> dict[int, Tag]:
        (count,) = self.u("H", offset)
        tags: dict[int, Tag] = {}
        for i in range(min(count, 512)):
            pos = offset + 2 + 12 * i
            tag, kind, n = self.u("HHI", pos)
            if kind in _TYPE_SIZES:
                tags[tag] = self.value(kind, n, pos + 8)
        return tags


def app1_exif(head: bytes) -> bytes | None:
    """The TIFF block of the JPEG's ``Exif`` APP1 segment, or None."""
    if head[:2] != b"\xff\xd8":
        raise TelemetryError("not a JPEG")
    pos = 2
    while pos + 4 <= len(head) and head[pos] == 0xFF:
        marker = head[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no metadata after
            return None
        (length,) = struct.unpack_from(">H", head, pos + 2)
        body = head[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and body.startswith(b"Exif\0\0"):
            return body[6:]
        pos += 2 + length
    return None


def _degrees(value: Tag | None, ref: Tag | None, negative: str) -> float | None:
    if not isinstance(value, tuple) or len(value) < 3:
        return None
    degrees = value[0] + value[1] / 60 + value[2] / 3600
    return -degrees if isinstance(ref, str) and ref.upper().startswith(negative) else degrees


def _gps_time(gps: dict[int, Tag]) -> datetime | None:
    date, stamp = gps.get(0x1D), gps.get(0x07)
    if not isinstance(date, str) or not isinstance(stamp, tuple) or len(stamp) < 3:
        return None
    try:
        day = datetime.strptime(date, "%Y:%m:%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(hours=stamp[0], minutes=stamp[1], seconds=stamp[2])


def _camera_time(exif: dict[int, Tag]) -> datetime | None:
    text = exif.get(DATETIME_ORIGINAL)
    if not isinstance(text, str):
        return None
    try:
        taken = datetime.strptime(text, "%Y:%m:%d %H:%M:%S")
        offset = exif.get(OFFSET_ORIGINAL)
        if isinstance(offset, str) and len(offset) == 6:
            return datetime.strptime(text + offset, "%Y:%m:%d %H:%M:%S%z").astimezone(UTC)
    except ValueError:
        return None
    return taken  # naive: the camera's wall clock, zone unknown


def photo_facts(head: bytes) -> PhotoFacts:
    """What a JPEG's first bytes say about where and when (all None without EXIF)."""
    try:
        return _photo_facts(head)
    except (struct.error, IndexError) as e:
        raise TelemetryError("EXIF block is cut short") from e


def _photo_facts(head: bytes) -> PhotoFacts:
    block = app1_exif(head)
    if block is None:
        return PhotoFacts(None, None, None, None, None, None)
    tiff = _Tiff(block)
    ifd0 = tiff.ifd(tiff.u("I", 4)[0])
    exif_at, gps_at = ifd0.get(EXIF_IFD), ifd0.get(GPS_IFD)
    exif = tiff.ifd(exif_at) if isinstance(exif_at, int) and exif_at else {}
    gps = tiff.ifd(gps_at) if isinstance(gps_at, int) and gps_at else {}
    lat = _degrees(gps.get(2), gps.get(1), "S")
    lon = _degrees(gps.get(4), gps.get(3), "W")
    alt_value = gps.get(6)
    alt = alt_value[0] if isinstance(alt_value, tuple) and alt_value else None
    if alt is not None and gps.get(5) == 1:
        alt = -alt
    model = ifd0.get(MODEL)
    camera_time = _camera_time(exif)
    aware = camera_time if camera_time and camera_time.tzinfo else None
    gps_utc = _gps_time(gps)
    return PhotoFacts(
        model if isinstance(model, str) and model else None,
        lat, lon, alt, gps_utc or aware, camera_time, gps_utc,
    )


def read_photo(read: Reader, size: int) -> PhotoFacts:
    """``photo_facts`` of a JPEG of ``size`` bytes, from one ranged read of its head."""
    return photo_facts(read(0, min(size, HEAD_BYTES)))
