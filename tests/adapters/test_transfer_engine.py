"""The transfer engine against moto's S3 and a small local HTTP range server with faults.

The server is written here (not the GoPro simulator) so these tests pin the engine alone:
deterministic bytes, Range on/off, and one-shot faults (403 after link expiry, 404, 429 with
Retry-After, 500, a reset mid-body, a short body), plus what a CDN in front of a changing origin
does: an ETag and Last-Modified per version, If-Match (412), bytes that change between reads,
a body that drips or goes silent, a wrong Content-Range total.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto import mock_aws

from cloudsync_core.errors import (
    ArchiveConflictError,
    ChecksumMismatchError,
    DeletedAtSourceError,
    PermanentError,
    SizeMismatchError,
    SourceChangedError,
    SourceLinkExpiredError,
    SourceStalledError,
    TransientError,
)
from cloudsync_core.transfer import (
    ArchivedObject,
    HttpRangeSource,
    SourcePin,
    SourceReadPolicy,
    TransferReport,
    abort_upload,
    choose_part_size,
    complete_upload,
    crc32_b64,
    part_ranges,
    put_small,
    read_whole,
    start_upload,
    transfer_parts,
    transfer_stream,
    uploaded_parts,
)
from cloudsync_core.transfer.origin import multipart_etag

MIB = 1024 * 1024
BUCKET = "cloudsync-test-archive"
KEY = "gopro-videos/2026/11/abc123/GX010001.MP4"
SIZE = 12 * MIB + 12345  # three 5 MiB parts, the last one short
FAST = SourceReadPolicy(attempts=4, base_delay=0.001, max_delay=0.01, max_total_sleep=5.0,
                   connect_timeout=2.0, read_timeout=5.0)
META = {"provider": "gopro", "media-id": "abc123"}
TAGS = "Source=GoPro&AutoSync=true&UploadDate=2026-11-24"


# --- the local range server ------------------------------------------------------------------


@dataclass
class ServerState:
    data: bytes
    lock: threading.Lock = field(default_factory=threading.Lock)
    valid_sig: str = "1"
    ignore_range: bool = False
    expire_after: int | None = None  # rotate the valid signature after this many GETs
    gone_after: int | None = None  # answer 404 after this many GETs
    fail_500: int = 0
    reset: int = 0
    truncate: int = 0
    rate_limit: int = 0
    retry_after: str = "1"
    fail_starts: set[int] = field(default_factory=set)  # ranges starting here always 500
    gets: list[str | None] = field(default_factory=list)  # Range header of every GET
    clock: float = 0.0  # a fake clock: every GET advances it by `tick`
    tick: float = 0.0
    version: int = 0  # the origin's version of the file: its ETag and Last-Modified
    change_after: int | None = None  # after this many GETs the file changes (same size)
    honour_if_match: bool = True  # False: a CDN that drops If-Match on the way to the origin
    drip: int = 0  # the next N bodies trickle, 1 byte every `drip_s`
    drip_s: float = 0.5
    silence: int = 0  # the next N bodies send headers, then nothing until the client leaves
    wrong_total: int = 0  # the next N 206 answers claim a total one byte too big
    skip_range: int = 0  # the next N ranged GETs are answered 200 with the whole body
    if_match: list[str | None] = field(default_factory=list)  # If-Match of every GET

    @property
    def etag(self) -> str:
        return '"' + hashlib.md5(self.data, usedforsecurity=False).hexdigest() + '"'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _empty(self, code: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        st = self.server.state
        self.send_response(200)
        self.send_header("Content-Length", str(len(st.data)))
        self.end_headers()

    def do_GET(self) -> None:
        st = self.server.state
        sig = parse_qs(urlsplit(self.path).query).get("sig", [""])[0]
        rng = self.headers.get("Range")
        with st.lock:
            st.gets.append(rng)
            st.if_match.append(self.headers.get("If-Match"))
            st.clock += st.tick
            n = len(st.gets)
            if st.change_after is not None and n > st.change_after:
                st.data, st.change_after = random.Random(n).randbytes(len(st.data)), None
                st.version += 1
            slow = _take(st, "drip") or _take(st, "silence")
            wrong = 1 if _take(st, "wrong_total") else 0
            if st.expire_after is not None and n > st.expire_after:
                st.valid_sig, st.expire_after = str(int(st.valid_sig) + 1), None
            fault = None
            if sig != st.valid_sig:
                fault = "403"
            elif st.gone_after is not None and n > st.gone_after:
                fault = "404"
            else:
                for name in ("rate_limit", "fail_500", "reset", "truncate"):
                    if getattr(st, name) > 0:
                        setattr(st, name, getattr(st, name) - 1)
                        fault = name
                        break
        if fault == "403":
            return self._empty(403)
        if fault == "404":
            return self._empty(404)
        if fault == "rate_limit":
            return self._empty(429, {"Retry-After": st.retry_after})
        if fault == "fail_500":
            return self._empty(500)
        wanted = self.headers.get("If-Match")
        if st.honour_if_match and wanted is not None and wanted != st.etag:
            return self._empty(412)
        size = len(st.data)
        start, end, status = 0, size - 1, 200
        if rng and not st.ignore_range and not (rng != "bytes=0-0" and _take(st, "skip_range")):
            a, _, b = rng.removeprefix("bytes=").partition("-")
            start, end, status = int(a), min(int(b) if b else size - 1, size - 1), 206
            if start in st.fail_starts:
                return self._empty(500)
        body = st.data[start : end + 1]
        self.send_response(status)
        self.send_header("ETag", st.etag)
        self.send_header("Last-Modified", f"Mon, 0{1 + st.version} Jun 2026 10:00:00 GMT")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size + wrong}")
        if fault == "truncate":  # a complete but short answer
            body = body[: len(body) // 2]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault == "reset":  # the connection dies halfway through the body
            body = body[: len(body) // 2]
            self.close_connection = True
        if slow:
            return self._slowly(body, slow)
        try:
            for i in range(0, len(body), MIB):
                self.wfile.write(body[i : i + MIB])
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


    def _slowly(self, body: bytes, how: str) -> None:
        """Drip one byte every drip_s until the client hangs up, or say nothing for 10 s."""
        self.close_connection = True
        if how == "silence":
            time.sleep(10)
            return
        try:
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(self.server.state.drip_s)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _take(st: ServerState, name: str) -> str | None:
    if getattr(st, name) > 0:
        setattr(st, name, getattr(st, name) - 1)
        return name
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState


@pytest.fixture
def server() -> Iterator[tuple[ServerState, str]]:
    state = ServerState(data=random.Random(1234).randbytes(SIZE))
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = state
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/media/GX010001.MP4"
    try:
        yield state, base
    finally:
        httpd.shutdown()
        httpd.server_close()


def _link(base: str, state: ServerState) -> str:
    return f"{base}?sig={state.valid_sig}&Expires=1&Signature=SECRET"


def _source(state: ServerState, base: str, **kw: Any) -> HttpRangeSource:
    refreshes: list[str] = []

    def refresh() -> str:
        refreshes.append(state.valid_sig)
        return _link(base, state)

    kw.setdefault("policy", FAST)
    src = HttpRangeSource(_link(base, state), refresh_link=refresh, **kw)
    src.refreshes = refreshes  # type: ignore[attr-defined]
    return src


def _ranged_gets(state: ServerState) -> list[str | None]:
    return [g for g in state.gets if g != "bytes=0-0"]


# --- moto ------------------------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        client: Any = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
        )
        client.upload_part_calls = []  # part numbers, in call order
        client.meta.events.register(
            "provide-client-params.s3.UploadPart",
            lambda params, **_: client.upload_part_calls.append(params["PartNumber"]),
        )
        yield client


def _stored(s3: Any, key: str = KEY, version_id: str | None = None) -> bytes:
    kw = {"VersionId": version_id} if version_id else {}
    body: bytes = s3.get_object(Bucket=BUCKET, Key=key, **kw)["Body"].read()
    return body


def _uploads(s3: Any) -> list[dict[str, Any]]:
    uploads: list[dict[str, Any]] = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    return uploads


def _versions(s3: Any, key: str = KEY) -> list[dict[str, Any]]:
    return [
        v for v in s3.list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", [])
        if v["Key"] == key
    ]


def _send(state: ServerState, base: str, s3: Any, *, source: HttpRangeSource | None = None,
          bucket: str = BUCKET, key: str = KEY, deadline: float = float("inf"),
          part_size_mib: int = 5, parallel: int = 3, allow_overwrite: bool = False,
          upload_id: str | None = None, on_upload: Callable[[str], None] | None = None,
          clock: Callable[[], float] = time.monotonic) -> ArchivedObject | TransferReport:
    """One file through the engine as the workflow's steps compose it: prepare probes, cuts
    and creates (or resumes) the upload, a transfer step moves its parts (ranged, streamed where
    Range is ignored) or writes a file smaller than a part whole, finalize completes; a
    permanent failure goes to the failure step, which aborts the upload (sync/failure.py)."""
    src = source or _source(state, base)
    info = src.probe(deadline=deadline)
    part_size = choose_part_size(info.size, part_size_mib)
    if info.size <= part_size:  # prepare plans no upload; the transfer step puts it whole
        if upload_id:
            abort_upload(s3, bucket, key, upload_id)
        return put_small(s3, bucket, key, read_whole(src, info, deadline),
                         expected_size=info.size, metadata=META, tagging=TAGS,
                         allow_overwrite=allow_overwrite)
    uid = start_upload(s3, bucket, key, META, TAGS, upload_id)
    if on_upload is not None:
        on_upload(uid)
    try:
        if info.ranges:
            report = transfer_parts(src, s3, bucket, key, uid, part_ranges(info.size, part_size),
                                    deadline=deadline, parallel=parallel, clock=clock)
        else:
            report = transfer_stream(src, s3, bucket, key, uid, size=info.size,
                                     part_size=part_size, deadline=deadline, clock=clock)
        if report.remaining:
            return report
        return complete_upload(s3, bucket, key, uid, expected_size=info.size,
                               allow_overwrite=allow_overwrite, known_crcs=report.part_crcs)
    except PermanentError:
        abort_upload(s3, bucket, key, uid)
        raise


# --- tests -----------------------------------------------------------------------------------


def test_moto_facts_the_engine_relies_on(s3: Any) -> None:
    """moto 5.2.5: FULL_OBJECT accepted, no part CRCs in ListParts, head returns the full CRC."""
    data = random.Random(5).randbytes(5 * MIB + 10)
    up = s3.create_multipart_upload(Bucket=BUCKET, Key="facts", ChecksumAlgorithm="CRC32",
                                    ChecksumType="FULL_OBJECT")
    assert up["ChecksumType"] == "FULL_OBJECT"
    etags = []
    for n, piece in enumerate((data[: 5 * MIB], data[5 * MIB :]), start=1):
        r = s3.upload_part(Bucket=BUCKET, Key="facts", UploadId=up["UploadId"], PartNumber=n,
                           Body=piece, ChecksumCRC32=crc32_b64(piece))
        etags.append(r["ETag"])
    listed = s3.list_parts(Bucket=BUCKET, Key="facts", UploadId=up["UploadId"])["Parts"]
    assert all("ChecksumCRC32" not in p for p in listed)  # real S3 reports them
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key="facts", UploadId=up["UploadId"], ChecksumType="FULL_OBJECT",
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in
                                   enumerate(etags, start=1)]},
        IfNoneMatch="*",
    )
    head = s3.head_object(Bucket=BUCKET, Key="facts", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32_b64(data)  # computed by moto from the bytes
    assert head["ChecksumType"] == "FULL_OBJECT"


def test_multipart_transfer_is_byte_exact(server: tuple[ServerState, str], s3: Any) -> None:
    state, base = server
    started: list[str] = []
    done = _send(state, base, s3, on_upload=started.append)
    assert isinstance(done, ArchivedObject)
    assert _stored(s3) == state.data
    assert done.size == SIZE and done.crc32_b64 == crc32_b64(state.data)
    assert done.crc32_verified and not done.existing and done.version_id
    assert sorted(s3.upload_part_calls) == [1, 2, 3]
    assert len(_ranged_gets(state)) == 3 and len(started) == 1
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    assert head["Metadata"] == META
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key=KEY)["TagSet"]}
    assert tags["Source"] == "GoPro" and tags["AutoSync"] == "true"
    assert _uploads(s3) == []


def test_resume_after_interruption_sends_only_missing_parts(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    state.fail_starts = {10 * MIB}  # part 3 keeps failing
    started: list[str] = []
    with pytest.raises(TransientError):
        _send(state, base, s3, on_upload=started.append)
    assert [u["UploadId"] for u in _uploads(s3)] == started  # kept for the resume
    assert sorted(uploaded_parts(s3, BUCKET, KEY, started[0])) == [1, 2]

    state.fail_starts = set()
    s3.upload_part_calls.clear()
    state.gets.clear()
    done = _send(state, base, s3, upload_id=started[0])
    assert isinstance(done, ArchivedObject)
    assert s3.upload_part_calls == [3]
    assert _ranged_gets(state) == [f"bytes={10 * MIB}-{SIZE - 1}"]
    assert _stored(s3) == state.data
    # parts 1-2 were uploaded by another call: S3 (moto) reports no part CRCs to combine
    assert done.crc32_b64 == crc32_b64(state.data)
    assert _uploads(s3) == []


def test_deadline_stops_taking_parts_and_a_later_call_continues(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    state.tick = 10.0  # every GET "takes" 10 s on the fake clock

    def clock() -> float:
        return state.clock

    # probe -> 10, part 1 -> 20 (10 s per part observed, x1.25 = 12.5 s),
    # part 2 fits before 35 (20 + 12.5), part 3 does not (30 + 12.5)
    first = _send(state, base, s3, parallel=1, deadline=35.0, clock=clock,
                  source=_source(state, base, clock=clock))
    assert isinstance(first, TransferReport)
    assert first.stopped_by_deadline and first.remaining == [3]
    assert first.parts_done == 2 and first.bytes_done == 10 * MIB
    assert s3.upload_part_calls == [1, 2]

    state.tick = 0.0
    state.gets.clear()
    done = _send(state, base, s3, upload_id=first.upload_id)
    assert isinstance(done, ArchivedObject)
    assert s3.upload_part_calls == [1, 2, 3]
    assert _ranged_gets(state) == [f"bytes={10 * MIB}-{SIZE - 1}"]
    assert _stored(s3) == state.data


def test_a_part_in_flight_may_finish_after_the_deadline_until_the_hard_one(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    state.tick = 10.0  # every GET "takes" 10 s on the fake clock

    def clock() -> float:
        return state.clock

    uid = start_upload(s3, BUCKET, KEY, META, TAGS)
    source = _source(state, base, clock=clock)
    parts = part_ranges(SIZE, 5 * MIB)
    cut = transfer_parts(source, s3, BUCKET, KEY, uid, parts, deadline=5.0, parallel=1,
                         clock=clock)
    assert cut.stopped_by_deadline and cut.parts_done == 0  # its read outlived the deadline
    state.clock = 0.0
    kept = transfer_parts(source, s3, BUCKET, KEY, uid, parts, deadline=5.0,
                          hard_deadline=float("inf"), parallel=1, clock=clock)
    assert kept.stopped_by_deadline and kept.parts_done == 1 and kept.remaining == [2, 3]
    assert s3.upload_part_calls == [1]
    # A budget spent before the call began (a slow prepare) still moves one part.
    late = transfer_parts(source, s3, BUCKET, KEY, uid, parts, deadline=state.clock - 1,
                          hard_deadline=float("inf"), parallel=1, clock=clock)
    assert late.parts_done == 1 and late.remaining == [3]


def test_past_deadline_starts_nothing(server: tuple[ServerState, str], s3: Any) -> None:
    state, base = server
    uid = start_upload(s3, BUCKET, KEY, META, TAGS)
    report = transfer_parts(_source(state, base), s3, BUCKET, KEY, uid,
                            part_ranges(SIZE, 5 * MIB), deadline=0.0, parallel=2)
    assert report.stopped_by_deadline and report.remaining == [1, 2, 3]
    assert report.parts_done == 0 and s3.upload_part_calls == []


def test_streaming_fallback_when_range_is_ignored(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    state.ignore_range = True
    done = _send(state, base, s3)
    assert isinstance(done, ArchivedObject) and done.crc32_verified
    assert _stored(s3) == state.data
    assert sorted(s3.upload_part_calls) == [1, 2, 3]
    assert state.gets == ["bytes=0-0", None]  # the probe, then one plain GET


def test_streaming_restarts_after_a_reset_without_resending_parts(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    state.ignore_range = True
    state.reset = 0
    source = _source(state, base)
    # the probe is the first GET; the first full-body GET dies at 6 MiB (after part 1)
    orig_probe = source.probe

    def probe_then_arm(**kw: Any) -> Any:
        info = orig_probe(**kw)
        state.reset = 1
        return info

    source.probe = probe_then_arm  # type: ignore[method-assign]
    done = _send(state, base, s3, source=source)
    assert isinstance(done, ArchivedObject)
    assert _stored(s3) == state.data
    assert sorted(s3.upload_part_calls) == [1, 2, 3]  # part 1 was skipped (and re-checked)
    assert state.gets == ["bytes=0-0", None, None]


def test_streaming_resumes_an_upload_after_a_deadline_stop(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    state.ignore_range = True
    first = _send(state, base, s3, deadline=0.0)
    assert isinstance(first, TransferReport)
    assert first.stopped_by_deadline and first.remaining == [1, 2, 3]
    done = _send(state, base, s3, upload_id=first.upload_id)
    assert isinstance(done, ArchivedObject) and _stored(s3) == state.data


def test_transient_source_faults_are_recovered(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    state.rate_limit = 1
    state.fail_500 = 1
    state.reset = 1
    state.truncate = 1
    state.expire_after = 3  # the link expires mid-transfer
    slept: list[float] = []
    source = _source(state, base, sleep=slept.append,
                     policy=SourceReadPolicy(attempts=6, base_delay=0.001, max_delay=0.01,
                                        connect_timeout=2.0, read_timeout=5.0))
    done = _send(state, base, s3, source=source)
    assert isinstance(done, ArchivedObject)
    assert _stored(s3) == state.data
    assert 1.0 in slept  # Retry-After honoured
    assert source.refreshes == ["2"]  # type: ignore[attr-defined]  # one shared refresh
    assert sorted(s3.upload_part_calls) == [1, 2, 3]  # bad reads never reached S3


def test_source_errors_are_typed_and_redacted(server: tuple[ServerState, str]) -> None:
    state, base = server
    plain = HttpRangeSource(_link(base, state), policy=FAST)
    state.valid_sig = "9"
    with pytest.raises(SourceLinkExpiredError) as expired:
        plain.read_range(0, 99)
    state.valid_sig = "1"
    state.gone_after = 0  # a CDN 404 is never a deletion (only the API says so): a fresh link
    with pytest.raises(SourceLinkExpiredError) as gone:
        plain.probe()
    state.gone_after = None
    state.truncate = 10
    with pytest.raises(TransientError) as short:
        plain.read_range(0, MIB - 1)
    assert "expected 1048576 bytes, received 524288" in str(short.value)
    state.truncate = 0
    state.rate_limit = 10
    state.retry_after = "120"  # longer than the local retry budget: up to the workflow
    with pytest.raises(TransientError) as limited:
        plain.read_range(0, 99)
    assert getattr(limited.value, "retry_after", None) == 120.0
    for err in (expired.value, gone.value, short.value, limited.value):
        assert "sig=" not in str(err) and "SECRET" not in str(err)
        assert "/media/GX010001.MP4" in str(err)
    plain.close()


def test_permanent_failure_aborts_the_upload(server: tuple[ServerState, str], s3: Any) -> None:
    state, base = server
    state.gone_after = 2  # the probe and one part, then 404: a refused link, retried later
    with pytest.raises(SourceLinkExpiredError):
        _send(state, base, s3, parallel=1)
    assert len(_uploads(s3)) == 1  # kept for the resume a transient error deserves
    for up in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=BUCKET, Key=up["Key"], UploadId=up["UploadId"])
    state.gets.clear()  # the probe and one part again, then 404 and a fresh answer
    gone = HttpRangeSource(_link(base, state), policy=FAST, refresh_link=_raise_deleted)
    with pytest.raises(DeletedAtSourceError):  # the fresh answer says it is gone: permanent
        _send(state, base, s3, parallel=1, source=gone)
    assert _uploads(s3) == []
    assert _versions(s3) == []


def _raise_deleted() -> str:
    raise DeletedAtSourceError("the API answered 404: gone at the source")


def test_size_mismatch_names_both_sizes_and_aborts(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    uid = start_upload(s3, BUCKET, KEY, META, TAGS)
    report = transfer_parts(_source(state, base), s3, BUCKET, KEY, uid,
                            part_ranges(SIZE, 5 * MIB), deadline=float("inf"), parallel=3)
    assert report.remaining == []
    with pytest.raises(SizeMismatchError) as err:
        complete_upload(s3, BUCKET, KEY, uid, expected_size=SIZE + 1, allow_overwrite=False,
                        known_crcs=report.part_crcs)
    assert str(SIZE + 1) in str(err.value) and str(SIZE) in str(err.value)
    assert (err.value.expected, err.value.actual) == (SIZE + 1, SIZE)
    assert _uploads(s3) == [] and _versions(s3) == []


def test_missing_parts_are_not_a_mismatch(server: tuple[ServerState, str], s3: Any) -> None:
    state, base = server
    uid = start_upload(s3, BUCKET, KEY, META, TAGS)
    parts = part_ranges(SIZE, 5 * MIB)
    transfer_parts(_source(state, base), s3, BUCKET, KEY, uid, [parts[0], parts[2]],
                   deadline=float("inf"))
    with pytest.raises(TransientError, match="not uploaded yet"):
        complete_upload(s3, BUCKET, KEY, uid, expected_size=SIZE, allow_overwrite=False)
    assert [u["UploadId"] for u in _uploads(s3)] == [uid]  # kept: a continuation fills it


def test_no_overwrite_of_a_different_object(server: tuple[ServerState, str], s3: Any) -> None:
    state, base = server
    other = random.Random(99).randbytes(SIZE)  # same size, other bytes
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=other, ChecksumAlgorithm="CRC32")
    with pytest.raises(ArchiveConflictError, match="nothing was overwritten"):
        _send(state, base, s3)
    assert _stored(s3) == other and len(_versions(s3)) == 1
    assert _uploads(s3) == []


def test_same_content_again_is_idempotent(server: tuple[ServerState, str], s3: Any) -> None:
    state, base = server
    first = _send(state, base, s3)
    again = _send(state, base, s3)  # a second run of the same medium
    assert isinstance(first, ArchivedObject) and isinstance(again, ArchivedObject)
    assert again.existing and again.crc32_verified
    assert again.version_id == first.version_id and len(_versions(s3)) == 1
    assert _uploads(s3) == []


def test_complete_twice_returns_the_same_object(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    uid = start_upload(s3, BUCKET, KEY, META, TAGS)
    report = transfer_parts(_source(state, base), s3, BUCKET, KEY, uid,
                            part_ranges(SIZE, 5 * MIB), deadline=float("inf"))
    one = complete_upload(s3, BUCKET, KEY, uid, expected_size=SIZE, allow_overwrite=False,
                          known_crcs=report.part_crcs)
    two = complete_upload(s3, BUCKET, KEY, uid, expected_size=SIZE, allow_overwrite=False)
    assert one.crc32_verified and not one.existing
    assert two.existing and two.version_id == one.version_id and two.size == SIZE
    assert len(_versions(s3)) == 1


def test_complete_with_the_callers_listing_asks_s3_once_less(
    server: tuple[ServerState, str], s3: Any
) -> None:
    """Finalize lists the parts to see whether all are there; handing that listing to
    complete_upload spares the second ListParts, with the same checks (a bad layout is still
    refused)."""
    state, base = server
    uid = start_upload(s3, BUCKET, KEY, META, TAGS)
    report = transfer_parts(_source(state, base), s3, BUCKET, KEY, uid,
                            part_ranges(SIZE, 5 * MIB), deadline=float("inf"))
    listing = uploaded_parts(s3, BUCKET, KEY, uid)
    lists: list[str] = []
    s3.meta.events.register("provide-client-params.s3.ListParts",
                            lambda params, **_: lists.append(params["UploadId"]))
    short = {n: p for n, p in listing.items() if n != 3}
    with pytest.raises(TransientError, match="not uploaded yet"):
        complete_upload(s3, BUCKET, KEY, uid, expected_size=SIZE, allow_overwrite=False,
                        parts=short)
    done = complete_upload(s3, BUCKET, KEY, uid, expected_size=SIZE, allow_overwrite=False,
                           known_crcs=report.part_crcs, parts=listing)
    assert lists == []
    assert done.crc32_verified and _stored(s3) == state.data


def test_overwrite_allowed_creates_a_new_version(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    old = random.Random(99).randbytes(SIZE - 1)
    old_version = s3.put_object(Bucket=BUCKET, Key=KEY, Body=old)["VersionId"]
    done = _send(state, base, s3, allow_overwrite=True)
    assert isinstance(done, ArchivedObject) and not done.existing
    assert done.version_id != old_version and len(_versions(s3)) == 2
    assert _stored(s3) == state.data and _stored(s3, version_id=old_version) == old


def test_small_file_is_one_verified_put(server: tuple[ServerState, str], s3: Any) -> None:
    state, base = server
    state.data = state.data[: 3 * MIB]
    done = _send(state, base, s3)
    assert isinstance(done, ArchivedObject) and done.crc32_verified
    assert s3.upload_part_calls == [] and _uploads(s3) == []
    assert _stored(s3) == state.data and done.crc32_b64 == crc32_b64(state.data)
    assert s3.head_object(Bucket=BUCKET, Key=KEY)["Metadata"] == META
    again = _send(state, base, s3)  # same bytes again: found, not rewritten
    assert isinstance(again, ArchivedObject) and again.existing
    state.data = bytes(reversed(state.data))
    with pytest.raises(ArchiveConflictError):
        _send(state, base, s3)
    assert len(_versions(s3)) == 1


def _count(s3: Any, operation: str) -> list[str]:
    calls: list[str] = []
    s3.meta.events.register(f"provide-client-params.s3.{operation}",
                            lambda params, **_: calls.append(params["Key"]))
    return calls


def test_a_write_whose_answer_echoes_our_crc32_needs_no_read_back(
    server: tuple[ServerState, str], s3: Any
) -> None:
    """S3 answers PutObject (and, in AWS, CompleteMultipartUpload) with the CRC32 it computed
    over what it stored: equal to ours, the object is verified without a HeadObject."""
    state, base = server
    state.data = state.data[: 3 * MIB]
    heads = _count(s3, "HeadObject")
    done = _send(state, base, s3)
    assert isinstance(done, ArchivedObject) and done.crc32_verified
    assert heads == []  # one request per small file, not two
    stored = s3.head_object(Bucket=BUCKET, Key=KEY, ChecksumMode="ENABLED")
    assert (done.version_id, done.crc32_b64, done.size) == (
        stored["VersionId"], stored["ChecksumCRC32"], len(state.data))
    assert done.metadata == META and _stored(s3) == state.data


@pytest.mark.parametrize("echo", ["ours", "other"])
def test_a_completion_is_verified_from_its_answer_where_s3_gives_one(
    server: tuple[ServerState, str], s3: Any, echo: str
) -> None:
    """moto's CompleteMultipartUpload answers no checksum (then a HeadObject reads it back, as
    the other tests show); AWS's answers the full-object CRC32: ours, nothing more is asked;
    another one, the object is refused."""
    state, base = server
    uid = start_upload(s3, BUCKET, KEY, META, TAGS)
    report = transfer_parts(_source(state, base), s3, BUCKET, KEY, uid,
                            part_ranges(SIZE, 5 * MIB), deadline=float("inf"))
    full = crc32_b64(state.data) if echo == "ours" else crc32_b64(b"other bytes")

    def as_aws_answers(parsed: dict[str, Any], **_: Any) -> None:
        parsed.update(ChecksumCRC32=full, ChecksumType="FULL_OBJECT")

    s3.meta.events.register("after-call.s3.CompleteMultipartUpload", as_aws_answers)
    heads = _count(s3, "HeadObject")
    if echo == "other":
        with pytest.raises(ChecksumMismatchError):
            complete_upload(s3, BUCKET, KEY, uid, expected_size=SIZE, allow_overwrite=False,
                            known_crcs=report.part_crcs)
        return
    done = complete_upload(s3, BUCKET, KEY, uid, expected_size=SIZE, allow_overwrite=False,
                           known_crcs=report.part_crcs)
    assert heads == [] and done.crc32_verified and done.crc32_b64 == full
    assert done.version_id == s3.head_object(Bucket=BUCKET, Key=KEY)["VersionId"]


def test_empty_file(server: tuple[ServerState, str], s3: Any) -> None:
    state, base = server
    state.data = b""
    state.ignore_range = True
    done = _send(state, base, s3)
    assert isinstance(done, ArchivedObject) and done.size == 0 and _stored(s3) == b""


def test_unversioned_bucket(server: tuple[ServerState, str], s3: Any) -> None:
    state, base = server
    s3.create_bucket(Bucket="cloudsync-unversioned")
    done = _send(state, base, s3, bucket="cloudsync-unversioned")
    assert isinstance(done, ArchivedObject) and done.crc32_verified
    assert s3.get_object(Bucket="cloudsync-unversioned", Key=KEY)["Body"].read() == state.data


# --- a source that changes, drips or goes silent; origin MD5s ---------------------------------

STALL = SourceReadPolicy(attempts=2, base_delay=0.001, max_delay=0.01, max_total_sleep=1.0,
                    connect_timeout=2.0, read_timeout=0.5, min_rate=50 * MIB)


def test_reads_are_pinned_to_the_version_first_seen(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    first = state.etag
    state.change_after = 2  # the probe and one part, then the origin holds another file
    with pytest.raises(SourceChangedError):
        _send(state, base, s3, parallel=1)
    assert state.if_match[1:] and all(m == first for m in state.if_match[1:])
    assert _versions(s3) == []  # nothing of either version was archived, let alone both


def test_a_cdn_that_drops_if_match_is_caught_by_the_etag(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    state.honour_if_match = False
    state.change_after = 2
    with pytest.raises(SourceChangedError) as changed:
        _send(state, base, s3, parallel=1)
    assert "ETag" in str(changed.value) and "SECRET" not in str(changed.value)
    assert _versions(s3) == []


def test_a_changed_source_is_never_retried_as_a_glitch(server: tuple[ServerState, str]) -> None:
    state, base = server
    src = _source(state, base, pin=SourcePin('"not-this-version"', None, SIZE))
    with pytest.raises(SourceChangedError):
        src.read_range(0, MIB - 1)
    assert len(state.gets) == 1  # a 412 is final: only a new upload helps
    src.close()


def test_a_wrong_content_range_total_under_the_same_etag_is_retried(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    src = _source(state, base)
    src.probe()  # pinned: this ETag, this size
    state.wrong_total = 2  # then two answers claim another size under the same ETag
    result = _send(state, base, s3, source=src, parallel=1)
    assert isinstance(result, ArchivedObject)
    assert _stored(s3) == state.data


def test_a_dripping_source_ends_in_a_typed_error_within_its_bound(
    server: tuple[ServerState, str]
) -> None:
    state, base = server
    state.drip, state.drip_s = 10, 0.05  # a byte every 50 ms: no socket read ever times out
    src = _source(state, base, policy=STALL)
    began = time.monotonic()
    with pytest.raises(SourceStalledError):
        src.read_range(0, 5 * MIB - 1)
    assert time.monotonic() - began < 4.0  # two tries of ~0.6 s each, not 3 days
    src.close()


def test_a_silent_source_ends_in_a_typed_error_within_its_bound(
    server: tuple[ServerState, str]
) -> None:
    state, base = server
    state.silence = 10
    src = _source(state, base, policy=STALL)
    began = time.monotonic()
    with pytest.raises(SourceStalledError):
        src.read_range(0, 5 * MIB - 1)
    assert time.monotonic() - began < 4.0
    src.close()


def test_a_read_never_outlasts_the_callers_deadline(server: tuple[ServerState, str]) -> None:
    state, base = server
    state.drip, state.drip_s = 10, 0.05
    slow = SourceReadPolicy(attempts=1, connect_timeout=2.0, read_timeout=30.0, min_rate=1.0)
    src = _source(state, base, policy=slow)  # its own bound would be days
    began = time.monotonic()
    with pytest.raises(SourceStalledError):
        src.read_range(0, 5 * MIB - 1, deadline=began + 1.0)
    assert time.monotonic() - began < 3.0
    src.close()


def test_one_dripping_answer_is_retried_and_the_bytes_are_exact(
    server: tuple[ServerState, str]
) -> None:
    state, base = server
    state.drip, state.drip_s = 1, 0.05
    src = _source(state, base, policy=STALL)
    assert bytes(src.read_range(0, 5 * MIB - 1)) == state.data[: 5 * MIB]
    src.close()


def test_part_md5s_come_from_the_bytes_read_and_survive_a_failure(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    upload_id = start_upload(s3, BUCKET, KEY, META, TAGS)
    parts = part_ranges(SIZE, 5 * MIB)
    state.fail_starts = {parts[2].start}  # part 3 always fails
    reports: list[TransferReport] = []
    with pytest.raises(TransientError):
        transfer_parts(_source(state, base), s3, BUCKET, KEY, upload_id, parts,
                       deadline=float("inf"), parallel=1, md5_known=set(),
                       on_report=reports.append)
    want = {p.number: hashlib.md5(state.data[p.start : p.end + 1],
                                  usedforsecurity=False).hexdigest() for p in parts}
    assert reports[0].part_md5s == {1: want[1], 2: want[2]}  # recorded although it failed
    state.fail_starts = set()
    s3.upload_part_calls.clear()
    # part 1's MD5 was recorded, part 2's was lost: part 2 goes again, part 1 does not
    report = transfer_parts(_source(state, base), s3, BUCKET, KEY, upload_id, parts,
                            deadline=float("inf"), parallel=1, md5_known={1})
    assert sorted(s3.upload_part_calls) == [2, 3]
    assert report.part_md5s == {2: want[2], 3: want[3]}
    assert multipart_etag(want[n] for n in (1, 2, 3)) == _s3_style_etag(state.data, 5 * MIB)


def _s3_style_etag(data: bytes, part: int) -> str:
    digests = b"".join(hashlib.md5(data[i : i + part], usedforsecurity=False).digest()
                       for i in range(0, len(data), part))
    return hashlib.md5(digests, usedforsecurity=False).hexdigest() + f"-{-(-len(data) // part)}"


def test_range_ignored_for_some_parts_is_retried_and_exact(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    state.skip_range = 2  # two part answers come back 200 with the whole file
    result = _send(state, base, s3, parallel=1)
    assert isinstance(result, ArchivedObject) and _stored(s3) == state.data
    assert state.skip_range == 0


def test_a_stream_from_a_changed_source_is_refused(
    server: tuple[ServerState, str], s3: Any
) -> None:
    state, base = server
    state.ignore_range = True  # the sequential fallback, pinned like ranged reads
    state.honour_if_match = False
    state.change_after = 1  # the probe sees one version, the stream another
    with pytest.raises(SourceChangedError):
        _send(state, base, s3)
    assert _versions(s3) == []
