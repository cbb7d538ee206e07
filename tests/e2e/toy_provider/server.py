"""The toy's cloud: a tiny loopback HTTP server with a library, OAuth tokens and ranged files.

The API wants the current Bearer token (``/api/...``); files are served like pre-signed CDN links
(no token; ``Range``, a strong ``ETag`` that is the bytes' MD5 as S3 gives it, ``If-Match``).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE_SIZE = 2
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass
class ToyMedium:
    media_id: str
    taken_at: str
    files: dict[str, bytes]


@dataclass
class ToyCloud:
    """``with ToyCloud() as cloud``: serves on 127.0.0.1 until the block ends."""

    media: list[ToyMedium] = field(default_factory=list)
    access_token: str = "toy-access-0"
    refresh_token: str = "toy-refresh-0"
    refreshes: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ToyCloud:
        cloud = self

        class Handler(_Handler):
            toy = cloud

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def add(self, media_id: str, taken_at: str, files: dict[str, bytes]) -> ToyMedium:
        medium = ToyMedium(media_id, taken_at, files)
        self.media.append(medium)
        return medium

    def renew(self, refresh_token: str) -> dict[str, Any] | None:
        if refresh_token != self.refresh_token:
            return None
        self.refreshes += 1
        self.access_token = f"toy-access-{self.refreshes}"
        self.refresh_token = f"toy-refresh-{self.refreshes}"
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "expires_in": 86400}


class _Handler(BaseHTTPRequestHandler):
    toy: ToyCloud

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: object) -> None:
        self._send(status, json.dumps(value).encode(), {"Content-Type": "application/json"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        answer = self.toy.renew(form.get("refresh_token", ""))
        if answer is None:
            self._json(400, {"error": "invalid_grant"})
        else:
            self._json(200, answer)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if parts[0] == "blob" and len(parts) == 3:
            self._blob(parts[1], parts[2])
        elif self.headers.get("Authorization") != f"Bearer {self.toy.access_token}":
            self._json(401, {"error": "unauthorized"})
        elif parts == ["api", "me"]:
            self._json(200, {"user": "toy-user"})
        elif parts == ["api", "media"]:
            self._page(int(parse_qs(url.query).get("page", ["1"])[0]))
        elif parts[:2] == ["api", "media"] and len(parts) == 3:
            self._medium(parts[2])
        else:
            self._json(404, {"error": "not found"})

    def _page(self, number: int) -> None:
        media = self.toy.media
        chosen = media[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        items = [{"id": m.media_id, "title": next(iter(m.files)), "taken_at": m.taken_at,
                  "bytes": sum(len(b) for b in m.files.values())} for m in chosen]
        self._json(200, {"items": items, "page_count": -(-len(media) // PAGE_SIZE)})

    def _medium(self, media_id: str) -> None:
        medium = next((m for m in self.toy.media if m.media_id == media_id), None)
        if medium is None:
            self._json(404, {"error": "no such medium"})
            return
        base = f"{self.toy.base_url}/blob/{media_id}"
        self._json(200, {"files": [{"name": n, "url": f"{base}/{n}"} for n in medium.files]})

    def _blob(self, media_id: str, name: str) -> None:
        medium = next((m for m in self.toy.media if m.media_id == media_id), None)
        data = medium.files.get(name) if medium else None
        if data is None:
            self._send(404, b"")
            return
        etag = f'"{hashlib.md5(data).hexdigest()}"'  # noqa: S324 - S3's ETag, not security
        if self.headers.get("If-Match") not in (None, etag):
            self._send(412, b"")
            return
        match = _RANGE.match(self.headers.get("Range") or "")
        if match is None:
            self._send(200, data, {"ETag": etag, "Accept-Ranges": "bytes"})
            return
        start = int(match.group(1))
        end = min(int(match.group(2) or len(data) - 1), len(data) - 1)
        self._send(206, data[start : end + 1], {
            "ETag": etag, "Content-Range": f"bytes {start}-{end}/{len(data)}"})
