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
from cloudsync_core.sync.selection import Selection, selection_problems
from cloudsync_defs import alarms as alarm_defs
from cloudsync_defs import options
from cloudsync_defs.alarms import ALARM_SETS
from cloudsync_defs.functions import BY_NAME, FUNCTIONS, FunctionSpec
from cloudsync_defs.lifecycle import (
    DEFAULT_POLICY,
    LifecycleError,
    LifecyclePolicy,
    policy_from_config,
)
from cloudsync_defs.stack import MAX_PART_SIZE, MIB, MIN_PART_SIZE, snake
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
    """One function's deployed size: the catalog's defaults or the stack's override."""

    memory_mb: int
    timeout_s: int


@dataclass(frozen=True)
class AlarmThresholds:
    """The stack's alarms: which set (stack config ``alarms``) and the thresholds overridden in
    ``alarmThresholds`` (by config key); every other alarm keeps its catalog default
    (``cloudsync_defs.alarms``). ``t.sync_failures`` reads ``syncFailures``'s threshold."""

    overrides: Mapping[str, float] = field(default_factory=dict)
    selection: str = "essential"  # which alarms exist (stack config ``alarms``, ALARM_SETS)

    def threshold(self, alarm: alarm_defs.AlarmDef) -> float:
        return self.overrides.get(alarm.config_key, alarm.threshold)

    def __getattr__(self, name: str) -> float:
        for alarm in alarm_defs.catalog():
            if snake(alarm.config_key) == name:
                return self.threshold(alarm)
        raise AttributeError(name)


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
    media_selection: Selection = field(default_factory=Selection)  # config ``selection``
    full_listing_days: int = 7
    tags: Mapping[str, str] = field(default_factory=dict)
    vpc: options.VpcOptions = field(default_factory=options.VpcOptions)
    audit: options.AuditOptions = field(default_factory=options.AuditOptions)
    fis: options.FisOptions = field(default_factory=options.FisOptions)

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
    "selection": Key({}, "which media to archive and in what order: capturedSince, "
                         "capturedUntil, mediaTypes, minSize, maxSize, cameras, includeRenders, "
                         "order (docs/DEPLOY.md, 'Selective sync')"),
    "fullListingDays": Key(7, "days between full listings (nights between list incrementally; "
                              "0: every night lists the whole library)"),
    "goproApiUrl": Key("https://api.gopro.com", "GoPro API base URL"),
    "goproClientId": Key("", "the GoPro web app's OAuth client id (public)"),
    "alarmThresholds": Key({}, "overrides of the alarm thresholds"),
    "alarms": Key("essential", "'essential' (failed or timed-out workflows, lister errors, "
                               "failure queue) or 'all' (also per-function errors, throttles)"),
    "customMetrics": Key(False, "emit the seed's nine custom metrics and alarm on them (about "
                                "$4 a month); failures still reach you by email without them"),
    "tags": Key({}, "extra tags on every taggable resource"),
    "vpc": Key({}, "functions in a VPC: mode off, create or existing, interfaceEndpoints "
                   "(docs/DEPLOY.md, 'Optional: a VPC')"),
    "audit": Key({}, "CloudTrail and AWS Config over the archive: enabled, configRecorder "
                     "(docs/DEPLOY.md, 'Optional: an audit trail')"),
    "fis": Key({}, "an AWS FIS game-day template on the transfer function: enabled, ... "
                   "(docs/DEPLOY.md, 'Optional: game days with AWS FIS')"),
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


class _Reader:
    """The raw values of one stack, with their defaults, and the problems found in them."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.problems = _Problems()

    def get(self, key: str) -> Any:
        value = self.raw.get(key)
        return KEYS[key].default if value is None else value

    def int(self, key: str, low: int, high: int) -> int:
        return _int(self.get(key), key, self.problems, low, high)

    def bool(self, key: str) -> bool:
        return _bool(self.get(key), key, self.problems)

    def obj(self, key: str, kind: type) -> Any:
        return _obj(self.get(key), key, self.problems, kind)

    def add(self, key: str, message: str) -> None:
        self.problems.add(key, message)


# A section reads some keys and returns StackConfig fields; it sees the fields of the sections
# before it (``lifecycle`` needs ``providers``). Adding a setting: a KEYS entry, a StackConfig
# field, and a section here (or a line in one).
Fields = dict[str, Any]
Section = Callable[[_Reader, Fields], Fields]


def _alerts_section(r: _Reader, got: Fields) -> Fields:
    alert_email = r.get("alertEmail")
    if not isinstance(alert_email, str) or not _EMAIL.match(alert_email):
        r.add("alertEmail", f"must be an email address, not {alert_email!r} "
                            f"(pulumi config set alertEmail you@example.com)")
        alert_email = ""
    return {"alert_email": alert_email}


def _schedule_section(r: _Reader, got: Fields) -> Fields:
    schedule = str(r.get("scheduleCron")).strip()
    reason = validate_cron(schedule)
    if reason:
        r.add("scheduleCron", reason)
    timezone = str(r.get("scheduleTimezone"))
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        r.add("scheduleTimezone", f"{timezone!r} is not an IANA time zone (Europe/Berlin)")
    return {"schedule_cron": schedule, "schedule_timezone": timezone}


def _run_section(r: _Reader, got: Fields) -> Fields:
    out: Fields = {
        "max_concurrent_media": r.int("maxConcurrentMedia", 1, 100),
        "map_concurrency": r.int("mapConcurrency", 1, 40),
    }
    log_level = str(r.get("logLevel")).upper()
    if log_level not in LOG_LEVELS:
        r.add("logLevel", f"must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    retention = r.int("logRetentionDays", 1, 3653)
    if retention not in LOG_RETENTION_DAYS:
        r.add("logRetentionDays", f"CloudWatch Logs accepts {sorted(LOG_RETENTION_DAYS)}")
    return {**out, "log_level": log_level, "log_retention_days": retention}


def _providers_section(r: _Reader, got: Fields) -> Fields:
    providers_raw = r.obj("providers", list)
    providers: list[str] = []
    for provider in providers_raw:
        try:
            archive_prefix(str(provider))
            providers.append(str(provider))
        except CloudSyncError as e:
            r.add("providers", str(e))
    if not providers_raw:
        r.add("providers", "name at least one provider, e.g. [\"gopro\"]")
    if len(set(providers)) != len(providers):
        r.add("providers", "a provider is listed twice")
    return {"providers": tuple(providers)}


def _lifecycle_section(r: _Reader, got: Fields) -> Fields:
    providers: tuple[str, ...] = got["providers"]
    lifecycle: dict[str, LifecyclePolicy] = {}
    by_provider = r.obj("lifecycleByProvider", dict)
    for unknown in sorted(set(by_provider) - set(providers)):
        r.add("lifecycleByProvider", f"{unknown!r} is not one of the providers {list(providers)}")
    default_raw = r.get("lifecyclePolicy")
    default_policy = _json_or_text(default_raw) if isinstance(default_raw, str) else default_raw
    for provider in providers:
        chosen = by_provider.get(provider, default_policy)
        key = "lifecycleByProvider" if provider in by_provider else "lifecyclePolicy"
        try:
            lifecycle[archive_prefix(provider)] = policy_from_config(chosen, f"{provider}")
        except LifecycleError as e:
            r.add(key, str(e))
    return {"lifecycle": lifecycle}


def _secret_section(r: _Reader, got: Fields) -> Fields:
    return {"secret_rotation": r.bool("secretRotation"),
            "secret_rotation_days": r.int("secretRotationDays", 1, 365)}


def _function_settings(r: _Reader, spec: FunctionSpec, override: Any) -> FunctionSettings:
    if not isinstance(override, dict) or set(override) - {"memoryMb", "timeoutSeconds"}:
        r.add("functions", f"{spec.name}: only memoryMb and timeoutSeconds")
        override = {}
    memory = _int(override.get("memoryMb", spec.memory_mb), f"functions.{spec.name}.memoryMb",
                  r.problems, 128, 10240)
    limit = EXPRESS_LIMIT_S if spec.name in FUNCTIONS_IN_WORKFLOW else 900
    timeout = _int(override.get("timeoutSeconds", spec.timeout_s),
                   f"functions.{spec.name}.timeoutSeconds", r.problems, 1, limit)
    return FunctionSettings(memory, timeout)


def _functions_section(r: _Reader, got: Fields) -> Fields:
    overrides = r.obj("functions", dict)
    for unknown in sorted(set(overrides) - set(BY_NAME)):
        r.add("functions", f"no function {unknown!r}; the functions are {sorted(BY_NAME)}")
    return {"functions": {spec.name: _function_settings(r, spec, overrides.get(spec.name, {}))
                          for spec in FUNCTIONS}}


def _workflow_section(r: _Reader, got: Fields) -> Fields:
    out: Fields = {
        "stream_batch_size": r.int("streamBatchSize", 1, 1000),
        "stream_max_retries": r.int("streamMaxRetries", 0, 10000),
        "retry_budget": r.int("retryBudget", 1, 100),
        "time_budget_s": r.int("timeBudgetSeconds", 30, EXPRESS_LIMIT_S - 1),
    }
    time_budget: int = out["time_budget_s"]
    functions: Mapping[str, FunctionSettings] = got["functions"]
    transfer_timeout = functions.get("transfer", FunctionSettings(0, EXPRESS_LIMIT_S)).timeout_s
    if time_budget >= transfer_timeout:
        r.add("timeBudgetSeconds", f"{time_budget} s must stay below the transfer "
                                   f"function's timeout ({transfer_timeout} s)")
    lease = r.int("leaseSeconds", 1, 86400)
    if lease <= EXPRESS_LIMIT_S:
        r.add("leaseSeconds", f"{lease} s must outlast one Express execution "
                              f"({EXPRESS_LIMIT_S} s)")
    return {**out, "lease_s": lease}


def _transfer_section(r: _Reader, got: Fields) -> Fields:
    part_size = r.int("partSizeMib", 0, MAX_PART_SIZE // MIB)
    if 0 < part_size < MIN_PART_SIZE // MIB:
        r.add("partSizeMib", f"S3 parts are at least {MIN_PART_SIZE // MIB} MiB "
                             "(or 0 for automatic)")
    return {"part_size_mib": part_size, "parallel_ranges": r.int("parallelRanges", 1, 64)}


def _source_section(r: _Reader, got: Fields) -> Fields:
    media_types = r.obj("mediaTypes", list)
    api_url = str(r.get("goproApiUrl"))
    if not api_url.startswith("https://"):
        r.add("goproApiUrl", f"must be an https:// URL, not {api_url!r}")
    return {"media_types": tuple(str(t) for t in media_types),
            "gopro_api_url": api_url.rstrip("/"),
            "gopro_client_id": str(r.get("goproClientId"))}


def _monitoring_section(r: _Reader, got: Fields) -> Fields:
    known = alarm_defs.by_config_key()
    thresholds: dict[str, float] = {}
    for name, value in r.obj("alarmThresholds", dict).items():
        if name not in known:
            r.add("alarmThresholds", f"unknown alarm {name!r}; one of {sorted(known)}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            r.add("alarmThresholds", f"{name} must be a number >= 0, not {value!r}")
        else:
            thresholds[name] = float(value)
    custom_metrics = r.bool("customMetrics")
    include_renders = r.bool("includeRenders")
    alarm_set = str(r.get("alarms"))
    if alarm_set not in ALARM_SETS:
        r.add("alarms", f"must be one of {', '.join(ALARM_SETS)}, not {alarm_set!r}")
    return {"alarms": AlarmThresholds(thresholds, selection=alarm_set),
            "custom_metrics": custom_metrics, "include_renders": include_renders}


def _tags_section(r: _Reader, got: Fields) -> Fields:
    tags = r.obj("tags", dict)
    for tag_key, tag_value in tags.items():
        if not isinstance(tag_value, str) or str(tag_key).lower().startswith("aws:"):
            r.add("tags", f"{tag_key!r}: tag values are strings, keys not 'aws:...'")
    return {"tags": {str(k): str(v) for k, v in tags.items()}}


def _selection_section(r: _Reader, got: Fields) -> Fields:
    """``selection`` (parsed by cloudsync_core.sync.selection); the older keys ``mediaTypes``
    and ``includeRenders`` fold into it, so the lister reads one selection."""
    raw = dict(r.obj("selection", dict))
    for key in ("mediaTypes", "includeRenders"):
        if key in raw and key in r.raw:
            r.add("selection", f"{key} is set here and as its own key: keep one")
    older = {"mediaTypes": list(got["media_types"])} if got["media_types"] else {}
    chosen = selection_problems({**older, "includeRenders": got["include_renders"], **raw})
    for problem in chosen.problems:
        r.add("selection", problem)
    return {"media_selection": chosen.checked(), "media_types": chosen.media_types,
            "include_renders": chosen.include_renders,
            "full_listing_days": r.int("fullListingDays", 0, 365)}


def _options_section(r: _Reader, got: Fields) -> Fields:
    """The optional features (cloudsync_defs.options), each a map, all off by default."""
    out: Fields = {}
    for key, parse in (("vpc", options.parse_vpc), ("audit", options.parse_audit),
                       ("fis", options.parse_fis)):
        parsed = parse(r.obj(key, dict))
        for problem in parsed.problems:
            r.add(key, problem)
        out[key] = parsed.value
    return out


SECTIONS: Final[tuple[Section, ...]] = (
    _alerts_section, _schedule_section, _run_section, _providers_section, _lifecycle_section,
    _secret_section, _functions_section, _workflow_section, _transfer_section, _source_section,
    _monitoring_section, _selection_section, _tags_section, _options_section,
)


def _names_problems(stack: str, raw: Mapping[str, Any], problems: _Problems) -> None:
    if not _STACK.match(stack):
        problems.items.append(
            f"stack name {stack!r}: use lower-case letters, digits and '-', at most 20 characters "
            "(it goes into resource names)"
        )
    for unknown in sorted(set(raw) - set(KEYS)):
        close = difflib.get_close_matches(unknown, list(KEYS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.add(unknown, f"unknown setting{hint}")


def parse(stack: str, raw: Mapping[str, Any]) -> StackConfig:
    """A validated StackConfig from raw values (keys without the ``cloudsync:`` prefix)."""
    reader = _Reader(raw)
    _names_problems(stack, raw, reader.problems)
    fields: Fields = {}
    for section in SECTIONS:
        fields.update(section(reader, fields))
    if reader.problems.items:
        raise ConfigError(
            f"invalid configuration for stack {stack!r}:\n  - "
            + "\n  - ".join(reader.problems.items)
        )
    return StackConfig(stack=stack, **fields)


def _all_keys() -> set[str]:
    from pulumi.runtime import config as runtime_config

    names = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    return {n.split(":", 1)[1] for n in names if n.startswith(f"{NAMESPACE}:")}


def load(get_stack: Callable[[], str] = pulumi.get_stack) -> StackConfig:
    """Reads every ``cloudsync:*`` key of the current stack once."""
    config = pulumi.Config(NAMESPACE)
    raw = {key: config.get(key) for key in sorted(_all_keys() | set(KEYS))}
    return parse(get_stack(), {k: v for k, v in raw.items() if v is not None})
