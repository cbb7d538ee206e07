"""The telemetry reader against GoPro's own camera recordings and GoPro's reference parser.

Expected values come from GoPro's C reference parser (gopro/gpmf-parser, ``GPMF_parser.c`` with
``GPMF_mp4reader.c``: ``GPMF_ScaledData`` per stream, ``GetPayloadTime`` per MP4 sample), run
once over the files in ``../shared/samples/gpmf`` (2026-11-30); they are written down here,
the reader under test never produced them.
"""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloudsync_core.errors import TelemetryError
from cloudsync_core.telemetry import exif, gpmf, mp4, track

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples" / "gpmf"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"GoPro's GPMF samples are not at {SAMPLES} (../shared)"
)


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def by_key(payload: bytes) -> dict[str, gpmf.Stream]:
    return {s.key: s for s in gpmf.streams(payload)}


# (file, DVNM, GPS5 count, first fix lat/lon/alt/2D speed, last fix lat/lon, GPSU, GPSF, GPSP)
REFERENCE_GPS = [
    ("hero5.raw", "Camera", 18, (33.1264969, -117.3273542, -20.184, 0.167),
     (33.1264973, -117.3273579), "170417173103.000", 3, 606),
    ("hero6.raw", "Hero6 Black", 17, (33.1265542, -117.3271299, -18.172, 1.573),
     (33.1265624, -117.3271192), "180124192801.699", 0, 9999),
    ("hero6+ble.raw", "Hero6 Black", 18, (33.1267334, -117.3274448, -16.823, 0.0),
     (33.1267334, -117.3274448), "180323225139.829", 0, 9999),
    ("Fusion.raw", "Fusion", 19, (33.1266299, -117.3274386, -18.524, 0.71),
     (33.1266363, -117.3274444), "180323172537.375", 3, 674),
]


@needs_samples
@pytest.mark.parametrize(("name", "dvnm", "count", "first", "last", "gpsu", "gpsf", "gpsp"),
                         REFERENCE_GPS)
def test_gps5_matches_the_reference_parser(
    name: str, dvnm: str, count: int, first: tuple[float, ...], last: tuple[float, float],
    gpsu: str, gpsf: int, gpsp: int,
) -> None:
    gps = by_key(raw(name))["GPS5"]
    assert gps.device == dvnm
    assert len(gps.samples) == count
    for got, want in zip(gps.samples[0][:4], first, strict=True):
        assert float(got) == pytest.approx(want, abs=1e-6)
    assert float(gps.samples[-1][0]) == pytest.approx(last[0], abs=1e-6)
    assert float(gps.samples[-1][1]) == pytest.approx(last[1], abs=1e-6)
    assert (gps.text("GPSU"), gps.number("GPSF"), gps.number("GPSP")) == (gpsu, gpsf, gpsp)


@needs_samples
def test_imu_and_complex_streams_match_the_reference_parser() -> None:
    hero5 = by_key(raw("hero5.raw"))
    assert (len(hero5["ACCL"].samples), len(hero5["GYRO"].samples)) == (199, 399)
    assert [float(v) for v in hero5["ACCL"].samples[0]] == pytest.approx(
        [9.77033493, -0.181818182, 0.925837321], abs=1e-6)
    fusion = by_key(raw("Fusion.raw"))
    assert (len(fusion["GYRO"].samples), len(fusion["MAGN"].samples)) == (3300, 25)
    karma = {s.key: s for s in gpmf.streams(raw("karma.raw")) if s.device == "GoPro Karma v1.0"}
    gpri = karma["GPRI"]  # a complex ('?') type spelled by TYPE, scaled per element
    assert len(gpri.samples) == 4
    assert [float(v) for v in gpri.samples[0][:4]] == pytest.approx(
        [145.911705, 33.125368, -117.331064, 15.445], abs=1e-6)
    assert [float(v) for v in karma["ESCS"].samples[0][:3]] == [146549368, 5648, 5494]
    assert karma["FWVS"].samples == [("1.1.11.0",)]


def test_klv_alignment_nesting_scal_and_type_expansion() -> None:
    def klv(key: bytes, kind: bytes, size: int, repeat: int, data: bytes) -> bytes:
        return key + kind + bytes([size]) + struct.pack(">H", repeat) + data + b"\0" * (
            -len(data) % 4)

    strm = (klv(b"STNM", b"c", 1, 3, b"abc")  # 3 bytes: padded to 4
            + klv(b"SCAL", b"s", 2, 2, struct.pack(">hh", 10, 100))
            + klv(b"TYPE", b"c", 1, 4, b"s[2]")
            + klv(b"ABCD", b"?", 4, 2, struct.pack(">hhhh", 15, 250, -30, 500)))
    devc = klv(b"DVNM", b"c", 1, 5, b"HERO9") + klv(b"STRM", b"\0", 4, len(strm) // 4, strm)
    payload = klv(b"DEVC", b"\0", 4, len(devc) // 4, devc)
    (stream,) = list(gpmf.streams(payload))
    assert (stream.device, stream.key, stream.name) == ("HERO9", "ABCD", "abc")
    assert stream.samples == [(1.5, 2.5), (-3.0, 5.0)]
    assert gpmf.expand_type("f[3]L") == "fffL"
    with pytest.raises(TelemetryError):
        gpmf.parse(payload[:-4])


class CountingReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.bytes, self.calls = data, 0, 0

    def __call__(self, offset: int, length: int) -> bytes:
        self.bytes += length
        self.calls += 1
        return self.data[offset : offset + length]


@needs_samples
def test_mp4_track_found_and_read_with_ranged_reads_only() -> None:
    data = (SAMPLES / "karma.mp4").read_bytes()
    reader = CountingReader(data)
    got = list(mp4.payloads(reader, len(data)))
    # The reference: 13 payloads, 0-1.001 s ... 12.012-13.013 s, 7768 and 7824 bytes first.
    assert len(got) == 13
    assert [s.size for s, _ in got[:2]] == [7768, 7824]
    assert got[-1][0].start_s == pytest.approx(12.012) and got[-1][0].duration_s == pytest.approx(
        1.001)
    assert got[0][1] == raw("karma.raw")  # sample 1 is GoPro's published raw payload
    accl = sum(len(s.samples) for _, p in got for s in gpmf.streams(p) if s.key == "ACCL")
    assert accl == 2397
    assert reader.bytes < len(data) // 20  # header walk + moov + samples, not the video


def test_mp4_without_moov_is_a_telemetry_error() -> None:
    blob = struct.pack(">I4s", 16, b"ftyp") + b"mp41" * 2 + struct.pack(">I4s", 24, b"mdat")
    blob += b"\0" * 16
    with pytest.raises(TelemetryError, match="no moov"):
        list(mp4.payloads(CountingReader(blob), len(blob)))


@needs_samples
def test_track_stats_from_real_payloads() -> None:
    hero5 = track.from_payloads([(0.0, 1.0, raw("hero5.raw"))])
    summary = hero5.summary()
    assert summary["camera"] == "Camera" and summary["has_gps"] is True
    assert summary["first_fix_utc"] == "2017-04-17T17:31:03Z"
    assert summary["start"] == [33.1264969, -117.3273542]
    assert summary["bbox"][0] <= 33.1264969 <= summary["bbox"][2]
    # The reference's last fix moves at 0.676 m/s; the camera was carried at walking pace.
    assert 0.676 <= summary["max_speed_mps"] < 2.0
    # HERO6's payload has no fix (GPSF 0, GPSP 9999): it must say so, not invent a place.
    hero6 = track.from_payloads([(0.0, 1.0, raw("hero6.raw"))]).summary()
    assert hero6 == {"has_gps": False, "camera": "Hero6 Black"}
    karma = track.from_payloads([(0.0, 1.0, raw("karma.raw"))]).summary()
    assert karma["has_gps"] is False


def test_distance_speed_and_thinning() -> None:
    # 1 km due north along a meridian, 10 fixes a second for 100 s.
    fixes = [track.Fix(i / 10, 47.0 + (i / 1000) * (1000 / 111_195) / 1, 8.0, 400.0, 10.0, None)
             for i in range(1001)]
    t = track.Telemetry(camera="X", fixes=fixes)
    assert len(t.points()) == 101  # one a second, last kept
    assert t.summary()["distance_m"] == pytest.approx(1000.0, rel=2e-3)
    assert track.haversine_m((0.0, 0.0), (0.0, 1.0)) == pytest.approx(111_195, rel=1e-3)
    long = track.Telemetry(fixes=[track.Fix(float(i), 1.0, 1.0, 0, 0, None) for i in range(5000)])
    assert len(long.points()) <= track.MAX_POINTS
    assert track.parse_gpsu("240601100000.250") == datetime(2024, 6, 1, 10, 0, 0, 250000,
                                                            tzinfo=UTC)
    assert track.parse_gpsu("garbage") is None


def test_exif_gps_read_from_a_jpeg_pillow_wrote() -> None:
    image = pytest.importorskip("PIL.Image")
    info = image.Exif()
    info[0x0110] = "HERO12 Black"
    info[0x8825] = {1: "S", 2: (33.0, 51.0, 54.0), 3: "E", 4: (151.0, 12.0, 36.0), 5: 0,
                    6: 12.5, 7: (10.0, 11.0, 12.0), 0x1D: "2024:06:01"}
    buf = io.BytesIO()
    image.new("RGB", (8, 8)).save(buf, "JPEG", exif=info)
    data = buf.getvalue()
    reader = CountingReader(data)
    facts = exif.read_photo(reader, len(data))
    assert reader.calls == 1
    assert facts.camera == "HERO12 Black"
    assert facts.lat == pytest.approx(-33.865, abs=1e-6)
    assert facts.lon == pytest.approx(151.21, abs=1e-6)
    assert facts.alt == pytest.approx(12.5)
    assert facts.taken_utc == datetime(2024, 6, 1, 10, 11, 12, tzinfo=UTC)
    assert facts.gps_utc == facts.taken_utc and facts.camera_time is None


def test_jpeg_without_exif_has_no_gps_and_junk_is_an_error() -> None:
    plain = b"\xff\xd8\xff\xdb\x00\x04\x00\x00\xff\xd9"
    assert exif.photo_facts(plain).has_gps is False
    with pytest.raises(TelemetryError):
        exif.photo_facts(b"not a jpeg")


def test_gps9_of_hero11_and_later() -> None:
    # GoPro's README: GPS9 = lat, lon, alt, 2D speed, 3D speed, days since 2000, seconds since
    # midnight, DOP, fix; TYPE "lllllllSS", one SCAL per element.
    def klv(key: bytes, kind: bytes, size: int, repeat: int, data: bytes) -> bytes:
        return key + kind + bytes([size]) + struct.pack(">H", repeat) + data + b"\0" * (
            -len(data) % 4)

    scal = (10_000_000, 10_000_000, 1000, 1000, 100, 1, 1000, 100, 1)
    days = (datetime(2024, 6, 1, tzinfo=UTC) - datetime(2000, 1, 1, tzinfo=UTC)).days
    good = (473_769_000, 85_417_000, 408_000, 4_200, 420, days, 36_000_500, 150, 3)
    no_fix = (473_769_100, 85_417_000, 408_000, 0, 0, days, 36_000_600, 9999, 0)
    rows = b"".join(struct.pack(">lllllllHH", *r) for r in (good, no_fix))
    strm = (klv(b"SCAL", b"l", 4, 9, struct.pack(">9l", *scal))
            + klv(b"TYPE", b"c", 1, 9, b"lllllllSS")
            + klv(b"GPS9", b"?", 32, 2, rows))
    devc = klv(b"DVNM", b"c", 1, 12, b"HERO11 Black") + klv(b"STRM", b"\0", 4, len(strm) // 4,
                                                              strm)
    payload = klv(b"DEVC", b"\0", 4, len(devc) // 4, devc)
    t = track.from_payloads([(0.0, 1.0, payload)])
    assert len(t.fixes) == 1 and t.gps_samples == 2  # the sample without a fix is dropped
    summary = t.summary()
    assert summary["camera"] == "HERO11 Black"
    assert summary["start"] == [47.3769, 8.5417]
    assert summary["first_fix_utc"] == "2024-06-01T10:00:00.500000Z"
    assert summary["max_speed_mps"] == pytest.approx(4.2)
