"""CLI commands against moto: discovery, status, failures, resync, verify, restore, login, sync."""

from __future__ import annotations

import argparse
import base64
import io
import json
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cloudsync_cli import main as cli
from cloudsync_cli.commands import login, restore, resync, status, sync, verify
from cloudsync_cli.context import Context
from cloudsync_cli.errors import CliError, FunctionFailed, describe
from cloudsync_cli.stack import Aws, Target, discover, find_stacks
from cloudsync_core import schema
from cloudsync_core.credentials import SecretStore
from cloudsync_core.tracker import to_item
from cloudsync_defs.table import create_table_request

REGION = "us-east-1"
TABLE = "cloudsync-test-tracker"
BUCKET = "cloudsync-test-archive"
SECRET = "cloudsync/test/gopro-credentials"
OUTPUTS = {
    "stack": "test", "region": REGION, "table": TABLE, "bucket": BUCKET, "secret_id": SECRET,
    "list_function": "cloudsync-test-list", "topic_arn": "arn:aws:sns:us-east-1:1:t",
}


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(**create_table_request(TABLE))
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        boto3.client("secretsmanager", region_name=REGION).create_secret(Name=SECRET)
        publish("test", OUTPUTS)
        yield


def publish(stack: str, outputs: dict[str, Any]) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=f"/cloudsync/{stack}/outputs", Type="String", Value=json.dumps(outputs),
        Overwrite=True,
    )


def make_ctx(stack: str | None = None) -> Context:
    return Context(Aws(Target(None, REGION, None, "test")), stack, out=io.StringIO(),
                   err=io.StringIO(), poll_s=0.01)


def output(ctx: Context) -> str:
    assert isinstance(ctx.out, io.StringIO)
    return ctx.out.getvalue()


def put_row(media_id: str, status: str, **attrs: Any) -> None:
    values = {
        schema.PARTITION_KEY: "gopro", schema.SORT_KEY: media_id, "status": status,
        schema.STATUS_INDEX_PARTITION: f"gopro#{status}",
        schema.STATUS_INDEX_SORT: attrs.pop("changed", "2024-05-01T00:00:00.000Z"),
        "wake": attrs.pop("wake", 1), "filename": attrs.pop("filename", f"{media_id}.MP4"),
        **attrs,
    }
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=TABLE, Item=to_item(values))


def get_row(media_id: str) -> dict[str, Any]:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key=to_item({"provider": "gopro", "media_id": media_id})
    )["Item"]
    return {k: next(iter(v.values())) for k, v in item.items()}


def crc_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def archive(media_id: str, data: bytes, *, name: str = "clip.MP4", **put: Any) -> dict[str, Any]:
    key = f"gopro-videos/2024/05/{media_id}/{name}"
    answer = boto3.client("s3", region_name=REGION).put_object(
        Bucket=BUCKET, Key=key, Body=data, ChecksumAlgorithm="CRC32", **put
    )
    return {"file_id": "source-1", "key": key, "version_id": answer["VersionId"],
            "size": len(data), "crc32": crc_b64(data)}


def args(command: str, *argv: str) -> argparse.Namespace:
    return cli.parse([command, *argv])


# --- discovery ------------------------------------------------------------------------------


def test_the_only_stack_is_found(aws: None) -> None:
    ctx = make_ctx()
    assert ctx.outputs.table == TABLE and ctx.outputs.stack == "test"


def test_no_stack_at_all(aws: None) -> None:
    boto3.client("ssm", region_name=REGION).delete_parameter(Name="/cloudsync/test/outputs")
    with pytest.raises(CliError, match=r"no cloudsync stack found .*pulumi up"):
        discover(make_ctx().aws)


def test_several_stacks_need_a_name(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    publish("prod", {**OUTPUTS, "stack": "prod", "table": "prod-table"})
    monkeypatch.delenv("CLOUDSYNC_STACK", raising=False)
    assert find_stacks(make_ctx().aws.ssm()) == ["prod", "test"]
    with pytest.raises(CliError, match=r"several cloudsync stacks .*: prod, test; choose one"):
        discover(make_ctx().aws)
    assert discover(make_ctx().aws, "prod").table == "prod-table"
    monkeypatch.setenv("CLOUDSYNC_STACK", "prod")
    assert discover(make_ctx().aws).table == "prod-table"


def test_a_named_stack_without_outputs(aws: None) -> None:
    with pytest.raises(CliError) as caught:
        discover(make_ctx().aws, "staging")
    assert "stack 'staging' has no outputs" in caught.value.message
    assert "stacks found: test" in caught.value.message


def test_pulumi_camel_case_outputs(aws: None) -> None:
    publish("test", {"stack": "test", "region": REGION, "table": TABLE, "bucket": BUCKET,
                     "secretId": SECRET, "functions": {"list": "cs-list"}})
    outputs = make_ctx().outputs
    assert outputs.secret_id == SECRET and outputs.function("list") == "cs-list"


def test_main_reports_a_missing_stack_in_one_line(aws: None) -> None:
    err = io.StringIO()
    assert cli.main(["status", "--stack", "nope"], out=io.StringIO(), err=err) == 1
    assert err.getvalue().count("\n") == 1
    assert err.getvalue().startswith("cloudsync: stack 'nope' has no outputs")


# --- status and failures ----------------------------------------------------------------------


def test_status_counts_slots_and_runs(aws: None) -> None:
    for i in range(3):
        put_row(f"done{i}", "COMPLETED")
    put_row("bad", "FAILED", error_type="SourceRequestError", error_message="HTTP 418",
            failures=2)
    put_row("busy", "IN_PROGRESS")
    ctx = make_ctx()
    ctx.tracker.ensure_slot_row()
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=TABLE, Key=to_item({"provider": "#slots", "media_id": "transfers"}),
        UpdateExpression="SET holders.#h = :t", ExpressionAttributeNames={"#h": "gopro/busy"},
        ExpressionAttributeValues=to_item({":t": "2024-05-01T00:00:00.000Z|exec-1"}),
    )
    ctx.tracker.start_run("run-1", "gopro", "cli")
    ctx.tracker.end_listing("run-1", queued=5)

    doc = status.status_document(ctx, 5)
    assert doc["counts"]["gopro"]["COMPLETED"] == 3
    assert doc["counts"]["gopro"]["FAILED"] == 1
    assert doc["counts"]["gopro"]["IN_PROGRESS"] == 1
    assert doc["counts"]["gopro"]["PENDING"] == 0
    assert doc["transfers_running"] == 1
    assert [r["run_id"] for r in doc["recent_runs"]] == ["run-1"]
    assert doc["recent_runs"][0]["done"] is False

    assert status.run_status(args("status"), ctx) == 0
    text = output(ctx)
    assert "archived" in text and "run-1" in text
    assert "gopro/busy: since 2024-05-01 00:00:00 UTC, execution exec-1" in text
    assert "|" not in text  # no raw `time|execution` slot value

    ctx = make_ctx()
    assert status.run_status(args("status", "--json"), ctx) == 0
    assert json.loads(output(ctx))["counts"]["gopro"]["COMPLETED"] == 3


def test_failures_lists_failed_media(aws: None) -> None:
    put_row("bad", "FAILED", error_type="SourceRequestError", error_message="HTTP 418 " * 30,
            failures=2, changed="2024-05-02T00:00:00.000Z")
    put_row("fine", "COMPLETED")
    ctx = make_ctx()
    assert status.run_failures(args("failures"), ctx) == 1  # failures are failures
    text = output(ctx)
    assert "bad" in text and "SourceRequestError" in text and "fine" not in text
    assert "2024-05-02 00:00 UTC" in text and "1 failed" in text
    assert max(len(line) for line in text.splitlines()) <= 100  # a terminal's width
    assert " ".join(text.split()).count("HTTP 418") == 30  # the whole cause, wrapped, not cut

    ctx = make_ctx()
    assert status.run_failures(args("failures", "--json"), ctx) == 1
    [row] = json.loads(output(ctx))
    assert row["media_id"] == "bad" and row["failures"] == 2


# --- resync -----------------------------------------------------------------------------------


def test_resync_requeues_with_overwrite_under_a_new_run(aws: None) -> None:
    put_row("m1", "COMPLETED", wake=3, listed_size=100)
    put_row("m2", "FAILED", wake=1, failures=3, listed_size=50)
    ctx = make_ctx()
    assert resync.run(args("resync", "m1", "m2"), ctx) == 0
    text = output(ctx)
    run_id = text.split()[1].rstrip(":")
    for media_id, wake in (("m1", 4), ("m2", 2)):
        row = get_row(media_id)
        assert row["status"] == "PENDING" and row["overwrite"] is True
        assert int(row["wake"]) == wake and int(row.get("failures", 0)) == 0
        assert row["run_id"] == run_id
    run = ctx.tracker.get_run(run_id)
    assert run is not None and run.queued == 2 and not run.listing and run.trigger == "resync"
    assert run.expected_bytes == 150


def test_resync_with_an_unknown_id_changes_nothing(aws: None) -> None:
    put_row("m1", "COMPLETED", wake=3)
    ctx = make_ctx()
    with pytest.raises(CliError) as caught:
        resync.run(args("resync", "m1", "nope"), ctx)
    assert caught.value.message.startswith("unknown media id for gopro: nope")
    assert get_row("m1")["status"] == "COMPLETED" and int(get_row("m1")["wake"]) == 3
    assert ctx.tracker.recent_runs() == []


def test_resync_refuses_a_medium_in_transfer_unless_forced(aws: None) -> None:
    put_row("busy", "IN_PROGRESS", wake=2)
    ctx = make_ctx()
    with pytest.raises(CliError, match="being transferred right now: busy"):
        resync.run(args("resync", "busy"), ctx)
    assert resync.run(args("resync", "busy", "--force"), make_ctx()) == 0
    assert get_row("busy")["status"] == "PENDING"


def test_resync_wait_follows_the_run(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    put_row("m1", "COMPLETED", wake=1)
    ctx = make_ctx()
    real_sleep_calls: list[float] = []

    def finish_medium(seconds: float) -> None:  # plays the workflow: the medium completes
        real_sleep_calls.append(seconds)
        row = get_row("m1")
        client = boto3.client("dynamodb", region_name=REGION)
        client.update_item(
            TableName=TABLE, Key=to_item({"provider": "#run", "media_id": row["run_id"]}),
            UpdateExpression="ADD completed :one, #b :b", ExpressionAttributeNames={"#b": "bytes"},
            ExpressionAttributeValues=to_item({":one": 1, ":b": 42}),
        )

    ctx.sleep = finish_medium
    assert resync.run(args("resync", "m1", "--wait", "--json"), ctx) == 0
    document = json.loads(output(ctx))
    assert document["ok"] is True and document["run"]["completed"] == 1
    assert document["queued"] == ["m1"] and real_sleep_calls


# --- verify -----------------------------------------------------------------------------------


def test_verify_all_good(aws: None) -> None:
    put_row("m1", "COMPLETED", objects=[archive("m1", b"hello world")])
    put_row("m2", "COMPLETED", objects=[archive("m2", b"a" * 1000, name="a.JPG"),
                                        archive("m2", b"b" * 10, name="b.GPR")])
    ctx = make_ctx()
    assert verify.run(args("verify"), ctx) == 0
    assert "Verified 2 archived media: 3 objects" in output(ctx)


def test_verify_finds_a_corrupted_object(aws: None) -> None:
    good = archive("m1", b"hello world")
    put_row("m1", "COMPLETED", objects=[{**good, "crc32": crc_b64(b"hello w0rld")}])
    put_row("m2", "COMPLETED", objects=[archive("m2", b"fine")])
    ctx = make_ctx()
    assert verify.run(args("verify"), ctx) == 1
    text = output(ctx)
    assert "m1" in text and "CRC32" in text and "Verification FAILED: 1 of 2" in text

    ctx = make_ctx()
    assert verify.run(args("verify", "--json"), ctx) == 1
    document = json.loads(output(ctx))
    assert document["ok"] is False and document["problems"] == 1


def test_verify_finds_size_and_missing_problems(aws: None) -> None:
    record = archive("m1", b"12345")
    put_row("m1", "COMPLETED", objects=[{**record, "size": 6}])
    gone = archive("m2", b"bye")
    boto3.client("s3", region_name=REGION).delete_object(
        Bucket=BUCKET, Key=gone["key"], VersionId=gone["version_id"]
    )
    put_row("m2", "COMPLETED", objects=[gone])
    put_row("m3", "COMPLETED", objects=[])
    checks = {c.media_id: c for c in verify.verify_rows(make_ctx(), verify.completed_rows(
        make_ctx()))}
    assert "size 5 in S3, 6 recorded" in checks["m1"].problems[0]
    assert "missing" in checks["m2"].problems[0]
    assert "no objects" in checks["m3"].problems[0]


def test_verify_checks_the_recorded_version(aws: None) -> None:
    old = archive("m1", b"version one")
    archive("m1", b"version two, longer")  # a newer version under the same key
    put_row("m1", "COMPLETED", objects=[old])
    assert verify.run(args("verify"), make_ctx()) == 0


# --- restore ----------------------------------------------------------------------------------


def test_restore_of_a_standard_object_needs_nothing(aws: None) -> None:
    put_row("m1", "COMPLETED", objects=[archive("m1", b"data")])
    ctx = make_ctx()
    assert restore.run(args("restore", "m1"), ctx) == 0
    assert "still in S3 Standard: no restore needed" in output(ctx)


def test_restore_of_a_deep_archive_object(aws: None) -> None:
    put_row("m1", "COMPLETED", objects=[archive("m1", b"data", StorageClass="DEEP_ARCHIVE")])
    ctx = make_ctx()
    assert restore.run(args("restore", "m1", "--days", "3", "--tier", "Standard", "--json"),
                       ctx) == 0
    [result] = json.loads(output(ctx))["objects"]
    assert result["requested"] is True
    assert result["state"] in ("restoring", "restored")


def test_restore_of_an_unknown_medium(aws: None) -> None:
    with pytest.raises(CliError, match="unknown media id for gopro: nope"):
        restore.run(args("restore", "nope"), make_ctx())


# --- login ------------------------------------------------------------------------------------


def test_login_stores_credentials_without_printing_them(aws: None) -> None:
    ctx = make_ctx()
    code = login.run(args("login", "--no-check", "--access-token", "secret-AT",
                          "--refresh-token", "secret-RT"), ctx)
    assert code == 0
    text = output(ctx)
    assert "secret-AT" not in text and "secret-RT" not in text
    assert "mode oauth" in text and SECRET in text
    stored = SecretStore(boto3.client("secretsmanager", region_name=REGION), SECRET).load()
    assert (stored.mode, stored.access_token, stored.refresh_token) == (
        "oauth", "secret-AT", "secret-RT")


def test_login_keeps_the_oauth_client_secret_for_renewal(aws: None) -> None:
    ctx = make_ctx()
    code = login.run(args("login", "--no-check", "--access-token", "secret-AT", "--refresh-token",
                          "secret-RT", "--client-secret", "web-app-secret"), ctx)
    assert code == 0
    assert "web-app-secret" not in output(ctx)
    stored = SecretStore(boto3.client("secretsmanager", region_name=REGION), SECRET).load()
    assert stored.client_secret == "web-app-secret"


def test_login_with_cookies_creates_a_missing_secret(aws: None) -> None:
    boto3.client("secretsmanager", region_name=REGION).delete_secret(
        SecretId=SECRET, ForceDeleteWithoutRecovery=True)
    ctx = make_ctx()
    assert login.run(args("login", "--no-check", "--cookie-token", "CT", "--user-id", "U1"),
                     ctx) == 0
    stored = SecretStore(boto3.client("secretsmanager", region_name=REGION), SECRET).load()
    assert (stored.mode, stored.user_id) == ("cookie", "U1")


# --- sync (the function is a stub: moto runs Lambda code only in docker) ------------------------


class StubLambda:
    def __init__(self, answer: dict[str, Any], error: str | None = None) -> None:
        self.answer = answer
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        result: dict[str, Any] = {"StatusCode": 200,
                                  "Payload": io.BytesIO(json.dumps(self.answer).encode())}
        if self.error:
            result["FunctionError"] = self.error
        return result


def stub(ctx: Context, monkeypatch: pytest.MonkeyPatch, lam: StubLambda) -> None:
    monkeypatch.setattr(ctx.aws, "lambda_", lambda read_timeout=330: lam)


def test_sync_invokes_the_list_function(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = make_ctx()
    lam = StubLambda({"run_id": "r1", "provider": "gopro", "listed": 4, "new": 0,
                      "requeued": 0, "skipped": 0, "queued": 0})
    stub(ctx, monkeypatch, lam)
    assert sync.run(args("sync", "--wait"), ctx) == 0
    call = lam.calls[0]
    assert call["FunctionName"] == "cloudsync-test-list"
    assert call["InvocationType"] == "RequestResponse"
    assert json.loads(call["Payload"]) == {"trigger": "cli"}
    assert "nothing new" in output(ctx) and "nothing to do" in output(ctx)


def test_sync_wait_fails_when_a_medium_failed(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = make_ctx()
    ctx.tracker.start_run("r2", "gopro", "cli")
    ctx.tracker.end_listing("r2", queued=3)
    client = boto3.client("dynamodb", region_name=REGION)
    client.update_item(
        TableName=TABLE, Key=to_item({"provider": "#run", "media_id": "r2"}),
        UpdateExpression="SET completed = :c, failed = :f, deleted = :d",
        ExpressionAttributeValues=to_item({":c": 1, ":f": 1, ":d": 1}),
    )
    put_row("broken", "FAILED", run_id="r2", error_type="InvalidMediaError",
            error_message="no original")
    stub(ctx, monkeypatch, StubLambda({"run_id": "r2", "queued": 3, "listed": 3, "new": 3}))
    assert sync.run(args("sync", "--wait", "--json"), ctx) == 1
    document = json.loads(output(ctx))
    assert document["ok"] is False
    assert [m["media_id"] for m in document["failed_media"]] == ["broken"]


def test_sync_wait_deleted_at_source_is_not_a_failure(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx()
    ctx.tracker.start_run("r3", "gopro", "cli")
    ctx.tracker.end_listing("r3", queued=2)
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=TABLE, Key=to_item({"provider": "#run", "media_id": "r3"}),
        UpdateExpression="SET completed = :c, deleted = :d",
        ExpressionAttributeValues=to_item({":c": 1, ":d": 1}),
    )
    stub(ctx, monkeypatch, StubLambda({"run_id": "r3", "queued": 2}))
    assert sync.run(args("sync", "--wait"), ctx) == 0
    assert "deleted at source: 1" in output(ctx)


def test_sync_function_error_is_one_line(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = make_ctx()
    stub(ctx, monkeypatch, StubLambda(
        {"errorType": "ReauthenticationRequiredError",
         "errorMessage": "GoPro refused to renew the access token (invalid_grant, HTTP 400)",
         "stackTrace": ["  File ..."]},
        error="Unhandled",
    ))
    with pytest.raises(FunctionFailed) as caught:
        sync.run(args("sync"), ctx)
    message, code = describe(caught.value)
    assert code == 1 and "\n" not in message
    assert message.startswith("the list function failed: ReauthenticationRequiredError: GoPro "
                              "refused to renew")
    assert "cloudsync login" in message
