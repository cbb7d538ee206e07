"""Fixtures of the effective-permission layer: one recorded end-to-end run, both stacks judged.

``recording`` runs the system once in the local cloud with a :class:`RequestLog` attached (see
``scenario``); ``judged`` turns its calls into IAM requests for one stack (dev or prod, built by
the Pulumi program under mocks with ``tests/infra``'s ``build_stack``), adds the negative cases,
and judges them all in one node process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from cloudsync_core.alerts import ChannelUrls
from cloudsync_core.credentials import SecretStore, StoredCredentials
from cloudsync_core.sync import account
from cloudsync_core.tracker import COMPLETED, FAILED, QUEUED
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.cloud.requests_log import Call, RequestLog
from cloudsync_local.simulator import GoProSimulator
from tests.alert_receiver import AlertReceiver
from tests.e2e.conftest import FAST_RETRY
from tests.e2e.harness import Stack
from tests.infra.conftest import build_stack, stack_config

from . import evaluator
from .iam_requests import IamRequest, LocalNames, StackPolicies, to_iam
from .negative import negative_cases

MiB = 1024 * 1024
NOV = datetime(2025, 11, 10, 14, 23, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    # pulumi_aws warns about its own deprecated modules as it imports them (as in tests/infra).
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws")


@dataclass(frozen=True)
class Recording:
    calls: list[Call]
    outputs: dict[str, Any]
    media: dict[str, str]


@dataclass
class Judged:
    stack: StackPolicies
    requests: list[IamRequest]  # from the recording
    verdicts: list[evaluator.Verdict]
    negatives: dict[str, evaluator.Verdict]  # negative case name -> verdict


def expire_login(stack: Stack) -> None:
    """A stored login whose access token has expired: the next user of it renews it."""
    tokens = stack.sim.issue_tokens()
    creds = StoredCredentials(
        provider="gopro", mode="oauth", access_token=str(tokens["access_token"]),
        refresh_token=str(tokens["refresh_token"]), expires_at=time.time() - 60,
        updated_at=time.time() - 3600,
    )
    SecretStore(stack.client("secretsmanager"), stack.outputs["secret_id"]).save(
        creds, create_missing=True)


def scenario(stack: Stack, receiver: AlertReceiver) -> dict[str, str]:
    """What the recorded run does: the nightly job by the schedule over a varied library (an
    expired token renewed, a chaptered and a multi-part video, a burst, a RAW photo, a medium
    that fails for good and is reported), the authenticate function, a resync (a new version
    of an archived object), a rotation of the credentials secret, and last a medium whose
    download GoPro refuses (403): the stack pauses and says so by email."""
    lib = stack.sim.library
    media = {
        "chaptered": lib.add_video(filename="GX010007.MP4", size=3 * MiB, chapters=2,
                                   captured_at=NOV),
        "big": lib.add_video(filename="GH010100.MP4", size=7 * MiB, captured_at=NOV),
        "burst": lib.add_burst(frames=3, frame_size=200 * 1024),
        "raw": lib.add_photo(raw=True, size=1 * MiB, raw_size=1 * MiB),
        "broken": lib.add_item(
            {"id": "b" * 24, "filename": "GX010011.MP4", "type": "Video", "file_size": 100,
             "captured_at": "2025-11-10T10:00:00Z"},
            download={"filename": "GX010011.MP4", "_embedded": {"files": [], "variations": []}},
        ),
    }
    expire_login(stack)
    # A webhook for alerts (the notify secret): the summary and the pause alert go there too.
    stack.client("secretsmanager").put_secret_value(
        SecretId=stack.outputs["notify_secret_id"],
        SecretString=ChannelUrls(webhook=receiver.url("/hook")).as_secret())
    stack.cloud.trigger_schedule()
    stack.cloud.wait_idle(120)
    stack.cloud.invoke("authenticate")
    tracker = stack.tracker
    tracker.start_run("resync-1", "gopro", "resync")
    row = tracker.get("gopro", media["big"])
    assert row is not None and tracker.requeue(row, "resync-1", overwrite=True,
                                               reset_failures=True)
    tracker.end_listing("resync-1", queued=1)
    stack.cloud.wait_idle(120)
    # Secrets Manager's rotation, as AWS runs it: the four steps, each an invoke of `rotate`.
    stack.cloud.client("secretsmanager").rotate_secret(
        SecretId=stack.outputs["secret_id"], RotationLambdaARN=stack.cloud.function_arns["rotate"],
        RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=True,
    )
    # `cloudsync verify --read-data`: the verify function reads every archived object back.
    rows = [tracker.get("gopro", media[k]) for k in ("chaptered", "big", "burst", "raw")]
    answer = stack.cloud.invoke("verify", {"provider": "gopro", "objects": [
        {"media_id": r.media_id, "key": o["key"], "version_id": o["version_id"]}
        for r in rows if r is not None for o in r.objects]})
    assert {x["state"] for x in answer["results"]} == {"ok"}, answer
    # Last, as it pauses the stack: GoPro refuses the account while a medium is prepared.
    media["refused"] = lib.add_video(filename="GX010300.MP4", size=1 * MiB, captured_at=NOV)
    stack.sim.faults.add("error", "download", media_id=media["refused"], status=403, count=None)
    stack.cloud.invoke("list", {"trigger": "test"})
    stack.cloud.wait_idle(120)
    return media


@pytest.fixture(scope="session")
def recording() -> Recording:
    """The run, recorded; its cloud is stopped before any test runs (one cloud per process)."""
    log = RequestLog()
    receiver = AlertReceiver().start()
    with GoProSimulator() as sim:
        cloud = LocalCloud(
            gopro_api_url=sim.base_url, retry=FAST_RETRY,
            settings={"CLOUDSYNC_PART_SIZE_MIB": "5", "CLOUDSYNC_PARALLEL_RANGES": "4"},
        )
        with log.watching_stream_mapping():
            cloud.start()
        try:
            stack = Stack(sim, cloud)
            with log.attached(cloud):
                media = scenario(stack, receiver)
            # The run did what a user expects, so the requests judged are those of a real run.
            rows = stack.rows()
            archived = ("chaptered", "big", "burst", "raw")
            assert {k: rows[m].status for k, m in media.items()} == {
                **dict.fromkeys(archived, COMPLETED), "broken": FAILED, "refused": QUEUED}
            for key in archived:
                stack.assert_archived_exactly(media[key])
            subjects = [m["Subject"] for m in cloud.messages(wait_s=2)]
            assert account.SUBJECT in subjects and "GoPro Sync Partial Failure" in subjects
            kinds = [b["kind"] for b in receiver.accepted("/hook")]
            assert kinds.count("run_summary") >= 1 and kinds.count("pause") == 1, kinds
            return Recording(list(log.calls), cloud.outputs(), media)
        finally:
            cloud.stop()
            receiver.stop()


@pytest.fixture(scope="session")
def node_evaluator() -> None:
    evaluator.install()


def judge_stack(name: str, recording: Recording) -> Judged:
    stack = StackPolicies(build_stack(name, stack_config(name)))
    local = LocalNames(recording.outputs)
    requests = [r for call in recording.calls for r in to_iam(call, stack, local)]
    negatives = negative_cases(stack)
    policies: dict[str, Any] = {**stack.resource}
    policies.update({f"identity:{who}": doc for who, doc in stack.identity.items()})
    policies.update({name: doc for name, (_, doc) in negatives.items() if doc is not None})
    batch = [r.as_json(i, [f"identity:{r.principal}"]) for i, r in enumerate(requests)]
    for i, (case, (request, doc)) in enumerate(negatives.items(), start=len(batch)):
        entry = request.as_json(i, [f"identity:{request.principal}"])
        if doc is not None:
            entry["resourcePolicy"] = case
        batch.append(entry)
    verdicts = evaluator.judge(policies, batch)
    return Judged(stack, requests, verdicts[: len(requests)],
                  dict(zip(negatives, verdicts[len(requests):], strict=True)))


@pytest.fixture(scope="session", params=["dev", "prod"])
def judged(request: pytest.FixtureRequest, recording: Recording, node_evaluator: None) -> Judged:
    return judge_stack(str(request.param), recording)
