"""The CLI's rough edges, each once: a closed pipe, a bad or unreachable endpoint, a port out of
range, --version, --json on every command of the catalog, readable slot times."""

from __future__ import annotations

import argparse
import io
import json
import socket
from typing import Any

import pytest

from cloudsync_cli import commands
from cloudsync_cli import main as cli
from cloudsync_cli.commands.status import slot_text
from cloudsync_cli.progress import RunMeter
from cloudsync_cli.runs import readable_time
from cloudsync_core.contract import ArchivedRecord, UploadPlan
from cloudsync_core.tracker import IN_PROGRESS, MediaRow, Pause, RunRecord
from cloudsync_local.cloud import main as local_main
from cloudsync_local.cloud.main import build_parser as local_parser


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


class ClosedAfter(io.StringIO):
    """A reader that goes away after ``lines`` lines, as `| head -2` does."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.left = lines

    def write(self, text: str) -> int:
        if self.left <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.left -= text.count("\n")
        return super().write(text)


def test_a_closed_pipe_ends_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    def status(args: argparse.Namespace, ctx: Any) -> int:
        for i in range(100):
            ctx.print(f"line {i}")
        return 0

    monkeypatch.setattr("cloudsync_cli.main.Context.create", classmethod(
        lambda cls, *a, **kw: cls(aws=None, stack_name=None)))  # type: ignore[arg-type]
    monkeypatch.setattr("cloudsync_cli.main.Context.fresh_local_cloud", lambda self: None)
    parsed = cli.parse(["status"])
    monkeypatch.setattr(cli, "parse", lambda argv: argparse.Namespace(
        **{**vars(parsed), "func": status}))
    out, err = ClosedAfter(2), io.StringIO()
    code = cli.main(["status"], out=out, err=err)
    assert code == 141 and err.getvalue() == ""
    assert out.getvalue() == "line 0\nline 1\n"


def test_an_endpoint_that_is_not_a_url_is_one_line() -> None:
    code, _, err = run("--endpoint-url", "localhost:4599", "status")
    assert code == 2 and err.count("\n") == 1
    assert "is not a URL" in err and "http://localhost:4599" in err


def test_an_unreachable_endpoint_says_so_not_region_or_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)

    def no_such_host(*args: Any, **kwargs: Any) -> socket.socket:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_such_host)
    code, _, err = run("--endpoint-url", "http://no-such-host.invalid:4599", "status")
    assert code == 1 and err.count("\n") == 1
    assert "cannot reach http://no-such-host.invalid:4599" in err and "does not resolve" in err
    assert "region" not in err and "credentials" not in err


def test_version() -> None:
    with pytest.raises(SystemExit) as done:
        cli.build_parser().parse_args(["--version"])
    assert done.value.code == 0


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith(f"cloudsync {cli.version()}")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_in_the_catalog_is_registered_and_takes_json() -> None:
    found = subcommands()
    for module in commands.modules():  # each catalog line adds at least one subcommand
        sub = argparse.ArgumentParser().add_subparsers()
        module.add_parser(sub)
        assert set(sub.choices) and set(sub.choices) <= set(found), module.__name__
    for name, parser in found.items():
        if name == "local":  # `local up` passes its arguments to the local cloud's parser
            assert "--json" in local_parser().format_help()
            continue
        assert "--json" in parser._option_string_actions, f"{name} has no --json"


def test_local_up_port_out_of_range_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert local_main(["--port", "99999"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--port 99999: a port is 0 to 65535" in err


def test_local_up_help_says_its_state_is_in_memory() -> None:
    text = " ".join(local_parser().format_help().split())
    assert "in memory: it ends with this process" in text and "log file" in text


def test_slot_holders_read_as_times_not_raw_values() -> None:
    text = slot_text("2024-05-01T10:00:00.000Z|exec-7")
    assert text == "since 2024-05-01 10:00:00 UTC, execution exec-7"
    assert readable_time("2024-05-01T10:00:00.000Z", now=1714557690.0) == (
        "2024-05-01 10:00:00 UTC (90 s ago)")
    assert slot_text("garbage") == "since garbage"


def test_watch_json_document_when_there_is_no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudsync_cli.commands import watch

    class Tracker:
        def recent_runs(self, limit: int) -> list[Any]:
            return []

    class Ctx:
        tracker = Tracker()
        printed: list[str] = []

        def print(self, text: str = "") -> None:
            self.printed.append(text)

    ctx = Ctx()
    args = cli.parse(["watch", "--json"])
    assert watch.run(args, ctx) == 0  # type: ignore[arg-type]
    assert json.loads(ctx.printed[0]) == {"run": None, "ok": True}


# --- the meter: what it notices ----------------------------------------------------------------


class S3Parts:
    """ListParts answers: the parts stored so far per upload id."""

    def __init__(self) -> None:
        self.parts: dict[str, list[int]] = {}

    def get_paginator(self, name: str) -> Any:
        parts = self.parts

        class Pages:
            def paginate(self, **kw: Any) -> list[dict[str, Any]]:
                sizes = parts.get(kw["UploadId"], [])
                return [{"Parts": [{"PartNumber": i + 1, "Size": n, "ETag": "e"}
                                   for i, n in enumerate(sizes)]}]

        return Pages()


class MeterTracker:
    def __init__(self) -> None:
        self.rows: list[MediaRow] = []
        self.failed: list[MediaRow] = []
        self.pause: Pause | None = None

    def by_status(self, provider: str, status: str) -> list[MediaRow]:
        return self.rows

    def failed_in_run(self, provider: str, run_id: str) -> list[MediaRow]:
        return self.failed

    def get_pause(self) -> Pause | None:
        return self.pause


def in_flight(media_id: str, *, failures: int = 0, restarts: int = 0) -> MediaRow:
    upload = UploadPlan(key=f"k/{media_id}", size=30, part_size=10, upload_id=f"u-{media_id}",
                        restarts=restarts)
    done = UploadPlan(key=f"k/{media_id}-2", size=7, part_size=10,
                      done=ArchivedRecord("f2", f"k/{media_id}-2", "v", 7))
    return MediaRow("gopro", media_id, IN_PROGRESS, 1, run_id="r", filename=f"{media_id}.MP4",
                    failures=failures, error_type="SourceStalledError" if failures else None,
                    uploads={"f1": upload, "f2": done})


def test_the_meter_counts_stored_parts_and_says_what_happens() -> None:
    tracker, s3, now = MeterTracker(), S3Parts(), [100.0]
    meter = RunMeter(tracker, s3, "bucket", ("gopro",), clock=lambda: now[0],  # type: ignore[arg-type]
                     wall=lambda: 0.0, stall_s=30)
    run = RunRecord("r", "gopro", "cli", "", queued=3, completed=1, bytes=50, expected_bytes=150)
    tracker.rows = [in_flight("a", failures=2), in_flight("b")]
    s3.parts = {"u-a": [10], "u-b": [10, 10]}

    snap, notes = meter.measure(run)
    assert snap.bytes == 50 + (10 + 7) + (20 + 7) and snap.in_flight == 2 and snap.waiting == 0
    assert [n.kind for n in notes] == ["retry"] and "failed 2 times before" in notes[0].text

    now[0] = 140.0  # a's bytes stood still for 40 s; b moved on
    s3.parts["u-b"] = [10, 10, 10]
    tracker.pause = Pause(since="2024-05-01T00:00:00Z", reason="403",
                          error_type="AccountRefusedError")
    snap, notes = meter.measure(run)
    assert snap.bytes == 50 + 17 + 37 and snap.rate == pytest.approx(10 / 40)
    assert [n.kind for n in notes] == ["stalled", "paused"] and notes[0].media == "gopro/a"

    tracker.rows, tracker.failed = [in_flight("b")], [in_flight("a", failures=3)]
    done_a = RunRecord("r", "gopro", "cli", "", queued=3, completed=1, failed=1, bytes=50,
                       expected_bytes=150)
    snap, notes = meter.measure(done_a)
    assert snap.bytes == 50 + 17 + 37  # never goes down when a medium leaves the in-flight set
    assert [n.kind for n in notes] == ["failed"]
    assert meter.measure(done_a)[1] == []  # each thing is said once
