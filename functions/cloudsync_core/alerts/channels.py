"""Posting an alert to the channels the notify secret names: bounded retries, a timeout on
every request, one claim per run and channel, and no URL in any log line or exception.

The secret holds JSON ``{"slack_url": ..., "webhook_url": ...}``; a missing or empty value turns
its channel off, so a stack needs no setting for them. A channel is tried again on 429, 5xx and
connection errors (``Retry-After`` honoured up to a cap), never on another 4xx (a revoked Slack
webhook answers 404: no retry fixes that). Failures are logged by channel name and error class
(``FAILURE_LOG``, one line per channel: a Logs Insights ``stats count()`` counts them); they
never raise: the email went out first.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import requests
from botocore.exceptions import ClientError

from ..aws import error_code, translate
from ..errors import CloudSyncError, ConfigurationError, TransientError
from ..http import USER_AGENT, backoff_delays, parse_retry_after, quiet_urllib3
from ..observability import logger, register_secret
from .message import Alert, slack_body, webhook_body

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

ENV_NOTIFY_SECRET: Final = "CLOUDSYNC_NOTIFY_SECRET_ID"  # noqa: S105 (a variable name)
CHANNELS: Final = ("slack", "webhook")
FAILURE_LOG: Final = "alert delivery failed"  # one line per failed channel: what is counted
RETRYABLE: Final = frozenset({429, 500, 502, 503, 504})
LOOPBACK_NAMES: Final = frozenset({"localhost"})

Claim = Callable[[str, bool], bool]  # (channel, release) -> claimed


@dataclass(frozen=True)
class ChannelUrls:
    """The channels' URLs. ``repr`` never shows them."""

    slack: str = field(default="", repr=False)
    webhook: str = field(default="", repr=False)

    def configured(self) -> dict[str, str]:
        return {name: url for name, url in (("slack", self.slack), ("webhook", self.webhook))
                if url}

    def as_secret(self) -> str:
        return json.dumps({"slack_url": self.slack, "webhook_url": self.webhook})

    @classmethod
    def from_secret(cls, text: str) -> ChannelUrls:
        try:
            data = json.loads(text) if text.strip() else {}
        except ValueError as e:
            raise ConfigurationError("the notify secret is not JSON: set it again with "
                                     "`cloudsync notify-setup`") from e
        if not isinstance(data, dict):
            raise ConfigurationError("the notify secret is not a JSON object")
        urls = cls(slack=str(data.get("slack_url") or ""),
                   webhook=str(data.get("webhook_url") or ""))
        for url in urls.configured().values():
            register_secret(url)
        return urls


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_url(url: str, what: str) -> str:
    """The URL, if it may receive alerts: https://, or http:// to loopback (the local cloud).
    The message of a refusal never repeats the URL (it is a secret)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"{what} must be an https:// URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(f"{what} must use https:// (http:// only to localhost)")
    return url.strip()


def load_urls(secrets: SecretsManagerClient, secret_id: str | None = None) -> ChannelUrls:
    """The URLs stored in the notify secret; none when there is no secret or no value yet."""
    secret_id = os.environ.get(ENV_NOTIFY_SECRET, "") if secret_id is None else secret_id
    if not secret_id:
        return ChannelUrls()
    try:
        text = secrets.get_secret_value(SecretId=secret_id).get("SecretString") or ""
    except Exception as e:  # every SDK failure becomes typed: send_alert never raises
        if isinstance(e, ClientError) and error_code(e) == "ResourceNotFoundException":
            return ChannelUrls()  # created by the stack, no value stored yet: channels off
        raise translate(e, "read the notify secret") from e
    return ChannelUrls.from_secret(text)


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    ok: bool
    detail: str  # "delivered", "already delivered", or the error class and status: no URL

    def as_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "ok": self.ok, "detail": self.detail}


@dataclass
class Poster:
    """Posts one JSON body with bounded retries. Waits are injectable so tests never sleep."""

    attempts: int = 3
    timeout: tuple[float, float] = (3.05, 5.0)  # (connect, read) of every request
    base: float = 0.5
    cap: float = 4.0
    # No new try after this long: two channels stay well inside notify's 60 s.
    budget_s: float = 15.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: Callable[[], float] = random.random
    session: requests.Session = field(default_factory=requests.Session)

    def post(self, url: str, body: Mapping[str, Any], key: str) -> int:
        """The accepted status; raises ``TransientError`` (retries spent) or
        ``ConfigurationError`` (refused: a revoked or wrong URL)."""
        quiet_urllib3()  # its DEBUG request lines carry the URL's path: the secret part
        delays = backoff_delays(self.base, self.cap, rng=self.rng)
        headers = {"User-Agent": USER_AGENT, "Idempotency-Key": key}
        start = self.clock()
        for attempt in range(1, self.attempts + 1):
            try:
                answer = self.session.post(url, json=dict(body), headers=headers,
                                           timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as e:
                failure, wait = f"no answer ({type(e).__name__})", next(delays)
            else:
                status = answer.status_code
                answer.close()
                if 200 <= status < 300:
                    return status
                if status not in RETRYABLE and not 500 <= status < 600:
                    raise ConfigurationError(f"refused with HTTP {status}")
                retry_after = parse_retry_after(answer.headers.get("Retry-After"))
                failure = f"HTTP {status}"
                wait = min(self.cap, retry_after) if retry_after is not None else next(delays)
            if attempt == self.attempts or self.clock() - start + wait > self.budget_s:
                raise TransientError(f"{failure} after {attempt} tries")
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover


BODIES: Final[dict[str, Callable[[Alert], dict[str, Any]]]] = {
    "slack": slack_body, "webhook": webhook_body}


def _send_one(channel: str, url: str, alert: Alert, poster: Poster, claim: Claim | None
              ) -> ChannelResult:
    claimed = False
    try:
        if claim is not None:
            claimed = claim(channel, False)
            if not claimed:
                return ChannelResult(channel, True, "already delivered")
        status = poster.post(url, BODIES[channel](alert), alert.key)
    except CloudSyncError as e:
        if claimed and claim is not None:
            _release(claim, channel)
        detail = f"{type(e).__name__}: {e}"  # built from status codes and class names only
        logger.error(FAILURE_LOG, extra={"channel": channel, "kind": alert.kind,
                                         "run_id": alert.run_id, "error": detail})
        return ChannelResult(channel, False, detail)
    logger.info("alert delivered", extra={"channel": channel, "kind": alert.kind,
                                          "run_id": alert.run_id, "status": status})
    return ChannelResult(channel, True, "delivered")


def _release(claim: Claim, channel: str) -> None:
    try:
        claim(channel, True)
    except CloudSyncError:
        logger.exception("could not release the alert delivery claim", extra={"channel": channel})


def deliver(alert: Alert, urls: ChannelUrls, *, poster: Poster | None = None,
            claim: Claim | None = None) -> list[ChannelResult]:
    """Post the alert to every configured channel; never raises. ``claim(channel, release)``
    lets one caller per alert post to a channel (released again when the post failed)."""
    poster = poster or Poster()
    return [_send_one(channel, url, alert, poster, claim)
            for channel, url in urls.configured().items()]


def send_alert(secrets: SecretsManagerClient, alert: Alert, *, claim: Claim | None = None,
               poster: Poster | None = None, secret_id: str | None = None
               ) -> list[ChannelResult]:
    """Read the notify secret and deliver; never raises (an unreadable secret is logged and
    counted as one failed ``secret`` result)."""
    try:
        urls = load_urls(secrets, secret_id)
    except CloudSyncError as e:
        logger.error(FAILURE_LOG, extra={"channel": "secret", "kind": alert.kind,
                                         "error": f"{type(e).__name__}: {e}"})
        return [ChannelResult("secret", False, f"{type(e).__name__}: {e}")]
    return deliver(alert, urls, poster=poster, claim=claim)
