"""GoPro's own checksum (the origin's S3 ETag): shapes, part-size inference, plans, verdicts."""

from __future__ import annotations

import hashlib
import random

import pytest

from cloudsync_core.contract import UploadPlan
from cloudsync_core.errors import SourceChangedError
from cloudsync_core.sync.origin_check import (
    MAX_RESTARTS,
    create_metadata,
    parts_to_send,
    pin_of,
    restarts,
    source_changed,
)
from cloudsync_core.transfer import SourceInfo, SourcePin, part_ranges
from cloudsync_core.transfer.origin import (
    MATCH,
    MISMATCH,
    UNKNOWN,
    candidate_part_sizes,
    multipart_etag,
    parse_etag,
    plan_origin,
    verify_parts,
    verify_whole,
)

MIB = 1024 * 1024
OUR_PART = 8 * MIB


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def s3_etag(data: bytes, part: int | None) -> str:
    """What S3 answers, written out independently of the code under test."""
    if part is None:
        return f'"{md5(data)}"'
    digests = b"".join(hashlib.md5(data[i : i + part], usedforsecurity=False).digest()
                       for i in range(0, len(data), part))
    return f'"{md5(digests)}-{-(-len(data) // part)}"'


@pytest.mark.parametrize(("raw", "digest", "parts"), [
    ('"d41d8cd98f00b204e9800998ecf8427e"', "d41d8cd98f00b204e9800998ecf8427e", None),
    ("D41D8CD98F00B204E9800998ECF8427E-3", "d41d8cd98f00b204e9800998ecf8427e", 3),
    ('W/"d41d8cd98f00b204e9800998ecf8427e"', None, None),  # weak: not S3's checksum
    ('"sim-0a1b2c"', None, None),
    ('"d41d8cd98f00b204e9800998ecf8427e-0"', None, None),
    ('"d41d8cd98f00b204e9800998ecf8427e-10001"', None, None),
])
def test_etag_shapes(raw: str, digest: str | None, parts: int | None) -> None:
    parsed = parse_etag(raw)
    assert parsed is not None and (parsed.digest, parsed.parts) == (digest, parts)
    assert parse_etag(None) is None and parse_etag("  ") is None


def test_part_size_candidates_are_whole_mib_and_at_least_five() -> None:
    # 12 MiB in 3 parts: 4 MiB fits arithmetically but S3 refuses parts under 5 MiB
    assert candidate_part_sizes(12 * MIB, 3) == [5 * MIB]
    # 4 GiB in 820 parts: only 5 MiB fits (the window is narrower than 1 MiB)
    assert candidate_part_sizes(4 * 1024 * MIB, 820) == [5 * MIB]
    # a 12 MiB file in 2 parts: anything from 6 to 11 MiB
    assert candidate_part_sizes(12 * MIB, 2) == [k * MIB for k in range(6, 12)]
    assert candidate_part_sizes(12 * MIB + 1, 2) == [k * MIB for k in range(7, 13)]
    assert candidate_part_sizes(3 * MIB, 2) == []  # no legal layout at all
    assert candidate_part_sizes(10 * MIB, 1) == []


def test_an_unambiguous_etag_plans_the_transfer_on_the_origins_parts() -> None:
    size = 123 * MIB + 4567
    plan = plan_origin(f'"{"a" * 32}-25"', size, OUR_PART)
    assert (plan.part_size, plan.guessed, plan.whole, plan.why) == (5 * MIB, False, False, None)
    assert plan.needs_md5s
    ranges = part_ranges(size, plan.part_size or 0)
    assert len(ranges) == 25 and all(r.start % (5 * MIB) == 0 for r in ranges)


def test_an_ambiguous_etag_guesses_a_common_size_and_says_so() -> None:
    plan = plan_origin(f'"{"a" * 32}-2"', 12 * MIB, 5 * MIB)  # 6..11 MiB all fit
    assert plan.guessed and plan.part_size == 8 * MIB  # the AWS CLI's / boto3's default
    plan = plan_origin(f'"{"a" * 32}-2"', 9 * MIB, 5 * MIB)  # 5..8 MiB fit
    assert plan.guessed and plan.part_size == 5 * MIB  # S3's minimum and the SDKs' default
    plan = plan_origin(f'"{"a" * 32}-2"', 13 * MIB + 1, 5 * MIB)  # 7..13: neither 5 nor 8... 8
    assert plan.part_size == 8 * MIB


@pytest.mark.parametrize(("etag", "size", "reason"), [
    (None, 100 * MIB, "no ETag"),
    ('"sim-abc"', 100 * MIB, "not an S3 MD5"),
    (f'"{"a" * 32}"', 100 * MIB, "single-part"),  # a plain MD5 of a file we cut in parts
    (f'"{"a" * 32}-2"', 200 * MIB, "larger than the engine holds"),  # 100+ MiB parts
    (f'"{"a" * 32}-2500"', 2500 * 5 * MIB, "more than the tracker records"),
    (f'"{"a" * 32}-9"', 20 * MIB, "no part size"),  # 9 parts of >= 5 MiB need > 40 MiB
])
def test_etags_that_prove_nothing_say_why(etag: str | None, size: int, reason: str) -> None:
    plan = plan_origin(etag, size, OUR_PART)
    assert plan.why is not None and reason in plan.why and not plan.needs_md5s


def test_small_files_and_single_part_files_are_checked_whole() -> None:
    assert plan_origin(f'"{"a" * 32}-2"', 7 * MIB, OUR_PART).whole
    single = plan_origin(f'"{"a" * 32}"', 40 * MIB, OUR_PART)
    assert single.whole and single.part_size == 40 * MIB and not single.needs_md5s


def test_a_whole_file_is_tried_against_every_layout() -> None:
    data = random.Random(3).randbytes(12 * MIB + 5)
    assert verify_whole(data, s3_etag(data, None)).status == MATCH
    assert verify_whole(data, s3_etag(data, 12 * MIB + 5)).status == MATCH  # "-1"
    assert verify_whole(data, s3_etag(data, 7 * MIB)).status == MATCH  # one of 7..12 MiB
    corrupt = bytearray(data)
    corrupt[6 * MIB] ^= 1
    assert verify_whole(corrupt, s3_etag(data, None)).status == MISMATCH
    # one layout possible (31 MiB + 5 B in 7 parts: only 5 MiB fits): a miss is a mismatch
    big = random.Random(5).randbytes(31 * MIB + 5)
    assert candidate_part_sizes(len(big), 7) == [5 * MIB]
    assert verify_whole(big, s3_etag(big, 5 * MIB)).status == MATCH
    assert verify_whole(big[:-1] + b"!", s3_etag(big, 5 * MIB)).status == MISMATCH
    # several layouts possible: a miss proves nothing
    missed = verify_whole(corrupt, s3_etag(data, 7 * MIB))
    assert missed.status == UNKNOWN and missed.why and "possible part sizes" in missed.why
    assert verify_whole(data, None).status == UNKNOWN
    assert verify_whole(data, '"sim-1"').status == UNKNOWN


def _record(etag: str, data: bytes, part: int, guessed: bool = False) -> dict[str, object]:
    md5s = {str(i // part + 1): md5(data[i : i + part]) for i in range(0, len(data), part)}
    return {"origin_etag": etag, "origin_part": part, "origin_guess": guessed, "md5": md5s}


def test_part_md5s_prove_a_match_or_a_mismatch() -> None:
    data = random.Random(4).randbytes(23 * MIB + 77)  # 5 parts of 5 MiB: unambiguous
    etag = s3_etag(data, 5 * MIB)
    assert verify_parts(_record(etag, data, 5 * MIB), 5).status == MATCH
    other = bytearray(data)
    other[17] ^= 0xFF
    bad = verify_parts(_record(etag, bytes(other), 5 * MIB), 5)
    assert bad.status == MISMATCH and bad.why and etag in bad.why
    guessed = verify_parts(_record(etag, bytes(other), 5 * MIB, guessed=True), 5)
    assert guessed.status == UNKNOWN and guessed.why and "ambiguous" in guessed.why
    lost = _record(etag, data, 5 * MIB)
    del lost["md5"]["3"]  # type: ignore[attr-defined]
    assert verify_parts(lost, 5).status == UNKNOWN


def test_the_multipart_etag_formula() -> None:
    parts = [b"a" * 10, b"b" * 3]
    expected = md5(b"".join(hashlib.md5(p, usedforsecurity=False).digest() for p in parts))
    assert multipart_etag(md5(p) for p in parts) == f"{expected}-2"


def test_verdict_metadata_is_short_ascii() -> None:
    verdict = verify_whole(b"x", '"sim-1"')
    meta = verdict.metadata('"sim-1"')
    assert meta["origin-check"] == UNKNOWN and meta["origin-etag"] == "sim-1"
    assert all(v.isascii() and len(v) <= 200 for v in meta.values())


# --- the workflow's side: pins, restarts, what is still to send, create-time metadata ---------


def plan(**fields: object) -> UploadPlan:
    """An upload record with only ``fields`` set (as ``UploadPlan.from_payload`` reads it)."""
    return UploadPlan.from_payload({"key": "k", "size": 10, "part_size": 10, **fields})


def test_a_changed_version_is_recognised_and_restarts_are_bounded() -> None:
    info = SourceInfo(10, True, '"v2"', "Tue, 02 Jun 2026 10:00:00 GMT")
    assert source_changed(plan(origin_etag='"v1"'), info)
    assert source_changed(plan(last_modified="Mon, 01 Jun 2026 10:00:00 GMT"), info)
    assert source_changed(plan(source_changed=True, origin_etag='"v2"'), info)
    assert not source_changed(plan(origin_etag='"v2"'), info)
    assert not source_changed(plan(), info)  # begun before validators were recorded
    assert restarts(None) == 0 and restarts(plan(restarts=2)) == 2
    assert restarts(plan(source_changed=True, restarts=2)) == 3
    with pytest.raises(SourceChangedError):
        restarts(plan(source_changed=True, restarts=MAX_RESTARTS))


def test_parts_without_a_recorded_md5_are_sent_again() -> None:
    upload = plan(origin_part=5 * MIB, md5={"1": "a" * 32, "3": "c" * 32})
    assert parts_to_send(upload, 4, {1: object(), 2: object(), 3: object()}) == [2, 4]
    assert parts_to_send(plan(md5={}), 3, {1: object(), 2: object()}) == [3]  # none needed


def test_create_time_metadata_only_promises_what_completion_enforces() -> None:
    certain = plan_origin(f'"{"a" * 32}-25"', 123 * MIB, OUR_PART)
    assert create_metadata(certain)["origin-check"] == MATCH  # completion requires it
    guessed = plan_origin(f'"{"a" * 32}-2"', 12 * MIB, 5 * MIB)
    assert create_metadata(guessed)["origin-check"] == "pending"  # decided by a tag later
    none = create_metadata(plan_origin(None, 123 * MIB, OUR_PART))
    assert (none["origin-check"], none["origin-why"]) == (UNKNOWN, "the source sent no ETag")
    pin = pin_of(plan(origin_etag='"e"', last_modified=None, size=7))
    assert pin == SourcePin('"e"', None, 7) and pin.if_match() == {"If-Match": '"e"'}
    assert SourcePin('W/"e"', None, 7).if_match() == {}
