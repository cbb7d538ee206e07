"""``--json`` output is the only thing on stdout: log lines of the code the CLI runs go to stderr.

``resync`` closes its own run when nothing could be queued and then runs the summary code,
which logs; that line used to land on stdout in front of the JSON document.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cloudsync_cli.main import main
from cloudsync_core import schema
from cloudsync_core.tracker import Tracker, to_item
from cloudsync_defs.table import create_table_request

REGION = "us-east-1"
TABLE = "cloudsync-test-tracker"
OUTPUTS = {"stack": "test", "region": REGION, "table": TABLE, "bucket": "cloudsync-test-archive",
           "secret_id": "s", "list_function": "l", "topic_arn": "arn:aws:sns:us-east-1:1:t"}


@pytest.fixture
def aws(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    with mock_aws():
        db = boto3.client("dynamodb", region_name=REGION)
        db.create_table(**create_table_request(TABLE))
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="cloudsync-test-archive")
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/cloudsync/test/outputs", Type="String", Value=json.dumps(OUTPUTS))
        db.put_item(TableName=TABLE, Item=to_item({
            schema.PARTITION_KEY: "gopro", schema.SORT_KEY: "m1", "status": "COMPLETED",
            schema.STATUS_INDEX_PARTITION: "gopro#COMPLETED",
            schema.STATUS_INDEX_SORT: "2026-11-30T02:00:00.000Z", "wake": 1,
        }))
        yield


def test_resync_json_is_clean_when_its_own_summary_logs(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def always_changed(self: Tracker, *args: Any, **kwargs: Any) -> bool:
        return False  # the row keeps moving under us: nothing gets queued

    monkeypatch.setattr(Tracker, "requeue", always_changed)
    code = main(["resync", "m1", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out)["not_queued"] == ["m1"]
    assert "run finished cleanly" in err


@pytest.mark.parametrize("argv", [["status", "--json"], ["failures", "--json"],
                                  ["verify", "--json"]])
def test_other_json_outputs_parse(
    aws: None, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    main(argv)
    json.loads(capsys.readouterr().out)
