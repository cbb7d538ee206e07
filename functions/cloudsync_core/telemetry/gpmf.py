"""A small reader of GoPro's GPMF telemetry (KLV), pure Python, for Lambda.

No maintained Python GPMF parser fits a small arm64 Lambda: PyPI's ``gpmf`` pulls ffmpeg in to
find the track, and the others are unmaintained scripts. The format is simple enough to read
ourselves (GoPro's ``docs/README.md`` in gopro/gpmf-parser):

- every entry is ``FourCC key | type char | struct size (1 byte) | repeat (2 bytes BE) | data``,
  the data padded to a multiple of 4 bytes;
- type ``\\0`` is a container (``DEVC`` device, ``STRM`` stream) whose data is more entries;
- inside a ``STRM`` every entry before the last is "sticky" metadata for the last one, the
  samples: ``SCAL`` divides them, ``TYPE`` spells the layout of ``?`` (complex) samples,
  ``UNIT``/``SIUN`` name units, and GPS streams add ``GPSU`` (UTC time), ``GPSF`` (fix) and
  ``GPSP`` (dilution of precision x 100).

Tests compare what this reads from GoPro's published camera samples with what GoPro's own C
parser reads from them.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import TelemetryError

# type char -> struct code (big-endian); sizes follow from struct.calcsize.
_CODES: dict[str, str] = {
    "b": "b", "B": "B", "c": "c", "d": "d", "f": "f", "F": "4s", "G": "16s",
    "j": "q", "J": "Q", "l": "i", "L": "I", "q": "i", "Q": "q", "s": "h", "S": "H",
    "U": "16s",
}
_FIXED_POINT: dict[str, float] = {"q": 65536.0, "Q": 4294967296.0}
_HEADER = struct.Struct(">4scBH")
_BRACKETS = re.compile(r"(.)\[(\d+)\]")
Value = float | int | str
# Keys that describe a stream, never its samples (GoPro's README, "Standard Units" and
# "Sticky Metadata").
STICKY = frozenset(
    {"DVID", "DVNM", "TICK", "TOCK", "STNM", "SCAL", "TYPE", "UNIT", "SIUN", "TSMP", "EMPT",
     "TIMO", "ORIN", "ORIO", "MTRX", "GPSF", "GPSU", "GPSP", "GPSA", "TMPC", "STMP", "RMRK",
     "DISP", "VERS", "FMWR", "LINF", "CINF", "CASN", "MINF"}
)


@dataclass(frozen=True)
class Entry:
    """One KLV entry; ``children`` holds a container's entries, ``data`` a leaf's bytes."""

    key: str
    type: str  # "\0" for a container
    struct_size: int
    repeat: int
    data: bytes = field(repr=False)
    children: tuple[Entry, ...] = ()

    @property
    def nested(self) -> bool:
        return self.type == "\0"

    def text(self) -> str:
        """A ``c`` or ``U`` entry as a string, without its padding NULs."""
        return self.data.split(b"\0", 1)[0].decode("latin-1").strip()


def parse(payload: bytes) -> tuple[Entry, ...]:
    """Every entry in ``payload`` (a raw GPMF sample), containers opened recursively."""
    try:
        return _parse(payload)
    except (struct.error, UnicodeDecodeError) as e:
        raise TelemetryError("GPMF payload is cut short") from e


def _parse(payload: bytes) -> tuple[Entry, ...]:
    """Every entry in ``payload`` (a raw GPMF sample), containers opened recursively."""
    entries: list[Entry] = []
    pos = 0
    while pos + 8 <= len(payload):
        raw_key, raw_type, size, repeat = _HEADER.unpack_from(payload, pos)
        if raw_key == b"\0\0\0\0":  # padding at the end of a payload
            break
        length = size * repeat
        end = pos + 8 + length
        if end > len(payload):
            raise TelemetryError(f"GPMF entry {raw_key!r} runs past its payload")
        data = payload[pos + 8 : end]
        kind = raw_type.decode("latin-1")
        children = _parse(data) if kind == "\0" else ()
        entries.append(Entry(raw_key.decode("latin-1"), kind, size, repeat, data, children))
        pos = pos + 8 + ((length + 3) & ~3)
    return tuple(entries)


def expand_type(spec: str) -> str:
    """A complex TYPE string with its arrays spelled out: ``f[3]L`` -> ``fffL``."""
    return _BRACKETS.sub(lambda m: m.group(1) * int(m.group(2)), spec)


def _layout(entry: Entry, complex_type: str | None) -> str:
    if entry.type != "?":
        if entry.type not in _CODES:
            raise TelemetryError(f"GPMF type {entry.type!r} of {entry.key} is not known")
        one = struct.calcsize(">" + _CODES[entry.type])
        return entry.type * max(1, entry.struct_size // one)
    if not complex_type:
        raise TelemetryError(f"GPMF entry {entry.key} is complex but has no TYPE")
    layout = expand_type(complex_type)
    if any(ch not in _CODES for ch in layout):
        raise TelemetryError(f"GPMF TYPE {complex_type!r} has an unknown type")
    return layout


def _convert(kind: str, value: object) -> Value:
    if kind in _FIXED_POINT and isinstance(value, int):
        return value / _FIXED_POINT[kind]
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, float | int):
        return value
    raise TelemetryError(f"GPMF value of type {kind!r} cannot be read")


def raw_samples(entry: Entry, complex_type: str | None = None) -> list[tuple[Value, ...]]:
    """The entry's samples as tuples of its elements, unscaled (fixed-point made float)."""
    if entry.type in ("c", "U"):
        return [(entry.text(),)]
    layout = _layout(entry, complex_type)
    fmt = struct.Struct(">" + "".join(_CODES[ch] for ch in layout))
    if fmt.size != entry.struct_size:
        raise TelemetryError(
            f"GPMF {entry.key}: layout {layout!r} is {fmt.size} bytes, struct says "
            f"{entry.struct_size}"
        )
    out: list[tuple[Value, ...]] = []
    for i in range(entry.repeat):
        values = fmt.unpack_from(entry.data, i * fmt.size)
        out.append(tuple(_convert(kind, v) for kind, v in zip(layout, values, strict=True)))
    return out


def _numbers(entry: Entry | None) -> list[float]:
    if entry is None:
        return []
    return [float(v[0]) for v in raw_samples(entry) if isinstance(v[0], int | float)]


def scaled(samples: list[tuple[Value, ...]], scal: list[float]) -> list[tuple[Value, ...]]:
    """``SCAL`` applied: one divisor for every element, or one per element."""
    if not scal:
        return samples
    out: list[tuple[Value, ...]] = []
    for sample in samples:
        row: list[Value] = []
        for i, value in enumerate(sample):
            divisor = scal[i] if len(scal) > 1 and i < len(scal) else scal[0]
            if isinstance(value, int | float) and not isinstance(value, bool) and divisor:
                row.append(value / divisor)
            else:
                row.append(value)
        out.append(tuple(row))
    return out


@dataclass(frozen=True)
class Stream:
    """One ``STRM`` of one device: its samples (scaled) and its sticky metadata."""

    device: str  # DVNM of the enclosing DEVC ("" when it has none)
    key: str  # the FourCC of the samples, e.g. GPS5
    samples: list[tuple[Value, ...]]
    meta: dict[str, Entry]

    @property
    def name(self) -> str:
        entry = self.meta.get("STNM")
        return entry.text() if entry else ""

    def number(self, key: str) -> float | None:
        values = _numbers(self.meta.get(key))
        return values[0] if values else None

    def text(self, key: str) -> str | None:
        entry = self.meta.get(key)
        return entry.text() if entry else None


def _stream(device: str, strm: Entry, keys: frozenset[str] | None) -> Stream | None:
    """The samples are the stream's last key (repeated entries of it add up); every other
    entry is metadata. A stream that ends in metadata carries no samples."""
    leaves = [e for e in strm.children if not e.nested]
    if not leaves or leaves[-1].key in STICKY:
        return None
    key = leaves[-1].key
    if keys is not None and key not in keys:
        return None
    meta = {e.key: e for e in leaves if e.key != key}
    type_entry = meta.get("TYPE")
    complex_type = type_entry.text() if type_entry else None
    samples: list[tuple[Value, ...]] = []
    for entry in (e for e in leaves if e.key == key):
        samples.extend(raw_samples(entry, complex_type) if entry.repeat else [])
    if leaves[-1].type not in ("c", "U"):
        samples = scaled(samples, _numbers(meta.get("SCAL")))
    return Stream(device, key, samples, meta)


def _device_name(devc: Entry) -> str:
    names = [e.text() for e in devc.children if e.key == "DVNM"]
    return names[0] if names else ""


def devices(payload: bytes) -> list[str]:
    """The ``DVNM`` of every device in one payload, in order (the camera first)."""
    return [_device_name(d) for d in parse(payload) if d.key == "DEVC" and d.nested]


def streams(payload: bytes, keys: frozenset[str] | None = None) -> Iterator[Stream]:
    """Every stream of every device in one payload, in order; with ``keys``, only the streams
    whose samples have one of those keys are decoded (an hour of IMU data costs seconds)."""
    for devc in parse(payload):
        if devc.key != "DEVC" or not devc.nested:
            continue
        device = _device_name(devc)
        for strm in devc.children:
            if strm.key == "STRM" and strm.nested:
                stream = _stream(device, strm, keys)
                if stream is not None:
                    yield stream
