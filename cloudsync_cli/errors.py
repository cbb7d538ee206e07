"""One-line errors: every failure the CLI knows becomes a sentence saying what to do.

``describe`` turns any exception into ``(message, exit code)``; ``main`` prints it to stderr as
``cloudsync: <message>`` (``--debug`` prints the traceback instead). Exit codes: 0 all good,
1 something failed (an error, a failed medium, a verification mismatch), 2 bad usage,
130 interrupted, 141 stdout closed by its reader (quietly, as ``| head`` expects).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from cloudsync_core.errors import (
    AuthError,
    CloudSyncError,
    CredentialsMissingError,
    ReauthenticationRequiredError,
)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
EXIT_CLOSED_PIPE: Final = 141  # the reader closed stdout (`| head`): 128 + SIGPIPE, said nothing

LOGIN_HINT: Final = (
    "store GoPro credentials with: cloudsync login --access-token T --refresh-token R "
    "(or --cookie-token T --user-id U)"
)
RELOGIN_HINT: Final = (
    "the stored GoPro login expired or was revoked: log in again with cloudsync login "
    "--access-token T --refresh-token R (or --cookie-token T --user-id U from the web app)"
)


class CliError(Exception):
    """An error the CLI explains itself: ``message`` is shown as it is."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class FunctionFailed(CliError):
    """A Lambda function answered with an error payload (``FunctionError``)."""

    def __init__(self, function: str, error_type: str, error_message: str) -> None:
        self.function = function
        self.error_type = error_type
        self.error_message = error_message
        super().__init__(function_error_message(function, error_type, error_message))


def function_error_message(function: str, error_type: str, error_message: str) -> str:
    text = " ".join(error_message.split())  # one line, whatever the function said
    if len(text) > 400:
        text = text[:397] + "..."
    base = f"the {function} function failed: {error_type}: {text}"
    if error_type == ReauthenticationRequiredError.__name__ and "cloudsync login" not in text:
        return f"{base} ({RELOGIN_HINT})"
    if error_type == CredentialsMissingError.__name__ and "cloudsync login" not in text:
        return f"{base} ({LOGIN_HINT})"
    return base


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe(
    exc: BaseException, endpoint_url: str | None = None, endpoint_reason: str = ""
) -> tuple[str, int]:
    """The one-line message and exit code for ``exc`` (searching its cause chain).

    ``endpoint_url`` is where the CLI talked to (None: AWS), ``endpoint_reason`` why."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    for cause in _chain(exc):
        if isinstance(cause, CliError):
            return cause.message, cause.exit_code
    for cause in _chain(exc):
        if isinstance(cause, (EndpointConnectionError, BotoConnectionError)):
            url = getattr(cause, "kwargs", {}).get("endpoint_url") or endpoint_url or "AWS"
            return endpoint_message(str(url), endpoint_url, endpoint_reason), EXIT_FAILED
        if isinstance(cause, (NoCredentialsError, PartialCredentialsError)):
            where = (f"for {endpoint_url}: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (a local "
                     "cloud on this machine needs none)" if endpoint_url else
                     ": set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for a "
                     "deployed stack, or --endpoint-url for a local cloud")
            return f"no AWS credentials {where}".replace(" :", ":"), EXIT_FAILED
        if isinstance(cause, NoRegionError):
            return "no AWS region: set AWS_REGION or pass --region", EXIT_FAILED
        if isinstance(cause, ProfileNotFound):
            return f"{cause} (check AWS_PROFILE / --profile)", EXIT_FAILED
    for cause in _chain(exc):
        if isinstance(cause, (ReauthenticationRequiredError, CredentialsMissingError)):
            hint = RELOGIN_HINT if isinstance(cause, ReauthenticationRequiredError) else LOGIN_HINT
            text = _one_line(cause)
            return (text if "cloudsync login" in text else f"{text} ({hint})"), EXIT_FAILED
        if isinstance(cause, AuthError):
            return f"GoPro refused the credentials: {_one_line(cause)}", EXIT_FAILED
    for cause in _chain(exc):
        if isinstance(cause, ClientError):
            error = cause.response.get("Error", {})
            code = error.get("Code", "error")
            message = error.get("Message", "")
            operation = getattr(cause, "operation_name", "a request")
            hint = _client_error_hint(str(code))
            text = f"AWS refused {operation}: {code}"
            if message:
                text += f": {' '.join(str(message).split())}"
            return text + (f" ({hint})" if hint else ""), EXIT_FAILED
    if isinstance(exc, CloudSyncError):
        return f"{type(exc).__name__}: {_one_line(exc)}", EXIT_FAILED
    return (
        f"unexpected error: {type(exc).__name__}: {_one_line(exc)} (run with --debug for details)",
        EXIT_FAILED,
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _client_error_hint(code: str) -> str:
    if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
        return "your AWS session expired: log in to AWS again"
    if code in ("UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException"):
        return "check your AWS credentials"
    if code in ("AccessDenied", "AccessDeniedException"):
        return "your AWS identity lacks a permission cloudsync needs"
    if code == "ResourceNotFoundException":
        return "the stack's resources are not all there: redeploy it, or restart the local cloud"
    return ""


def endpoint_message(url: str, endpoint_url: str | None, reason: str = "") -> str:
    why = f" (used because {reason})" if reason else ""
    if endpoint_url and is_local(endpoint_url):
        return (
            f"nothing answers at {endpoint_url}{why}: is the local cloud running? start it "
            "with `cloudsync local up`, or pass --endpoint-url"
        )
    return f"cannot reach {url}{why}: check the network, the region and --endpoint-url"


def is_local(url: str) -> bool:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")
