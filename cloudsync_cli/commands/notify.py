"""``cloudsync notify-setup`` and ``cloudsync notify-test``: Slack and webhook alerts beside email.

The URLs go into the stack's notify secret (``notifySecretId`` in the outputs), never anywhere
else, and are never printed: a Slack webhook URL lets anyone post to the channel. Setting one
channel keeps the other; ``-`` reads a URL from stdin (out of the shell's history); ``--clear``
turns a channel off. Bad input is refused in one line before anything is stored.
``notify-test`` sends one test alert by email (the SNS topic) and through every configured
channel, and reports each; it exits non-zero when any failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from typing import Any, TextIO

from botocore.exceptions import ClientError

from cloudsync_core.alerts import Alert, ChannelResult, ChannelUrls, load_urls, send_alert
from cloudsync_core.alerts import validate_url as check_url
from cloudsync_core.errors import CloudSyncError
from cloudsync_defs import stack as stack_contract

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from ..output import to_json

TEST_SUBJECT = "cloudsync test alert"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "notify-setup", help="store Slack / webhook alert URLs in the stack's notify secret",
        description="Store a Slack incoming-webhook URL and/or a generic HTTPS webhook URL in the "
        "stack's notify secret. Alerts (run summaries with failures, the pause alert) go to "
        "them beside email. URLs must be https:// (http:// only to localhost); '-' reads one "
        "from stdin. Setting one keeps the other; they are never printed.",
    )
    p.add_argument("--slack-url", metavar="URL", help="Slack incoming webhook URL ('-': stdin)")
    p.add_argument("--webhook-url", metavar="URL", help="generic webhook URL ('-': stdin)")
    p.add_argument("--clear", action="append", choices=("slack", "webhook"), default=[],
                   help="turn a channel off (repeatable)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(func=run_setup)
    t = sub.add_parser(
        "notify-test", help="send a test alert by email and through every configured channel",
        description="Publish a test message to the alerts topic (email) and post one to every "
        "channel stored with `cloudsync notify-setup`; report each. Exit 1 if any failed.",
    )
    t.add_argument("--json", action="store_true", help="print the results as JSON")
    t.set_defaults(func=run_test)


def notify_secret_id(ctx: Context) -> str:
    """The stack's notify secret, from its outputs (a stack deployed before it has none)."""
    raw = stack_contract.read_keys(ctx.outputs.raw)
    secret = raw.get("notify_secret_arn") or raw.get("notify_secret_id")
    if not isinstance(secret, str) or not secret:
        raise CliError(f"stack {ctx.outputs.stack!r} has no notify secret: redeploy it "
                       "(`pulumi up`) to use Slack and webhook alerts")
    return secret


def _url(raw: str | None, what: str, stdin: TextIO) -> str | None:
    if raw is None:
        return None
    value = stdin.readline().strip() if raw == "-" else raw.strip()
    try:
        return check_url(value, what)
    except CloudSyncError as e:
        raise CliError(str(e), exit_code=EXIT_USAGE) from None


def _stored(ctx: Context, secret_id: str) -> ChannelUrls:
    try:
        return load_urls(ctx.aws.secrets(), secret_id)
    except CloudSyncError as e:
        raise CliError(f"could not read the notify secret: {e}") from None


def run_setup(args: argparse.Namespace, ctx: Context, stdin: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    slack = _url(args.slack_url, "--slack-url", stdin)
    webhook = _url(args.webhook_url, "--webhook-url", stdin)
    if slack is None and webhook is None and not args.clear:
        raise CliError("nothing to store: give --slack-url URL, --webhook-url URL or --clear",
                       exit_code=EXIT_USAGE)
    secret_id = notify_secret_id(ctx)
    urls = _stored(ctx, secret_id)  # what is kept: the channel not named here
    urls = replace(urls, slack="" if "slack" in args.clear else (slack or urls.slack),
                   webhook="" if "webhook" in args.clear else (webhook or urls.webhook))
    try:
        ctx.aws.secrets().put_secret_value(SecretId=secret_id, SecretString=urls.as_secret())
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "error")
        raise CliError(f"could not store the URLs in the notify secret ({code})") from None
    channels = sorted(urls.configured())
    if args.json:
        ctx.print(to_json({"stored": True, "channels": channels, "stack": ctx.outputs.stack}))
        return EXIT_OK
    shown = ", ".join(channels) or "none (email only)"
    ctx.print(f"Stored the alert channels of stack {ctx.outputs.stack}: {shown}. "
              "Try them with `cloudsync notify-test`.")
    return EXIT_OK


def _email(ctx: Context, alert: Alert) -> ChannelResult:
    topic = ctx.outputs.topic_arn
    if not topic:
        return ChannelResult("email", False, "the stack publishes no alerts topic")
    try:
        ctx.aws.client("sns").publish(TopicArn=topic, Subject=alert.subject, Message=alert.text)
    except ClientError as e:
        return ChannelResult("email", False, e.response.get("Error", {}).get("Code", "error"))
    return ChannelResult("email", True, "published to the alerts topic")


def test_alert(stack: str, now: float) -> Alert:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return Alert(kind="test", subject=TEST_SUBJECT, stack=stack, ref=stamp,
                 text=f"A test alert of cloudsync stack {stack}, sent at {stamp} by "
                 "`cloudsync notify-test`. Alerts reach you here.",
                 what_to_do="Nothing: this is a test.")


def run_test(args: argparse.Namespace, ctx: Context) -> int:
    alert = test_alert(ctx.outputs.stack, time.time())
    results = [_email(ctx, alert)]  # the email first, whatever the other channels do
    try:
        secret_id = notify_secret_id(ctx)
    except CliError as e:
        ctx.note(str(e))  # a stack deployed before the notify secret: email only
    else:
        results += send_alert(ctx.aws.secrets(), alert, secret_id=secret_id)
    failed = [r for r in results if not r.ok]
    if args.json:
        doc: dict[str, Any] = {"ok": not failed, "results": [r.as_json() for r in results]}
        ctx.print(to_json(doc))
    else:
        for r in results:
            ctx.print(f"{r.channel:8} {'ok' if r.ok else 'FAILED'}  {r.detail}")
        if len(results) == 1:
            ctx.print("No Slack or webhook channel is set: `cloudsync notify-setup` adds one.")
    return EXIT_FAILED if failed else EXIT_OK
