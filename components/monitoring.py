"""The alarms (the seed's seven, one for timed-out workflows, one for the lister) and the seed's
dashboard widgets.

Which alarms exist is stack config (``alarms``): ``essential``, the default, watches what a
person must hear of on AWS's own metrics, each alarm reading one metric ($0.10 a month each):
failed and timed-out workflows, the lister's errors (a night that did not run) and the failure
queue; with ``customMetrics`` on, the three alarms on custom metrics join them. ``all`` adds the
seed's per-function Lambda errors and throttles, which CloudWatch bills per metric they read (nine
functions each). Expired logins and failed media reach the alert email from the functions
themselves whatever is chosen. Thresholds come from stack config.

An Express execution that reaches its ``TimeoutSeconds`` ends TIMED_OUT: no Catch runs, so only
``ExecutionsTimedOut`` (AWS/States) tells; it gets an alarm of its own and a line on the
workflows widget.

Custom metrics come from the functions as EMF log lines in the ``GoProSync`` namespace, with
``Environment`` (the stack name), ``Provider``, powertools' ``service`` and sometimes more
(``ErrorType``). Alarms and widgets read them with CloudWatch Metrics Insights queries filtered
on ``Environment`` only, so they aggregate over every provider and error type whatever dimensions
a metric carries. Lambda alarms sum the metric over this stack's functions only (metric math),
never the whole account. CloudWatch runs one Metrics Insights query per graph (GetMetricData
takes one), so no widget holds two: the seed's "sync success rate" is two graphs side by side,
media synced and sync failures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from .config import AlarmThresholds
from .functions import METRICS_NAMESPACE
from .naming import Naming

MAX_ALARM_METRICS: Final = 10
# The alarms that read the functions' own (custom) metrics rather than AWS's.
CUSTOM_METRIC_ALARMS: Final = frozenset({"Sync-HighFailureRate", "Auth-Failure", "Low-Throughput"})
# The alarms of the ``essential`` selection (the custom-metric ones too when those are on).
ESSENTIAL_ALARMS: Final = frozenset({"StepFunction-Failed", "StepFunction-TimedOut",
                                     "Lister-Errors", "DLQ-Messages"}) | CUSTOM_METRIC_ALARMS
LISTER_FUNCTION: Final = "list"


@dataclass
class MonitoringArgs:
    naming: Naming
    thresholds: AlarmThresholds
    topic_arn: pulumi.Input[str]
    function_names: Mapping[str, pulumi.Input[str]]
    state_machine_arn: pulumi.Input[str]
    failure_queue_name: pulumi.Input[str]
    function_log_groups: Sequence[str]
    workflow_log_group: str
    tags: Mapping[str, str]
    custom_metrics: bool = False  # False: the functions emit none, so no alarm reads them


@dataclass(frozen=True)
class AlarmSpec:
    key: str  # seed name without the GoPro- prefix
    description: str
    threshold: float
    comparison: str
    period: int
    evaluation_periods: int


Query = aws.cloudwatch.MetricAlarmMetricQueryArgs


def _wanted(key: str, selection: str, custom_metrics: bool) -> bool:
    if key in CUSTOM_METRIC_ALARMS and not custom_metrics:
        return False
    return selection == "all" or key in ESSENTIAL_ALARMS


def _metric(
    namespace: str, metric: str, stat: str, period: int,
    dimensions: Mapping[str, pulumi.Input[str]],
) -> aws.cloudwatch.MetricAlarmMetricQueryMetricArgs:
    return aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
        namespace=namespace, metric_name=metric, stat=stat, period=period,
        dimensions=dict(dimensions),
    )


def insights(stat: str, metric: str, environment: str) -> str:
    """A Metrics Insights query: one series over every dimension combination of this stack."""
    # The stack name is validated as [a-z0-9-] (components.config): nothing to escape.
    where = f"Environment = '{environment}'"
    return f"SELECT {stat}({metric}) FROM {METRICS_NAMESPACE} WHERE {where}"  # noqa: S608


def _single(metric: aws.cloudwatch.MetricAlarmMetricQueryMetricArgs) -> list[Query]:
    return [Query(id="result", metric=metric, return_data=True)]


def _math(
    metrics: Sequence[aws.cloudwatch.MetricAlarmMetricQueryMetricArgs], expression: str,
    label: str,
) -> list[Query]:
    if len(metrics) > MAX_ALARM_METRICS:
        raise ValueError(f"an alarm takes at most {MAX_ALARM_METRICS} metrics, not {len(metrics)}")
    ids = [f"m{i}" for i in range(len(metrics))]
    queries = [Query(id=i, metric=m, return_data=False) for i, m in zip(ids, metrics, strict=True)]
    queries.append(Query(id="result", expression=f"{expression}([{', '.join(ids)}])",
                         label=label, return_data=True))
    return queries


class Monitoring(pulumi.ComponentResource):
    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudsync:index:Monitoring", name, None, opts)
        naming = args.naming
        t = args.thresholds
        env = naming.stack
        functions = dict(args.function_names)

        def custom(metric: str, stat: str, period: int) -> list[Query]:
            return [Query(id="result", expression=insights(stat, metric, env), period=period,
                          label=metric, return_data=True)]

        def per_function(metric: str) -> list[aws.cloudwatch.MetricAlarmMetricQueryMetricArgs]:
            return [
                _metric("AWS/Lambda", metric, "Sum", 300, {"FunctionName": fn})
                for fn in functions.values()
            ]

        gt, lt = "GreaterThanThreshold", "LessThanThreshold"
        specs: list[tuple[AlarmSpec, list[Query]]] = [
            (AlarmSpec("Sync-HighFailureRate", "Sync failures in 5 minutes", t.sync_failures, gt,
                       300, 1), custom("SyncFailures", "SUM", 300)),
            (AlarmSpec("Auth-Failure", "Authentication failures in 5 minutes", t.auth_failures, gt,
                       300, 1),
             custom("AuthenticationFailure", "SUM", 300)),
            (AlarmSpec("Lambda-Errors", "Function errors in 5 minutes", t.lambda_errors, gt,
                       300, 1),
             _math(per_function("Errors"), "SUM", "Errors")),
            (AlarmSpec("Lambda-Throttles", "Function throttles in 5 minutes", t.lambda_throttles,
                       gt, 300, 1), _math(per_function("Throttles"), "SUM", "Throttles")),
            (AlarmSpec("StepFunction-Failed", "Failed transfer workflows in 5 minutes",
                       t.workflow_failures, gt, 300, 1),
             _single(_metric("AWS/States", "ExecutionsFailed", "Sum", 300,
                             {"StateMachineArn": args.state_machine_arn}))),
            (AlarmSpec("StepFunction-TimedOut", "Transfer workflows that timed out in 5 minutes",
                       t.workflow_timeouts, gt, 300, 1),
             _single(_metric("AWS/States", "ExecutionsTimedOut", "Sum", 300,
                             {"StateMachineArn": args.state_machine_arn}))),
            (AlarmSpec("DLQ-Messages", "Failed invocations waiting in the failure queue",
                       t.dlq_messages, gt, 300, 2),
             _single(_metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 300,
                             {"QueueName": args.failure_queue_name}))),
            (AlarmSpec("Low-Throughput", "Transfer throughput below the floor (Mbit/s)",
                       t.low_throughput_mbps, lt, 900, 2),
             custom("TransferThroughput", "AVG", 900)),
        ]
        if LISTER_FUNCTION in functions:
            specs.append((AlarmSpec("Lister-Errors", "The nightly lister failed in 5 minutes",
                                    t.lister_errors, gt, 300, 1),
                          _single(_metric("AWS/Lambda", "Errors", "Sum", 300,
                                          {"FunctionName": functions[LISTER_FUNCTION]}))))
        specs = [(spec, q) for spec, q in specs if _wanted(spec.key, t.selection,
                                                          args.custom_metrics)]
        self.alarms = {}
        for spec, queries in specs:
            self.alarms[spec.key] = aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.key.lower()}",
                name=naming.name(spec.key),
                alarm_description=f"cloudsync {env}: {spec.description}",
                comparison_operator=spec.comparison,
                threshold=spec.threshold,
                evaluation_periods=spec.evaluation_periods,
                metric_queries=queries,
                treat_missing_data="notBreaching",
                alarm_actions=[args.topic_arn],
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=naming.dashboard_name,
            dashboard_body=pulumi.Output.json_dumps(
                {"widgets": self._widgets(args, functions)}
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_name: pulumi.Output[str] = self.dashboard.dashboard_name
        self.register_outputs({"dashboard_name": self.dashboard_name,
                               "alarms": [a.name for a in self.alarms.values()]})

    @staticmethod
    def _widgets(args: MonitoringArgs, functions: Mapping[str, pulumi.Input[str]]) -> list[Any]:
        naming = args.naming
        env = naming.stack
        region = naming.region

        def custom(stat: str, metric: str, qid: str, **extra: Any) -> list[Any]:
            return [{"expression": insights(stat, metric, env), "label": metric, "id": qid,
                     **extra}]

        def widget(x: int, y: int, title: str, properties: dict[str, Any],
                   kind: str = "metric", width: int = 12) -> dict[str, Any]:
            return {"type": kind, "x": x, "y": y, "width": width, "height": 6,
                    "properties": {"title": title, "region": region, **properties}}

        volume = [
            custom("SUM", "BytesTransferred", "bytes", visible=False),
            [{"expression": "bytes / 1073741824", "label": "GiB transferred", "id": "gib"}],
        ]
        durations = [
            ["AWS/Lambda", "Duration", "FunctionName", fn, {"stat": stat, "label": f"{key} {stat}"}]
            for key, fn in functions.items()
            for stat in ("p50", "p99", "Maximum")
        ]
        errors = [
            ["AWS/Lambda", "Errors", "FunctionName", fn, {"label": key}]
            for key, fn in functions.items()
        ]
        sources = " | ".join(
            f"SOURCE '{g}'" for g in [*args.function_log_groups, args.workflow_log_group]
        )
        return [
            widget(0, 0, "Sync success: media synced", {
                "view": "timeSeries", "stat": "Sum", "period": 3600,
                "metrics": [custom("SUM", "VideosSynced", "synced")]}, width=6),
            widget(6, 0, "Sync success: failures", {
                "view": "timeSeries", "stat": "Sum", "period": 3600,
                "metrics": [custom("SUM", "SyncFailures", "failed")]}, width=6),
            widget(12, 0, "Transfer volume (GiB)", {
                "view": "timeSeries", "stat": "Sum", "period": 3600, "metrics": volume}),
            widget(0, 6, "Transfer throughput (Mbit/s)", {
                "view": "timeSeries", "stat": "Average", "period": 300,
                "metrics": [custom("AVG", "TransferThroughput", "mbps")]}),
            widget(12, 6, "Lambda duration (p50, p99, max)", {
                "view": "timeSeries", "period": 300, "metrics": durations}),
            widget(0, 12, "Errors by function", {
                "view": "timeSeries", "stacked": True, "stat": "Sum", "period": 300,
                "metrics": errors}),
            widget(12, 12, "Transfer workflows", {
                "view": "singleValue", "stat": "Sum", "period": 86400, "metrics": [
                    ["AWS/States", "ExecutionsSucceeded", "StateMachineArn",
                     args.state_machine_arn],
                    ["AWS/States", "ExecutionsFailed", "StateMachineArn", args.state_machine_arn],
                    ["AWS/States", "ExecutionsTimedOut", "StateMachineArn",
                     args.state_machine_arn],
                ]}),
            widget(0, 18, "Recent errors (all log groups)", {
                "view": "table",
                "query": f"{sources} | fields @timestamp, @log, @message"
                         " | filter @message like /(?i)(\"level\":\\s*\"ERROR\"|\\[ERROR\\])/"
                         " | sort @timestamp desc | limit 100",
            }, kind="log"),
        ]
