"""GoProSimulator: the library, auth, faults and stats behind one loopback HTTP server.

The same server answers the API (``base_url``) and the CDN (``cdn_base_url`` + ``/cdn/...``).
Settings are plain attributes read per request, so tests can change them while it runs.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time

from ..running import Running
from . import links
from .auth import AuthStore, BrowserToken
from .faults import FaultSet
from .handler import ACCEPT, SimHTTPServer
from .library import Library
from .origin import OriginStore
from .stats import Stats


class GoProSimulator(Running):
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: str = "cloudsync",
        library: Library | None = None,
        username: str = "user@example.com",
        password: str = "correct horse battery staple",  # noqa: S107 (a local fake account)
        client_id: str | None = None,
        client_secret: str | None = None,
        token_lifetime_s: float = 3600,
        link_lifetime_s: float = 3600,
        max_per_page: int = 100,
        page_size_override: int | None = None,
        default_per_page: int = 30,
        cdn_rate_limit_bytes_per_s: float | None = None,
        log_requests: bool = False,
    ) -> None:
        self.host = host
        self._port = port
        self.library = library if library is not None else Library(seed)
        self.faults = FaultSet()
        self.origin = OriginStore()  # the CDN origin's ETags and file versions
        self.stats = Stats()
        self.link_lifetime_s = link_lifetime_s
        self.max_per_page = max_per_page  # silent cap on per_page
        self.page_size_override = page_size_override  # answer with this size whatever is asked
        self.default_per_page = default_per_page  # when per_page is absent
        self.cdn_rate_limit_bytes_per_s = cdn_rate_limit_bytes_per_s  # per connection
        self.log_requests = log_requests
        self.link_secret = hashlib.sha256(f"links:{seed}".encode()).digest()
        self.user_id = hashlib.sha256(f"user:{seed}".encode()).hexdigest()[:24]
        self._clock_offset = 0.0
        self.last_error: str | None = None  # traceback of the last simulator bug, if any
        self.started_at = time.time()
        self.auth = AuthStore(self.now, username, password, self.user_id, token_lifetime_s,
                              client_id, client_secret)
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> GoProSimulator:
        if self._server is not None:
            return self
        self._server = SimHTTPServer((self.host, self._port), self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"gopro-sim:{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        # wake keep-alive threads blocked on idle client connections
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # ---- addresses ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return self._port

    @property
    def base_url(self) -> str:
        """API base (what GOPRO_API_URL points at)."""
        return f"http://{self.host}:{self.port}"

    @property
    def cdn_base_url(self) -> str:
        return f"http://{self.host}:{self.port}/cdn"

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.port}/__sim"

    # ---- time -------------------------------------------------------------------------------
    def now(self) -> float:
        """The simulator's clock (epoch s): wall clock plus whatever advance_clock added."""
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Jump ahead: tokens and links expire without the test sleeping."""
        self._clock_offset += seconds

    # ---- auth -------------------------------------------------------------------------------
    @property
    def username(self) -> str:
        return self.auth.username

    @property
    def password(self) -> str:
        return self.auth.password

    @property
    def token_lifetime_s(self) -> float:
        return self.auth.token_lifetime_s

    @token_lifetime_s.setter
    def token_lifetime_s(self, value: float) -> None:
        self.auth.token_lifetime_s = value

    def issue_tokens(self) -> dict[str, object]:
        """An OAuth token answer without an HTTP call (not counted in stats)."""
        return self.auth.issue_oauth()

    def issue_browser_token(self, lifetime_s: float | None = None) -> BrowserToken:
        return self.auth.issue_browser_token(lifetime_s)

    def revoke_refresh_tokens(self) -> None:
        self.auth.revoke_refresh_tokens()

    def expire_access_tokens(self) -> None:
        self.auth.expire_access_tokens()

    def api_headers(self, access_token: str | None = None) -> dict[str, str]:
        """Headers for an API call (Accept + Bearer; a fresh token when none is given)."""
        token = access_token or str(self.issue_tokens()["access_token"])
        return {"Accept": ACCEPT, "Authorization": f"Bearer {token}"}

    # ---- links ------------------------------------------------------------------------------
    def sign(self, media_key: str, file_id: str, lifetime_s: float | None = None) -> str:
        """A pre-signed CDN URL for one file, valid ``lifetime_s`` (default link_lifetime_s)."""
        path = links.make_path(media_key, file_id)
        life = self.link_lifetime_s if lifetime_s is None else lifetime_s
        expires = int(self.now() + life)
        return f"{self.base_url}{path}?{links.signed_query(self.link_secret, path, expires)}"
