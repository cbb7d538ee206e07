"""Test doubles the provider and credentials tests share: an in-memory credential store and a
requests transport answering from a Python function (no network, every request recorded)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from cloudsync_core.credentials import StoredCredentials
from cloudsync_core.errors import CredentialsMissingError

Reply = tuple[int, Mapping[str, str], Any] | BaseException
Handler = Callable[[requests.PreparedRequest], Reply]


def in_threads(work: Callable[[], object], count: int) -> None:
    """Run ``work`` on ``count`` threads at once and wait for all of them."""
    threads = [threading.Thread(target=work) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class MemoryStore:
    """The secret, in memory: what ``load`` answers and every ``save``."""

    def __init__(self, creds: StoredCredentials | None) -> None:
        self.creds = creds
        self.saved: list[StoredCredentials] = []

    def load(self) -> StoredCredentials:
        if self.creds is None:
            raise CredentialsMissingError("nothing stored: run `cloudsync login`")
        return self.creds

    def save(self, credentials: StoredCredentials) -> None:
        self.creds = credentials
        self.saved.append(credentials)


class FakeTransport(BaseAdapter):
    """A requests transport answering from ``handler``; records every request and timeout.
    ``require_timeout``: a request sent without a timeout fails the test."""

    def __init__(self, handler: Handler, *, require_timeout: bool = False) -> None:
        super().__init__()
        self.handler = handler
        self.require_timeout = require_timeout
        self.requests: list[requests.PreparedRequest] = []
        self.timeouts: list[object] = []
        self.lock = threading.Lock()

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: object = None,
        verify: object = True,
        cert: object = None,
        proxies: object = None,
    ) -> requests.Response:
        assert timeout is not None or not self.require_timeout
        with self.lock:
            self.requests.append(request)
            self.timeouts.append(timeout)
        reply = self.handler(request)
        if isinstance(reply, BaseException):
            raise reply
        status, headers, body = reply
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers)
        if isinstance(body, bytes):
            response._content = body
        elif isinstance(body, str):
            response._content = body.encode()
        else:
            response._content = json.dumps(body).encode()
            response.headers.setdefault("Content-Type", "application/json")
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass
