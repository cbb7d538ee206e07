"""One typed error tree for everything cloudsync does.

The class names are the workflow's Retry/Catch vocabulary: a Lambda error's ``errorType`` is
the class name, so ``Retry.ErrorEquals: ["TransientError", ...]`` in the ASL matches these.
The ASL can only match names, not the hierarchy, so the workflow lists every transient class
(``transient_error_names()``) and a test keeps the two in step.

Messages never contain secrets: adapters build them from status codes, request ids and URLs
with their query strings removed (see ``redact_url``). AWS SDK failures become these classes in
one place, ``aws.translate``; no other module defines an error class (a test checks both that and
that the drawing below lists exactly the classes that exist, each under its parent).

The tree (transient: the same call may succeed later; permanent: it cannot):

    CloudSyncError
    ├── TransientError
    │   ├── RateLimitedError
    │   ├── SourceLinkExpiredError
    │   ├── SourceChangedError
    │   └── SourceStalledError
    ├── LeaseLostError
    └── PermanentError
        ├── ConfigurationError
        ├── BadEventError
        ├── AccountProblemError
        │   ├── AuthError
        │   │   ├── CredentialsMissingError
        │   │   └── ReauthenticationRequiredError
        │   ├── AccountRefusedError
        │   └── AccountPausedError
        ├── DeletedAtSourceError
        ├── InvalidMediaError
        ├── NotMediaError
        ├── IncompleteMediumError
        ├── SourceRequestError
        ├── SizeMismatchError
        ├── ChecksumMismatchError
        │   └── OriginChecksumMismatchError
        ├── ArchiveConflictError
        ├── TransferStalledError
        ├── StorageError
        ├── UnknownProviderError
        ├── TelemetryError
        └── RehearsalWriteError
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """The URL without query string or fragment: pre-signed links carry their signature there."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class CloudSyncError(Exception):
    """Base of every error cloudsync raises on purpose."""


# --- transient: the same call may succeed later -------------------------------------------


class TransientError(CloudSyncError):
    """Network trouble, 5xx, throttling: retry with backoff."""


class RateLimitedError(TransientError):
    """The source answered 429; ``retry_after`` is what it asked us to wait, in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceLinkExpiredError(TransientError):
    """A pre-signed CDN link was refused (403): fetch a fresh download answer and retry."""


class SourceChangedError(TransientError):
    """The source file changed under a transfer (412 to ``If-Match``, or a different ETag,
    Last-Modified or total size): the file restarts from a clean upload, never spliced."""


class SourceStalledError(TransientError):
    """A source read did not finish within its wall-clock bound (a dripping or silent source)."""


class LeaseLostError(CloudSyncError):
    """Another execution owns this medium now; this one stops quietly without writing."""


# --- permanent: retrying the same call cannot help ----------------------------------------


class PermanentError(CloudSyncError):
    """Retrying will not help; the medium is marked FAILED with this error's type."""


class ConfigurationError(PermanentError):
    """A setting is missing or invalid."""


class BadEventError(PermanentError):
    """The function was invoked with an event it does not take."""


class AccountProblemError(PermanentError):
    """The source refused the account, not one medium: 401/403 from the API, a refused refresh,
    bot blocking that outlasted its retries. The whole stack pauses (no new work, one alert,
    every medium's retry budget untouched) until a login, or the next run, finds it working."""


class AuthError(AccountProblemError):
    """The source refused our credentials."""


class CredentialsMissingError(AuthError):
    """No credentials are stored yet: run ``cloudsync login``."""


class ReauthenticationRequiredError(AuthError):
    """The stored token expired or was revoked and cannot be renewed (a refused refresh:
    ``token_blacklisted``, ``invalid_grant``; no remembered password, or it was refused too):
    a person must log in."""


class AccountRefusedError(AccountProblemError):
    """The API kept answering 403 after bounded retries: bot blocking or a locked account."""


class AccountPausedError(AccountProblemError):
    """The stack is paused by an earlier account problem: nothing is asked of the source."""


class DeletedAtSourceError(PermanentError):
    """The medium is gone at the source (404): terminal, not a failure of ours."""


class InvalidMediaError(PermanentError):
    """The source described a medium we cannot archive safely (bad id, size, names...)."""


class NotMediaError(PermanentError):
    """The source lists something that is not a medium to archive (an edit project, a share
    render): the row ends SKIPPED with this reason, never FAILED."""


class IncompleteMediumError(PermanentError):
    """The originals found do not account for what the listing says the medium holds
    (``item_count``, ``file_size``): never COMPLETED; the next run looks again (retry budget)."""


class SourceRequestError(PermanentError):
    """The source answered a request with an unexpected 4xx."""


class SizeMismatchError(PermanentError):
    """The bytes archived are not as many as the source said."""

    def __init__(self, what: str, expected: int, actual: int) -> None:
        super().__init__(f"{what}: expected {expected} bytes, got {actual}")
        self.expected = expected
        self.actual = actual


class ChecksumMismatchError(PermanentError):
    """A stored checksum differs from the one computed from the bytes read at the source."""


class OriginChecksumMismatchError(ChecksumMismatchError):
    """The bytes read do not reproduce the origin's own ETag (GoPro's S3 checksum) where its
    part layout is certain: the file is not archived, never COMPLETED."""


class ArchiveConflictError(PermanentError):
    """The archive already holds different content under this key; nothing was overwritten."""


class TransferStalledError(PermanentError):
    """A whole execution moved no bytes: stop; the next run retries within the retry budget."""


class StorageError(PermanentError):
    """S3 or DynamoDB refused a request for a reason retrying cannot fix (access, validation)."""


class UnknownProviderError(PermanentError):
    """No provider is registered under this name."""


class RehearsalWriteError(PermanentError):
    """A dry run tried to write (a bug: every lister write must be intercepted)."""


class TelemetryError(PermanentError):
    """A medium's telemetry (GPMF track, EXIF) cannot be read: the index records why; the
    archive itself is never touched by it."""


def _names_under(root: type[CloudSyncError]) -> list[str]:
    """The class names of ``root`` and every class below it, sorted."""
    names: list[str] = []
    pending: list[type[CloudSyncError]] = [root]
    while pending:
        cls = pending.pop()
        names.append(cls.__name__)
        pending.extend(cls.__subclasses__())
    return sorted(names)


def account_problem_names() -> list[str]:
    """Every account-problem class name: the failure path parks these media, never fails them."""
    return _names_under(AccountProblemError)


def transient_error_names() -> list[str]:
    """Every transient class name, for the workflow's Retry lists."""
    return _names_under(TransientError)
