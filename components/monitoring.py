"""The alarms of the catalog (``cloudsync_defs.alarms``) this stack selects, and the seed's
dashboard widgets.

Which alarms exist is stack config (``alarms``, ``customMetrics``), chosen by the catalog:
``essential``, the default, watches what a person must hear of on AWS's own metrics, each alarm
reading one metric ($0.10 a month each); ``all`` adds the seed's per-function Lambda errors and
throttles, which CloudWatch bills per metric they read. Thresholds come from stack config, over
the catalog's defaults. This module only turns an entry into CloudWatch's shape, by what it
reads (``Reads``). CloudWatch lets one alarm read at most ten metrics (a hard limit): with more
than ten functions a per-function alarm becomes one alarm per ten (``Lambda-Errors``,
``Lambda-Errors-2``), reading the same metrics, billed the same.

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

from cloudsync_core import metrics
from cloudsync_defs import alarms as alarm_defs
from cloudsync_defs.alarms import AlarmDef, Reads

from .config import AlarmThresholds
from .naming import Naming

MAX_ALARM_METRICS: Final = 10
# Metrics Insights' aggregate for CloudWatch's statistic of the same meaning.
_INSIGHTS_STAT: Final = {"Sum": "SUM", "Average": "AVG", "Maximum": "MAX", "Minimum": "MIN"}


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


Query = aws.cloudwatch.MetricAlarmMetricQueryArgs


def _metric(
    alarm: AlarmDef, dimensions: Mapping[str, pulumi.Input[str]]
) -> aws.cloudwatch.MetricAlarmMetricQueryMetricArgs:
    return aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
        namespace=alarm.namespace, metric_name=alarm.metric, stat=alarm.stat,
        period=alarm.period, dimensions=dict(dimensions),
    )


def insights(stat: str, metric: str, environment: str) -> str:
    """A Metrics Insights query: one series over every dimension combination of this stack."""
    # The stack name is validated as [a-z0-9-] (components.config): nothing to escape.
    where = f"Environment = '{environment}'"
    return f"SELECT {stat}({metric}) FROM {metrics.NAMESPACE} WHERE {where}"  # noqa: S608


def _single(metric: aws.cloudwatch.MetricAlarmMetricQueryMetricArgs) -> list[Query]:
    return [Query(id="result", metric=metric, return_data=True)]


def _math(
    metrics_read: Sequence[aws.cloudwatch.MetricAlarmMetricQueryMetricArgs], expression: str,
    label: str,
) -> list[Query]:
    if len(metrics_read) > MAX_ALARM_METRICS:
        raise ValueError(
            f"an alarm takes at most {MAX_ALARM_METRICS} metrics, not {len(metrics_read)}")
    ids = [f"m{i}" for i in range(len(metrics_read))]
    queries = [Query(id=i, metric=m, return_data=False)
               for i, m in zip(ids, metrics_read, strict=True)]
    queries.append(Query(id="result", expression=f"{expression}([{', '.join(ids)}])",
                         label=label, return_data=True))
    return queries


def _chunks(values: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(values[i:i + size]) for i in range(0, len(values), size)]


def alarm_queries(
    alarm: AlarmDef, args: MonitoringArgs, functions: Mapping[str, pulumi.Input[str]]
) -> dict[str, list[Query]]:
    """The CloudWatch alarms (by key) one catalog entry becomes in this stack: none when what
    it watches is not deployed; for a per-function metric, one alarm per ten functions
    (CloudWatch's hard limit of metrics in one alarm): ``Lambda-Errors``, ``Lambda-Errors-2``."""
    if alarm.reads is Reads.CUSTOM:
        query = insights(_INSIGHTS_STAT[alarm.stat], alarm.metric, args.naming.stack)
        return {alarm.key: [Query(id="result", expression=query, period=alarm.period,
                                  label=alarm.metric, return_data=True)]}
    if alarm.reads is Reads.WORKFLOW:
        return {alarm.key: _single(_metric(alarm, {"StateMachineArn": args.state_machine_arn}))}
    if alarm.reads is Reads.QUEUE:
        return {alarm.key: _single(_metric(alarm, {"QueueName": args.failure_queue_name}))}
    if alarm.reads is Reads.FUNCTION:
        if alarm.function not in functions:
            return {}
        return {alarm.key: _single(_metric(alarm, {"FunctionName": functions[alarm.function]}))}
    # Reads.EVERY_FUNCTION: summed over this stack's functions only, never the whole account
    return {
        alarm.key if n == 1 else f"{alarm.key}-{n}": _math(
            [_metric(alarm, {"FunctionName": fn}) for fn in chunk], "SUM", alarm.metric)
        for n, chunk in enumerate(_chunks(list(functions.values()), MAX_ALARM_METRICS), 1)
    }


class Monitoring(pulumi.ComponentResource):
    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudsync:index:Monitoring", name, None, opts)
        functions = dict(args.function_names)
        self.alarms = {}
        for alarm in alarm_defs.selected(args.thresholds.selection, args.custom_metrics):
            for key, queries in alarm_queries(alarm, args, functions).items():
                self.alarms[key] = self._alarm(name, key, alarm, queries, args)

        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.naming.dashboard_name,
            dashboard_body=pulumi.Output.json_dumps(
                {"widgets": self._widgets(args, functions)}
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_name: pulumi.Output[str] = self.dashboard.dashboard_name
        self.register_outputs({"dashboard_name": self.dashboard_name,
                               "alarms": [a.name for a in self.alarms.values()]})

    def _alarm(self, name: str, key: str, alarm: AlarmDef, queries: list[Query],
               args: MonitoringArgs) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{key.lower()}",
            name=args.naming.name(key),
            alarm_description=f"cloudsync {args.naming.stack}: {alarm.tells}",
            comparison_operator=alarm.comparison,
            threshold=args.thresholds.threshold(alarm),
            evaluation_periods=alarm.evaluation_periods,
            metric_queries=queries,
            treat_missing_data="notBreaching",
            alarm_actions=[args.topic_arn],
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    @staticmethod
    def _widgets(args: MonitoringArgs, functions: Mapping[str, pulumi.Input[str]]) -> list[Any]:
        return _Widgets(args, functions).all()


class _Widgets:
    """The seed's dashboard, one graph per method."""

    def __init__(self, args: MonitoringArgs, functions: Mapping[str, pulumi.Input[str]]) -> None:
        self.args = args
        self.env = args.naming.stack
        self.region = args.naming.region
        self.functions = functions

    def custom(self, stat: str, metric: str, qid: str, **extra: Any) -> list[Any]:
        return [{"expression": insights(stat, metric, self.env), "label": metric, "id": qid,
                 **extra}]

    def widget(self, x: int, y: int, title: str, properties: dict[str, Any],
               kind: str = "metric", width: int = 12) -> dict[str, Any]:
        return {"type": kind, "x": x, "y": y, "width": width, "height": 6,
                "properties": {"title": title, "region": self.region, **properties}}

    def per_function(self, metric: str, stats: Sequence[str | None]) -> list[Any]:
        """One line per function (and statistic) of an AWS/Lambda metric."""
        return [
            ["AWS/Lambda", metric, "FunctionName", fn,
             {"stat": stat, "label": f"{key} {stat}"} if stat else {"label": key}]
            for key, fn in self.functions.items()
            for stat in stats
        ]

    def workflows(self) -> list[Any]:
        machine = self.args.state_machine_arn
        return [["AWS/States", metric, "StateMachineArn", machine]
                for metric in ("ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")]

    def recent_errors(self) -> dict[str, Any]:
        groups = [*self.args.function_log_groups, self.args.workflow_log_group]
        sources = " | ".join(f"SOURCE '{g}'" for g in groups)
        return {
            "view": "table",
            "query": f"{sources} | fields @timestamp, @log, @message"
                     " | filter @message like /(?i)(\"level\":\\s*\"ERROR\"|\\[ERROR\\])/"
                     " | sort @timestamp desc | limit 100",
        }

    def all(self) -> list[Any]:
        volume = [
            self.custom("SUM", metrics.BYTES_TRANSFERRED, "bytes", visible=False),
            [{"expression": "bytes / 1073741824", "label": "GiB transferred", "id": "gib"}],
        ]
        hourly = {"view": "timeSeries", "stat": "Sum", "period": 3600}
        widget = self.widget
        return [
            widget(0, 0, "Sync success: media synced", {
                **hourly, "metrics": [self.custom("SUM", metrics.VIDEOS_SYNCED, "synced")]},
                width=6),
            widget(6, 0, "Sync success: failures", {
                **hourly, "metrics": [self.custom("SUM", metrics.SYNC_FAILURES, "failed")]},
                width=6),
            widget(12, 0, "Transfer volume (GiB)", {**hourly, "metrics": volume}),
            widget(0, 6, "Transfer throughput (Mbit/s)", {
                "view": "timeSeries", "stat": "Average", "period": 300,
                "metrics": [self.custom("AVG", metrics.TRANSFER_THROUGHPUT, "mbps")]}),
            widget(12, 6, "Lambda duration (p50, p99, max)", {
                "view": "timeSeries", "period": 300,
                "metrics": self.per_function("Duration", ("p50", "p99", "Maximum"))}),
            widget(0, 12, "Errors by function", {
                "view": "timeSeries", "stacked": True, "stat": "Sum", "period": 300,
                "metrics": self.per_function("Errors", (None,))}),
            widget(12, 12, "Transfer workflows", {
                "view": "singleValue", "stat": "Sum", "period": 86400,
                "metrics": self.workflows()}),
            widget(0, 18, "Recent errors (all log groups)", self.recent_errors(), kind="log"),
        ]
