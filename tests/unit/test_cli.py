"""The CLI without AWS: argument parsing, endpoint rules, outputs parsing, formatting, errors."""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from cloudsync_cli import main as cli
from cloudsync_cli.commands.login import credentials_from_args
from cloudsync_cli.commands.restore import describe_state
from cloudsync_cli.commands.sync import listing_text
from cloudsync_cli.context import Context
from cloudsync_cli.errors import CliError, FunctionFailed, describe, function_error_message
from cloudsync_cli.output import human_bytes, plural, table
from cloudsync_cli.progress import JsonView, Note, PlainView, RichView, Snapshot, view_for
from cloudsync_cli.runs import Polling, follow_run, run_summary
from cloudsync_cli.stack import LOCAL_ENDPOINT_URL, Aws, StackOutputs, Target
from cloudsync_core.errors import (
    CredentialsMissingError,
    ReauthenticationRequiredError,
    TransientError,
)
from cloudsync_core.sync.listing import new_run_id
from cloudsync_core.tracker import RunRecord

MiB = 1024 * 1024

# --- parsing --------------------------------------------------------------------------------


def test_global_options_before_or_after_the_command() -> None:
    before = cli.parse(["--endpoint-url", "http://x:1", "--stack", "s", "status", "--json"])
    after = cli.parse(["status", "--json", "--endpoint-url", "http://x:1", "--stack", "s"])
    for args in (before, after):
        assert args.command == "status"
        assert args.endpoint_url == "http://x:1"
        assert args.stack == "s"
        assert args.json is True


def test_defaults_when_no_global_option_is_given() -> None:
    args = cli.parse(["sync"])
    assert args.endpoint_url is None and args.stack is None and args.local is False
    assert args.wait is False and args.json is False and args.timeout is None


def test_local_up_passes_its_arguments_through() -> None:
    args = cli.parse(["local", "up", "--port", "4600", "--gopro-api-url", "http://sim:1",
                      "--stack", "dev"])
    assert args.func.__name__ == "run_up"
    assert args.needs_aws is False
    assert args.extra == ["--port", "4600", "--gopro-api-url", "http://sim:1", "--stack", "dev"]


def test_unknown_arguments_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--frobnicate"]) == 2
    assert "unrecognized arguments: --frobnicate" in capsys.readouterr().err


def test_endpoint_and_local_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        cli.parse(["--local", "--endpoint-url", "http://x:1", "status"])


def test_resync_needs_media_ids_and_restore_checks_the_tier() -> None:
    with pytest.raises(SystemExit):
        cli.parse(["resync"])
    with pytest.raises(SystemExit):
        cli.parse(["restore", "abc", "--tier", "Expedited"])
    args = cli.parse(["resync", "a", "b", "--wait", "--timeout", "5"])
    assert args.media_ids == ["a", "b"] and args.wait and args.timeout == 5.0


def test_demo_takes_no_flags() -> None:
    args = cli.parse(["demo"])
    assert args.needs_aws is False
    with pytest.raises(SystemExit):
        cli.parse(["demo", "--fast"])


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "cloudsync demo" in out and "127.0.0.1:4599" in out


# --- where to talk to ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "local", "env", "creds", "expected", "why"),
    [
        ("http://a:1/", False, {"AWS_ENDPOINT_URL": "http://b:2"}, True, "http://a:1",
         "--endpoint-url"),
        (None, False, {"AWS_ENDPOINT_URL": "http://b:2"}, True, "http://b:2", "AWS_ENDPOINT_URL"),
        (None, True, {}, True, LOCAL_ENDPOINT_URL, "--local"),
        (None, False, {}, False, LOCAL_ENDPOINT_URL, "no AWS credentials"),
        (None, False, {}, True, None, "AWS credentials are set"),
        (None, False, {"AWS_PROFILE": "work"}, False, None, "AWS credentials are set"),
    ],
)
def test_endpoint_rules(
    flag: str | None, local: bool, env: dict[str, str], creds: bool, expected: str | None,
    why: str,
) -> None:
    target = Target.resolve(flag, local=local, environ=env, has_credentials=creds)
    assert target.endpoint_url == expected
    assert why in target.chosen_because


def test_local_target_gets_moto_region_and_fake_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                 "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    aws = Aws(Target(LOCAL_ENDPOINT_URL, None, None, "test"))
    assert aws.target.local
    assert aws.region == "us-east-1"
    creds = aws.session.get_credentials()
    assert creds is not None and creds.access_key == "testing"


def test_outputs_parse_snake_and_camel_case() -> None:
    local = StackOutputs.parse("local", json.dumps({
        "bucket": "b", "table": "t", "secret_id": "s", "region": "eu-central-1",
        "list_function": "cloudsync-local-list", "state_machine_arn": "arn:sm",
    }), "here")
    assert (local.bucket, local.table, local.secret_id) == ("b", "t", "s")
    assert local.function("list") == "cloudsync-local-list"
    assert local.providers == ("gopro",)

    pulumi = StackOutputs.parse("prod", json.dumps({
        "bucket": "b", "table": "t", "secretId": "s", "stateMachineArn": "arn:sm",
        "topicArn": "arn:topic", "functions": {"list": "cs-prod-list"}, "providers": ["gopro"],
        "stack": "prod",
    }), "here")
    assert pulumi.secret_id == "s" and pulumi.state_machine_arn == "arn:sm"
    assert pulumi.topic_arn == "arn:topic"
    assert pulumi.function("list") == "cs-prod-list"


@pytest.mark.parametrize("text", ["not json", "[1]", json.dumps({"bucket": "b", "table": "t"})])
def test_unusable_outputs_are_a_clear_error(text: str) -> None:
    with pytest.raises(CliError) as caught:
        StackOutputs.parse("dev", text, "region x")
    assert "stack 'dev'" in caught.value.message


def test_outputs_without_the_list_function() -> None:
    outputs = StackOutputs.parse("dev", json.dumps({"bucket": "b", "table": "t",
                                                    "secret_id": "s"}), "x")
    with pytest.raises(CliError, match="'list' function"):
        outputs.function("list")


# --- errors -------------------------------------------------------------------------------


def test_no_local_cloud_is_one_line_saying_what_to_do() -> None:
    error = EndpointConnectionError(endpoint_url="http://127.0.0.1:4599/")
    message, code = describe(error, "http://127.0.0.1:4599", "no AWS credentials are set")
    assert code == 1
    assert "\n" not in message
    assert "nothing answers at http://127.0.0.1:4599" in message
    assert "cloudsync local up" in message
    assert "no AWS credentials are set" in message


def test_connection_error_hidden_in_a_cause_chain() -> None:
    try:
        try:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4599/")
        except EndpointConnectionError as e:
            raise TransientError("read tracker row: could not reach AWS") from e
    except TransientError as wrapped:
        message, _ = describe(wrapped, "http://127.0.0.1:4599")
    assert "local cloud" in message


def test_remote_endpoint_message() -> None:
    message, _ = describe(EndpointConnectionError(endpoint_url="https://ssm.x.amazonaws.com/"))
    assert message.startswith("cannot reach https://ssm.x.amazonaws.com/")


def test_credential_errors_say_how_to_log_in() -> None:
    message, code = describe(ReauthenticationRequiredError("GoPro refused the token (401)"))
    assert code == 1 and "cloudsync login" in message and "\n" not in message
    message, _ = describe(CredentialsMissingError("no credentials are stored"))
    assert "cloudsync login --access-token" in message
    # a message that already says what to do is not repeated
    text = "no credentials: run `cloudsync login` to store GoPro credentials"
    assert describe(CredentialsMissingError(text))[0] == text


def test_function_errors_name_the_type_and_what_to_do() -> None:
    message = function_error_message("list", "ReauthenticationRequiredError", "token\nrevoked")
    assert message.startswith("the list function failed: ReauthenticationRequiredError: token "
                              "revoked")
    assert "cloudsync login" in message and "\n" not in message
    failed = FunctionFailed("list", "SourceRequestError", "HTTP 418")
    assert describe(failed) == ("the list function failed: SourceRequestError: HTTP 418", 1)


def test_aws_errors() -> None:
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no\nway"}},
                         "Query")
    message, code = describe(denied)
    assert message.startswith("AWS refused Query: AccessDeniedException: no way")
    assert "permission" in message and code == 1
    assert "AWS credentials" in describe(NoCredentialsError())[0]


def test_unexpected_errors_point_at_debug() -> None:
    message, code = describe(ValueError("boom"))
    assert message == "unexpected error: ValueError: boom (run with --debug for details)"
    assert code == 1
    assert describe(KeyboardInterrupt()) == ("interrupted", 130)
    assert describe(CliError("usage", exit_code=2)) == ("usage", 2)


def test_main_prints_one_line_and_debug_prints_the_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(args: argparse.Namespace, ctx: Context) -> int:
        raise ReauthenticationRequiredError("the refresh token was revoked")

    monkeypatch.setattr("cloudsync_cli.commands.status.run_status", explode)
    monkeypatch.setattr("cloudsync_cli.context.check_endpoint", lambda url, reason: None)
    monkeypatch.setattr("cloudsync_cli.context.Context.fresh_local_cloud", lambda self: None)
    err = io.StringIO()
    assert cli.main(["--endpoint-url", "http://127.0.0.1:9", "status"], err=err) == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cloudsync: the refresh token was revoked")
    err = io.StringIO()
    assert cli.main(["--debug", "--endpoint-url", "http://127.0.0.1:9", "status"], err=err) == 1
    assert "Traceback" in err.getvalue()


# --- output -------------------------------------------------------------------------------


def test_human_bytes_and_plural() -> None:
    assert human_bytes(None) == "-"
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(200 * 1024 * 1024) == "200.0 MiB"
    assert human_bytes(5 * 1024**5) == "5120.0 TiB"
    assert plural(1, "medium", "media") == "1 medium"
    assert plural(0, "medium", "media") == "0 media"


def test_table_aligns_columns() -> None:
    text = table(["id", "size"], [("a", 1), ("long-id", 12345), ("b", None)], right=[1])
    lines = text.splitlines()
    assert lines[0] == "id        size"
    assert lines[1] == "-------  -----"
    assert lines[2] == "a            1"
    assert lines[3] == "long-id  12345"
    assert lines[4] == "b            -"


def snap(**kw: Any) -> Snapshot:
    base: dict[str, Any] = {"run_id": "r", "queued": 10, "archived": 3, "failed": 0,
                            "deleted": 0, "other": 0, "in_flight": 2, "bytes": 12 * MiB,
                            "expected_bytes": 40 * MiB, "elapsed_s": 30.0}
    return Snapshot(**{**base, **kw})


def test_plain_view_prints_a_line_per_interval_and_notes_at_once() -> None:
    stream = io.StringIO()
    now = [0.0]
    view = PlainView(stream, every_s=5.0, clock=lambda: now[0])
    view.show(snap(), [])
    now[0] = 1.0
    view.show(snap(bytes=13 * MiB), [Note("retry", "gopro/m1 (a.mp4): retrying", "gopro/m1")])
    now[0] = 6.0
    view.show(snap(bytes=20 * MiB, rate=2 * MiB), [])
    view.end(snap(archived=7, failed=3, in_flight=0, bytes=40 * MiB))
    lines = stream.getvalue().splitlines()
    assert lines[0] == ("[   30s] 12.0 MiB of ~40.0 MiB  -/s  ETA ? | 3 archived, 2 in flight, "
                        "5 queued, 0 failed")
    assert lines[1] == "  ! gopro/m1 (a.mp4): retrying"
    assert lines[2].startswith("[   30s] 20.0 MiB of ~40.0 MiB  2.0 MiB/s  ETA 10s")
    assert lines[3] == ("Run r FAILED: 7 archived, 3 FAILED of 10 media; 40.0 MiB in 30s "
                        "(1.3 MiB/s)")
    assert len(lines) == 4


def test_json_view_writes_one_event_per_line() -> None:
    stream = io.StringIO()
    view = JsonView(stream)
    view.show(snap(), [Note("paused", "the stack is paused")])
    view.end(snap(archived=10, in_flight=0, bytes=40 * MiB))
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["paused", "progress", "end"]
    assert events[1]["bytes"] == 12 * MiB and events[1]["waiting"] == 5
    assert events[2]["text"].startswith("Run r finished: 10 archived of 10 media")


def test_view_for_picks_rich_on_a_terminal_and_json_when_asked() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(view_for(Tty(), as_json=False), RichView)
    assert isinstance(view_for(io.StringIO(), as_json=False), PlainView)
    assert isinstance(view_for(Tty(), as_json=True), JsonView)
    stream = Tty()
    view = view_for(stream, as_json=False)
    view.show(snap(), [])
    view.end(snap(archived=9, failed=1, in_flight=0))
    assert "Run r FAILED: 9 archived, 1 FAILED of 10 media" in stream.getvalue()


def test_listing_text() -> None:
    assert listing_text({"queued": 0, "listed": 7, "provider": "gopro", "run_id": "r"}) == (
        "Listed 7 media at gopro: nothing new, the archive is up to date."
    )
    text = listing_text({"queued": 3, "listed": 9, "new": 2, "requeued": 1, "skipped": 1,
                         "expected_bytes": 2048, "provider": "gopro", "run_id": "r1"})
    assert text == ("Run r1: listed 9 media at gopro; 2 new, 1 re-queued, 1 unusable listing "
                    "entry skipped; 3 queued (~2.0 KiB).")


def test_new_run_id_shape() -> None:
    run_id = new_run_id("resync", clock=lambda: 0)
    assert run_id.startswith("19700101T000000Z-resync-") and len(run_id) == 30


# --- following a run ------------------------------------------------------------------------


class FakeTracker:
    def __init__(self, records: list[RunRecord | None]) -> None:
        self.records = records
        self.reads = 0

    def get_run(self, run_id: str) -> RunRecord | None:
        self.reads += 1
        return self.records[min(self.reads, len(self.records)) - 1]


def record(**kw: Any) -> RunRecord:
    base: dict[str, Any] = {"run_id": "r", "provider": "gopro", "trigger": "cli",
                            "started_at": "2024-01-01T00:00:00.000Z", "queued": 2}
    return RunRecord(**{**base, **kw})


class Seen:
    def __init__(self) -> None:
        self.runs: list[RunRecord] = []
        self.end: list[RunRecord | None] = []

    def seen(self, run: RunRecord) -> None:
        self.runs.append(run)

    def ended(self, run: RunRecord | None) -> None:
        self.end.append(run)


def test_a_run_that_queued_nothing_is_done_at_once() -> None:
    tracker = FakeTracker([None])
    assert follow_run(tracker, "r", queued_hint=0,  # type: ignore[arg-type]
                      polling=Polling(sleep=lambda s: None)) is None
    assert tracker.reads == 1


def test_follow_until_done_tells_the_observer() -> None:
    tracker = FakeTracker([
        record(listing=True, queued=0),
        record(queued=2, completed=1, bytes=10, expected_bytes=20),
        record(queued=2, completed=1, deleted=1, bytes=10, expected_bytes=20),
    ])
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += 5

    seen = Seen()
    run = follow_run(tracker, "r", queued_hint=2, observer=seen,  # type: ignore[arg-type]
                     polling=Polling(sleep=sleep, clock=lambda: now[0]))
    assert run is not None and run.done and run.deleted == 1
    assert [r.listing for r in seen.runs] == [True, False]
    assert seen.end == [run]


def test_follow_gives_up_after_the_timeout() -> None:
    tracker = FakeTracker([record(queued=3, completed=1)])
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += 1

    seen = Seen()
    with pytest.raises(CliError, match=r"has not finished after 3 s \(1 of 3 media finished"
                       r".*cloudsync watch r"):
        follow_run(tracker, "r", queued_hint=3, observer=seen,  # type: ignore[arg-type]
                   polling=Polling(timeout_s=3, sleep=sleep, clock=lambda: now[0]))
    assert seen.end == [None]


def test_run_summary_text() -> None:
    text = run_summary(record(queued=2, completed=1, failed=1, bytes=2048,
                              finished_at="2024-01-01T00:00:30.000Z"))
    assert "took:              30.0 s" in text
    assert "failed:            1" in text
    assert "bytes archived:    2.0 KiB (2048 bytes)" in text
    assert "nothing to do" in run_summary(None, "r")


# --- restore and login ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "state", "words"),
    [
        ({}, "available", "still in S3 Standard: no restore needed"),
        ({"StorageClass": "STANDARD_IA"}, "available", "no restore needed"),
        ({"StorageClass": "DEEP_ARCHIVE"}, "archived", "not restored"),
        ({"StorageClass": "DEEP_ARCHIVE", "Restore": 'ongoing-request="true"'}, "restoring",
         "restore in progress"),
        ({"StorageClass": "GLACIER", "Restore": 'ongoing-request="false", expiry-date="Fri, 21 '
          'Dec 2012 00:00:00 GMT"'}, "restored", "restored until Fri, 21 Dec 2012 00:00:00 GMT"),
    ],
)
def test_restore_states(head: dict[str, str], state: str, words: str) -> None:
    got_state, got_words = describe_state(head)
    assert got_state == state and words in got_words


def login_args(*argv: str) -> argparse.Namespace:
    return cli.parse(["login", *argv])


def test_login_modes() -> None:
    stdin = io.StringIO("")
    oauth = credentials_from_args(login_args("--access-token", "AT", "--refresh-token", "RT",
                                             "--expires-in", "60"), None, stdin, 1000.0)  # type: ignore[arg-type]
    assert (oauth.mode, oauth.access_token, oauth.refresh_token, oauth.expires_at) == (
        "oauth", "AT", "RT", 1060.0)
    cookie = credentials_from_args(login_args("--cookie-token", "CT", "--user-id", "U"), None,  # type: ignore[arg-type]
                                   stdin, 1000.0)
    assert (cookie.mode, cookie.user_id) == ("cookie", "U")
    piped = credentials_from_args(login_args("--access-token", "-"), None,  # type: ignore[arg-type]
                                  io.StringIO("FROM-STDIN\n"), 0.0)
    assert piped.access_token == "FROM-STDIN"


@pytest.mark.parametrize(
    "argv",
    [
        (),
        ("--access-token", "A", "--cookie-token", "C"),
        ("--cookie-token", "C"),
        ("--username", "u@example.com"),
    ],
)
def test_login_refuses_unclear_combinations(argv: tuple[str, ...]) -> None:
    with pytest.raises(CliError) as caught:
        credentials_from_args(login_args(*argv), None, io.StringIO(""), 0.0)  # type: ignore[arg-type]
    assert caught.value.exit_code == 2


def test_clients_are_cached_per_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws = Aws(Target("http://127.0.0.1:9", "us-east-1", None, "test"))
    assert aws.lambda_() is aws.lambda_()
    assert aws.lambda_(read_timeout=30) is not aws.lambda_()
    assert aws.s3() is aws.s3()
    aws.use_region("eu-west-1")
    assert aws.region == "eu-west-1"
