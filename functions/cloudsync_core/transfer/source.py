"""Reading one original file from its pre-signed link: ranged GETs, verified, retried.

Why it is built this way:
- Every request carries a connect and a read timeout; a stalled CDN must not eat a Lambda.
- A part is read completely into one preallocated buffer and its length checked before anyone
  computes a checksum over it: a short body or a reset is a TransientError, never a short part.
- Transient trouble (5xx, resets, timeouts, 429) is retried here a few times with capped
  exponential backoff and full jitter; the total time slept is bounded and never runs past the
  caller's deadline. After that the error goes up and the workflow's Retry takes over.
- A 403 means the link expired: the source asks ``refresh_link`` for a fresh URL once per read
  and tries again (concurrent readers share one refresh). A 404 means the medium is gone.
- Links are secrets: errors name the URL without its query string and never include the text of
  a ``requests`` exception (which quotes the full URL).
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
from requests.adapters import HTTPAdapter

from ..errors import (
    DeletedAtSourceError,
    PermanentError,
    RateLimitedError,
    SourceLinkExpiredError,
    SourceRequestError,
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
    """What a probe learned: the file's size and whether the server honours Range (206)."""

    size: int
    ranges: bool


@dataclass(frozen=True)
class RetryPolicy:
    """Local retries of one request. Defaults suit Lambda; tests shrink the delays."""

    attempts: int = 4  # tries per request, the first included
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total_sleep: float = 30.0  # seconds slept per request, all retries together
    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # per socket read, not per body


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
        policy: RetryPolicy | None = None,
        chunk_size: int = 1024 * 1024,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._head_url = head_url
        self._generation = 0
        self._refresh_link = refresh_link
        self.policy = policy or RetryPolicy()
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
        if code in (404, 410):
            raise DeletedAtSourceError(f"{where}: HTTP {code} (gone at the source)")
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
            except PermanentError:
                raise
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

    # --- operations -----------------------------------------------------------------------

    def probe(self, *, deadline: float | None = None) -> SourceInfo:
        """Size and Range support, from one ``GET Range: bytes=0-0`` (HEAD only as a fallback).

        One ranged GET answers both questions: 206 + ``Content-Range: bytes 0-0/N`` means ranges
        work; 200 means the server ignores Range and sends everything (we read none of it).
        """

        def attempt(url: str) -> SourceInfo:
            try:
                with self._borrow() as session, session.get(
                    url,
                    headers={"Range": "bytes=0-0", "Accept-Encoding": "identity"},
                    stream=True,
                    timeout=self._timeout,
                ) as resp:
                    if resp.status_code == 416 and _EMPTY_RANGE.match(
                        resp.headers.get("Content-Range", "")
                    ):
                        return SourceInfo(size=0, ranges=True)  # an empty file has no byte 0
                    self._status_error(resp, "probing")
                    if resp.status_code == 206:
                        parsed = parse_content_range(resp.headers.get("Content-Range"))
                        if parsed is None or parsed[0] != 0:
                            raise TransientError(f"probing {self.name}: bad Content-Range")
                        if parsed[2] is not None:
                            return SourceInfo(size=parsed[2], ranges=True)
                        resp.close()  # free the connection for the HEAD
                        return SourceInfo(size=self._head_size(session, url), ranges=True)
                    length = resp.headers.get("Content-Length")
                    if length is None or not length.isdigit():
                        resp.close()
                        return SourceInfo(size=self._head_size(session, url), ranges=False)
                    return SourceInfo(size=int(length), ranges=False)
            except requests.exceptions.RequestException as e:
                raise self._network_error(e, "probing") from None

        return self._with_retries(attempt, deadline)

    def _head_size(self, session: requests.Session, url: str) -> int:
        resp = session.head(
            self._head_url or url, timeout=self._timeout, allow_redirects=True
        )
        resp.close()
        self._status_error(resp, "HEAD")
        length = resp.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise SourceRequestError(f"the source {self.name} does not say how big the file is")
        return int(length)

    def read_range(self, start: int, end: int, *, deadline: float | None = None) -> bytes:
        """Bytes ``start..end`` (inclusive), exactly ``end - start + 1`` of them, or an error.

        The body fills one preallocated buffer; turning it into ``bytes`` costs one brief extra
        copy per part (bytearray bodies break moto's in-process request parsing). A read still
        running at ``deadline`` is abandoned with a TransientError.
        """
        if start < 0 or end < start:
            raise ValueError("bad byte range")
        expected = end - start + 1

        def attempt(url: str) -> bytes:
            try:
                with self._borrow() as session, session.get(
                    url,
                    headers={"Range": f"bytes={start}-{end}", "Accept-Encoding": "identity"},
                    stream=True,
                    timeout=self._timeout,
                ) as resp:
                    self._status_error(resp, "reading")
                    if resp.status_code == 206:
                        parsed = parse_content_range(resp.headers.get("Content-Range"))
                        if parsed is not None and parsed[:2] != (start, end):
                            raise TransientError(
                                f"reading {self.name}: asked for bytes {start}-{end}, "
                                f"got {parsed[0]}-{parsed[1]}"
                            )
                    elif start != 0 or resp.headers.get("Content-Length") != str(expected):
                        # 200: the whole body. Only acceptable when that is what we asked for.
                        raise TransientError(f"reading {self.name}: the server ignored Range")
                    buf = bytearray(expected)
                    pos = 0
                    for chunk in resp.iter_content(self._chunk):
                        if pos + len(chunk) > expected:
                            raise TransientError(
                                f"reading {self.name} bytes {start}-{end}: expected {expected} "
                                f"bytes, received more than that"
                            )
                        buf[pos : pos + len(chunk)] = chunk
                        pos += len(chunk)
                        if deadline is not None and self._clock() >= deadline:
                            raise TransientError(f"reading {self.name}: deadline reached")
                    if pos != expected:
                        raise TransientError(
                            f"reading {self.name} bytes {start}-{end}: expected {expected} "
                            f"bytes, received {pos}"
                        )
                    return bytes(buf)
            except requests.exceptions.RequestException as e:
                raise self._network_error(e, "reading") from None
            except OSError as e:
                raise self._network_error(e, "reading") from None

        return self._with_retries(attempt, deadline)

    def stream(self, *, deadline: float | None = None) -> Iterator[bytes]:
        """The whole body in chunks, for servers that ignore Range.

        Opening the stream is retried like any request; a failure mid-body cannot be resumed
        here (no ranges), so it surfaces as a TransientError and the caller starts over.
        """
        with self._borrow() as session:

            def attempt(url: str) -> requests.Response:
                try:
                    resp = session.get(
                        url,
                        headers={"Accept-Encoding": "identity"},
                        stream=True,
                        timeout=self._timeout,
                    )
                except requests.exceptions.RequestException as e:
                    raise self._network_error(e, "streaming") from None
                try:
                    self._status_error(resp, "streaming")
                except BaseException:
                    resp.close()
                    raise
                return resp

            with self._with_retries(attempt, deadline) as resp:
                yield from self._body(resp)

    def _body(self, resp: requests.Response) -> Iterator[bytes]:
        """The chunks of an open response, its length checked against Content-Length."""
        declared = resp.headers.get("Content-Length")
        received = 0
        try:
            for chunk in resp.iter_content(self._chunk):
                received += len(chunk)
                yield chunk
        except requests.exceptions.RequestException as e:
            raise self._network_error(e, "streaming") from None
        except OSError as e:
            raise self._network_error(e, "streaming") from None
        if declared is not None and declared.isdigit() and received != int(declared):
            raise TransientError(
                f"streaming {self.name}: expected {declared} bytes, received {received}"
            )
