"""Simulated originals that carry real GoPro telemetry: an MP4 with a GPMF track, a JPEG with
EXIF GPS, and the ``gpmf`` sidecar (the telemetry track alone, type ``1.mp4``).

The GPMF payloads are GoPro's own recordings (``../shared/samples/gpmf``: HERO5 and Fusion
carry GPS5 with a 3D fix). Each second of a simulated video is one real payload, moved: its
GPS5 latitudes/longitudes shifted so the camera starts at a chosen place and travels at a
chosen speed and heading, its ``GPSU`` set to the chosen time. Everything else (accelerometer,
gyro, device names, scales) stays as the camera wrote it.

A file's bytes stay computed, never stored: the simulator's deterministic pattern with a few
*patches* laid over it (the ``ftyp`` and ``mdat`` headers, one GPMF sample per second spread
through ``mdat`` like a camera interleaves them with video, the ``moov`` box at the end).
``content.iter_content`` applies the patches registered here. This module is independent of
the reader under test (``cloudsync_core.telemetry``): it writes boxes and KLV itself.
"""

from __future__ import annotations

import math
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .library import Media

SAMPLES_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "samples" / "gpmf"
SOURCES = {"hero5": "hero5.raw", "fusion": "Fusion.raw"}  # payloads with GPS5 and a fix
TIMESCALE = 1000
METERS_PER_DEG_LAT = 111_320.0
Patch = tuple[int, bytes]  # (offset, bytes laid over the pattern there)

_lock = threading.Lock()
_patches: dict[tuple[str, str], tuple[Patch, ...]] = {}


@dataclass(frozen=True)
class TrackSpec:
    """Where a simulated camera starts, when, and how it moves (one payload a second)."""

    lat: float
    lon: float
    start: datetime
    seconds: int = 5
    speed_mps: float = 4.0
    heading_deg: float = 90.0
    camera: str = "hero5"  # which real payload: hero5 ("Camera") or fusion ("Fusion")


def samples_available() -> bool:
    return all((SAMPLES_DIR / name).is_file() for name in SOURCES.values())


def real_payload(camera: str) -> bytes:
    path = SAMPLES_DIR / SOURCES[camera]
    if not path.is_file():
        raise FileNotFoundError(f"GoPro's GPMF sample {path} is missing (../shared/samples/gpmf)")
    return path.read_bytes()


# --- GPMF: rewrite the GPS of one real payload ------------------------------------------------

def _klv(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int, int, int]]:
    """(key, type, struct size, repeat, data offset) of each entry in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        key, kind, size, repeat = struct.unpack_from(">4sBBH", data, pos)
        if key == b"\0\0\0\0":
            return
        yield key, kind, size, repeat, pos + 8
        pos += 8 + ((size * repeat + 3) & ~3)


def _gps_stream(data: bytes) -> dict[bytes, tuple[int, int, int]]:
    """Offsets of the GPS stream's entries: key -> (data offset, struct size, repeat)."""
    for key, kind, size, repeat, at in _klv(data, 0, len(data)):
        if key != b"DEVC" or kind:
            continue
        for skey, skind, ssize, srep, sat in _klv(data, at, at + size * repeat):
            if skey != b"STRM" or skind:
                continue
            found = {k: (a, s, r) for k, _, s, r, a in _klv(data, sat, sat + ssize * srep)}
            if b"GPS5" in found:
                return found
    raise ValueError("the payload has no GPS5 stream")


def relocated(payload: bytes, lat: float, lon: float, utc: datetime,
              speed_mps: float | None = None) -> bytes:
    """``payload`` with its GPS5 fixes moved so the first is at (lat, lon), its GPSU ``utc``
    and (when given) every fix's 2D and 3D speed ``speed_mps``."""
    out = bytearray(payload)
    found = _gps_stream(payload)
    at, size, repeat = found[b"GPS5"]
    scal_at, _, scal_n = found[b"SCAL"]
    scales = struct.unpack_from(f">{scal_n}i", payload, scal_at)
    lat0, lon0 = struct.unpack_from(">ii", payload, at)
    for i in range(repeat):
        pos = at + i * size
        raw_lat, raw_lon = struct.unpack_from(">ii", payload, pos)
        new_lat = round(lat * scales[0]) + raw_lat - lat0
        new_lon = round(lon * scales[1 if scal_n > 1 else 0]) + raw_lon - lon0
        struct.pack_into(">ii", out, pos, new_lat, new_lon)
        if speed_mps is not None and scal_n >= 5:
            struct.pack_into(">ii", out, pos + 12, round(speed_mps * scales[3]),
                             round(speed_mps * scales[4]))
    if b"GPSU" in found:
        stamp = utc.astimezone(UTC).strftime("%y%m%d%H%M%S.") + f"{utc.microsecond // 1000:03d}"
        struct.pack_into(">16s", out, found[b"GPSU"][0], stamp.encode())
    return bytes(out)


def track_payloads(spec: TrackSpec) -> list[bytes]:
    """One moved real payload per second of ``spec``."""
    base = real_payload(spec.camera)
    heading = math.radians(spec.heading_deg)
    payloads = []
    for k in range(spec.seconds):
        north = spec.speed_mps * k * math.cos(heading)
        east = spec.speed_mps * k * math.sin(heading)
        lat = spec.lat + north / METERS_PER_DEG_LAT
        lon = spec.lon + east / (METERS_PER_DEG_LAT * math.cos(math.radians(spec.lat)))
        payloads.append(relocated(base, lat, lon, spec.start + timedelta(seconds=k),
                                  spec.speed_mps))
    return payloads


# --- MP4 boxes ---------------------------------------------------------------------------------

def box(kind: str, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), kind.encode()) + body


def full_box(kind: str, *parts: bytes, version: int = 0, flags: int = 0) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *parts)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _trak(sizes: list[int], offsets: list[int]) -> bytes:
    n, duration = len(sizes), len(sizes) * TIMESCALE
    entry = box("gpmd", b"\0" * 6, struct.pack(">HI", 1, 0))
    stbl = box(
        "stbl",
        full_box("stsd", struct.pack(">I", 1), entry),
        full_box("stts", struct.pack(">III", 1, n, TIMESCALE)),
        full_box("stsc", struct.pack(">IIII", 1, 1, 1, 1)),
        full_box("stsz", struct.pack(f">II{n}I", 0, n, *sizes)),
        full_box("stco", struct.pack(f">I{n}I", n, *offsets)),
    )
    dinf = box("dinf", full_box("dref", struct.pack(">I", 1), full_box("url ", flags=1)))
    minf = box("minf", full_box("nmhd"), dinf, stbl)
    mdhd = full_box("mdhd", struct.pack(">IIIIHH", 0, 0, TIMESCALE, duration, 0x55C4, 0))
    hdlr = full_box("hdlr", struct.pack(">I4s12s", 0, b"meta", b""), b"GoPro MET\0")
    tkhd = full_box("tkhd", struct.pack(">IIIII8sHHHH", 0, 0, 2, 0, duration, b"", 0, 0, 0, 0),
                    _MATRIX, struct.pack(">II", 0, 0), flags=3)
    return box("trak", tkhd, box("mdia", mdhd, hdlr, minf))


def _moov(sizes: list[int], offsets: list[int]) -> bytes:
    mvhd = full_box("mvhd", struct.pack(">IIIII", 0, 0, TIMESCALE, len(sizes) * TIMESCALE,
                                        0x10000), struct.pack(">H10s", 0x100, b""), _MATRIX,
                    b"\0" * 24, struct.pack(">I", 3))
    return box("moov", mvhd, _trak(sizes, offsets))


FTYP = box("ftyp", b"mp41", struct.pack(">I", 0), b"mp41isom")


def mp4_patches(payloads: list[bytes], size: int) -> tuple[Patch, ...]:
    """An MP4 of exactly ``size`` bytes: ftyp, mdat (pattern "video" with the GPMF samples
    spread through it), moov last. Raises ``ValueError`` when ``size`` cannot hold them."""
    sizes = [len(p) for p in payloads]
    moov_len = len(_moov(sizes, [0] * len(sizes)))
    mdat_start = len(FTYP)
    data_start, data_end = mdat_start + 8, size - moov_len
    room = data_end - data_start
    if room < sum(sizes) or data_end - mdat_start > 0xFFFFFFFF:
        raise ValueError(f"an MP4 of {size} bytes cannot hold {sum(sizes)} bytes of telemetry")
    stride = room // max(1, len(payloads))
    offsets = [data_start + k * stride + (stride - s) // 2 for k, s in enumerate(sizes)]
    patches: list[Patch] = [(0, FTYP), (mdat_start, struct.pack(">I4s", data_end - mdat_start,
                                                                b"mdat"))]
    patches += list(zip(offsets, payloads, strict=True))
    patches.append((data_end, _moov(sizes, offsets)))
    return tuple(patches)


def sidecar_bytes(payloads: list[bytes]) -> bytes:
    """GoPro's ``gpmf`` sidecar: the telemetry track alone, in an MP4 of its own."""
    size = len(FTYP) + 8 + sum(len(p) for p in payloads)
    size += len(_moov([len(p) for p in payloads], [0] * len(payloads)))
    return render(mp4_patches(payloads, size), size)


def render(patches: tuple[Patch, ...], size: int) -> bytes:
    out = bytearray(size)
    for offset, data in patches:
        out[offset : offset + len(data)] = data
    return bytes(out)


# --- JPEG with EXIF GPS -------------------------------------------------------------------------

def _rational(value: float) -> bytes:
    return struct.pack(">II", round(value * 10000), 10000)


def _dms(value: float) -> bytes:
    value = abs(value)
    degrees, rest = int(value), (abs(value) - int(value)) * 60
    return struct.pack(">II", degrees, 1) + struct.pack(">II", int(rest), 1) + _rational(
        (rest - int(rest)) * 60)


def _ifd(entries: list[tuple[int, int, int, bytes]], start: int) -> bytes:
    """A big-endian IFD at TIFF offset ``start``: values over 4 bytes go after it."""
    head = struct.pack(">H", len(entries))
    extra = b""
    data_at = start + 2 + 12 * len(entries) + 4
    for tag, kind, count, value in entries:
        if len(value) <= 4:
            head += struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            head += struct.pack(">HHII", tag, kind, count, data_at + len(extra))
            extra += value + (b"\0" if len(value) % 2 else b"")
    return head + b"\0\0\0\0" + extra


def jpeg_head(lat: float, lon: float, taken: datetime, model: str = "HERO11 Black") -> bytes:
    """SOI + an APP1 Exif segment with Model, DateTimeOriginal and a GPS IFD."""
    utc = taken.astimezone(UTC)
    model_b = model.encode() + b"\0"
    stamp = utc.strftime("%Y:%m:%d %H:%M:%S").encode() + b"\0"
    gps_entries = [
        (1, 2, 2, (b"N" if lat >= 0 else b"S") + b"\0"), (2, 5, 3, _dms(lat)),
        (3, 2, 2, (b"E" if lon >= 0 else b"W") + b"\0"), (4, 5, 3, _dms(lon)),
        (7, 5, 3, _rational(utc.hour) + _rational(utc.minute) + _rational(utc.second)),
        (0x1D, 2, 11, utc.strftime("%Y:%m:%d").encode() + b"\0"),
    ]
    ifd0_len = len(_ifd([(0x110, 2, len(model_b), model_b), (0x8769, 4, 1, b""),
                         (0x8825, 4, 1, b"")], 8))
    exif_at = 8 + ifd0_len
    exif_ifd = _ifd([(0x9003, 2, len(stamp), stamp), (0x9011, 2, 7, b"+00:00\0")], exif_at)
    gps_at = exif_at + len(exif_ifd)
    ifd0 = _ifd([(0x110, 2, len(model_b), model_b), (0x8769, 4, 1, struct.pack(">I", exif_at)),
                 (0x8825, 4, 1, struct.pack(">I", gps_at))], 8)
    tiff = b"MM\0*" + struct.pack(">I", 8) + ifd0 + exif_ifd + _ifd(gps_entries, gps_at)
    app1 = b"Exif\0\0" + tiff
    return b"\xff\xd8\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1


# --- the registry content.iter_content reads -----------------------------------------------------

def register(media_id: str, file_id: str, patches: tuple[Patch, ...]) -> None:
    with _lock:
        _patches[(media_id, file_id)] = patches


def clear() -> None:
    """Forget every registered file (media ids repeat across libraries of the same seed)."""
    with _lock:
        _patches.clear()


def patches_for(media_id: str, file_id: str) -> tuple[Patch, ...]:
    with _lock:
        return _patches.get((media_id, file_id), ())


def apply(patches: tuple[Patch, ...], offset: int, piece: bytes) -> bytes:
    """``piece`` (the pattern at ``offset``) with every patch that overlaps it laid over."""
    end = offset + len(piece)
    hits = [(at, data) for at, data in patches if at < end and at + len(data) > offset]
    if not hits:
        return piece
    out = bytearray(piece)
    for at, data in hits:
        lo, hi = max(at, offset), min(at + len(data), end)
        out[lo - offset : hi - offset] = data[lo - at : hi - at]
    return bytes(out)


# --- giving a simulated medium its telemetry ---------------------------------------------------

def add_track(media: Media, spec: TrackSpec, *, sidecar: bool = True) -> None:
    """Make ``media``'s video originals carry ``spec`` (its seconds split over the chapters)
    and, with ``sidecar``, list GoPro's ``gpmf`` sidecar (type ``1.mp4``) for it."""
    from .library import SimFile  # the library imports content, which imports this module

    payloads = track_payloads(spec)
    chapters = sorted((f for f in media.variations if f.original), key=lambda f: f.file_id)
    if not chapters:
        raise ValueError(f"{media.key} has no original to carry telemetry")
    share = -(-len(payloads) // len(chapters))
    for i, chapter in enumerate(chapters):
        part = payloads[i * share : (i + 1) * share] or payloads[-1:]
        register(media.key, chapter.file_id, mp4_patches(part, chapter.size))
    kept = [f for f in media.sidecar_files if not (f.label == "gpmf" and f.type == "1.mp4")]
    if sidecar:
        data = sidecar_bytes(payloads)
        register(media.key, "gpmf", ((0, data),))
        kept.insert(0, SimFile(media.key, "gpmf", len(data), "1.mp4", False, label="gpmf"))
    media.sidecar_files = kept


def add_photo_gps(media: Media, lat: float, lon: float, taken: datetime) -> None:
    """Make ``media``'s JPEG original start with an EXIF block saying where and when."""
    jpgs = [f for f in media.variations if f.original and f.type == "jpg"]
    if not jpgs:
        raise ValueError(f"{media.key} has no JPEG original")
    register(media.key, jpgs[0].file_id, ((0, jpeg_head(lat, lon, taken)),))
