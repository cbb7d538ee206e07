"""Shared fixtures for end-to-end tests: local clouds that are always stopped.

One local cloud runs per process at a time (its environment and moto's backends are
process-wide): a test that needs its own settings asks ``make_local_cloud`` for one while no
module-scoped cloud is running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cloudsync_defs.workflow import StateRetryPolicy
from cloudsync_local.cloud import LocalCloud

# Retry intervals really sleep in moto: 1 s is the least ASL allows (IntervalSeconds >= 1),
# and FULL jitter makes the wait 0..1 s.
FAST_RETRY = StateRetryPolicy(interval_s=1, max_attempts=2, backoff_rate=1.0, max_delay_s=1)


@pytest.fixture
def make_local_cloud() -> Iterator[Callable[..., LocalCloud]]:
    """``make_local_cloud(**LocalCloud kwargs)`` -> a started cloud, stopped after the test."""
    started: list[LocalCloud] = []

    def make(**kwargs: Any) -> LocalCloud:
        kwargs.setdefault("retry", FAST_RETRY)
        cloud = LocalCloud(**kwargs).start()
        started.append(cloud)
        return cloud

    yield make
    for cloud in reversed(started):
        cloud.stop()
