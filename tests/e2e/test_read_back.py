"""Checking the archive by reading it back, listing versions and getting files out, through the
CLI against the local cloud (the stack's ``verify`` function runs in its process).

The damage is done where the bytes live (moto's S3 backend), below every API: bytes flipped in
a stored version keep its size, ETag and stored CRC32, so only reading the data can find them.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from moto.s3.models import s3_backends

from cloudsync_cli.main import main
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator, MiB

from .conftest import FAST_RETRY
from .harness import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with GoProSimulator() as sim:
        cloud = LocalCloud(gopro_api_url=sim.base_url, retry=FAST_RETRY,
                           settings={"CLOUDSYNC_PART_SIZE_MIB": "5"}).start()
        try:
            built = Stack(sim, cloud)
            lib = sim.library
            built.media = {  # type: ignore[attr-defined]
                # two 6 MiB chapters: multipart origin ETags (5 MiB parts), cut on them
                "video": lib.add_video(size=12 * MiB, chapters=2),
                "photo": lib.add_photo(raw=True, size=1 * MiB, raw_size=2 * MiB),
            }
            built.login()
            built.sync()
            yield built
        finally:
            cloud.stop()


def media(stack: Stack) -> dict[str, str]:
    return stack.media  # type: ignore[attr-defined, no-any-return]


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def stored_version(stack: Stack, record: dict[str, Any]) -> Any:
    """moto's own copy of one archived version (its bytes and storage class)."""
    bucket = s3_backends[stack.cloud.account_id]["aws"].buckets[stack.outputs["bucket"]]
    return next(v for v in bucket.keys.getlist(record["key"])
                if str(v.version_id) == record["version_id"])


@contextmanager
def flipped_byte(stack: Stack, record: dict[str, Any], offset: int) -> Iterator[None]:
    """Bit rot: one stored byte changed under S3's feet (size, ETag, stored CRC32 unchanged)."""
    buffer = stored_version(stack, record)._value_buffer
    buffer.seek(offset)
    original = buffer.read(1)
    buffer.seek(offset)
    buffer.write(bytes([original[0] ^ 0xFF]))
    try:
        yield
    finally:
        buffer.seek(offset)
        buffer.write(original)


@contextmanager
def storage_class(stack: Stack, record: dict[str, Any], name: str) -> Iterator[None]:
    version = stored_version(stack, record)
    before = version._storage_class
    version._storage_class = name
    try:
        yield
    finally:
        version._storage_class = before


def objects(stack: Stack, name: str) -> list[dict[str, Any]]:
    row = stack.tracker.get("gopro", media(stack)[name])
    assert row is not None
    return sorted((dict(o) for o in row.objects), key=lambda o: str(o["key"]))


def test_read_data_reads_every_object_back_and_reproves_gopros_checksum(stack: Stack) -> None:
    code, out, err = cli("verify", "--read-data", "--all", "--json")
    document = json.loads(out)
    total = sum(o["size"] for name in media(stack) for o in objects(stack, name))
    assert code == 0, out + err
    assert document["ok"] is True and document["states"] == {"ok": 4}
    assert document["objects"] == 4 and document["bytes_read"] == total
    assert {r["crc32"] for r in document["results"]} == {"match"}
    assert {r["origin"] for r in document["results"]} == {"match"}
    assert '"event": "progress"' in err  # JSON progress lines on stderr, stdout stays JSON

    code, out, _ = cli("verify", "--read-data")
    assert code == 0 and "Read back 4 objects" in out and "re-proved for 4" in out


def test_a_flipped_byte_passes_head_verify_but_not_read_data(stack: Stack) -> None:
    chapter = objects(stack, "video")[1]
    with flipped_byte(stack, chapter, offset=5 * MiB + 17):
        assert cli("verify")[0] == 0  # S3's stored CRC32 is still the recorded one
        code, out, _ = cli("verify", "--read-data")
        assert code == 1
        line = next(x for x in out.splitlines() if chapter["key"].rsplit("/", 1)[-1] in x)
        assert media(stack)["video"] in line and "corrupt" in line and "CRC32" in line
        result = json.loads(cli("verify", "--read-data", "--json")[1])["results"][0]
        assert (result["key"], result["state"], result["crc32"]) == (
            chapter["key"], "corrupt", "mismatch")
    assert cli("verify", "--read-data")[0] == 0


def test_a_deep_archive_object_is_reported_as_needing_a_restore(
        stack: Stack, tmp_path: Path) -> None:
    raw = objects(stack, "photo")[0]
    with storage_class(stack, raw, "DEEP_ARCHIVE"):
        code, out, _ = cli("verify", "--read-data", "--json")
        document = json.loads(out)
        assert code == 1 and document["states"] == {"ok": 3, "needs_restore": 1}
        assert [(r["key"], r["state"]) for r in document["results"]] == [
            (raw["key"], "needs_restore")]
        code, out, _ = cli("verify", "--read-data")
        assert code == 1 and "NOT READ: 1 objects of 1 media" in out and "restore" in out

        code, out, _ = cli("get", media(stack)["photo"], "--to", str(tmp_path / "out"))
        assert code == 1 and out.count("\n") == 1
        assert f"cloudsync restore {media(stack)['photo']}" in out
        assert not (tmp_path / "out").exists()  # nothing downloaded

        code, out, _ = cli("versions", media(stack)["photo"], "--json")
        classes = {v["key"]: v["storage_class"] for v in json.loads(out)["versions"]}
        assert code == 0 and classes[raw["key"]] == "DEEP_ARCHIVE"


def test_get_downloads_verified_originals_and_never_overwrites(
        stack: Stack, tmp_path: Path) -> None:
    photo = media(stack)["photo"]
    code, out, _ = cli("get", photo, "--to", str(tmp_path))
    assert code == 0 and "2 originals" in out
    got = sorted((p.stat().st_size, zlib.crc32(p.read_bytes())) for p in tmp_path.iterdir())
    assert got == sorted((f.size, f.crc32()) for f in stack.sim.library.originals(photo))

    code, out, _ = cli("get", photo, "--to", str(tmp_path), "--json")
    assert code == 0 and {f["state"] for f in json.loads(out)["files"]} == {"already there"}

    mine = tmp_path / objects(stack, "photo")[0]["key"].rsplit("/", 1)[-1]
    mine.write_bytes(b"my own edit")
    code, out, _ = cli("get", photo, "--to", str(tmp_path))
    assert code == 1 and "not overwritten" in out and mine.read_bytes() == b"my own edit"


def test_get_refuses_to_save_a_damaged_copy(stack: Stack, tmp_path: Path) -> None:
    first = objects(stack, "video")[0]
    with flipped_byte(stack, first, offset=3):
        code, out, _ = cli("get", media(stack)["video"], "--to", str(tmp_path))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert code == 1 and "corrupt" in out
    assert names == [objects(stack, "video")[1]["key"].rsplit("/", 1)[-1]]  # the good one only


def test_versions_lists_every_version_after_a_resync(stack: Stack) -> None:
    video = media(stack)["video"]
    before = objects(stack, "video")
    code, _, err = cli("resync", video, "--wait")
    assert code == 0, err
    code, out, _ = cli("versions", video, "--json")
    versions = json.loads(out)["versions"]
    assert code == 0 and len(versions) == 4
    for old in before:
        mine = [v for v in versions if v["key"] == old["key"]]
        assert [(v["recorded"], v["checksum"], v["latest"]) for v in mine] == [
            (False, "stored", False), (True, "match", True)]
        assert mine[0]["version_id"] == old["version_id"]
    code, out, _ = cli("versions", video)
    assert code == 0 and "4 versions of 2 originals" in out and "CRC32 as recorded" in out


def test_source_check_finds_missing_extra_and_changed(stack: Stack) -> None:
    lib = stack.sim.library
    new = lib.add_video(size=1 * MiB)
    lib.remove(media(stack)["photo"])
    lib.get(media(stack)["video"]).item["file_size"] = 13 * MiB
    code, out, _ = cli("verify", "--source", "--json")
    document = json.loads(out)
    kinds = {d["media_id"]: d["kind"] for d in document["differences"]}
    assert code == 1 and kinds == {new: "missing", media(stack)["photo"]: "extra",
                                   media(stack)["video"]: "changed"}
    code, out, _ = cli("verify", "--source")
    assert code == 1 and "1 missing here, 1 only here, 1 changed" in out
