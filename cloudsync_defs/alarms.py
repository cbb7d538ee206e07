"""The alarms catalog: one plain-data entry per alarm, read by every place that needs alarms.

``components.config`` validates ``alarmThresholds`` against it, ``components.monitoring`` builds
one CloudWatch alarm per selected entry, and ``cloudsync cost`` counts the metrics the selected
alarms read (CloudWatch bills an alarm per metric it reads). Adding an alarm is one entry here
(plus, for a custom metric, the code that emits it, naming it from ``cloudsync_core.metrics``).

Which alarms exist is stack config ``alarms``: ``essential`` (the default) keeps the entries
marked ``essential``: what a person must hear of (failed and timed-out workflows, the lister's
errors: a night that did not run, the failure queue); ``all`` adds the seed's per-function
Lambda errors and throttles, which read one metric per function. Alarms on custom metrics exist
only when the stack emits them (``customMetrics``). Expired logins and failed media reach the
alert email from the functions themselves whatever is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cloudsync_core import metrics

ALARM_SETS: Final = ("essential", "all")
GREATER: Final = "GreaterThanThreshold"
LESS: Final = "LessThanThreshold"
LISTER_FUNCTION: Final = "list"


class Reads(StrEnum):
    """Which series an alarm's metric is read from."""

    CUSTOM = "custom"  # the functions' EMF metric, over every dimension of this stack
    WORKFLOW = "workflow"  # AWS/States, the transfer state machine
    QUEUE = "queue"  # AWS/SQS, the failure queue
    FUNCTION = "function"  # AWS/Lambda, one function (``function``)
    EVERY_FUNCTION = "every-function"  # AWS/Lambda, summed over every function of the stack


@dataclass(frozen=True)
class AlarmDef:
    key: str  # resource name: the seed's name without its GoPro- prefix
    config_key: str  # its key in stack config ``alarmThresholds``
    tells: str  # what it tells the person (the alarm's description)
    reads: Reads
    namespace: str
    metric: str
    stat: str  # CloudWatch's statistic: Sum, Average, Maximum
    threshold: float  # the default; stack config may override it
    period: int = 300
    evaluation_periods: int = 1
    comparison: str = GREATER
    essential: bool = False  # on in the default ``alarms: essential``
    function: str = ""  # with Reads.FUNCTION: the logical function name

    @property
    def custom(self) -> bool:
        """Reads a custom metric: exists only when the stack emits them."""
        return self.reads is Reads.CUSTOM

    def metric_count(self, functions: int) -> int:
        """Metrics CloudWatch bills this alarm for."""
        return functions if self.reads is Reads.EVERY_FUNCTION else 1


ALARMS: tuple[AlarmDef, ...] = (
    AlarmDef("Sync-HighFailureRate", "syncFailures", "Sync failures in 5 minutes",
             Reads.CUSTOM, metrics.NAMESPACE, metrics.SYNC_FAILURES, "Sum", 3, essential=True),
    AlarmDef("Auth-Failure", "authFailures", "Authentication failures in 5 minutes",
             Reads.CUSTOM, metrics.NAMESPACE, metrics.AUTHENTICATION_FAILURE, "Sum", 1,
             essential=True),
    AlarmDef("Lambda-Errors", "lambdaErrors", "Function errors in 5 minutes",
             Reads.EVERY_FUNCTION, "AWS/Lambda", "Errors", "Sum", 5),
    AlarmDef("Lambda-Throttles", "lambdaThrottles", "Function throttles in 5 minutes",
             Reads.EVERY_FUNCTION, "AWS/Lambda", "Throttles", "Sum", 1),
    AlarmDef("StepFunction-Failed", "workflowFailures", "Failed transfer workflows in 5 minutes",
             Reads.WORKFLOW, "AWS/States", "ExecutionsFailed", "Sum", 1, essential=True),
    # An Express execution that reaches its TimeoutSeconds ends TIMED_OUT: no Catch runs.
    AlarmDef("StepFunction-TimedOut", "workflowTimeouts",
             "Transfer workflows that timed out in 5 minutes", Reads.WORKFLOW, "AWS/States",
             "ExecutionsTimedOut", "Sum", 0, essential=True),
    AlarmDef("DLQ-Messages", "dlqMessages", "Failed invocations waiting in the failure queue",
             Reads.QUEUE, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 0,
             evaluation_periods=2, essential=True),
    AlarmDef("Low-Throughput", "lowThroughputMbps", "Transfer throughput below the floor (Mbit/s)",
             Reads.CUSTOM, metrics.NAMESPACE, metrics.TRANSFER_THROUGHPUT, "Average", 20,
             period=900, evaluation_periods=2, comparison=LESS, essential=True),
    AlarmDef("Lister-Errors", "listerErrors", "The nightly lister failed in 5 minutes",
             Reads.FUNCTION, "AWS/Lambda", "Errors", "Sum", 0, essential=True,
             function=LISTER_FUNCTION),
)


def catalog() -> tuple[AlarmDef, ...]:
    """Every alarm (read at call time: a test may add one)."""
    return ALARMS


def by_config_key() -> dict[str, AlarmDef]:
    return {a.config_key: a for a in catalog()}


def selected(selection: str, custom_metrics: bool) -> list[AlarmDef]:
    """The alarms a stack with these ``alarms`` and ``customMetrics`` settings has."""
    if selection not in ALARM_SETS:
        raise ValueError(f"alarms is one of {', '.join(ALARM_SETS)}, not {selection!r}")
    return [a for a in catalog()
            if (custom_metrics or not a.custom) and (selection == "all" or a.essential)]


def metric_count(selection: str, custom_metrics: bool, functions: int) -> int:
    """How many metrics the selected alarms read (what CloudWatch bills)."""
    return sum(a.metric_count(functions) for a in selected(selection, custom_metrics))
