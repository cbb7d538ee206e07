"""Alerts beside email: a Slack incoming webhook and a generic HTTPS webhook.

Email (the SNS topic) is always sent first; these channels follow. Their URLs are secrets (a
Slack webhook URL is a credential by itself), kept in a Secrets Manager secret of their own
(``CLOUDSYNC_NOTIFY_SECRET_ID``): never in config, logs, payloads or exceptions. An empty secret
means no channel. ``message`` builds what is sent, ``channels`` reads the URLs and posts.
"""

from __future__ import annotations

from .channels import (
    CHANNELS,
    ENV_NOTIFY_SECRET,
    ChannelResult,
    ChannelUrls,
    Poster,
    deliver,
    load_urls,
    send_alert,
    validate_url,
)
from .message import Alert, FailedMedium, slack_body, webhook_body

__all__ = [
    "CHANNELS", "ENV_NOTIFY_SECRET", "Alert", "ChannelResult", "ChannelUrls", "FailedMedium",
    "Poster", "deliver", "load_urls", "send_alert", "slack_body", "validate_url", "webhook_body",
]
