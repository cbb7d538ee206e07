"""A loopback HTTP receiver standing in for Slack and a webhook: answers with the statuses it is
told to (then 200), and records every request it got and every body it accepted."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class AlertReceiver:
    """``answers[path]``: statuses to answer before 200, in order."""

    answers: dict[str, list[int]] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> AlertReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver._lock:
                    queue = receiver.answers.get(self.path, [])
                    status = queue.pop(0) if queue else 200
                    receiver.requests.append(
                        Received(self.path, status, body, dict(self.headers.items())))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def accepted(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.requests if r.path == path and r.status < 300]

    def tries(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
