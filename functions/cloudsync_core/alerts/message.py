"""What a Slack or webhook alert says: one ``Alert``, two body formats.

The generic webhook gets JSON a program can act on (run id, counts, each failed medium with its
file, error type and message, what to do); Slack gets the same as ``text`` (shown in
notifications) and ``blocks`` (shown in the channel). Nothing here knows a URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

SCHEMA_VERSION: Final = 1
MAX_SLACK_FAILURES: Final = 10  # the whole list is `cloudsync failures`'s
MAX_SECTION_CHARS: Final = 2900  # Slack's limit for one section's text is 3000


@dataclass(frozen=True)
class FailedMedium:
    provider: str
    media_id: str
    file: str | None
    error_type: str
    error_message: str | None

    def as_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "media_id": self.media_id, "file": self.file,
                "error_type": self.error_type, "error_message": self.error_message}


@dataclass(frozen=True)
class Alert:
    """One alert: ``kind`` is ``run_summary``, ``pause`` or ``test``."""

    kind: str
    subject: str
    text: str  # the email's text, as sent to the SNS topic
    what_to_do: str
    run_id: str | None = None
    stack: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    failures: tuple[FailedMedium, ...] = ()
    ref: str = ""  # what tells two alerts without a run apart (a pause's start, a test's time)

    @property
    def key(self) -> str:
        """A stable idempotency key: the same alert always carries the same one."""
        return f"cloudsync:{self.kind}:{self.stack or ''}:{self.run_id or self.ref or self.subject}"


def webhook_body(alert: Alert) -> dict[str, Any]:
    """The generic webhook's JSON body."""
    return {
        "schema": SCHEMA_VERSION,
        "source": "cloudsync",
        "kind": alert.kind,
        "stack": alert.stack,
        "idempotency_key": alert.key,
        "run_id": alert.run_id,
        "subject": alert.subject,
        "counts": dict(alert.counts),
        "failures": [f.as_json() for f in alert.failures],
        "what_to_do": alert.what_to_do,
        "message": alert.text,
    }


def _failure_line(f: FailedMedium) -> str:
    name = f" ({f.file})" if f.file else ""
    why = f": {f.error_message}" if f.error_message else ""
    return f"• `{f.provider}/{f.media_id}`{name} {f.error_type}{why}"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_CHARS]}}


def slack_body(alert: Alert) -> dict[str, Any]:
    """The Slack incoming-webhook body: ``text`` for notifications, ``blocks`` for the channel."""
    counts = ", ".join(f"{k}: {v}" for k, v in alert.counts.items())
    head = f"*{alert.subject}*" + (f"\nRun `{alert.run_id}`" if alert.run_id else "")
    blocks = [_section(head + (f"\n{counts}" if counts else ""))]
    if alert.failures:
        lines = [_failure_line(f) for f in alert.failures[:MAX_SLACK_FAILURES]]
        more = len(alert.failures) - MAX_SLACK_FAILURES
        if more > 0:
            lines.append(f"… and {more} more")
        blocks.append(_section("*Failed media*\n" + "\n".join(lines)))
    blocks.append(_section(f"*What to do*\n{alert.what_to_do}"))
    text = f"{alert.subject}" + (f" (run {alert.run_id})" if alert.run_id else "")
    return {"text": text, "blocks": blocks}
