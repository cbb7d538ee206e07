"""The Lambda functions: one catalog that the Pulumi program and the local cloud both read.

``grants`` names the kinds of access a function needs; the infrastructure turns each kind into
a least-privilege statement on exact ARNs, and the local cloud ignores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Grant = Literal[
    "secret_read",  # GetSecretValue on the credentials secret
    "secret_write",  # PutSecretValue on it (token renewal)
    "table_read",
    "table_write",
    "archive_write",  # multipart uploads and puts under the archive prefixes
    "archive_read",  # HeadObject / GetObjectAttributes for verification
    "archive_uploads",  # ListMultipartUploads: prepare aborts uploads no row records
    "topic_publish",
    "start_workflow",  # StartExecution on the transfer state machine
    "secret_rotate",  # the rotation protocol: DescribeSecret, UpdateSecretVersionStage
    "notify_secret_read",  # GetSecretValue on the notify secret (Slack / webhook alert URLs)
]


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # logical name, also the key in the ASL placeholders: ${function:NAME}
    handler: str  # module.attribute inside the bundle
    description: str
    memory_mb: int
    timeout_s: int
    grants: frozenset[Grant]
    reserved_concurrency: int | None = None  # the seed's serial functions run one at a time
    invoked_async: bool = False  # needs a DLQ / on-failure destination


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "authenticate",
        "cloudsync_handlers.authenticate.handler",
        "Ensures a valid source token in Secrets Manager; never returns it",
        256,
        30,
        frozenset({"secret_read", "secret_write", "topic_publish"}),
        reserved_concurrency=1,
    ),
    FunctionSpec(
        "list",
        "cloudsync_handlers.list_media.handler",
        "Nightly: lists the library, queues new media as PENDING, re-queues retries",
        512,
        300,
        frozenset({"secret_read", "secret_write", "table_read", "table_write", "topic_publish",
                   "notify_secret_read"}),  # summaries of runs done while listing; pause alerts
        reserved_concurrency=1,
        invoked_async=True,
    ),
    FunctionSpec(
        "start",
        "cloudsync_handlers.start.handler",
        "Stream consumer: starts one transfer workflow per PENDING medium",
        256,
        60,
        frozenset({"start_workflow"}),
    ),
    FunctionSpec(
        "prepare",
        "cloudsync_handlers.prepare.handler",
        "Fresh download links, originals, sizes; creates or resumes uploads; plans part ranges",
        512,
        120,
        frozenset({"secret_read", "secret_write", "table_read", "table_write", "archive_write",
                   "archive_read", "archive_uploads"}),
    ),
    FunctionSpec(
        "transfer",
        "cloudsync_handlers.transfer_parts.handler",
        "Ranged GETs into S3 UploadPart with checksums, until done or the time budget",
        1024,
        290,
        # table_write: each step records its parts' MD5s (GoPro's checksum) in the row
        frozenset({"secret_read", "table_read", "table_write", "archive_write", "archive_read"}),
    ),
    FunctionSpec(
        "finalize",
        "cloudsync_handlers.finalize.handler",
        "Verifies parts, completes uploads, marks COMPLETED or continues later",
        512,
        120,
        frozenset({"table_read", "table_write", "archive_write", "archive_read"}),
    ),
    FunctionSpec(
        "mark_failed",
        "cloudsync_handlers.mark_failed.handler",
        "Records a typed failure (or deletion at the source) and releases the transfer slot; "
        "an account problem pauses the stack and sends its one alert",
        256,
        60,
        frozenset({"table_read", "table_write", "archive_write", "topic_publish",
                   "notify_secret_read"}),  # the pause alert
    ),
    FunctionSpec(
        "notify",
        "cloudsync_handlers.notify.handler",
        "Publishes the run summary when the last medium of a run has finished",
        256,
        60,
        frozenset({"table_read", "table_write", "topic_publish", "notify_secret_read"}),
    ),
    FunctionSpec(
        "index",
        "cloudsync_handlers.index.handler",
        "After COMPLETED: where and when a medium was shot (GPMF, EXIF) into _meta/ and its row",
        512,
        120,
        frozenset({"secret_read", "secret_write", "table_read", "table_write", "archive_read",
                   "archive_write"}),
    ),
    FunctionSpec(
        "rotate",
        "cloudsync_handlers.rotate.handler",
        "Secrets Manager rotation: renews the OAuth refresh token every 30 days",
        256,
        60,
        frozenset({"secret_read", "secret_write", "secret_rotate"}),
        reserved_concurrency=1,
    ),
    FunctionSpec(
        "verify",
        "cloudsync_handlers.verify.handler",
        "cloudsync verify --read-data: reads archived objects back and recomputes their checksums",
        # CRC32 and MD5 are CPU-bound and Lambda's CPU grows with memory (GB-seconds per byte
        # read stay about the same); 3008 MB is what every account allows, new ones included.
        3008,
        900,
        frozenset({"table_read", "archive_read"}),  # archive_read brings the key's decrypt via S3
    ),
)

BY_NAME: dict[str, FunctionSpec] = {spec.name: spec for spec in FUNCTIONS}

# What the nightly schedule sends the `list` function (EventBridge Scheduler, or the local cloud).
SCHEDULE_EVENT: dict[str, str] = {"trigger": "schedule"}
