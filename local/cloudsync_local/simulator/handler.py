"""HTTP request handling: API endpoints, CDN, control endpoints, fault injection."""

from __future__ import annotations

import email.utils
import json
import logging
import math
import select
import socket
import struct
import time
import traceback
from collections.abc import Iterable, Mapping
from datetime import datetime
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from . import links
from .auth import TokenError
from .content import iter_content
from .faults import Fault, first
from .library import Media, SimFile, parse_time

if TYPE_CHECKING:
    from .server import GoProSimulator

log = logging.getLogger("cloudsync_local.simulator")

ACCEPT = "application/vnd.gopro.jk.media+json; version=2.0.0"
_CONTENT_TYPES = {"mp4": "video/mp4", "jpg": "image/jpeg", "gpr": "image/x-adobe-dng"}
_MAX_BODY = 1024 * 1024  # control/token bodies are tiny; refuse anything bigger


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # stuck keep-alive threads never block interpreter exit
    block_on_close = False  # stop() must not wait for slow, rate-limited downloads
    request_queue_size = 256  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], sim: GoProSimulator) -> None:
        self.sim = sim
        super().__init__(address, SimHandler)


class _Abort(Exception):
    """The response was deliberately cut off; the connection is already gone."""


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections as with the real CDN
    server: SimHTTPServer
    server_version = "GoProSim/1.0"
    # headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK
    # add ~40 ms to every keep-alive request
    disable_nagle_algorithm = True

    # ---- plumbing -------------------------------------------------------------------------
    @property
    def sim(self) -> GoProSimulator:
        return self.server.sim

    def setup(self) -> None:
        super().setup()
        self.sim._track(self.connection, add=True)
        # per-connection token bucket for cdn_rate_limit_bytes_per_s
        self._tokens = 0.0
        self._last_fill = time.monotonic()

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the socket was reset on purpose or by the client
        finally:
            self.sim._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        if self.sim.log_requests:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self, method: str) -> None:
        self.sim.stats.incr("requests")
        body = self._read_body()  # always drained, so keep-alive stays in sync
        split = urlsplit(self.path)
        path = split.path
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            self._route(method, path, query, body)
        except _Abort:
            self.close_connection = True
        except OSError:
            self.close_connection = True  # the client went away (or stop() cut us off)
        except Exception:
            # a simulator bug: make it loud (log + counter + last_error) rather than a hang
            log.exception("simulator error on %s %s", method, path)
            self.sim.stats.incr("internal_error")
            self.sim.last_error = traceback.format_exc()
            self.close_connection = True

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        parts = [p for p in path.split("/") if p]
        if path.startswith(links.CDN_PREFIX) and method in ("GET", "HEAD"):
            self._cdn(method, path, query)
        elif path == "/v1/oauth2/token" and method == "POST":
            self._token(body)
        elif path == "/media/search" and method == "GET":
            self._search(query)
        elif path == "/media/user" and method == "GET":
            self._user()
        elif len(parts) == 3 and parts[0] == "media" and parts[2] == "download" and method == "GET":
            self._download(parts[1])
        elif len(parts) == 2 and parts[0] == "media" and method == "GET":
            self._media(parts[1])
        elif parts[:1] == ["__sim"]:
            self._control(method, parts[1:], body)
        else:
            self._json(404, {"error": "not_found", "message": f"no route {method} {path}"})

    # ---- responses ------------------------------------------------------------------------
    def _json(
        self,
        status: int,
        obj: Any,
        headers: Mapping[str, str] | None = None,
        faults: list[Fault] | None = None,
        content_type: str = "application/json",
    ) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode()
        all_headers = {"Content-Type": content_type, **(headers or {})}
        self._send(status, all_headers, len(data), [data], faults or [], head=False)

    def _send(
        self,
        status: int,
        headers: Mapping[str, str],
        length: int,
        chunks: Iterable[bytes],
        faults: list[Fault],
        *,
        head: bool,
        rate: float | None = None,
        count_bytes: bool = False,
    ) -> None:
        """Write a response, applying body faults (reset / truncate) and the rate limit."""
        self.sim.stats.incr(f"status_{status}")
        cut = first(faults, "reset") or first(faults, "truncate")
        if cut is not None and head:
            # HEAD has no body to cut: drop the connection before the answer instead.
            self._hang_up(reset=cut.kind == "reset")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if head:
            return
        limit = length
        if cut is not None:
            limit = cut.after_bytes if cut.after_bytes is not None else length // 2
            limit = max(0, min(limit, length - 1))
        sent = 0
        for chunk in chunks:
            if sent + len(chunk) > limit:
                chunk = chunk[: limit - sent]
            if rate:
                self._throttle(len(chunk), rate)
            self.wfile.write(chunk)
            sent += len(chunk)
            if count_bytes:
                self.sim.stats.incr("bytes_served", len(chunk))
            if sent >= limit:
                break
        if cut is not None:
            self._hang_up(reset=cut.kind == "reset")

    def _hang_up(self, *, reset: bool) -> None:
        if reset:
            # SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)  # FIN: a short, "complete" body
            except OSError:
                pass
        self.connection.close()
        raise _Abort

    def _throttle(self, n: int, rate: float) -> None:
        # token bucket, burst of 1/20 s worth of bytes; the debt is slept off before sending
        now = time.monotonic()
        self._tokens = min(rate / 20, self._tokens + (now - self._last_fill) * rate)
        self._last_fill = now
        self._tokens -= n
        if self._tokens < 0:
            time.sleep(-self._tokens / rate)

    def _apply_status_faults(self, faults: list[Fault], *, cdn: bool = False) -> bool:
        """Sleep for 'slow'; answer a status fault. True when a response was sent."""
        for f in faults:
            self.sim.stats.incr("faults_fired")
            self.sim.stats.incr(f"fault_{f.kind}")
            if f.kind == "slow" and f.delay_s > 0:
                time.sleep(f.delay_s)
        for f in faults:
            if f.kind == "rate_limit":
                self._error(429, "rate_limited", "Too Many Requests", faults,
                            retry_after=f, cdn=cdn)
                return True
            if f.kind == "error":
                self._error(f.status, "server_error", HTTPStatus(f.status).phrase, faults,
                            retry_after=f if f.retry_after is not None else None, cdn=cdn)
                return True
            if f.kind == "unauthorized":
                self.sim.stats.incr("unauthorized")
                self._error(401, "unauthorized", "token revoked (fault)", faults)
                return True
            if f.kind == "revoke":  # the login is revoked now, for good: 401 from here on
                self.sim.auth.revoke_all()
                self.sim.stats.incr("unauthorized")
                self._error(401, "unauthorized", "token revoked", faults)
                return True
            if f.kind == "forbidden":  # bot blocking
                self.sim.stats.incr("forbidden")
                self._error(403, "forbidden", "Request blocked", faults)
                return True
            if f.kind == "not_found":
                self._error(404, "not_found", "Not Found", faults, cdn=cdn)
                return True
            if f.kind == "expired_link":
                self.sim.stats.incr("cdn_403")
                self._error(403, "AccessDenied", "Request has expired", faults, cdn=True)
                return True
        return False

    def _error(
        self,
        status: int,
        code: str,
        message: str,
        faults: list[Fault] | None = None,
        *,
        retry_after: Fault | None = None,
        cdn: bool = False,
    ) -> None:
        headers: dict[str, str] = {}
        if retry_after is not None:
            delay = 1.0 if retry_after.retry_after is None else retry_after.retry_after
            if retry_after.retry_after_form == "date":
                # real wall clock: clients compare the date with their own clock
                when = time.time() + delay
                headers["Retry-After"] = email.utils.formatdate(when, usegmt=True)
            else:
                headers["Retry-After"] = str(math.ceil(delay))
        if cdn:  # CloudFront/S3 answer errors in XML
            xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                   f"<Message>{message}</Message></Error>").encode()
            headers["Content-Type"] = "text/xml"
            self._send(status, headers, len(xml), [xml], faults or [], head=self.command == "HEAD")
        else:
            self._json(status, {"error": code, "message": message}, headers, faults)

    # ---- API ------------------------------------------------------------------------------
    def _authorized(self, faults: list[Fault]) -> bool:
        cookies: dict[str, str] = {}
        raw = self.headers.get("Cookie")
        if raw:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(raw)
            except CookieError:
                pass
            cookies = {k: m.value for k, m in jar.items()}
        refused = self.sim.auth.authorize(self.headers.get("Authorization"), cookies,
                                          self.headers.get("User-Agent"))
        if refused is None:
            return True
        status, reason = refused
        self.sim.stats.incr("unauthorized" if status == 401 else "forbidden")
        self._json(status, {"error": "unauthorized" if status == 401 else "forbidden",
                            "message": reason},
                   {"WWW-Authenticate": 'Bearer realm="gopro"'} if status == 401 else {}, faults)
        return False

    def _check_accept(self) -> None:
        accept = " ".join((self.headers.get("Accept") or "").split())
        if ACCEPT not in accept:
            self.sim.stats.incr("missing_accept")  # lenient, but counted

    def _api_prelude(
        self, endpoint: str, media_id: str | None = None, exclude: frozenset[str] = frozenset()
    ) -> list[Fault] | None:
        """Count, check Accept, fire faults, check auth; None when already answered."""
        self.sim.stats.incr(endpoint)
        self._check_accept()
        faults = self.sim.faults.take(endpoint, media_id, exclude)
        if self._apply_status_faults(faults):
            return None
        if not self._authorized(faults):
            return None
        return faults

    def _search(self, query: dict[str, str]) -> None:
        # page 1 cannot overlap a previous page: leave an overlap fault armed for page 2+
        exclude = frozenset({"overlap"}) if query.get("page", "1").strip() == "1" else frozenset()
        faults = self._api_prelude("search", exclude=exclude)
        if faults is None:
            return
        sim = self.sim
        try:
            page = int(query.get("page", "1"))
            requested = int(query.get("per_page", str(sim.default_per_page)))
            if page < 1 or requested < 1:
                raise ValueError("page and per_page must be >= 1")
            types = _csv(query.get("type"))
            states = _csv(query.get("processing_states"))
            captured = _range(query.get("captured_range"))
        except ValueError as e:
            self._json(400, {"error": "bad_request", "message": str(e)}, faults=faults)
            return
        per_page = sim.page_size_override or min(requested, sim.max_per_page)
        media = sim.library.query(types=types, states=states, captured_range=captured,
                                  include_removed=first(faults, "stale_listing") is not None,
                                  order_by=query.get("order_by", "captured_at"))
        total = len(media)
        start = (page - 1) * per_page
        window = media[start : start + per_page]
        if first(faults, "overlap") is not None and page > 1 and 0 < start <= total:
            window = [media[start - 1], *window]  # as if one new item pushed the list down
        wanted = _csv(query.get("fields"))
        items = [_select(m.item, wanted) for m in window]
        self._json(200, {
            "_embedded": {"media": items, "errors": []},
            "_pages": {"current_page": page, "per_page": per_page, "total_items": total,
                       "total_pages": math.ceil(total / per_page)},
        }, faults=faults, content_type="application/vnd.gopro.jk.media+json; version=2.0.0")

    def _user(self) -> None:
        faults = self._api_prelude("user")
        if faults is None:
            return
        used = sum(m.item.get("file_size") or 0 for m in self.sim.library.query()
                   if isinstance(m.item.get("file_size"), int))
        self._json(200, {"id": self.sim.user_id, "email": self.sim.username,
                         "quota": {"used": used, "allocated": 1 << 50}}, faults=faults)

    def _media(self, media_id: str) -> None:
        faults = self._api_prelude("media", media_id)
        if faults is None:
            return
        media = self.sim.library.find(media_id)
        if media is None:
            self._json(404, {"error": "not_found", "message": "media not found"}, faults=faults)
        else:
            self._json(200, media.item, faults=faults)

    def _download(self, media_id: str) -> None:
        faults = self._api_prelude("download", media_id)
        if faults is None:
            return
        media = self.sim.library.find(media_id)
        if media is None:
            self._json(404, {"error": "not_found", "message": "media not found"}, faults=faults)
            return
        body = media.download_override or self._download_body(media)
        self._json(200, body, faults=faults)

    def _download_body(self, media: Media) -> dict[str, Any]:
        def link(f: SimFile) -> dict[str, str]:
            url = self.sim.sign(media.key, f.file_id)
            return {"url": url, "head": url}

        def dims(f: SimFile) -> dict[str, Any]:
            return {"width": f.width, "height": f.height}

        def numbered(f: SimFile) -> dict[str, Any]:
            shown: dict[str, Any] = {} if f.item_number is None else {"item_number": f.item_number}
            if f.available is not None:
                shown["available"] = f.available
            return shown

        files = [{**link(f), "camera_position": "default", **numbered(f), **dims(f),
                  "orientation": 1, "transforms": None} for f in media.files]
        variations = [{**link(f), "label": f.label, "quality": f.quality, "type": f.type,
                       **numbered(f), **dims(f), "transforms": None} for f in media.variations]
        sidecars = [{**link(f), "label": f.label, "type": f.type, "fps": 0, **numbered(f)}
                    for f in media.sidecar_files]
        sprites = [{"fps": 30, "frame": {"count": 10, "width": 100, "height": 56},
                    "heads": [link(f)["head"]], "urls": [link(f)["url"]], "width": 1000,
                    "height": 56, "total_count": 1, "type": f.type} for f in media.sprites]
        return {"filename": media.filename,
                "_embedded": {"files": files, "variations": variations,
                              "sprites": sprites, "sidecar_files": sidecars}}

    def _token(self, body: bytes) -> None:
        sim = self.sim
        sim.stats.incr("token")
        faults = sim.faults.take("token")
        if self._apply_status_faults(faults):
            return
        form = _parse_form(body, self.headers.get("Content-Type") or "")
        grant = form.get("grant_type", "unknown")
        sim.stats.incr("token_refresh" if grant == "refresh_token" else f"token_{grant}")
        try:
            answer = sim.auth.grant(form)
        except TokenError as e:
            sim.stats.incr("token_refused")
            self._json(e.status, e.body(), faults=faults)
            return
        self._json(200, answer, {"Cache-Control": "no-store"}, faults)

    # ---- CDN ------------------------------------------------------------------------------
    def _cdn(self, method: str, path: str, query: dict[str, str]) -> None:
        sim = self.sim
        head = method == "HEAD"
        endpoint = "cdn_head" if head else "cdn_get"
        sim.stats.incr(endpoint)
        target = links.parse_path(path)
        faults = sim.faults.take(endpoint, target[0] if target else None)
        if self._apply_status_faults(faults, cdn=True):
            return
        # no auth on the CDN: any Authorization header is ignored, the signature is the key
        expires = query.get("Expires", "")
        if not links.check_signature(sim.link_secret, path, expires, query.get("Signature", "")):
            sim.stats.incr("cdn_403")
            self._error(403, "AccessDenied", "Invalid signature", faults, cdn=True)
            return
        if int(expires) < sim.now():
            sim.stats.incr("cdn_403")
            self._error(403, "AccessDenied", "Request has expired", faults, cdn=True)
            return
        media = sim.library.find(target[0]) if target else None
        sim_file = next((f for f in media.all_files() if target and f.file_id == target[1]),
                        None) if media else None
        if sim_file is None:  # deleted at the source: CloudFront+S3 answer 403, not 404
            sim.stats.incr("cdn_403")
            self._error(403, "AccessDenied", "Access Denied", faults, cdn=True)
            return
        if sim_file.available is False:  # a variation GoPro lists but cannot serve
            sim.stats.incr("cdn_404")
            self._error(404, "NoSuchKey", "The specified key does not exist.", faults, cdn=True)
            return
        size = sim_file.size
        answer = self._origin_headers(sim_file, faults)
        if answer is None:
            return
        headers, generation = answer
        wanted = links.parse_range(self.headers.get("Range"), size)
        if first(faults, "ignore_range") is not None:
            wanted = None
        if wanted == "unsatisfiable":
            headers["Content-Range"] = f"bytes */{size}"
            self._send(416, headers, 0, [], faults, head=head)
            return
        status, start, length = 200, 0, size
        if isinstance(wanted, tuple):
            start, end = wanted
            status, length = 206, end - start + 1
            total = size + 1 if first(faults, "wrong_total") is not None else size
            headers["Content-Range"] = f"bytes {start}-{end}/{total}"
            sim.stats.incr("cdn_206")
        rate = sim.cdn_rate_limit_bytes_per_s
        chunk = 1024 * 1024 if not rate else int(max(4096, min(64 * 1024, rate / 20)))
        chunks = iter_content(sim_file.media_id, sim_file.file_id, start, length, chunk,
                              generation)
        slow = first(faults, "drip") or first(faults, "silence")
        if slow is not None and not head:
            self._send_slowly(status, headers, length, chunks, slow)
            return
        self._send(status, headers, length, chunks, faults, head=head, rate=rate,
                   count_bytes=True)

    def _origin_headers(self, sim_file: SimFile,
                        faults: list[Fault]) -> tuple[dict[str, str], int] | None:
        """The origin's headers for the file's current version (after a "change" fault), and
        its generation; None when a stale If-Match was answered 412 (as S3 does)."""
        sim = self.sim
        if first(faults, "change") is not None:  # a new version at the source, from now on
            sim.stats.incr("cdn_changed")
            sim.origin.change(sim_file)
        generation = sim.origin.generation(sim_file)
        etag = sim.origin.etag(sim_file)
        if not _if_match(self.headers.get("If-Match"), etag):
            sim.stats.incr("cdn_412")
            self._error(412, "PreconditionFailed", "At least one of the pre-conditions you "
                        "specified did not hold", faults, cdn=True)
            return None
        return {
            "Content-Type": _CONTENT_TYPES.get(sim_file.type, "application/octet-stream"),
            "Accept-Ranges": "bytes",
            **({"ETag": etag} if etag else {}),
            "Last-Modified": email.utils.formatdate(sim.started_at + generation, usegmt=True),
        }, generation

    def _send_slowly(self, status: int, headers: Mapping[str, str], length: int,
                     chunks: Iterable[bytes], fault: Fault) -> None:
        """The drip and silence faults: headers at once, then the body barely or not at all.
        Ends when the body is out, the time is up or the client hangs up."""
        self.sim.stats.incr(f"status_{status}")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        body = memoryview(b"".join(chunks))
        if fault.kind == "silence":
            head = max(0, min(fault.after_bytes or 0, length - 1))
            self.wfile.write(body[:head])
            self._wait_for_hang_up(fault.delay_s or 600.0)
            self._hang_up(reset=False)
        step = max(1, fault.drip_bytes)
        interval = fault.delay_s if fault.delay_s > 0 else 20.0
        for pos in range(0, length, step):
            self.wfile.write(body[pos : pos + step])
            self.sim.stats.incr("bytes_dripped", len(body[pos : pos + step]))
            if pos + step < length and self._wait_for_hang_up(interval):
                self._hang_up(reset=False)

    def _wait_for_hang_up(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as the client closed its end."""
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            ready, _, _ = select.select([self.connection], [], [], min(left, 0.2))
            if ready:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return True
                except OSError:
                    return True
        return False

    # ---- control (for a separate process, e.g. the CLI demo) --------------------------------
    def _control(self, method: str, parts: list[str], body: bytes) -> None:
        sim = self.sim
        sim.stats.incr("control")
        try:
            payload: Any = json.loads(body) if body else None
        except ValueError:
            self._json(400, {"error": "bad_json"})
            return
        what = parts[0] if parts else ""
        try:
            if what == "faults" and method == "GET":
                self._json(200, {"faults": [f.to_dict() for f in sim.faults.all()]})
            elif what == "faults" and method == "POST":
                specs = payload if isinstance(payload, list) else [payload]
                added = [sim.faults.add(**_mapping(s)).to_dict() for s in specs]
                self._json(200, {"faults": added})
            elif what == "faults" and method == "DELETE":
                sim.faults.clear()
                self._json(200, {"faults": []})
            elif what == "stats" and method == "GET":
                self._json(200, sim.stats.snapshot())
            elif what == "stats" and method == "DELETE":
                sim.stats.reset()
                self._json(200, {})
            elif what == "auth" and method == "POST":
                action = _mapping(payload).get("action")
                if action == "revoke_refresh_tokens":
                    sim.revoke_refresh_tokens()
                elif action == "expire_access_tokens":
                    sim.expire_access_tokens()
                elif action == "revoke_all":
                    sim.auth.revoke_all()
                else:
                    raise ValueError(f"unknown action {action!r}")
                self._json(200, {"ok": True})
            elif what == "clock" and method == "POST":
                sim.advance_clock(float(_mapping(payload).get("advance_s", 0)))
                self._json(200, {"now": sim.now()})
            else:
                self._json(404, {"error": "not_found"})
        except (TypeError, ValueError) as e:
            self._json(400, {"error": "bad_request", "message": str(e)})


# ---- small parsers --------------------------------------------------------------------------
def _if_match(header: str | None, etag: str | None) -> bool:
    """RFC 9110 If-Match with strong comparison: "*" or one of the listed ETags."""
    if header is None:
        return True
    wanted = [t.strip() for t in header.split(",") if t.strip()]
    if "*" in wanted:
        return etag is not None
    return etag is not None and not etag.startswith("W/") and etag in wanted


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def _csv(value: str | None) -> set[str] | None:
    if value is None or not value.strip():
        return None
    return {v.strip() for v in value.split(",") if v.strip()}


def _range(value: str | None) -> tuple[datetime, datetime] | None:
    if not value:
        return None
    start_s, sep, end_s = value.partition(",")
    start, end = parse_time(start_s.strip()), parse_time(end_s.strip())
    if not sep or start is None or end is None:
        raise ValueError("captured_range must be START,END (ISO 8601)")
    return start, end


def _select(item: dict[str, Any], wanted: set[str] | None) -> dict[str, Any]:
    return dict(item) if wanted is None else {k: v for k, v in item.items() if k in wanted}


def _parse_form(body: bytes, content_type: str) -> dict[str, str]:
    """Token requests arrive as a form or as JSON; accept both (and sniff when unlabeled)."""
    text = body.decode("utf-8", "replace")
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
