"""Log lines and metrics never reach stdout outside Lambda, and each names its own function.

The CLI (``--json``) and ``cloudsync local up`` (its ready line) own stdout; handlers running
inside them log too. In the local cloud many handlers run at once in one process: the keys one
invocation sets must not leak into another's lines.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from cloudsync_core.observability import MetricUnit, emit, logger


class Context:
    def __init__(self, name: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:1:function:{name}"
        self.memory_limit_in_mb = 128
        self.aws_request_id = f"req-{name}"


def test_outside_lambda_logs_and_metrics_go_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    monkeypatch.delenv("CLOUDSYNC_METRICS", raising=False)
    logger.info("run finished cleanly")
    emit("VideosSynced", 1, MetricUnit.Count, Provider="gopro")
    out, err = capsys.readouterr()
    assert out == ""
    lines = [json.loads(line) for line in err.splitlines()]
    assert lines[0]["message"] == "run finished cleanly"
    assert lines[1]["VideosSynced"] == [1.0]


def test_inside_lambda_they_go_to_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
    logger.info("hello")
    out, err = capsys.readouterr()
    assert json.loads(out)["message"] == "hello" and err == ""


def test_concurrent_handlers_each_name_their_own_function(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    names = [f"cloudsync-local-{n}" for n in ("prepare", "transfer", "finalize", "list")]
    barrier = threading.Barrier(len(names))

    @logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> None:
        barrier.wait(5)  # every invocation has set its keys before any logs
        for _ in range(5):
            logger.info("step", extra={"me": event["me"]})
            barrier.wait(5)

    threads = [threading.Thread(target=handler, args=({"me": n, "correlation_id": n}, Context(n)))
               for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 5 * len(names)
    for line in lines:
        assert line["function_name"] == line["service"] == line["me"]
        assert line["correlation_id"] == line["me"]
