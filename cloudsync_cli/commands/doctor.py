"""``cloudsync doctor [--json]``: is this stack ready to archive tonight? One line per check.

After ``pulumi up`` a stack can look deployed and still archive nothing: no login stored, an
alert subscription never confirmed, a schedule switched off, a policy that denies the writes.
Each check here asks the real thing once (GoPro, SNS, EventBridge Scheduler, IAM's policy
simulator, the tracker table) and says pass, fail or skip, every failure with what to do. A check
that cannot be made where the CLI talks to (the local cloud has no schedule; moto implements no
policy simulator) is skipped with the reason, never passed. Exit code 1 when anything fails.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

from botocore.exceptions import BotoCoreError, ClientError

from cloudsync_core.credentials import Authenticator
from cloudsync_core.errors import (
    AuthError,
    CloudSyncError,
    CredentialsMissingError,
    ReauthenticationRequiredError,
)
from cloudsync_core.providers import create_provider, token_client
from cloudsync_core.tracker import FAILED

from ..context import Context
from ..errors import EXIT_FAILED, EXIT_OK, CliError, describe
from ..output import to_json
from .gopro import gopro_settings, secret_store

Status = Literal["pass", "fail", "skip"]
STALE_RUN_S = 24 * 3600  # a run still open after a day is stuck, not running


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status.upper():4}  {self.name:<16}  {self.detail}"
        return f"{text}\n{'':24}-> {self.fix}" if self.fix and self.status == "fail" else text


def passed(name: str, detail: str) -> Check:
    return Check(name, "pass", detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, "fail", detail, fix)


def skipped(name: str, why: str) -> Check:
    return Check(name, "skip", why)


CheckFn = Callable[[Context, argparse.Namespace], Check | list[Check]]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "doctor", help="check that the stack is ready: login, alerts, schedule, permissions",
        description="Check the stack end to end: its outputs, the stored GoPro login (one "
        "cheap call to GoPro), the alert subscription, the nightly schedule, the last run, the "
        "failed media and, with IAM's policy simulator, the transfer role's write to the "
        "archive. One line per check; exit code 1 when any check fails.",
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.add_argument("--gopro-api-url", default=None, help="the GoPro API (default: the stack's)")
    p.set_defaults(func=run)


def check_outputs(ctx: Context, args: argparse.Namespace) -> Check:
    outputs = ctx.outputs  # CliError saying what to do when missing
    where = outputs.region or ctx.aws.region or "?"
    return passed("outputs", f"stack {outputs.stack} in {where} (table {outputs.table}, "
                             f"archive s3://{outputs.bucket})")


def check_credentials(ctx: Context, args: argparse.Namespace) -> Check:
    name = "gopro login"
    store = secret_store(ctx)
    try:
        stored = store.load()
    except CredentialsMissingError:
        return failed(name, "no GoPro credentials are stored",
                      "cloudsync login --username U --password-stdin (or --access-token T "
                      "--refresh-token R, or --cookie-token T --user-id U): see docs/DEPLOY.md")
    settings = gopro_settings(ctx, args.gopro_api_url)
    try:
        auth = Authenticator(store, token_client(stored.provider, settings))
        grant = auth.ensure_fresh(min_valid_seconds=300)
        create_provider(stored.provider, settings=settings, grant=grant).account()
    except (ReauthenticationRequiredError, AuthError) as e:
        return failed(name, f"GoPro refused the stored {stored.mode} credentials "
                            f"({type(e).__name__})", "log in again: " + _login_hint(stored.mode))
    except CloudSyncError as e:
        return failed(name, f"GoPro did not answer the check: {type(e).__name__}: {e}",
                      "try again later; `cloudsync library` shows the same call in full")
    expires = auth.status().get("expires_at") or "unknown"
    return passed(name, f"{stored.mode} credentials accepted by {stored.provider} "
                        f"(GET /media/user at {settings.gopro_api_url}); token valid until "
                        f"{expires}")


def _login_hint(mode: str) -> str:
    if mode == "cookie":
        return ("copy gp_access_token and gp_user_id from the GoPro web app's cookies, then "
                "cloudsync login --cookie-token T --user-id U")
    return "cloudsync login --username U --password-stdin (or --access-token T --refresh-token R)"


def check_pause(ctx: Context, args: argparse.Namespace) -> Check:
    name = "account pause"
    pause = ctx.tracker.get_pause()
    if pause is None:
        return passed(name, "the stack is not paused")
    return failed(name, f"paused since {pause.since} ({pause.error_type}): {pause.reason}",
                  "`cloudsync login` lifts the pause; the next run (or `cloudsync sync`) "
                  "resumes where it stopped")


def check_last_run(ctx: Context, args: argparse.Namespace) -> Check:
    name = "last run"
    runs = ctx.tracker.recent_runs(1)
    if not runs:
        return skipped(name, "no run yet: start one with `cloudsync sync --wait`")
    run = runs[0]
    counts = (f"{run.completed} archived, {run.failed} failed, {run.deleted} deleted at the "
              f"source" + (f", {run.timed_out} timed out" if run.timed_out else ""))
    if run.failed:
        return failed(name, f"run {run.run_id} ({run.trigger}): {counts}",
                      "`cloudsync failures` says why; `cloudsync resync MEDIA_ID` retries one")
    if not run.done:
        started = _epoch(run.started_at)
        if started is not None and time.time() - started > STALE_RUN_S:
            return failed(name, f"run {run.run_id} started {run.started_at} and has not "
                                f"finished: {run.finished} of {run.queued} media",
                          "`cloudsync status` shows what is stuck; the next run sweeps it "
                          "(`cloudsync sync` starts one now)")
        return passed(name, f"run {run.run_id} ({run.trigger}) is running: {run.finished} of "
                            f"{run.queued} media finished")
    return passed(name, f"run {run.run_id} ({run.trigger}) finished {run.finished_at}: {counts}")


def _epoch(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat((iso or "").replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def check_failures(ctx: Context, args: argparse.Namespace) -> Check:
    name = "failed media"
    rows = [row for provider in ctx.providers for row in ctx.tracker.by_status(provider, FAILED)]
    if not rows:
        return passed(name, "no medium is FAILED")
    kinds = sorted({row.error_type or "UnknownError" for row in rows})
    return failed(name, f"{len(rows)} media FAILED ({', '.join(kinds)})",
                  "`cloudsync failures` lists them; the next run retries those under the retry "
                  "budget; `cloudsync resync MEDIA_ID` retries one now")


def _guarded(check: CheckFn, name: str) -> CheckFn:
    """A check whose unexpected error becomes its failing line (the others still run)."""

    def run_check(ctx: Context, args: argparse.Namespace) -> Check | list[Check]:
        try:
            return check(ctx, args)
        except (CliError, CloudSyncError, ClientError, BotoCoreError) as e:
            message, _ = describe(e, ctx.target.endpoint_url, ctx.target.chosen_because)
            return failed(name, message, "fix what the message says, then run `cloudsync doctor` "
                                         "again (`--debug` shows the traceback)")

    return run_check


def all_checks() -> list[tuple[str, CheckFn]]:
    from . import doctor_aws

    return [
        ("outputs", check_outputs),
        ("gopro login", check_credentials),
        ("alerts", doctor_aws.check_subscription),
        ("schedule", doctor_aws.check_schedule),
        ("account pause", check_pause),
        ("last run", check_last_run),
        ("failed media", check_failures),
        ("archive write", doctor_aws.check_archive_write),
    ]


def diagnose(ctx: Context, args: argparse.Namespace) -> list[Check]:
    checks: list[Check] = []
    for name, check in all_checks():
        if checks and checks[0].status == "fail":  # no outputs: nothing else can be found
            checks.append(skipped(name, "the stack's outputs were not found"))
            continue
        answer = _guarded(check, name)(ctx, args)
        checks.extend(answer if isinstance(answer, list) else [answer])
    return checks


def run(args: argparse.Namespace, ctx: Context) -> int:
    checks = diagnose(ctx, args)
    ok = not any(c.status == "fail" for c in checks)
    if args.json:
        ctx.print(to_json({"ok": ok, "target": ctx.target.describe(),
                           "checked_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "checks": [asdict(c) for c in checks]}))
    else:
        for check in checks:
            ctx.print(check.line())
        counts = {s: sum(c.status == s for c in checks) for s in ("pass", "fail", "skip")}
        ctx.print()
        ctx.print(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped"
                  + ("" if ok else ": fix the failures above, then run `cloudsync doctor` again"))
    return EXIT_OK if ok else EXIT_FAILED
