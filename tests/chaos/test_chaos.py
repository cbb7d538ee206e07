"""The chaos suite: each fault kind against a varied library, every outcome counted.

Each scenario: the first run under faults (``cloudsync sync --wait --json``, whose exit code and
counts must tell the truth), the next run without, then the README table's cells, where every
column but ``media`` and ``alerts`` owes a zero, and alerts are at most one per run that had
failures (never one per medium).
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from cloudsync_cli.main import main as cli_main
from cloudsync_core.services import services
from cloudsync_core.sync import transfer_step
from cloudsync_core.tracker import COMPLETED, FAILED
from cloudsync_core.transfer import SourceReadPolicy
from cloudsync_local.cloud.chaos import FaultPlan
from cloudsync_local.simulator import MiB

from ..e2e.harness import Stack
from .harness import Measure, SyncResult, cli_sync_wait, scenario, varied_library

pytestmark = pytest.mark.chaos

# Every S3 operation the system makes (checked: the scenario fails if it sees another).
S3_OPERATIONS = (
    "CreateMultipartUpload", "UploadPart", "ListParts", "CompleteMultipartUpload", "PutObject",
    "HeadObject", "AbortMultipartUpload", "ListMultipartUploads", "GetObject",
    "PutObjectTagging", "ListObjectVersions", "GetObjectAttributes",
)
ZEROS = ("lost", "corrupt", "duplicate", "orphan", "stuck")


def assert_clean(first: SyncResult, result: Measure, *, max_alerts: int = 1) -> None:
    """Zeros where zeros are owed, and the first run's exit code and counts told the truth."""
    assert first.truthful, (first.why, first.code, first.document, first.error)
    assert {k: result.cells[k] for k in ZEROS} == dict.fromkeys(ZEROS, 0), result.details
    assert result.cells["alerts"] <= max_alerts


def test_s3_503_and_500_on_every_operation(chaos: tuple[Stack, FaultPlan]) -> None:
    stack, plan = chaos
    media = varied_library(stack, "s3")
    for op in S3_OPERATIONS:
        plan.add("s3", op, code="SlowDown", status=503, count=1)
        plan.add("s3", op, code="InternalError", status=500, count=1, skip=2)
    plan.calls.clear()
    first, result = scenario(stack, plan, "S3 503 SlowDown / 500 on every operation", media)
    used = {op for (service, op) in plan.calls if service == "s3"}
    assert used <= set(S3_OPERATIONS), used - set(S3_OPERATIONS)
    assert_clean(first, result)


def test_dynamodb_throttling_and_500s_also_in_the_workflow(
    chaos: tuple[Stack, FaultPlan],
) -> None:
    stack, plan = chaos
    media = varied_library(stack, "ddb")
    throttled = "ProvisionedThroughputExceededException"
    faults = [  # spread over the run: never more than one in a row
        plan.add("dynamodb", code=throttled, status=400, count=8, every=3, source="handlers"),
        plan.add("dynamodb", code="InternalServerError", status=500, count=4, skip=1, every=3,
                 source="handlers"),
        plan.add("dynamodb", "UpdateItem", code=throttled, status=400, count=2, every=3,
                 source="workflow"),
        plan.add("dynamodb", "UpdateItem", code="InternalServerErrorException", status=500,
                 count=1, skip=4, source="workflow"),
    ]
    first, result = scenario(stack, plan, "DynamoDB throttling and 500s (functions and workflow)",
                             media)
    assert [f.fired for f in faults] == [8, 4, 2, 1], first.error
    assert_clean(first, result)


def test_lost_answers_after_successful_writes(chaos: tuple[Stack, FaultPlan]) -> None:
    stack, plan = chaos
    media = varied_library(stack, "lost")
    for service, op, count in (
        ("dynamodb", "TransactWriteItems", 3), ("dynamodb", "UpdateItem", 3),
        ("s3", "CompleteMultipartUpload", 1), ("s3", "PutObject", 1), ("s3", "UploadPart", 2),
        ("s3", "CreateMultipartUpload", 1),
    ):
        plan.add(service, op, kind="lost", count=count, source="handlers")
    plan.add("dynamodb", "TransactWriteItems", kind="lost", code="ReadTimeout", count=1,
             skip=3, source="handlers")
    first, result = scenario(stack, plan, "answers lost after successful writes", media)
    assert plan.fired[("dynamodb", "TransactWriteItems", "lost")] >= 2
    # A retried PutObject/CompleteMultipartUpload meets its own object (412): ours, not a
    # conflict; a retried Prepare aborts the upload its lost create left behind.
    failed = [f"{m}: {r.error_type}" for m, r in stack.rows().items()
              if m in media and r.status == FAILED]
    assert failed == []
    assert_clean(first, result, max_alerts=2)


def test_lost_answers_in_the_workflows_own_dynamodb_steps(
    chaos: tuple[Stack, FaultPlan],
) -> None:
    """TakeSlot and Claim applied but their answers lost: the re-sends recognise their own
    writes, so the run archives the medium instead of leaving its row held until its lease
    expires. One medium, so the workflow's UpdateItems come in a known order: TakeSlot, its
    re-send, Claim, its re-send (every other one loses its answer)."""
    stack, plan = chaos
    media = [stack.sim.library.add_video(filename="GX01wfl.MP4", size=11 * MiB,
                                         captured_at="2025-11-12T14:00:00Z")]
    fault = plan.add("dynamodb", "UpdateItem", kind="lost", code="InternalServerErrorException",
                     count=2, every=2, source="workflow")
    first, result = scenario(stack, plan, "answers lost in the workflow's own DynamoDB steps",
                             media)
    assert fault.fired == 2
    assert first.code == 0, (first.document, first.error)
    assert_clean(first, result)


def test_secrets_manager_outage(chaos: tuple[Stack, FaultPlan]) -> None:
    stack, plan = chaos
    media = varied_library(stack, "sec")
    plan.add("secretsmanager", code="InternalServiceError", status=500, count=None)
    first, result = scenario(stack, plan, "Secrets Manager outage", media)
    assert first.code == 1 and "list function failed" in first.error
    assert_clean(first, result)


def test_sns_outage_while_a_medium_fails(chaos: tuple[Stack, FaultPlan]) -> None:
    stack, plan = chaos
    media = varied_library(stack, "sns")
    stack.sim.faults.add("error", "cdn_get", status=500, count=None, media_id=media[2])
    plan.add("sns", code="InternalError", status=500, count=None)
    first, result = scenario(stack, plan, "SNS outage (and a medium failing meanwhile)", media)
    assert first.code == 1 and [m["media_id"] for m in first.document["failed_media"]] == [
        media[2]]
    assert plan.fired[("sns", "Publish", "error")] >= 1
    assert_clean(first, result, max_alerts=0)  # the outage swallowed the only alert


def test_lambda_invocation_errors_and_latency(chaos: tuple[Stack, FaultPlan]) -> None:
    stack, plan = chaos
    media = varied_library(stack, "lam")
    plan.add("lambda", "transfer", code="Lambda.ServiceException", count=3)
    plan.add("lambda", "prepare", code="Lambda.TooManyRequestsException", count=1)
    plan.add("lambda", "finalize", code="Lambda.ServiceException", count=1)
    plan.add("lambda", "transfer", kind="latency", latency_s=1.0, count=3)
    first, result = scenario(stack, plan, "Lambda invocation errors and latency", media)
    assert plan.fired[("lambda", "transfer", "error")] == 3
    assert_clean(first, result)


@contextmanager
def accepted_parts() -> Iterator[Counter[tuple[str, int]]]:
    """UploadParts that S3 accepted, per (upload id, part number), while inside."""
    accepted: Counter[tuple[str, int]] = Counter()
    events = services().s3.meta.events

    def params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["chaos_part"] = (params.get("UploadId"), params.get("PartNumber"))

    def after(http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code < 300 and "chaos_part" in context:
            accepted[context["chaos_part"]] += 1

    events.register("provide-client-params.s3.UploadPart", params, unique_id="chaos-parts-p")
    events.register("after-call.s3.UploadPart", after, unique_id="chaos-parts-a")
    try:
        yield accepted
    finally:
        events.unregister("provide-client-params.s3.UploadPart", unique_id="chaos-parts-p")
        events.unregister("after-call.s3.UploadPart", unique_id="chaos-parts-a")


def test_a_function_killed_mid_transfer_resumes_without_resending(
    chaos: tuple[Stack, FaultPlan],
) -> None:
    stack, plan = chaos
    media = varied_library(stack, "kill")
    plan.add("s3", "UploadPart", kind="kill", skip=1, count=1)
    with accepted_parts() as accepted:
        first, result = scenario(stack, plan, "a function killed mid-transfer", media)
    assert plan.fired[("s3", "UploadPart", "kill")] == 1
    assert accepted and max(accepted.values()) == 1, accepted  # no part sent twice
    assert_clean(first, result)


def test_two_syncs_at_once(chaos: tuple[Stack, FaultPlan]) -> None:
    stack, plan = chaos
    media = varied_library(stack, "two")
    results: list[SyncResult] = []
    other = threading.Thread(target=lambda: results.append(cli_sync_wait(stack, media)))
    other.start()
    stack.cloud.trigger_schedule()
    first = cli_sync_wait(stack, media)
    other.join()
    _, result = scenario(stack, plan, "two syncs at once", media, first=first)
    assert results[0].truthful, (results[0].why, results[0].document)
    assert_clean(first, result)


def _resync(media_id: str, codes: list[int]) -> None:
    codes.append(cli_main(["resync", media_id, "--json"], out=io.StringIO(),
                          err=io.StringIO()))


def test_resync_storm(chaos: tuple[Stack, FaultPlan]) -> None:
    stack, plan = chaos
    media = varied_library(stack, "storm")
    stack.sync(timeout=120)
    assert all(stack.rows()[m].status == COMPLETED for m in media)
    codes: list[int] = []
    storm = [threading.Thread(target=_resync, args=(m, codes)) for m in media[:2] for _ in range(4)]
    for t in storm:
        t.start()
    first = cli_sync_wait(stack, media)  # a nightly run in the middle of it
    for t in storm:
        t.join()
    _, result = scenario(stack, plan, "resync storm (8 resyncs of 2 media) and a sync", media,
                         first=first, new_versions_ok=True)
    assert codes and codes.count(0) >= 2  # each medium re-queued at least once
    assert_clean(first, result)
    rows = stack.rows()
    assert not any(rows[m].status == FAILED for m in media)


def test_a_source_that_changes_drips_or_goes_silent(
    chaos: tuple[Stack, FaultPlan], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulator's CDN faults (the source side): a file replaced mid-transfer, a body that
    trickles, a body that stops. Every read is bounded; a changed file restarts whole."""
    stack, plan = chaos
    monkeypatch.setattr(transfer_step, "SOURCE_POLICY", SourceReadPolicy(
        attempts=2, base_delay=0.01, max_delay=0.05, max_total_sleep=1.0, connect_timeout=2.0,
        read_timeout=1.0, min_rate=20 * 1024 * 1024))
    media = varied_library(stack, "src")
    faults = stack.sim.faults
    faults.add("change", "cdn_get", media_id=media[0], after=2, count=1)
    faults.add("drip", "cdn_get", media_id=media[1], count=2, delay_s=0.5)
    faults.add("silence", "cdn_get", media_id=media[2], count=1, delay_s=5)
    first, result = scenario(stack, plan, "source changes, drips, goes silent (CDN side)", media)
    assert stack.sim.stats.snapshot().get("cdn_412", 0) >= 1  # the pinned reads were refused
    assert_clean(first, result)
