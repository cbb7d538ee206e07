"""Shared HTTP plumbing: a pooled session whose every request has a timeout, Retry-After parsing,
full-jitter backoff and one bounded retry loop for 429 / 5xx / network trouble.

requests has no session-wide timeout: ``new_session`` mounts an adapter that fills in
``DEFAULT_TIMEOUT`` whenever a caller passed none, and ``request_with_retries`` always passes one
explicitly, so a foreign session (a test's fake transport) gets a timeout too.

Nothing here logs or raises a URL's query string, a header or a cookie: messages are built from
the method, ``redact_url(url)``, the status code and exception class names only.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Final

import requests
from requests.adapters import HTTPAdapter

from .errors import RateLimitedError, SourceRequestError, TransientError, redact_url

log = logging.getLogger(__name__)

Timeout = tuple[float, float]  # (connect, read) seconds

DEFAULT_TIMEOUT: Final[Timeout] = (5.0, 30.0)
USER_AGENT: Final = "cloudsync/0.1"

# Statuses worth another try: throttling and server-side trouble.
RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
# For calls that must not run twice (a token refresh rotates the refresh token): only answers
# that say the request was not processed.
RETRYABLE_STATUSES_UNSAFE: Final = frozenset({429, 503})


class TimeoutHTTPAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that applies a default (connect, read) timeout when none was given."""

    def __init__(
        self,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        pool_connections: int = 10,
        pool_maxsize: int = 10,
    ) -> None:
        self.timeout = timeout
        # max_retries=0: retries are ours (request_with_retries), with Retry-After and jitter.
        super().__init__(
            pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=0
        )

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def quiet_urllib3() -> None:
    """urllib3 logs every request line at DEBUG, query string included: a pre-signed link's
    signature would reach the logs whenever someone turns DEBUG on. Keep it at INFO or above."""
    pool_log = logging.getLogger("urllib3.connectionpool")
    if pool_log.getEffectiveLevel() < logging.INFO:
        pool_log.setLevel(logging.INFO)


def new_session(pool_size: int = 10, *, timeout: Timeout = DEFAULT_TIMEOUT) -> requests.Session:
    """A session with ``pool_size`` pooled connections per host and a default timeout.

    Size the pool to the threads that share the session (parallel ranged GETs), or requests
    discards connections and warns.
    """
    if pool_size < 1:
        raise ValueError("pool_size must be at least 1")
    quiet_urllib3()
    session = requests.Session()
    adapter = TimeoutHTTPAdapter(
        timeout=timeout, pool_connections=pool_size, pool_maxsize=pool_size
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date.

    ``now`` is the current epoch time (default ``time.time()``). A date in the past gives 0;
    anything unreadable gives None (the caller falls back to its own backoff).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
            return None
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is junk
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delays(
    base: float = 1.0,
    cap: float = 16.0,
    attempts: int | None = None,
    rng: Callable[[], float] = random.random,
) -> Iterator[float]:
    """Full-jitter exponential backoff: the n-th delay is uniform in [0, min(cap, base * 2**n)].

    Infinite unless ``attempts`` bounds it. ``rng`` returns a float in [0, 1) (injectable).
    """
    n = 0
    while attempts is None or n < attempts:
        yield rng() * min(cap, base * (2**n))
        n += 1


@dataclass(frozen=True)
class HttpRetryPolicy:
    """How hard one HTTP API request (GoPro's API, its token endpoint) is retried by
    ``request_with_retries``. Waits are injectable so tests never sleep."""

    attempts: int = 5  # tries in all, the first included
    base: float = 1.0  # backoff base, seconds
    cap: float = 16.0  # longest backoff wait, seconds
    max_retry_after: float = 30.0  # a longer Retry-After is handed up instead of slept
    timeout: Timeout = DEFAULT_TIMEOUT
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    rng: Callable[[], float] = field(default=random.random, repr=False)


def _close(response: requests.Response) -> None:
    try:
        response.close()
    except Exception:  # noqa: BLE001 - closing is best effort
        log.debug("closing a response failed", exc_info=False)


def request_with_retries(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: HttpRetryPolicy,
    what: str,
    idempotent: bool = True,
    **kwargs: Any,
) -> requests.Response:
    """Send one request, retrying throttling, 5xx and network errors with bounded backoff.

    Returns the first response that is not retryable (2xx, 3xx, 4xx other than 429) for the
    caller to interpret. Raises ``RateLimitedError`` when 429s outlast the policy (or a
    Retry-After is longer than ``policy.max_retry_after``), ``TransientError`` for 5xx and
    network errors that outlast it. ``what`` names the call in logs and messages (no secrets).
    Non-idempotent calls are retried only where the request surely was not processed: a failed
    connect, 429 and 503.
    """
    kwargs.setdefault("timeout", policy.timeout)
    quiet_urllib3()
    call = _Call(session, method, url, what, redact_url(url), idempotent, policy, kwargs)
    delays = backoff_delays(policy.base, policy.cap, rng=policy.rng)
    attempts = max(1, policy.attempts)
    for attempt in range(1, attempts + 1):
        last = attempt == attempts
        outcome = call.send(last)
        if isinstance(outcome, requests.Response):
            if not call.retryable(outcome.status_code):
                return outcome
            reason = f"answered {outcome.status_code}"
            delay = call.status_delay(outcome, attempt, last, delays)
        else:
            reason = f"failed ({type(outcome).__name__})"
            delay = next(delays)
        log.warning(
            "%s: %s %s, try %d/%d, waiting %.2fs",
            what, call.safe_url, reason, attempt, attempts, delay,
        )
        policy.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class _Call:
    """One request of ``request_with_retries``: sending it once, and judging an answer."""

    session: requests.Session
    method: str
    url: str
    what: str
    safe_url: str  # the URL without its query: the only form that reaches logs and errors
    idempotent: bool
    policy: HttpRetryPolicy
    kwargs: dict[str, Any]

    def send(self, last: bool) -> requests.Response | BaseException:
        """The response, or the network error to retry after; raises what is not retried."""
        where = self.safe_url
        try:
            return self.session.request(self.method, self.url, **self.kwargs)
        except requests.exceptions.ConnectTimeout as e:
            if last:
                raise TransientError(f"{self.what}: connecting to {where} timed out") from e
            return e
        except requests.exceptions.Timeout as e:
            if last or not self.idempotent:
                raise TransientError(f"{self.what}: {where} did not answer in time") from e
            return e
        except requests.exceptions.ConnectionError as e:
            if last or not self.idempotent:
                raise TransientError(
                    f"{self.what}: connection to {where} failed ({type(e).__name__})"
                ) from e
            return e
        except requests.exceptions.RequestException as e:
            # Invalid URL, too many redirects...: not something a retry fixes. Reported without
            # the exception text (it may hold the URL's query).
            raise SourceRequestError(
                f"{self.what}: request to {where} failed ({type(e).__name__})"
            ) from e

    def retryable(self, status: int) -> bool:
        statuses = RETRYABLE_STATUSES if self.idempotent else RETRYABLE_STATUSES_UNSAFE
        return status in statuses or (self.idempotent and 500 <= status < 600)

    def status_delay(self, response: requests.Response, attempt: int, last: bool,
                     delays: Iterator[float]) -> float:
        """How long to wait before trying again after a retryable status; raises when the
        policy is spent or the server asks for a longer wait than it allows."""
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self.policy.clock())
        _close(response)
        problem = f"{self.what}: {self.safe_url} answered {status}"
        too_long = retry_after is not None and retry_after > self.policy.max_retry_after
        if status == 429:
            if last or too_long:
                raise RateLimitedError(
                    f"{problem} (rate limited) after {attempt} tries", retry_after
                )
        elif last:
            raise TransientError(f"{problem} after {attempt} tries")
        if too_long:
            raise TransientError(f"{problem}; asked to come back in {retry_after:.0f}s")
        return next(delays) if retry_after is None else retry_after
