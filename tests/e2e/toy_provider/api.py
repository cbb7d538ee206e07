"""The toy's API: pages of media, one answer with a medium's files, an account check."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

import requests

from cloudsync_core.credentials import AccessGrant
from cloudsync_core.errors import (
    DeletedAtSourceError,
    ReauthenticationRequiredError,
    SourceRequestError,
)
from cloudsync_core.http import new_session
from cloudsync_core.models import ListFilters, MediaItem, SourceFile
from cloudsync_core.providers import CloudProvider, Page
from cloudsync_core.settings import Settings

from .auth import ENV_API_URL, TIMEOUT


class ToyProvider(CloudProvider):
    name: ClassVar[str] = "toy"

    def __init__(
        self, *, settings: Settings, grant: AccessGrant, session: requests.Session | None = None
    ) -> None:
        super().__init__()
        self._base = os.environ[ENV_API_URL].rstrip("/")
        self._grant = grant
        self._session = session or new_session(2)

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        self._grant.apply(headers, cookies)
        response = self._session.get(self._base + path, params=params, headers=headers,
                                     cookies=cookies, timeout=TIMEOUT, allow_redirects=False)
        with response:
            if response.status_code == 404:
                raise DeletedAtSourceError(f"toy {path}: gone at the source")
            if response.status_code in (401, 403):
                raise ReauthenticationRequiredError("ToyCloud refused the token")
            if response.status_code != 200:
                raise SourceRequestError(f"toy {path} answered {response.status_code}")
            return response.json()

    def fetch_pages(self, filters: ListFilters) -> Iterator[Page]:
        for number in itertools.count(1):
            body = self._get("/api/media", {"page": str(number)})
            items = [
                MediaItem(self.name, e["id"], e["title"], "Video",
                          datetime.fromisoformat(e["taken_at"]), None, e["bytes"])
                for e in body["items"]
            ]
            yield Page(number, items, len(body["items"]), total_pages=body["page_count"])

    def originals(self, media_id: str, media_type: str | None = None) -> list[SourceFile]:
        body = self._get(f"/api/media/{media_id}")
        return [SourceFile(f"file-{n}", n, "file", f["name"], f["url"])
                for n, f in enumerate(body["files"], start=1)]

    def account(self) -> dict[str, Any]:
        body = self._get("/api/me")
        return body if isinstance(body, dict) else {}
