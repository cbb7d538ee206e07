"""Reading one original file from its pre-signed link: ranged GETs, verified, retried.

Why it is built this way:
- Every request carries a connect and a read timeout; a stalled CDN must not eat a Lambda.
- A part is read completely into one preallocated buffer and its length checked before anyone
  computes a checksum over it: a short body or a reset is a TransientError, never a short part.
- Transient trouble (5xx, resets, timeouts, 429) is retried here a few times with capped
  exponential backoff and full jitter; the total time slept is bounded and never runs past the
  caller's deadline. After that the error goes up and the workflow's Retry takes over.
- A 403 means the link expired: the source asks ``refresh_link`` for a fresh URL once per read
  and tries again (concurrent readers share one refresh). A 404 or 410 from the CDN is treated
  the same way: only the API (a 404 on ``/media/{id}/download``) can say a medium is gone.
- Links are secrets: errors name the URL without its query string and never include the text of
  a ``requests`` exception (which quotes the full URL).
- Every read is pinned to one version of the file: ``If-Match`` with the ETag of the first
  answer (or of the upload's plan), and each answer's ETag, Last-Modified and Content-Range
  total compared with it. A change is a ``SourceChangedError``: the caller restarts the file
  from a clean upload, so parts of two versions are never spliced into one object.
- Every read has a wall-clock bound, not only a per-socket-read timeout: the body is read one
  ``recv`` at a time, the socket's timeout shrinks to the time left, and a part that has not
  arrived within ``read_timeout + length / min_rate`` (or by the caller's deadline) ends in a
  ``SourceStalledError``. A source that drips one byte every 20 s cannot hold a step.
- A part is read into one buffer that goes to UploadPart as it is (no second copy).
- Thread safety: ``read_range`` is called from several worker threads. ``requests.Session`` is
  not documented as thread-safe, so a request borrows a Session from a small pool for its whole
  duration and returns it after (one keep-alive connection each; never more Sessions than
  requests ever ran at once, however many thread pools come and go). The current URL is
  swapped under a lock.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import requests
import urllib3
from requests.adapters import HTTPAdapter

from ..errors import (
    PermanentError,
    RateLimitedError,
    SourceChangedError,
    SourceLinkExpiredError,
    SourceRequestError,
    SourceStalledError,
    TransientError,
    redact_url,
)
from ..http import parse_retry_after

T = TypeVar("T")

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_EMPTY_RANGE = re.compile(r"^\s*bytes\s+\*/0\s*$", re.IGNORECASE)
_PERMANENT_REQUEST_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
    requests.exceptions.TooManyRedirects,
)


@dataclass(frozen=True)
class SourceInfo:
    """What a probe learned: the file's size, whether the server honours Range (206), and the
    validators of the version it saw (the origin's ETag and Last-Modified, as served)."""

    size: int
    ranges: bool
    etag: str | None = None
    last_modified: str | None = None

    @property
    def pin(self) -> SourcePin:
        return SourcePin(self.etag, self.last_modified, self.size)


@dataclass(frozen=True)
class SourcePin:
    """The one version of a file every read must come from."""

    etag: str | None
    last_modified: str | None
    size: int | None

    def if_match(self) -> dict[str, str]:
        """``If-Match`` for a strong ETag (a weak one cannot be matched strongly)."""
        if not self.etag or self.etag.startswith("W/"):
            return {}
        return {"If-Match": self.etag}


@dataclass(frozen=True)
class SourceReadPolicy:
    """How hard one read of a source file's bytes (a HEAD, a range, a stream) is retried inside
    the Lambda, with its timeouts. Defaults suit Lambda; tests shrink the delays."""

    attempts: int = 4  # tries per request, the first included
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total_sleep: float = 30.0  # seconds slept per request, all retries together
    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # per socket read, and the grace every body read gets
    min_rate: float = 256 * 1024  # bytes/s a body must average beyond that grace


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``(first, last, total or None)`` from ``bytes a-b/N``; None if absent or malformed."""
    if not value:
        return None
    m = _CONTENT_RANGE.match(value)
    if not m:
        return None
    total = None if m.group(3) == "*" else int(m.group(3))
    return int(m.group(1)), int(m.group(2)), total


class HttpRangeSource:
    """One source file behind an HTTP(S) link, read by byte ranges or as one stream."""

    def __init__(
        self,
        url: str,
        *,
        refresh_link: Callable[[], str] | None = None,
        head_url: str | None = None,
        pin: SourcePin | None = None,
        policy: SourceReadPolicy | None = None,
        chunk_size: int = 1024 * 1024,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._head_url = head_url
        self._generation = 0
        self._pin = pin  # None: the first answer's validators become the pin
        self._refresh_link = refresh_link
        self.policy = policy or SourceReadPolicy()
        self._chunk = chunk_size
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: list[requests.Session] = []
        self._closed = False

    # --- plumbing -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The link without its query string: safe for logs and error messages."""
        with self._lock:
            return redact_url(self._url)

    @contextmanager
    def _borrow(self) -> Iterator[requests.Session]:
        """A Session for this thread's request alone, back into the pool afterwards."""
        with self._lock:
            session = self._idle.pop() if self._idle else None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        try:
            yield session
        finally:
            with self._lock:
                keep = not self._closed
                if keep:
                    self._idle.append(session)
            if not keep:
                session.close()

    def close(self) -> None:
        """Close the pooled connections; requests still running close theirs when done."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for session in idle:
            session.close()

    def __enter__(self) -> HttpRangeSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _current(self) -> tuple[str, int]:
        with self._lock:
            return self._url, self._generation

    def _refresh(self, seen_generation: int) -> None:
        """Replace the link after a 403, unless another thread already did since we read it."""
        if self._refresh_link is None:
            return
        with self._lock:
            if self._generation != seen_generation:
                return
            self._url = self._refresh_link()
            self._generation += 1

    @property
    def _timeout(self) -> tuple[float, float]:
        return (self.policy.connect_timeout, self.policy.read_timeout)

    def _status_error(self, resp: requests.Response, what: str) -> None:
        """Raise the typed error for a non-success answer."""
        code = resp.status_code
        if code in (200, 206):
            return
        where = f"{what} {redact_url(resp.url or self._current()[0])}"
        if code == 403:
            raise SourceLinkExpiredError(f"{where}: HTTP 403 (link expired or refused)")
        if code == 412:
            raise SourceChangedError(f"{where}: HTTP 412 (the file changed since it was pinned)")
        if code in (404, 410):  # a hiccup or a stale variation: a fresh link decides
            raise SourceLinkExpiredError(f"{where}: HTTP {code} (link refused; fetch it anew)")
        if code == 429:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            raise RateLimitedError(f"{where}: HTTP 429", retry_after=retry_after)
        if code == 408 or code >= 500:
            raise TransientError(f"{where}: HTTP {code}")
        if code == 416:
            raise SourceRequestError(f"{where}: HTTP 416 (range not satisfiable)")
        raise SourceRequestError(f"{where}: unexpected HTTP {code}")

    def _network_error(self, e: Exception, what: str) -> Exception:
        """A typed error for a requests/socket failure, without the URL's query string."""
        where = f"{what} {self.name}"
        if isinstance(e, _PERMANENT_REQUEST_ERRORS):
            return SourceRequestError(f"{where}: {type(e).__name__}")
        return TransientError(f"{where}: {type(e).__name__}")

    def _with_retries(self, attempt: Callable[[str], T], deadline: float | None) -> T:
        """Run ``attempt(url)`` with link refresh, bounded backoff and the deadline."""
        policy = self.policy
        slept = 0.0
        tries = 0
        refreshed = False
        while True:
            url, generation = self._current()
            try:
                return attempt(url)
            except SourceLinkExpiredError:
                if refreshed or self._refresh_link is None:
                    raise
                refreshed = True
                self._refresh(generation)
                continue
            except (PermanentError, SourceChangedError):
                raise  # another version of the file: only a new upload helps
            except TransientError as e:
                tries += 1
                if tries >= policy.attempts:
                    raise
                delay = random.uniform(0, min(policy.max_delay, policy.base_delay * 2**tries))
                if isinstance(e, RateLimitedError) and e.retry_after is not None:
                    delay = e.retry_after
                if slept + delay > policy.max_total_sleep:
                    raise
                if deadline is not None and self._clock() + delay >= deadline:
                    raise
                self._sleep(delay)
                slept += delay

    # --- pinning --------------------------------------------------------------------------

    @property
    def pin(self) -> SourcePin | None:
        with self._lock:
            return self._pin

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        pin = self.pin
        return {**extra, "Accept-Encoding": "identity", **(pin.if_match() if pin else {})}

    def _check_pin(self, resp: requests.Response, total: int | None, what: str) -> None:
        """Compare this answer's validators with the pin (adopting them if there is none yet).

        A different ETag or Last-Modified is a new version: SourceChangedError. A different
        total under the same ETag is a broken answer, not a new file: TransientError.
        """
        etag = resp.headers.get("ETag") or None
        modified = resp.headers.get("Last-Modified") or None
        with self._lock:
            if self._pin is None:
                self._pin = SourcePin(etag, modified, total)
                return
            pin = self._pin
        where = f"{what} {self.name}"
        if pin.etag and etag and etag != pin.etag:
            raise SourceChangedError(f"{where}: ETag {etag}, pinned {pin.etag}")
        if pin.last_modified and modified and modified != pin.last_modified:
            raise SourceChangedError(f"{where}: Last-Modified {modified}, pinned "
                                     f"{pin.last_modified}")
        if pin.size is not None and total is not None and total != pin.size:
            if pin.etag and etag == pin.etag:
                raise TransientError(f"{where}: says the file has {total} bytes, not "
                                     f"{pin.size}, under the same ETag")
            raise SourceChangedError(f"{where}: {total} bytes, pinned {pin.size}")

    # --- bounded body reads ---------------------------------------------------------------

    def _bound(self, started: float, length: int, deadline: float | None) -> float:
        """When a body of ``length`` bytes begun at ``started`` must have arrived."""
        policy = self.policy
        bound = started + policy.read_timeout + length / max(policy.min_rate, 1.0)
        return bound if deadline is None else min(bound, deadline)

    def _request_timeout(self, bound: float) -> tuple[float, float]:
        left = max(0.05, bound - self._clock())
        return (min(self.policy.connect_timeout, left), min(self.policy.read_timeout, left))

    def _chunks(self, resp: requests.Response, length: int | None, bound: float,
                what: str) -> Iterator[bytes]:
        """The body one ``recv`` at a time, exactly ``length`` bytes (None: up to its end),
        each read bounded by the time left before ``bound``: SourceStalledError when it
        passes, TransientError when the body ends early or breaks."""
        raw = resp.raw
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        pos = 0
        while length is None or pos < length:
            left = bound - self._clock()
            if left <= 0:
                raise SourceStalledError(
                    f"{what} {self.name}: {pos} of {length} bytes arrived within the read's "
                    f"time bound"
                )
            if sock is not None:
                sock.settimeout(min(self.policy.read_timeout, left))
            want = self._chunk if length is None else min(self._chunk, length - pos)
            try:
                chunk = raw.read1(want)
            except urllib3.exceptions.ReadTimeoutError:
                raise SourceStalledError(
                    f"{what} {self.name}: the source went silent after {pos} bytes"
                ) from None
            except (urllib3.exceptions.HTTPError, OSError) as e:
                raise TransientError(f"{what} {self.name}: {type(e).__name__}") from None
            if not chunk:
                if length is None:
                    return
                raise TransientError(
                    f"{what} {self.name}: expected {length} bytes, received {pos}"
                )
            pos += len(chunk)
            yield chunk

    # --- operations -----------------------------------------------------------------------

    def probe(self, *, deadline: float | None = None) -> SourceInfo:
        """Size, Range support and validators, from one ``GET Range: bytes=0-0`` (HEAD only as
        a fallback).

        One ranged GET answers both questions: 206 + ``Content-Range: bytes 0-0/N`` means ranges
        work; 200 means the server ignores Range and sends everything (we read none of it). The
        answer's ETag and Last-Modified pin every later read of this source.
        """

        def attempt(url: str) -> SourceInfo:
            try:
                with self._borrow() as session, session.get(
                    url,
                    headers=self._headers({"Range": "bytes=0-0"}),
                    stream=True,
                    timeout=self._timeout,  # no body: the socket timeouts bound it
                ) as resp:
                    if resp.status_code == 416 and _EMPTY_RANGE.match(
                        resp.headers.get("Content-Range", "")
                    ):
                        self._check_pin(resp, 0, "probing")
                        return self._info(resp, 0, True)  # an empty file has no byte 0
                    self._status_error(resp, "probing")
                    if resp.status_code == 206:
                        parsed = parse_content_range(resp.headers.get("Content-Range"))
                        if parsed is None or parsed[0] != 0:
                            raise TransientError(f"probing {self.name}: bad Content-Range")
                        size = parsed[2]
                        if size is None:
                            resp.close()  # free the connection for the HEAD
                            size = self._head_size(session, url)
                        self._check_pin(resp, size, "probing")
                        return self._info(resp, size, True)
                    length = resp.headers.get("Content-Length")
                    if length is None or not length.isdigit():
                        resp.close()
                        size = self._head_size(session, url)
                    else:
                        size = int(length)
                    self._check_pin(resp, size, "probing")
                    return self._info(resp, size, False)
            except requests.exceptions.RequestException as e:
                raise self._network_error(e, "probing") from None

        return self._with_retries(attempt, deadline)

    def _info(self, resp: requests.Response, size: int, ranges: bool) -> SourceInfo:
        pin = self.pin
        etag = pin.etag if pin else resp.headers.get("ETag")
        modified = pin.last_modified if pin else resp.headers.get("Last-Modified")
        return SourceInfo(size=size, ranges=ranges, etag=etag or None,
                          last_modified=modified or None)

    def _head_size(self, session: requests.Session, url: str) -> int:
        resp = session.head(
            self._head_url or url, headers=self._headers({}), timeout=self._timeout,
            allow_redirects=True,
        )
        resp.close()
        self._status_error(resp, "HEAD")
        length = resp.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise SourceRequestError(f"the source {self.name} does not say how big the file is")
        return int(length)

    def read_range(self, start: int, end: int, *, deadline: float | None = None) -> bytearray:
        """Bytes ``start..end`` (inclusive), exactly ``end - start + 1`` of them, or an error.

        The body fills one preallocated buffer, returned as it is. Each try must arrive within
        its bound (``read_timeout + length / min_rate``, never past ``deadline``):
        SourceStalledError otherwise. An answer from another version of the file:
        SourceChangedError, never retried here.
        """
        if start < 0 or end < start:
            raise ValueError("bad byte range")
        expected = end - start + 1

        def attempt(url: str) -> bytearray:
            bound = self._bound(self._clock(), expected, deadline)
            try:
                with self._borrow() as session, session.get(
                    url,
                    headers=self._headers({"Range": f"bytes={start}-{end}"}),
                    stream=True,
                    timeout=self._request_timeout(bound),
                ) as resp:
                    self._status_error(resp, "reading")
                    self._check_answer(resp, start, end)
                    buf = bytearray(expected)
                    pos = 0
                    for chunk in self._chunks(resp, expected, bound, "reading"):
                        buf[pos : pos + len(chunk)] = chunk
                        pos += len(chunk)
                    return buf
            except requests.exceptions.RequestException as e:
                raise self._read_error(e, "reading") from None
            except OSError as e:
                raise self._network_error(e, "reading") from None

        return self._with_retries(attempt, deadline)

    def _read_error(self, e: requests.exceptions.RequestException, what: str) -> Exception:
        if isinstance(e, requests.exceptions.ReadTimeout):
            return SourceStalledError(f"{what} {self.name}: no answer within the read's bound")
        return self._network_error(e, what)

    def _check_answer(self, resp: requests.Response, start: int, end: int) -> None:
        """The answer is exactly the range asked for, of the pinned version."""
        expected = end - start + 1
        length = resp.headers.get("Content-Length")
        if resp.status_code == 206:
            parsed = parse_content_range(resp.headers.get("Content-Range"))
            if parsed is not None and parsed[:2] != (start, end):
                raise TransientError(
                    f"reading {self.name}: asked for bytes {start}-{end}, "
                    f"got {parsed[0]}-{parsed[1]}"
                )
            self._check_pin(resp, parsed[2] if parsed else None, "reading")
        elif start != 0 or length != str(expected):
            # 200: the whole body. Only acceptable when that is what we asked for.
            raise TransientError(f"reading {self.name}: the server ignored Range")
        else:
            self._check_pin(resp, expected, "reading")
        if length is not None and length.isdigit() and int(length) != expected:
            raise TransientError(
                f"reading {self.name} bytes {start}-{end}: expected {expected} bytes, "
                f"received {length} (by its Content-Length)"
            )

    def stream(self, *, deadline: float | None = None) -> Iterator[bytes]:
        """The whole body in chunks, for servers that ignore Range.

        Opening the stream is retried like any request; a failure mid-body cannot be resumed
        here (no ranges), so it surfaces as a TransientError and the caller starts over. The
        body is bounded like a ranged read of the whole file.
        """
        with self._borrow() as session:
            started = self._clock()

            def attempt(url: str) -> requests.Response:
                try:
                    resp = session.get(
                        url,
                        headers=self._headers({}),
                        stream=True,
                        timeout=self._timeout,  # the body is bounded below
                    )
                except requests.exceptions.RequestException as e:
                    raise self._read_error(e, "streaming") from None
                try:
                    self._status_error(resp, "streaming")
                    declared = resp.headers.get("Content-Length")
                    total = int(declared) if declared and declared.isdigit() else None
                    self._check_pin(resp, total, "streaming")
                except BaseException:
                    resp.close()
                    raise
                return resp

            with self._with_retries(attempt, deadline) as resp:
                yield from self._body(resp, started, deadline)

    def _body(self, resp: requests.Response, started: float,
              deadline: float | None) -> Iterator[bytes]:
        """The chunks of an open response, exactly as many as its Content-Length says."""
        declared = resp.headers.get("Content-Length")
        length = int(declared) if declared is not None and declared.isdigit() else None
        grace = length if length is not None else 0
        bound = self._bound(started, grace, deadline)
        if length is None and deadline is None:
            bound = started + 3600.0  # no length and no deadline: an hour at most
        elif length is None and deadline is not None:
            bound = deadline
        yield from self._chunks(resp, length, bound, "streaming")
