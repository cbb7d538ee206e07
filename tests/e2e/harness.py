"""End-to-end harness: the GoPro simulator, a local cloud pointed at it, and what users check.

The checks are the outcomes a user cares about: every original archived exactly once with the
right bytes, rows in the right states, the messages that went out.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3

from cloudsync_core.credentials import SecretStore, StoredCredentials
from cloudsync_core.tracker import MediaRow, Tracker
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.simulator import GoProSimulator


@dataclass
class Stack:
    sim: GoProSimulator
    cloud: LocalCloud

    @property
    def outputs(self) -> dict[str, Any]:
        return self.cloud.outputs()

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.cloud.endpoint_url,
                            region_name=self.cloud.region)

    @property
    def tracker(self) -> Tracker:
        return Tracker(self.client("dynamodb"), self.outputs["table"])

    def login(self) -> StoredCredentials:
        """What `cloudsync login --access-token ... --refresh-token ...` stores."""
        tokens = self.sim.issue_tokens()
        creds = StoredCredentials(
            provider="gopro", mode="oauth", access_token=str(tokens["access_token"]),
            refresh_token=str(tokens["refresh_token"]),
            expires_at=time.time() + float(str(tokens["expires_in"])), updated_at=time.time(),
        )
        SecretStore(self.client("secretsmanager"), self.outputs["secret_id"]).save(
            creds, create_missing=True)
        return creds

    def sync(self, timeout: float = 120.0, **event: Any) -> dict[str, Any]:
        """The nightly job, run now, then wait until every medium it queued has finished."""
        report: dict[str, Any] = self.cloud.invoke("list", {"trigger": "test", **event})
        self.cloud.wait_idle(timeout)
        return report

    def rows(self) -> dict[str, MediaRow]:
        table = self.outputs["table"]
        items: list[dict[str, Any]] = []
        for page in self.client("dynamodb").get_paginator("scan").paginate(TableName=table):
            items.extend(page["Items"])
        from cloudsync_core.tracker import from_item

        rows = [MediaRow.from_values(from_item(i)) for i in items
                if not str(i["provider"]["S"]).startswith("#")]
        return {r.media_id: r for r in rows}

    def objects(self, media_id: str) -> list[dict[str, Any]]:
        """Current objects under the medium's folder, with their bytes' CRC32 and metadata."""
        s3 = self.client("s3")
        bucket = self.outputs["bucket"]
        found = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                if f"/{media_id}/" not in obj["Key"]:
                    continue
                got = s3.get_object(Bucket=bucket, Key=obj["Key"])
                body = got["Body"].read()
                tags = s3.get_object_tagging(Bucket=bucket, Key=obj["Key"])["TagSet"]
                found.append({"key": obj["Key"], "size": len(body), "crc32": zlib.crc32(body),
                              "metadata": got["Metadata"],
                              "tags": {t["Key"]: t["Value"] for t in tags}})
        return found

    def versions(self, key: str) -> list[dict[str, Any]]:
        answer = self.client("s3").list_object_versions(Bucket=self.outputs["bucket"], Prefix=key)
        return [v for v in answer.get("Versions", []) if v["Key"] == key]

    def incomplete_uploads(self) -> list[dict[str, Any]]:
        answer = self.client("s3").list_multipart_uploads(Bucket=self.outputs["bucket"])
        return list(answer.get("Uploads", []))

    def assert_archived_exactly(self, media_id: str) -> None:
        """Every original of the medium once, byte-exact; nothing else in its folder."""
        expected = Counter((f.size, f.crc32()) for f in self.sim.library.originals(media_id))
        stored = self.objects(media_id)
        assert Counter((o["size"], o["crc32"]) for o in stored) == expected, media_id
        for obj in stored:
            meta = obj["metadata"]
            assert (meta["media-id"], meta["provider"]) == (media_id, "gopro")
            assert {"file-id", "item-number", "label", "original-filename", "captured-at"} <= set(
                meta)
            assert obj["tags"]["Source"] == "GoPro" and obj["tags"]["AutoSync"] == "True"
            assert "UploadDate" in obj["tags"]
