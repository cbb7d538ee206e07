"""Minimal reproduction of moto's TransactWriteItems rollback faults (moto 5.2.5), for upstream.

    .venv/bin/python tests/e2e/moto_rollback_repro.py

moto's ``DynamoDBBackend.transact_write_items`` deep-copies each table a transaction touches
and, when an item fails its condition, assigns the copies back in place of the live tables:

1. the copy holds a deep copy of the table's stream shard, so a shard iterator taken before the
   failed transaction reads a shard nobody writes to any more: records written afterwards never
   arrive through it (a stream consumer stops silently);
2. writes other threads made between the copy and the restore are undone, though acknowledged.

Both are printed below with plain boto3 against ``mock_aws`` (no cloudsync code involved).
The local cloud guards against both (``cloudsync_local.cloud.dynamo_guard``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

TABLE = {
    "TableName": "t",
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
}


def failing_transaction(db: Any) -> str:
    """A transaction whose only item fails its condition; the error code moto answered."""
    try:
        db.transact_write_items(TransactItems=[{"Put": {
            "TableName": "t", "Item": {"pk": {"S": "guard"}},
            "ConditionExpression": "attribute_exists(pk)",
        }}])
    except ClientError as e:
        return str(e.response["Error"]["Code"])
    return "none"


def stream_after_rollback() -> tuple[int, int]:
    """(records through the old iterator, through a fresh one) after one write."""
    db = boto3.client("dynamodb", region_name="us-east-1")
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = db.create_table(**TABLE)["TableDescription"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    old = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                     ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    failing_transaction(db)
    db.put_item(TableName="t", Item={"pk": {"S": "after"}})
    through_old = len(streams.get_records(ShardIterator=old)["Records"])
    fresh = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    through_fresh = len(streams.get_records(ShardIterator=fresh)["Records"])
    db.delete_table(TableName="t")
    return through_old, through_fresh


def writes_lost_to_rollbacks(
    endpoint_url: str, writes: int = 900, threads: int = 6
) -> tuple[int, Counter[str]]:
    """Acknowledged puts missing afterwards, with failing transactions running alongside
    (through moto's threaded server, as a deployed local stack is); and the transactions'
    answers (moto also answers 500s: its copy races the writers)."""
    db = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint_url)
    db.create_table(**TABLE)
    answers: Counter[str] = Counter()
    for i in range(300):  # a table worth copying
        db.put_item(TableName="t", Item={"pk": {"S": f"filler-{i}"}})
    done = threading.Event()

    def spoil() -> None:
        while not done.is_set():
            answers[failing_transaction(db)] += 1

    def write(start: int) -> None:
        for i in range(start, writes, threads):
            db.put_item(TableName="t", Item={"pk": {"S": f"w-{i}"}})

    spoiler = threading.Thread(target=spoil)
    spoiler.start()
    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done.set()
    spoiler.join()
    found = {item["pk"]["S"] for page in db.get_paginator("scan").paginate(TableName="t")
             for item in page["Items"]}
    return sum(1 for i in range(writes) if f"w-{i}" not in found), answers


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"  # moto's streams in-process
    with mock_aws():
        old, fresh = stream_after_rollback()
    print(f"records through the iterator taken before the failed transaction: {old} "
          f"(expected 1); through a fresh iterator: {fresh}")
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        lost, answers = writes_lost_to_rollbacks(f"http://{host}:{port}")
    finally:
        server.stop()
    print(f"acknowledged writes lost to concurrent failed transactions: {lost} of 900 "
          f"(expected 0); transaction answers: {dict(answers)}")


if __name__ == "__main__":
    main()
