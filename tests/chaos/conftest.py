"""One local cloud and one simulator for the whole chaos suite; the table written at the end.

Each scenario adds its own media to the library, so earlier scenarios' media are listed again
but unchanged (no work). Faults are cleared after each scenario's first run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudsync_defs.workflow import StateRetryPolicy
from cloudsync_local.cloud import LocalCloud
from cloudsync_local.cloud.chaos import FaultPlan
from cloudsync_local.simulator import GoProSimulator

from ..e2e.harness import Stack
from .harness import RESULTS, table_markdown

FAST_RETRY = StateRetryPolicy(interval_s=1, max_attempts=2, backoff_rate=1.0, max_delay_s=1)
TABLE_FILE = Path("build/chaos-table.md")


@pytest.fixture(scope="package")
def chaos() -> Iterator[tuple[Stack, FaultPlan]]:
    with GoProSimulator() as sim:
        cloud = LocalCloud(
            gopro_api_url=sim.base_url, retry=FAST_RETRY, max_concurrent_media=2,
            settings={"CLOUDSYNC_PART_SIZE_MIB": "5", "CLOUDSYNC_PARALLEL_RANGES": "2"},
            async_retry_delay_s=0.2, stream_retry_delay_s=0.1,
        )
        cloud.start()
        try:
            stack = Stack(sim, cloud)
            stack.login()
            yield stack, cloud.inject_faults(FaultPlan(seed=11))
        finally:
            cloud.stop()


@pytest.fixture(scope="package", autouse=True)
def chaos_table() -> Iterator[None]:
    yield
    if RESULTS:
        TABLE_FILE.parent.mkdir(exist_ok=True)
        TABLE_FILE.write_text(table_markdown(), encoding="utf-8")
