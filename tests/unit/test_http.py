"""The shared HTTP helpers, with the network off."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from cloudsync_core.errors import RateLimitedError, SourceRequestError, TransientError
from cloudsync_core.http import (
    DEFAULT_TIMEOUT,
    HttpRetryPolicy,
    TimeoutHTTPAdapter,
    backoff_delays,
    new_session,
    parse_retry_after,
    request_with_retries,
)

NOW = 1_750_000_000.0


def http_date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, UTC), usegmt=True)


@pytest.mark.parametrize(("value", "expected"), [
    ("7", 7.0), (" 120 ", 120.0), ("0", 0.0), ("1.5", 1.5), ("-3", 0.0),
    (None, None), ("", None), ("soon", None), ("nan", None), ("inf", None),
    ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: junk
])
def test_parse_retry_after_values(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_dates() -> None:
    assert parse_retry_after(http_date(NOW + 30), NOW) == pytest.approx(30.0)
    assert parse_retry_after(http_date(NOW - 30), NOW) == 0.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW) == 0.0


def test_backoff_delays_are_full_jitter_and_capped() -> None:
    top = list(backoff_delays(base=1.0, cap=10.0, attempts=6, rng=lambda: 0.999999))
    assert [round(d) for d in top] == [1, 2, 4, 8, 10, 10]
    assert list(backoff_delays(base=1.0, cap=10.0, attempts=3, rng=lambda: 0.0)) == [0.0] * 3
    import random

    rng = random.Random(7)
    delays = list(backoff_delays(base=0.5, cap=4.0, attempts=50, rng=rng.random))
    assert all(0 <= d <= 4.0 for d in delays) and len(set(delays)) > 40


def test_new_session_sets_a_default_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def fake_send(self: HTTPAdapter, request: requests.PreparedRequest, **kw: Any
                  ) -> requests.Response:
        seen.append(kw["timeout"])
        response = requests.Response()
        response.status_code = 204
        response.request = request
        return response

    monkeypatch.setattr(HTTPAdapter, "send", fake_send)
    session = new_session(4)
    adapter = session.get_adapter("https://example.test/")
    assert isinstance(adapter, TimeoutHTTPAdapter)
    assert adapter._pool_maxsize == 4  # type: ignore[attr-defined]
    session.get("https://example.test/a")
    session.get("http://example.test/b", timeout=(1, 2))
    assert seen == [DEFAULT_TIMEOUT, (1, 2)]
    with pytest.raises(ValueError):
        new_session(0)


def test_urllib3_never_logs_request_lines_at_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    pool_log = logging.getLogger("urllib3.connectionpool")
    monkeypatch.setattr(pool_log, "level", logging.DEBUG)
    new_session(1)
    assert pool_log.getEffectiveLevel() >= logging.INFO


class Scripted(requests.adapters.BaseAdapter):
    def __init__(self, *replies: Any) -> None:
        super().__init__()
        self.replies = list(replies)
        self.timeouts: list[Any] = []

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None, proxies: Any = None,
             ) -> requests.Response:
        self.timeouts.append(timeout)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, BaseException):
            raise reply
        status, headers = reply
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = b""
        response.request = request
        return response

    def close(self) -> None:
        pass


def run(*replies: Any, idempotent: bool = True, attempts: int = 4
        ) -> tuple[requests.Response | BaseException, Scripted, list[float]]:
    transport = Scripted(*replies)
    session = requests.Session()
    session.mount("https://", transport)
    waits: list[float] = []
    policy = HttpRetryPolicy(attempts=attempts, base=1.0, cap=3.0, max_retry_after=10.0,
                         sleep=waits.append, clock=lambda: NOW, rng=lambda: 1.0)
    try:
        result: requests.Response | BaseException = request_with_retries(
            session, "GET", "https://api.test/x?Signature=SECRET", policy=policy, what="test",
            idempotent=idempotent)
    except Exception as e:
        result = e
    return result, transport, waits


def test_success_and_4xx_are_returned_with_a_timeout() -> None:
    for status in (200, 206, 404, 401):
        result, transport, waits = run((status, {}))
        assert isinstance(result, requests.Response) and result.status_code == status
        assert waits == [] and transport.timeouts == [DEFAULT_TIMEOUT]


def test_retries_are_bounded_and_capped() -> None:
    result, transport, waits = run((503, {}))
    assert isinstance(result, TransientError) and not isinstance(result, RateLimitedError)
    assert len(transport.timeouts) == 4 and waits == [1.0, 2.0, 3.0]
    assert "SECRET" not in str(result) and "api.test/x" in str(result)


def test_429_uses_retry_after_then_hands_it_up() -> None:
    result, _, waits = run((429, {"Retry-After": "2"}), (429, {"Retry-After": http_date(NOW + 5)}),
                           (200, {}))
    assert isinstance(result, requests.Response) and waits == [2.0, pytest.approx(5.0)]
    result, transport, waits = run((429, {"Retry-After": "11"}))
    assert isinstance(result, RateLimitedError) and result.retry_after == 11.0
    assert waits == [] and len(transport.timeouts) == 1
    result, _, _ = run((429, {}))
    assert isinstance(result, RateLimitedError) and result.retry_after is None
    result, _, waits = run((503, {"Retry-After": "60"}))
    assert isinstance(result, TransientError) and waits == []


def test_network_errors() -> None:
    boom = requests.ConnectionError("https://api.test/x?Signature=SECRET refused")
    result, transport, _ = run(boom)
    assert isinstance(result, TransientError) and "SECRET" not in str(result)
    assert len(transport.timeouts) == 4
    result, transport, _ = run(requests.ReadTimeout("slow"), (200, {}))
    assert isinstance(result, requests.Response)
    result, _, _ = run(requests.exceptions.InvalidURL("bad"))
    assert isinstance(result, SourceRequestError)


def test_non_idempotent_calls_retry_only_unprocessed_requests() -> None:
    for reply in (requests.ReadTimeout("slow"), requests.ConnectionError("reset")):
        result, transport, _ = run(reply, idempotent=False)
        assert isinstance(result, TransientError) and len(transport.timeouts) == 1
    result, transport, _ = run((500, {}), idempotent=False)
    assert isinstance(result, requests.Response) and len(transport.timeouts) == 1
    result, transport, _ = run(requests.ConnectTimeout("x"), (503, {}), (200, {}),
                               idempotent=False)
    assert isinstance(result, requests.Response) and len(transport.timeouts) == 3
