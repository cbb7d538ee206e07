"""The per-medium workflow's steps, driven as the ASL drives them, against moto and the simulator.

Below the end-to-end tests: no local cloud, no Step Functions. Each step gets exactly the JSON
the workflow would hand it (the contract's ``as_payload``, through ``json``), and its answer is
read back the same way, so the typed payloads are what is under test here together with the
outcomes a user cares about: every original archived once and byte-exact, the row's state, no
incomplete upload left behind.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cloudsync_core.contract import (
    ExecutionInput,
    Outcome,
    PreparedMedium,
    StepFailure,
    TransferResult,
    TransferSlice,
)
from cloudsync_core.credentials import SecretStore, StoredCredentials
from cloudsync_core.services import Services
from cloudsync_core.settings import Settings
from cloudsync_core.sync import prepare
from cloudsync_core.sync.failure import mark_failed
from cloudsync_core.sync.finalize import finalize_medium
from cloudsync_core.sync.listing import list_library
from cloudsync_core.sync.prepare import prepare_medium
from cloudsync_core.sync.source import open_provider
from cloudsync_core.sync.starter import StartRequest
from cloudsync_core.sync.transfer_step import transfer_slice
from cloudsync_core.tracker import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PENDING,
    MediaRow,
    Tracker,
    from_item,
    to_item,
)
from cloudsync_defs.table import create_table_request
from cloudsync_local.simulator import GoProSimulator

REGION = "us-east-1"
MIB = 1024 * 1024


@dataclass
class World:
    sim: GoProSimulator
    services: Services

    @property
    def tracker(self) -> Tracker:
        return self.services.tracker

    def row(self, media_id: str) -> MediaRow:
        row = self.tracker.get("gopro", media_id)
        assert row is not None
        return row

    def archived(self, media_id: str) -> Counter[str]:
        """The SHA-256 of every current object under the medium's folder."""
        s3, bucket = self.services.s3, self.services.settings.bucket
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
                if f"/{media_id}/" in o["Key"]]
        return Counter(hashlib.sha256(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
                       .hexdigest() for k in keys)

    def originals(self, media_id: str) -> Counter[str]:
        return Counter(f.sha256() for f in self.sim.library.originals(media_id))

    def incomplete_uploads(self) -> list[Any]:
        answer = self.services.s3.list_multipart_uploads(Bucket=self.services.settings.bucket)
        return list(answer.get("Uploads", []))


@pytest.fixture
def world(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setattr(prepare, "SLICE_TARGET_BYTES", 5 * MIB)  # a slice per part: several
    with GoProSimulator() as sim, mock_aws():
        db = boto3.client("dynamodb", region_name=REGION)
        db.create_table(**create_table_request("tracker"))
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="archive")
        s3.put_bucket_versioning(Bucket="archive", VersioningConfiguration={"Status": "Enabled"})
        secrets = boto3.client("secretsmanager", region_name=REGION)
        tokens = sim.issue_tokens()
        SecretStore(secrets, "login").save(StoredCredentials(
            provider="gopro", mode="oauth", access_token=str(tokens["access_token"]),
            refresh_token=str(tokens["refresh_token"]),
            expires_at=time.time() + 3600, updated_at=time.time()), create_missing=True)
        settings = replace(Settings.from_env(), table="tracker", bucket="archive",
                           secret_id="login", gopro_api_url=sim.base_url, part_size_mib=5)
        yield World(sim, Services(
            settings=settings, dynamodb=db, s3=s3, secrets=secrets,
            sns=boto3.client("sns", region_name=REGION),
            sfn=boto3.client("stepfunctions", region_name=REGION),
            tracker=Tracker(db, "tracker", sleep=lambda _s: None)))


def _json(payload: dict[str, Any]) -> Any:
    """What crosses a step boundary: JSON text, as Step Functions passes it."""
    return json.loads(json.dumps(payload))


def listed_and_claimed(world: World, media_id: str) -> dict[str, Any]:
    """The lister queues the medium (PENDING), the starter writes the execution input, the
    workflow's Claim takes the row; returns the execution's input as the ASL holds it."""
    services = world.services
    if world.tracker.get("gopro", media_id) is None:
        list_library(services, open_provider(services, "gopro"), trigger="test")
    item = services.dynamodb.get_item(TableName="tracker", Key=to_item(
        {"provider": "gopro", "media_id": media_id}))["Item"]
    request = StartRequest.from_values(from_item(item))
    assert request is not None
    execution = _json(request.execution_input().as_payload())
    services.dynamodb.update_item(
        TableName="tracker", Key=to_item({"provider": "gopro", "media_id": media_id}),
        UpdateExpression="SET #s = :busy, provider_status = :ps, claimed_at = :now",
        ConditionExpression="#s = :pending AND wake = :wake",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=to_item({
            ":busy": IN_PROGRESS, ":ps": "gopro#IN_PROGRESS", ":pending": PENDING,
            ":now": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            ":wake": execution["wake"]}))
    return dict(execution)


def prepared(world: World, execution: dict[str, Any]) -> dict[str, Any]:
    """Prepare, with the ASL's Parameters (the execution input plus ``started_at``)."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    step = ExecutionInput.from_payload(_json({**execution, "started_at": started}))
    plan = _json(prepare_medium(world.services, step).as_payload())
    assert PreparedMedium.from_payload(plan).as_payload() == plan
    return dict(plan)


def transferred(world: World, execution: dict[str, Any], plan: dict[str, Any],
                slices: list[Any]) -> list[dict[str, Any]]:
    """The Map: one transfer invocation per slice, with the ItemSelector's fields."""
    results = []
    for item in slices:
        event = _json({"provider": execution["provider"], "media_id": execution["media_id"],
                       "wake": execution["wake"], "correlation_id": execution["correlation_id"],
                       "deadline": plan["deadline"], "slice": item})
        result = transfer_slice(world.services, TransferSlice.from_payload(event),
                                remaining_s=lambda: 300.0)
        results.append(_json(result.as_payload()))
    return results


def finalized(world: World, execution: dict[str, Any]) -> dict[str, Any]:
    params = {k: execution[k] for k in ("provider", "media_id", "wake", "run_id",
                                        "correlation_id")}
    return dict(_json(finalize_medium(world.services,
                                      ExecutionInput.from_payload(_json(params))).as_payload()))


def test_prepare_transfer_finalize_archive_every_original_byte_exact(world: World) -> None:
    media_id = world.sim.library.add_video(chapter_sizes=[12 * MIB + 77, 3 * MIB + 5])
    execution = listed_and_claimed(world, media_id)
    plan = prepared(world, execution)
    assert (plan["files"], plan["bytes"]) == (2, 15 * MIB + 82)
    assert len(plan["slices"]) == 4  # three 5 MiB parts of the first chapter, the second whole
    results = transferred(world, execution, plan, plan["slices"])
    assert sum(TransferResult.from_payload(r).bytes for r in results) == 15 * MIB + 82
    outcome = finalized(world, execution)
    assert Outcome.from_payload(outcome).status == COMPLETED

    assert world.archived(media_id) == world.originals(media_id)
    row = world.row(media_id)
    assert row.status == COMPLETED and row.uploads == {}  # the plan goes with the medium
    assert sorted(o["size"] for o in row.objects) == [3 * MIB + 5, 12 * MIB + 77]
    assert row.bytes_archived == 15 * MIB + 82
    assert {o["origin"] for o in row.objects} == {"match"}  # GoPro's own ETag reproduced
    assert world.incomplete_uploads() == []


def test_a_medium_that_continues_resumes_from_its_typed_upload_records(world: World) -> None:
    media_id = world.sim.library.add_video(size=12 * MIB + 1)
    execution = listed_and_claimed(world, media_id)
    plan = prepared(world, execution)
    assert len(plan["slices"]) == 3
    transferred(world, execution, plan, plan["slices"][:1])  # the time budget ran out
    assert Outcome.from_payload(finalized(world, execution)).status == "CONTINUED"
    row = world.row(media_id)
    assert (row.status, row.wake, row.progress_parts) == (PENDING, 2, 1)
    (upload,) = row.uploads.values()
    assert upload.upload_id and upload.size == 12 * MIB + 1 and upload.part_size == 5 * MIB
    assert upload.md5_numbers == {1}  # the part sent, hashed for GoPro's ETag

    execution = listed_and_claimed(world, media_id)  # the stream starts a continuation
    assert execution["wake"] == 2
    plan = prepared(world, execution)
    again = [u for s in plan["slices"] for u in s["units"]]
    assert [(u["first"], u["last"]) for u in again] == [(2, 2), (3, 3)]  # only what is missing
    (resumed,) = world.row(media_id).uploads.values()
    assert resumed.upload_id == upload.upload_id and resumed.md5_numbers == {1}
    transferred(world, execution, plan, plan["slices"])
    assert Outcome.from_payload(finalized(world, execution)).status == COMPLETED
    assert world.archived(media_id) == world.originals(media_id)
    assert world.row(media_id).status == COMPLETED
    assert world.incomplete_uploads() == []


def test_a_permanent_failure_leaves_no_incomplete_upload(world: World) -> None:
    media_id = world.sim.library.add_video(size=11 * MIB)
    execution = listed_and_claimed(world, media_id)
    plan = prepared(world, execution)
    transferred(world, execution, plan, plan["slices"][:1])
    assert len(world.incomplete_uploads()) == 1
    cause = json.dumps({"errorType": "OriginChecksumMismatchError", "errorMessage": "no"})
    failure = StepFailure.from_payload(_json({**execution, "error": {
        "Error": "OriginChecksumMismatchError", "Cause": cause}}))
    assert _json(failure.as_payload())["error"]["Error"] == "OriginChecksumMismatchError"
    assert mark_failed(world.services, failure).status == FAILED
    row = world.row(media_id)
    assert (row.status, row.error_type) == (FAILED, "OriginChecksumMismatchError")
    assert world.incomplete_uploads() == []
    assert world.archived(media_id) == Counter()
