"""All stack configuration, read once, validated, typed.

``load()`` is the only place that reads ``pulumi.Config``. Every problem is collected and reported
together as one ``ConfigError`` (a ``pulumi.RunError``: the CLI prints the message without a
traceback) before a single resource is registered, so a bad value fails ``pulumi preview`` rather
than half a ``pulumi up``. ``parse`` does the work on plain strings and is what the tests drive.
"""

from __future__ import annotations

import difflib
import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi

from cloudsync_core.errors import CloudSyncError
from cloudsync_core.keys import archive_prefix
from cloudsync_defs.functions import BY_NAME, FUNCTIONS
from cloudsync_defs.lifecycle import (
    DEFAULT_POLICY,
    LifecycleError,
    LifecyclePolicy,
    policy_from_config,
)
from cloudsync_defs.workflow import FUNCTIONS_IN_WORKFLOW

NAMESPACE: Final = "cloudsync"
EXPRESS_LIMIT_S: Final = 300
LOG_RETENTION_DAYS: Final = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653}
)
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_STACK = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_CRON_FIELD = (
    ("minutes", re.compile(r"^(\*|[0-9,\-/]+)$")),
    ("hours", re.compile(r"^(\*|[0-9,\-/]+)$")),
    ("day-of-month", re.compile(r"^(\*|\?|L|LW|[0-9,\-/W]+)$")),
    ("month", re.compile(r"^(\*|[0-9,\-/]+|[A-Za-z,\-]+)$")),
    ("day-of-week", re.compile(r"^(\*|\?|[1-7A-Za-z,\-/#L]+)$")),
    ("year", re.compile(r"^(\*|[0-9,\-/]+)$")),
)
_CRON_RANGES = {"minutes": (0, 59), "hours": (0, 23), "day-of-month": (1, 31), "year": (1970, 2199)}


class ConfigError(pulumi.RunError):
    """The stack configuration is invalid; the message lists every problem found."""


@dataclass(frozen=True)
class FunctionSettings:
    memory_mb: int
    timeout_s: int


@dataclass(frozen=True)
class AlarmThresholds:
    """The seed's seven alarms (Monitoring and Observability), one for timed-out workflows and
    one for the lister's errors, thresholds configurable."""

    sync_failures: float = 3  # SyncFailures > 3 in 5 min
    auth_failures: float = 1  # AuthenticationFailure > 1 in 5 min
    lambda_errors: float = 5  # Lambda Errors > 5 in 5 min
    lambda_throttles: float = 1  # Lambda Throttles > 1 in 5 min
    workflow_failures: float = 1  # ExecutionsFailed > 1 in 5 min
    dlq_messages: float = 0  # visible messages > 0 for 2 x 5 min
    low_throughput_mbps: float = 20  # TransferThroughput < 20 Mbit/s for 2 x 15 min
    workflow_timeouts: float = 0  # ExecutionsTimedOut > 0 in 5 min (no Catch runs on a timeout)
    lister_errors: float = 0  # the lister's Lambda Errors > 0 in 5 min: a night that did not run
    selection: str = "essential"  # which alarms exist (stack config ``alarms``, ALARM_SETS)


ALARM_KEYS: Final[dict[str, str]] = {
    "syncFailures": "sync_failures",
    "authFailures": "auth_failures",
    "lambdaErrors": "lambda_errors",
    "lambdaThrottles": "lambda_throttles",
    "workflowFailures": "workflow_failures",
    "dlqMessages": "dlq_messages",
    "lowThroughputMbps": "low_throughput_mbps",
    "workflowTimeouts": "workflow_timeouts",
    "listerErrors": "lister_errors",
}

# What the stack alarms on (stack config ``alarms``). ``essential`` watches what a person must
# hear of, on AWS's own metrics: failed and timed-out workflows, the lister's errors (a night
# that did not run) and the failure queue; expired logins and failed media also reach the alert
# email from the functions themselves. ``all`` adds the seed's per-function Lambda errors and
# throttles, which CloudWatch bills per function they read (9 each).
ALARM_SETS: Final = ("essential", "all")


@dataclass(frozen=True)
class StackConfig:
    stack: str
    alert_email: str
    schedule_cron: str
    schedule_timezone: str
    max_concurrent_media: int
    map_concurrency: int
    log_level: str
    log_retention_days: int
    providers: tuple[str, ...]
    lifecycle: Mapping[str, LifecyclePolicy]  # archive prefix -> policy
    secret_rotation: bool
    secret_rotation_days: int
    functions: Mapping[str, FunctionSettings]
    stream_batch_size: int
    stream_max_retries: int
    retry_budget: int
    time_budget_s: int
    lease_s: int
    part_size_mib: int
    parallel_ranges: int
    media_types: tuple[str, ...]
    gopro_api_url: str
    gopro_client_id: str
    alarms: AlarmThresholds
    custom_metrics: bool = False
    include_renders: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(archive_prefix(p) for p in self.providers)

    @property
    def environment(self) -> str:
        return self.stack


@dataclass(frozen=True)
class Key:
    default: Any
    doc: str


KEYS: Final[dict[str, Key]] = {
    "alertEmail": Key(None, "email address the alerts topic sends to (required)"),
    "scheduleCron": Key("cron(0 2 * * ? *)", "EventBridge Scheduler cron for the nightly run"),
    "scheduleTimezone": Key("Europe/Berlin", "IANA time zone of the cron"),
    "maxConcurrentMedia": Key(5, "media transferring at once (the seed's max_concurrency)"),
    "mapConcurrency": Key(4, "part ranges of one medium transferred in parallel"),
    "logLevel": Key("INFO", "functions' log level: DEBUG, INFO, WARNING, ERROR"),
    "logRetentionDays": Key(30, "CloudWatch Logs retention of every log group"),
    "providers": Key(["gopro"], "source providers; each archives under '<provider>-videos/'"),
    "lifecyclePolicy": Key(DEFAULT_POLICY, "'default', 'deep-archive-now' or a custom policy"),
    "lifecycleByProvider": Key({}, "per-provider lifecycle policies, overriding lifecyclePolicy"),
    "secretRotation": Key(True, "rotate the credentials secret with the rotate function"),
    "secretRotationDays": Key(30, "days between rotations"),
    "functions": Key({}, "per-function overrides: {name: {memoryMb, timeoutSeconds}}"),
    "streamBatchSize": Key(10, "stream records per starter invocation"),
    "streamMaxRetries": Key(3, "retries of a failing stream batch before it goes to the queue"),
    "retryBudget": Key(3, "claims of one medium before a FAILED row stays failed"),
    "timeBudgetSeconds": Key(240, "how long one workflow execution transfers before continuing"),
    "leaseSeconds": Key(360, "how long a claim holds a medium"),
    "partSizeMib": Key(0, "multipart part size in MiB (0: chosen from the file size)"),
    "parallelRanges": Key(8, "ranged GETs in flight inside one transfer invocation"),
    "mediaTypes": Key([], "media types to archive (empty: all)"),
    "includeRenders": Key(False, "also archive GoPro's share renders (composition 'export'); "
                                 "by default they end SKIPPED: copies GoPro made, its app hides"),
    "goproApiUrl": Key("https://api.gopro.com", "GoPro API base URL"),
    "goproClientId": Key("", "the GoPro web app's OAuth client id (public)"),
    "alarmThresholds": Key({}, "overrides of the alarm thresholds"),
    "alarms": Key("essential", "'essential' (failed or timed-out workflows, lister errors, "
                               "failure queue) or 'all' (also per-function errors, throttles)"),
    "customMetrics": Key(False, "emit the seed's nine custom metrics and alarm on them (about "
                                "$4 a month); failures still reach you by email without them"),
    "tags": Key({}, "extra tags on every taggable resource"),
}


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{NAMESPACE}:{key}: {message}")


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _int(raw: Any, key: str, problems: _Problems, low: int, high: int) -> int:
    value = _json_or_text(raw) if isinstance(raw, str) else raw
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(key, f"must be a whole number, not {raw!r}")
        return low
    if not low <= value <= high:
        problems.add(key, f"must be between {low} and {high}, not {value}")
    return value


def _bool(raw: Any, key: str, problems: _Problems) -> bool:
    value = _json_or_text(raw) if isinstance(raw, str) else raw
    if not isinstance(value, bool):
        problems.add(key, f"must be true or false, not {raw!r}")
        return False
    return value


def _obj(raw: Any, key: str, problems: _Problems, kind: type) -> Any:
    value = _json_or_text(raw) if isinstance(raw, str) else raw
    if not isinstance(value, kind):
        problems.add(key, f"must be a {'list' if kind is list else 'map'}, not {raw!r}")
        return kind()
    return value


def validate_cron(expression: str) -> str | None:
    """Why EventBridge Scheduler would refuse this schedule expression, or None."""
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if rate:
        n, unit = int(rate.group(1)), rate.group(2)
        if n < 1 or (n == 1) != (not unit.endswith("s")):
            return f"{expression!r}: use 'rate(1 day)' or 'rate(N days)' with N > 1"
        return None
    match = re.fullmatch(r"cron\((.*)\)", expression)
    if not match:
        return f"{expression!r} is not 'cron(minutes hours day-of-month month day-of-week year)'"
    fields = match.group(1).split()
    if len(fields) != 6:
        return (
            f"{expression!r} has {len(fields)} fields; EventBridge Scheduler needs 6: "
            f"minutes hours day-of-month month day-of-week year, e.g. 'cron(0 2 * * ? *)'"
        )
    for (name, pattern), value in zip(_CRON_FIELD, fields, strict=True):
        if not pattern.match(value):
            return f"{expression!r}: {name} field {value!r} is not valid"
        if name in _CRON_RANGES:
            low, high = _CRON_RANGES[name]
            for number in re.findall(r"\d+", value):
                # after '/' comes an increment, which may be anything positive
                if not low <= int(number) <= high and f"/{number}" not in value:
                    return f"{expression!r}: {name} value {number} is outside {low}-{high}"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return (
            f"{expression!r}: exactly one of day-of-month and day-of-week must be '?', "
            f"e.g. 'cron(0 2 * * ? *)'"
        )
    return None


def parse(stack: str, raw: Mapping[str, Any]) -> StackConfig:
    """A validated StackConfig from raw values (keys without the ``cloudsync:`` prefix)."""
    problems = _Problems()
    if not _STACK.match(stack):
        problems.items.append(
            f"stack name {stack!r}: use lower-case letters, digits and '-', at most 20 characters "
            "(it goes into resource names)"
        )
    for unknown in sorted(set(raw) - set(KEYS)):
        close = difflib.get_close_matches(unknown, list(KEYS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.add(unknown, f"unknown setting{hint}")

    def get(key: str) -> Any:
        value = raw.get(key)
        return KEYS[key].default if value is None else value

    alert_email = get("alertEmail")
    if not isinstance(alert_email, str) or not _EMAIL.match(alert_email):
        problems.add("alertEmail", f"must be an email address, not {alert_email!r} "
                                   f"(pulumi config set alertEmail you@example.com)")
        alert_email = ""

    schedule = str(get("scheduleCron")).strip()
    reason = validate_cron(schedule)
    if reason:
        problems.add("scheduleCron", reason)
    timezone = str(get("scheduleTimezone"))
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.add("scheduleTimezone", f"{timezone!r} is not an IANA time zone (Europe/Berlin)")

    max_media = _int(get("maxConcurrentMedia"), "maxConcurrentMedia", problems, 1, 100)
    map_concurrency = _int(get("mapConcurrency"), "mapConcurrency", problems, 1, 40)
    log_level = str(get("logLevel")).upper()
    if log_level not in LOG_LEVELS:
        problems.add("logLevel", f"must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    retention = _int(get("logRetentionDays"), "logRetentionDays", problems, 1, 3653)
    if retention not in LOG_RETENTION_DAYS:
        problems.add("logRetentionDays", f"CloudWatch Logs accepts {sorted(LOG_RETENTION_DAYS)}")

    providers_raw = _obj(get("providers"), "providers", problems, list)
    providers: list[str] = []
    for provider in providers_raw:
        try:
            archive_prefix(str(provider))
            providers.append(str(provider))
        except CloudSyncError as e:
            problems.add("providers", str(e))
    if not providers_raw:
        problems.add("providers", "name at least one provider, e.g. [\"gopro\"]")
    if len(set(providers)) != len(providers):
        problems.add("providers", "a provider is listed twice")

    lifecycle: dict[str, LifecyclePolicy] = {}
    by_provider = _obj(get("lifecycleByProvider"), "lifecycleByProvider", problems, dict)
    for unknown in sorted(set(by_provider) - set(providers)):
        problems.add("lifecycleByProvider", f"{unknown!r} is not one of the providers {providers}")
    default_policy_raw = _json_or_text(get("lifecyclePolicy")) if isinstance(
        get("lifecyclePolicy"), str) else get("lifecyclePolicy")
    for provider in providers:
        chosen = by_provider.get(provider, default_policy_raw)
        key = "lifecycleByProvider" if provider in by_provider else "lifecyclePolicy"
        try:
            lifecycle[archive_prefix(provider)] = policy_from_config(chosen, f"{provider}")
        except LifecycleError as e:
            problems.add(key, str(e))

    rotation = _bool(get("secretRotation"), "secretRotation", problems)
    rotation_days = _int(get("secretRotationDays"), "secretRotationDays", problems, 1, 365)

    overrides = _obj(get("functions"), "functions", problems, dict)
    functions: dict[str, FunctionSettings] = {}
    for unknown in sorted(set(overrides) - set(BY_NAME)):
        problems.add("functions", f"no function {unknown!r}; the functions are {sorted(BY_NAME)}")
    for spec in FUNCTIONS:
        override = overrides.get(spec.name, {})
        if not isinstance(override, dict) or set(override) - {"memoryMb", "timeoutSeconds"}:
            problems.add("functions", f"{spec.name}: only memoryMb and timeoutSeconds")
            override = {}
        memory = _int(override.get("memoryMb", spec.memory_mb), f"functions.{spec.name}.memoryMb",
                      problems, 128, 10240)
        limit = EXPRESS_LIMIT_S if spec.name in FUNCTIONS_IN_WORKFLOW else 900
        timeout = _int(override.get("timeoutSeconds", spec.timeout_s),
                       f"functions.{spec.name}.timeoutSeconds", problems, 1, limit)
        functions[spec.name] = FunctionSettings(memory, timeout)

    batch = _int(get("streamBatchSize"), "streamBatchSize", problems, 1, 1000)
    stream_retries = _int(get("streamMaxRetries"), "streamMaxRetries", problems, 0, 10000)
    retry_budget = _int(get("retryBudget"), "retryBudget", problems, 1, 100)
    time_budget = _int(get("timeBudgetSeconds"), "timeBudgetSeconds", problems, 30,
                       EXPRESS_LIMIT_S - 1)
    transfer_timeout = functions.get("transfer", FunctionSettings(0, EXPRESS_LIMIT_S)).timeout_s
    if time_budget >= transfer_timeout:
        problems.add("timeBudgetSeconds", f"{time_budget} s must stay below the transfer "
                                          f"function's timeout ({transfer_timeout} s)")
    lease = _int(get("leaseSeconds"), "leaseSeconds", problems, 1, 86400)
    if lease <= EXPRESS_LIMIT_S:
        problems.add("leaseSeconds", f"{lease} s must outlast one Express execution "
                                     f"({EXPRESS_LIMIT_S} s)")
    part_size = _int(get("partSizeMib"), "partSizeMib", problems, 0, 5120)
    if 0 < part_size < 5:
        problems.add("partSizeMib", "S3 parts are at least 5 MiB (or 0 for automatic)")
    parallel = _int(get("parallelRanges"), "parallelRanges", problems, 1, 64)
    media_types = _obj(get("mediaTypes"), "mediaTypes", problems, list)
    api_url = str(get("goproApiUrl"))
    if not api_url.startswith("https://"):
        problems.add("goproApiUrl", f"must be an https:// URL, not {api_url!r}")
    client_id = str(get("goproClientId"))

    thresholds_raw = _obj(get("alarmThresholds"), "alarmThresholds", problems, dict)
    thresholds: dict[str, float] = {}
    for name, value in thresholds_raw.items():
        if name not in ALARM_KEYS:
            problems.add("alarmThresholds", f"unknown alarm {name!r}; one of {sorted(ALARM_KEYS)}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.add("alarmThresholds", f"{name} must be a number >= 0, not {value!r}")
        else:
            thresholds[ALARM_KEYS[name]] = float(value)

    custom_metrics = _bool(get("customMetrics"), "customMetrics", problems)
    include_renders = _bool(get("includeRenders"), "includeRenders", problems)
    alarm_set = str(get("alarms"))
    if alarm_set not in ALARM_SETS:
        problems.add("alarms", f"must be one of {', '.join(ALARM_SETS)}, not {alarm_set!r}")

    tags = _obj(get("tags"), "tags", problems, dict)
    for tag_key, tag_value in tags.items():
        if not isinstance(tag_value, str) or str(tag_key).lower().startswith("aws:"):
            problems.add("tags", f"{tag_key!r}: tag values are strings, keys not 'aws:...'")

    if problems.items:
        raise ConfigError(
            f"invalid configuration for stack {stack!r}:\n  - " + "\n  - ".join(problems.items)
        )
    return StackConfig(
        stack=stack,
        alert_email=alert_email,
        schedule_cron=schedule,
        schedule_timezone=timezone,
        max_concurrent_media=max_media,
        map_concurrency=map_concurrency,
        log_level=log_level,
        log_retention_days=retention,
        providers=tuple(providers),
        lifecycle=lifecycle,
        secret_rotation=rotation,
        secret_rotation_days=rotation_days,
        functions=functions,
        stream_batch_size=batch,
        stream_max_retries=stream_retries,
        retry_budget=retry_budget,
        time_budget_s=time_budget,
        lease_s=lease,
        part_size_mib=part_size,
        parallel_ranges=parallel,
        media_types=tuple(str(t) for t in media_types),
        gopro_api_url=api_url.rstrip("/"),
        gopro_client_id=client_id,
        alarms=AlarmThresholds(**thresholds, selection=alarm_set),
        custom_metrics=custom_metrics,
        include_renders=include_renders,
        tags={str(k): str(v) for k, v in tags.items()},
    )


def _all_keys() -> set[str]:
    from pulumi.runtime import config as runtime_config

    names = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    return {n.split(":", 1)[1] for n in names if n.startswith(f"{NAMESPACE}:")}


def load(get_stack: Callable[[], str] = pulumi.get_stack) -> StackConfig:
    """Reads every ``cloudsync:*`` key of the current stack once."""
    config = pulumi.Config(NAMESPACE)
    raw = {key: config.get(key) for key in sorted(_all_keys() | set(KEYS))}
    return parse(get_stack(), {k: v for k, v in raw.items() if v is not None})
