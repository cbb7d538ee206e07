"""The custom metrics' names, written once for the code that emits them and the stack reading them.

The functions emit these as EMF log lines (``observability.emit``); the Pulumi program's alarms
and dashboard (``components.monitoring``, through ``cloudsync_defs.alarms``) and the cost model
read the same names from here. This module lives in ``cloudsync_core`` because only
``functions/`` is shipped to Lambda; the deployers import it from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

NAMESPACE: Final = "GoProSync"  # the seed's namespace

VIDEOS_DISCOVERED: Final = "VideosDiscovered"
NEW_VIDEOS_FOUND: Final = "NewVideosFound"
AUTHENTICATION_FAILURE: Final = "AuthenticationFailure"
AUTHENTICATION_SUCCESS: Final = "AuthenticationSuccess"
VIDEOS_SYNCED: Final = "VideosSynced"
BYTES_TRANSFERRED: Final = "BytesTransferred"
TRANSFER_DURATION: Final = "TransferDuration"
TRANSFER_THROUGHPUT: Final = "TransferThroughput"
SYNC_FAILURES: Final = "SyncFailures"


@dataclass(frozen=True)
class CustomMetric:
    """One metric name and how many series (billed metric-months) it makes in a month.

    Every metric carries ``Environment`` and ``Provider``: one series per provider. A metric
    with one more dimension makes one series per value seen (``series`` assumes a count).
    """

    name: str
    series: int = 1


CUSTOM_METRICS: Final[tuple[CustomMetric, ...]] = (
    CustomMetric(VIDEOS_DISCOVERED),
    CustomMetric(NEW_VIDEOS_FOUND),
    CustomMetric(AUTHENTICATION_FAILURE),
    CustomMetric(AUTHENTICATION_SUCCESS),
    CustomMetric(VIDEOS_SYNCED),
    CustomMetric(BYTES_TRANSFERRED),
    CustomMetric(TRANSFER_DURATION),
    CustomMetric(TRANSFER_THROUGHPUT),
    # by ErrorType too: the total and about four error types seen in a month
    CustomMetric(SYNC_FAILURES, series=5),
)


def series_per_month(metrics: tuple[CustomMetric, ...] = CUSTOM_METRICS) -> int:
    """Metric-months the functions' custom metrics cost with one provider."""
    return sum(m.series for m in metrics)
