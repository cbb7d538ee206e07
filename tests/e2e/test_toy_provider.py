"""Adding a provider is its own package plus one registry line (issue 12, item 5), end to end.

The toy provider (tests/e2e/toy_provider/) brings its API client, token client and secret layout;
registered by one line, the real handlers and workflow in the local cloud list its library, renew
its login with ITS token client, and archive every file byte-exact. A few small files; the toy's
cloud is a loopback HTTP server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import boto3
import pytest

from cloudsync_core.credentials import SecretStore, StoredCredentials
from cloudsync_core.providers import register_provider, unregister_provider
from cloudsync_core.tracker import COMPLETED, Tracker
from cloudsync_local.cloud import LocalCloud

from .toy_provider import ENV_API_URL, TOY
from .toy_provider.server import ToyCloud

pytestmark = pytest.mark.e2e
KiB = 1024


def blob(seed: int, size: int) -> bytes:
    return bytes((seed * 31 + i * 7) % 251 for i in range(size))


@pytest.fixture
def toy(make_local_cloud: Callable[..., LocalCloud]) -> Iterator[tuple[ToyCloud, LocalCloud]]:
    register_provider(TOY)  # the one line a new provider adds (in providers/registry.py)
    try:
        with ToyCloud() as origin:
            cloud = make_local_cloud(providers=("gopro", "toy"),
                                     settings={ENV_API_URL: origin.base_url})
            yield origin, cloud
    finally:
        unregister_provider(TOY.name)


def test_a_toy_provider_registered_by_one_line_archives_end_to_end(
    toy: tuple[ToyCloud, LocalCloud],
) -> None:
    origin, cloud = toy
    library = {
        "toy-a": origin.add("toy-a", "2025-03-01T10:00:00+00:00", {"a.mov": blob(1, 300 * KiB)}),
        "toy-b": origin.add("toy-b", "2025-03-02T10:00:00+00:00",
                            {"b1.mov": blob(2, 200 * KiB), "b2.jpg": blob(3, 5 * KiB)}),
        "toy-c": origin.add("toy-c", "2025-04-05T10:00:00+00:00", {"c.mov": blob(4, 1)}),
    }
    outputs = cloud.outputs()
    url, region = cloud.endpoint_url, cloud.region
    secrets = boto3.client("secretsmanager", endpoint_url=url, region_name=region)
    s3 = boto3.client("s3", endpoint_url=url, region_name=region)
    # The toy's login, expiring inside the lister's 3 hours: its own token client must renew it.
    SecretStore(secrets, outputs["secret_id"]).save(StoredCredentials(
        provider="toy", mode="oauth", access_token=origin.access_token,
        refresh_token=origin.refresh_token, expires_at=time.time() + 600,
        updated_at=time.time()), create_missing=True)

    report = cloud.invoke("list", {"trigger": "test", "provider": "toy"})
    cloud.wait_idle(120)

    assert (report["provider"], report["listed"], report["new"]) == ("toy", 3, 3)
    assert origin.refreshes == 1  # renewed by ToyTokenClient, at the toy's token endpoint
    stored = SecretStore(secrets, outputs["secret_id"]).load()
    assert (stored.provider, stored.access_token) == ("toy", origin.access_token)
    tracker = Tracker(boto3.client("dynamodb", endpoint_url=url, region_name=region),
                      outputs["table"])
    bucket = outputs["bucket"]
    for media_id, medium in library.items():
        row = tracker.get("toy", media_id)
        assert row is not None and row.status == COMPLETED, (media_id, row)
        month = medium.taken_at[:7].replace("-", "/")
        for name, data in medium.files.items():
            key = f"toy-videos/{month}/{media_id}/{name}"
            got = s3.get_object(Bucket=bucket, Key=key)
            assert got["Body"].read() == data, key
            assert got["Metadata"]["provider"] == "toy"
            tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
            assert {"Key": "Source", "Value": "ToyCloud"} in tags
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="toy-videos/")
    originals = [o["Key"] for o in listed.get("Contents", []) if "/_meta/" not in o["Key"]]
    assert len(originals) == 4  # every file once, nothing else
