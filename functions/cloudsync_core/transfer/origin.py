"""GoPro's own checksum: the S3 ETag its CDN's origin serves, and what it lets us prove.

The CDN's origin is S3. Its ETag is the MD5 of the file for a single PUT, and for a multipart
upload ``md5(concat of each part's raw MD5) + "-" + N``, with a part size S that is not
published but bounded: ``(N-1)*S < size <= N*S``, every part but the last at least 5 MiB, and
in practice a whole number of MiB. That ETag is the only end-to-end proof that the archived
bytes are the bytes GoPro stores, so the transfer is planned around it:

- A file we move in one piece (smaller than one of our parts, or a single-part origin object
  up to ``MAX_ALIGNED_PART``) is in memory whole: every candidate layout is hashed, as
  gopro-media-downloader does; any match proves it, a miss proves a mismatch only when exactly
  one layout was possible.
- A bigger multipart file is cut on the origin's own part boundaries, so each of our parts is
  one origin part and its MD5 (computed from the bytes read, beside the CRC32 sent to S3) is one
  term of the ETag. When exactly one whole-MiB S fits, a miss is a mismatch. When several fit,
  one is guessed (the common uploader defaults first: 5 MiB is S3's minimum and the AWS SDKs'
  default, 8 MiB the AWS CLI's and boto3's); a match is still proof (an MD5 collision aside),
  a miss is ``unknown`` — never a false mismatch.
- No ETag, a weak or non-MD5 ETag, a single-part ETag on a file too big to hold, an origin part
  too big to hold (``MAX_ALIGNED_PART``) or too many parts to record: ``unknown``, with why.

Verdicts are ``match``, ``mismatch`` and ``unknown``; a mismatch is never archived.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..s3_limits import MAX_PART_SIZE, MAX_PARTS, MIB, MIN_PART_SIZE

MIN_PART = MIN_PART_SIZE  # S3's minimum for every part but the last
MAX_PART = MAX_PART_SIZE
MAX_ALIGNED_PART = 64 * MIB  # larger origin parts would not fit parallel reads in memory
MAX_RECORDED_PARTS = 2_000  # MD5s kept per file in the tracker row (~35 bytes each)
PREFERRED_PART_MIB = (5, 8, 16, 15, 10, 32, 64, 6, 12, 20, 25, 50)
MAX_WHOLE_CANDIDATES = 16  # layouts hashed for a file held whole

MATCH = "match"
MISMATCH = "mismatch"
UNKNOWN = "unknown"

_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})(?:-(\d{1,5}))?"?$')


@dataclass(frozen=True)
class OriginEtag:
    """An ETag as served; ``digest``/``parts`` are set only for S3's MD5 shapes."""

    raw: str
    digest: str | None = None  # 32 lowercase hex
    parts: int | None = None  # None: a plain MD5 (single PUT); N: a multipart ETag


def parse_etag(value: str | None) -> OriginEtag | None:
    """The ETag's shape; None when there is none at all."""
    if value is None or not value.strip():
        return None
    raw = value.strip()
    if raw.startswith("W/"):
        return OriginEtag(raw)  # weak: not S3's checksum
    m = _ETAG.match(raw)
    if m is None:
        return OriginEtag(raw)
    parts = int(m.group(2)) if m.group(2) is not None else None
    if parts is not None and not 1 <= parts <= MAX_PARTS:
        return OriginEtag(raw)
    return OriginEtag(raw, m.group(1).lower(), parts)


def candidate_part_sizes(size: int, parts: int) -> list[int]:
    """Every whole-MiB part size S (bytes) with ``(parts-1)*S < size <= parts*S`` that S3
    allows (at least 5 MiB when there is more than one part), smallest first."""
    if parts < 2 or size <= 0:
        return []
    low = max(-(-size // (parts * MIB)), MIN_PART // MIB)
    high = min((size - 1) // ((parts - 1) * MIB), MAX_PART // MIB)
    return [k * MIB for k in range(low, high + 1)]


def _guess(candidates: list[int]) -> int:
    for mib in PREFERRED_PART_MIB:
        if mib * MIB in candidates:
            return mib * MIB
    return candidates[0]


@dataclass(frozen=True)
class OriginPlan:
    """How a file is moved so that its origin ETag can be checked.

    ``part_size``: cut the upload at this size (the origin's own parts); None: the engine's
    choice. ``whole``: the file moves in one piece and is checked in memory. ``why``: set when
    nothing can be proved (then the verdict is ``unknown`` for that reason).
    """

    etag: str | None
    part_size: int | None = None
    whole: bool = False
    guessed: bool = False
    why: str | None = None

    @property
    def needs_md5s(self) -> bool:
        """Whether each part's MD5 must be recorded (an aligned multipart transfer)."""
        return self.part_size is not None and not self.whole and self.why is None

    def record(self) -> dict[str, object]:
        """The upload record's origin fields."""
        out: dict[str, object] = {"origin_etag": self.etag}
        if self.needs_md5s:
            out["origin_part"] = self.part_size
            out["origin_guess"] = self.guessed
            out["md5"] = {}
        if self.why:
            out["origin_why"] = self.why
        return out


def plan_origin(etag: str | None, size: int, our_part_size: int) -> OriginPlan:
    """The transfer plan an origin ETag allows for a ``size``-byte file (see the module doc)."""
    parsed = parse_etag(etag)
    if parsed is None:
        return OriginPlan(None, why="the source sent no ETag")
    if parsed.digest is None:
        return OriginPlan(parsed.raw, why="the ETag is not an S3 MD5 checksum")
    if size <= our_part_size:
        return OriginPlan(parsed.raw, whole=True)
    if parsed.parts in (None, 1):
        if size <= MAX_ALIGNED_PART:
            return OriginPlan(parsed.raw, part_size=size, whole=True)
        return OriginPlan(parsed.raw, why=f"a single-part ETag on a file of {size} bytes: its "
                                          "MD5 needs one sequential read")
    candidates = candidate_part_sizes(size, parsed.parts)
    if not candidates:
        return OriginPlan(parsed.raw, why=f"no part size of whole MiB fits {parsed.parts} "
                                          f"parts of a {size}-byte file")
    chosen = _guess(candidates)
    if chosen > MAX_ALIGNED_PART:
        return OriginPlan(parsed.raw, why=f"origin parts of {chosen // MIB} MiB are larger "
                                          "than the engine holds in memory")
    if parsed.parts > MAX_RECORDED_PARTS:
        return OriginPlan(parsed.raw, why=f"{parsed.parts} origin parts are more than the "
                                          "tracker records")
    return OriginPlan(parsed.raw, part_size=chosen, guessed=len(candidates) > 1)


@dataclass(frozen=True)
class Verdict:
    status: str  # match | mismatch | unknown
    why: str | None = None

    def metadata(self, etag: str | None) -> dict[str, str]:
        """Object metadata (ASCII only; never a secret): the ETag checked and the verdict."""
        out = {"origin-check": self.status}
        if etag:
            out["origin-etag"] = etag.strip('"')[:64]
        if self.why:
            out["origin-why"] = self.why.encode("ascii", "replace").decode()[:200]
        return out


def multipart_etag(part_md5s: Iterable[str]) -> str:
    """S3's multipart ETag (unquoted) from the parts' MD5s (hex), in part order."""
    digests = [bytes.fromhex(m) for m in part_md5s]
    joined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{joined}-{len(digests)}"


def _layout_etag(data: memoryview, part_size: int) -> str:
    md5s = [
        hashlib.md5(data[i : i + part_size], usedforsecurity=False).hexdigest()
        for i in range(0, len(data), part_size)
    ]
    return multipart_etag(md5s)


def verify_whole(data: bytes | bytearray, etag: str | None) -> Verdict:
    """The verdict for a file held whole: every layout its ETag allows is tried."""
    parsed = parse_etag(etag)
    if parsed is None:
        return Verdict(UNKNOWN, "the source sent no ETag")
    if parsed.digest is None:
        return Verdict(UNKNOWN, "the ETag is not an S3 MD5 checksum")
    view = memoryview(data)
    if parsed.parts is None:
        got = hashlib.md5(view, usedforsecurity=False).hexdigest()
        return Verdict(MATCH) if got == parsed.digest else Verdict(
            MISMATCH, f"MD5 {got}, the origin says {parsed.digest}")
    wanted = f"{parsed.digest}-{parsed.parts}"
    if parsed.parts == 1:
        layouts = [max(1, len(view))]
    else:
        layouts = candidate_part_sizes(len(view), parsed.parts)
    if not layouts:
        return Verdict(UNKNOWN, f"no part size of whole MiB fits {parsed.parts} parts")
    for part_size in layouts[:MAX_WHOLE_CANDIDATES]:
        if _layout_etag(view, part_size) == wanted:
            return Verdict(MATCH)
    if len(layouts) == 1:
        return Verdict(MISMATCH, f"the bytes read do not reproduce ETag {parsed.raw}")
    return Verdict(UNKNOWN, f"none of {min(len(layouts), MAX_WHOLE_CANDIDATES)} possible part "
                            f"sizes reproduces ETag {parsed.raw}")


def verify_parts(record: Mapping[str, object], count: int) -> Verdict:
    """The verdict for an aligned multipart upload from its record's per-part MD5s."""
    parsed = parse_etag(str(record.get("origin_etag") or "") or None)
    md5s = record.get("md5")
    if parsed is None or parsed.digest is None or not isinstance(md5s, Mapping):
        return Verdict(UNKNOWN, "no origin checksum was planned for this file")
    missing = [n for n in range(1, count + 1) if str(n) not in md5s]
    if missing:
        return Verdict(UNKNOWN, f"{len(missing)} part MD5s were not recorded")
    got = multipart_etag(str(md5s[str(n)]) for n in range(1, count + 1))
    if got == f"{parsed.digest}-{parsed.parts}":
        return Verdict(MATCH)
    if record.get("origin_guess"):
        size = record.get("origin_part")
        mib = int(size) // MIB if isinstance(size, int) else "?"
        return Verdict(UNKNOWN, f"part size ambiguous: the guess of {mib} MiB does not "
                                f"reproduce ETag {parsed.raw}")
    return Verdict(MISMATCH, f"the parts read give ETag {got}, the origin says {parsed.raw}")


def planned_verdict(record: Mapping[str, object]) -> Verdict | None:
    """The verdict fixed at plan time (``unknown`` with why), if the plan could prove nothing."""
    why = record.get("origin_why")
    return Verdict(UNKNOWN, str(why)) if why else None
