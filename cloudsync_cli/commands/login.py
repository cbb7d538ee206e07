"""``cloudsync login``: store GoPro credentials in the stack's secret (never printing them).

Credentials are proved with one cheap authenticated GoPro call before anything is stored: a
refused credential leaves what was stored untouched (``--no-check`` stores without asking GoPro,
for offline use). A login also lifts the stack's pause (an account problem stopped the run):
the next run, or ``cloudsync sync`` now, resumes where it stopped. ``--remember`` keeps the
password, only in the secret, so that a refresh token GoPro blacklists is renewed by logging in
again, unattended.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from typing import TextIO

from cloudsync_core.credentials import Authenticator, StoredCredentials, jwt_expiry
from cloudsync_core.errors import CloudSyncError, TransientError
from cloudsync_core.providers import DEFAULT_PROVIDER, create_provider, token_client

from ..context import Context
from ..errors import EXIT_OK, EXIT_USAGE, CliError
from ..output import to_json
from .gopro import gopro_settings, secret_store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "login", help="store GoPro credentials in the stack's secret",
        description="Store GoPro credentials in the stack's Secrets Manager secret. Either an "
        "OAuth token pair (--access-token, --refresh-token), or the web app's cookies "
        "(--cookie-token gp_access_token --user-id gp_user_id), or a username with the "
        "password on stdin (accounts without two-factor login; --remember keeps the password in "
        "the secret so a revoked token renews itself). Pass '-' as a token to read it from "
        "stdin. Tokens and passwords are never printed. A login lifts a pause.",
    )
    p.add_argument("--access-token", metavar="T", help="OAuth access token")
    p.add_argument("--refresh-token", metavar="R", help="OAuth refresh token (renewed nightly)")
    p.add_argument("--expires-in", type=int, metavar="SECONDS",
                   help="the access token's lifetime, when it is not a JWT")
    p.add_argument("--cookie-token", metavar="T", help="the web app's gp_access_token cookie")
    p.add_argument("--user-id", metavar="U", help="the web app's gp_user_id cookie")
    p.add_argument("--username", metavar="U", help="GoPro account email (password grant)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--remember", action="store_true",
                   help="with --username: keep the password in the stack's secret (only there) "
                   "so a refresh token GoPro revokes is renewed by logging in again, unattended")
    p.add_argument("--client-secret", metavar="S", default=None,
                   help="the GoPro web app's OAuth client secret, kept in the secret for token "
                   "renewal ('-' reads it from stdin)")
    p.add_argument("--gopro-api-url", default=None, help="the GoPro API (default: the stack's)")
    p.add_argument("--no-check", action="store_true",
                   help="store without proving the credentials with GoPro first (offline)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(func=run)


def _value(raw: str | None, stdin: TextIO) -> str | None:
    if raw == "-":
        return stdin.readline().strip()
    return raw.strip() if raw is not None else None


def credentials_from_args(
    args: argparse.Namespace, ctx: Context, stdin: TextIO, now: float
) -> StoredCredentials:
    access = _value(args.access_token, stdin)
    cookie = _value(args.cookie_token, stdin)
    client_secret = _value(args.client_secret, stdin) or None
    modes = [bool(access), bool(cookie), bool(args.username)]
    if args.remember and not args.username:
        raise CliError("--remember keeps a password: use it with --username U --password-stdin",
                       exit_code=EXIT_USAGE)
    if sum(modes) != 1:
        raise CliError(
            "choose one way to log in: --access-token T [--refresh-token R], or --cookie-token "
            "T --user-id U, or --username U --password-stdin", exit_code=EXIT_USAGE,
        )
    if access:
        refresh = _value(args.refresh_token, stdin) or None
        expires = jwt_expiry(access)
        if expires is None and args.expires_in:
            expires = now + args.expires_in
        return StoredCredentials(
            provider=DEFAULT_PROVIDER, mode="oauth", access_token=access, refresh_token=refresh,
            user_id=args.user_id, expires_at=expires, updated_at=now,
            client_secret=client_secret,
        )
    if cookie:
        if not args.user_id:
            raise CliError("--cookie-token needs --user-id (the gp_user_id cookie)",
                           exit_code=EXIT_USAGE)
        return StoredCredentials(
            provider=DEFAULT_PROVIDER, mode="cookie", access_token=cookie, user_id=args.user_id,
            expires_at=jwt_expiry(cookie), updated_at=now,
        )
    if not args.password_stdin:
        raise CliError("--username needs --password-stdin (the password is read from stdin)",
                       exit_code=EXIT_USAGE)
    password = stdin.readline().rstrip("\n")
    if not password:
        raise CliError("no password on stdin", exit_code=EXIT_USAGE)
    client = token_client(DEFAULT_PROVIDER, gopro_settings(ctx, args.gopro_api_url))
    return replace(client.password_login(args.username, password, client_secret),
                   client_secret=client_secret,
                   username=args.username if args.remember else None,
                   password=password if args.remember else None)


def describe(creds: StoredCredentials) -> str:
    parts = [f"mode {creds.mode}"]
    if creds.user_id:
        parts.append(f"user {creds.user_id}")
    if creds.mode == "oauth":
        parts.append("with a refresh token" if creds.refresh_token else
                     "WITHOUT a refresh token: it cannot be renewed")
        if creds.can_relogin:
            parts.append("password remembered (a revoked token renews itself)")
    if creds.expires_at:
        parts.append("access token expires "
                     + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(creds.expires_at)))
    return ", ".join(parts)


def store(ctx: Context, creds: StoredCredentials) -> None:
    secret_store(ctx).save(creds, create_missing=True)


class HeldCredentials:
    """Credentials held in memory while they are proved (renewals land here, not stored)."""

    def __init__(self, creds: StoredCredentials) -> None:
        self.creds = creds

    def load(self) -> StoredCredentials:
        return self.creds

    def save(self, credentials: StoredCredentials) -> None:
        self.creds = credentials


def prove(ctx: Context, creds: StoredCredentials, api_url: str | None) -> StoredCredentials:
    """One authenticated GoPro call with ``creds`` (renewed first when they need it); the
    credentials to store (renewed ones included). Refused or unreachable: ``CliError``."""
    settings = gopro_settings(ctx, api_url)
    held = HeldCredentials(creds)
    try:
        grant = Authenticator(held, token_client(DEFAULT_PROVIDER, settings)).ensure_fresh(60)
        create_provider(DEFAULT_PROVIDER, settings=settings, grant=grant).account()
    except TransientError as e:
        raise CliError(f"could not check the credentials with GoPro ({type(e).__name__}: "
                       f"{_line(e)}); nothing was stored. Try again, or store them unchecked "
                       "with --no-check") from e
    except CloudSyncError as e:
        raise CliError(f"GoPro refused these credentials ({type(e).__name__}: {_line(e)}); "
                       "nothing was stored, what was stored before is untouched") from e
    return held.creds


def _line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def run(args: argparse.Namespace, ctx: Context, stdin: TextIO | None = None) -> int:
    creds = credentials_from_args(args, ctx, stdin or sys.stdin, time.time())
    if not args.no_check:
        creds = prove(ctx, creds, args.gopro_api_url)
    store(ctx, creds)
    lifted = ctx.tracker.clear_pause()
    if args.json:
        ctx.print(to_json({"stored": True, "checked": not args.no_check,
                           "secret_id": ctx.outputs.secret_id, "stack": ctx.outputs.stack,
                           "credentials": describe(creds),
                           "lifted_pause": lifted.as_dict() if lifted else None}))
        return EXIT_OK
    checked = "unchecked (--no-check)" if args.no_check else "checked with GoPro"
    ctx.print(f"Stored GoPro credentials ({describe(creds)}; {checked}) in secret "
              f"{ctx.outputs.secret_id} of stack {ctx.outputs.stack}.")
    if lifted is not None:
        ctx.print(f"Lifted the pause of {lifted.since} ({lifted.error_type}): the next run, or "
                  "`cloudsync sync` now, resumes where it stopped.")
    if args.no_check:
        ctx.print("Check them with `cloudsync library`.")
    return EXIT_OK
