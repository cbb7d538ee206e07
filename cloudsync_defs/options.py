"""The stack's optional operations features (all off by default): a VPC, an audit trail, a game day.

Plain data, read by three places: ``components.config`` parses the stack config ``vpc``,
``audit`` and ``fis`` maps with ``parse_vpc``/``parse_audit``/``parse_fis`` (each returns the
settings and the problems found, one line each, so a bad value fails ``pulumi preview``),
the components build from the settings, and ``cloudsync cost`` prices what each option adds from
the counts here (NAT gateways, interface endpoints per AZ, Config rules).

Why each is off by default: a NAT gateway bills every GB the functions download from GoPro; the
audit trail bills every S3 data event and Config evaluation; a game day injects faults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

VPC_MODES: Final = ("off", "create", "existing")
CONFIG_RECORDER_MODES: Final = ("create", "existing")
AZ_COUNT: Final = 2  # private subnets (and, with interface endpoints, their ENIs) in two AZs
NAT_GATEWAYS: Final = 1  # one NAT gateway for both subnets (one per AZ doubles its hourly cost)
HTTPS: Final = 443
# Interface endpoints the functions call besides S3 and DynamoDB (gateway endpoints, free):
# the credentials secret, StartExecution, alert publishes, STS (SDK credential refresh), logs.
INTERFACE_ENDPOINT_SERVICES: Final = ("secretsmanager", "states", "sns", "sts", "logs")
GATEWAY_ENDPOINT_SERVICES: Final = ("s3", "dynamodb")
# The EC2 actions Lambda needs on a function's role to attach it to a VPC (the actions of
# AWSLambdaVPCAccessExecutionRole); AWS documents them on Resource "*".
LAMBDA_VPC_ACTIONS: Final = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
# AWS Config managed rules for the archive (rule name -> managed rule identifier).
CONFIG_RULES: Final[dict[str, str]] = {
    "s3-bucket-versioning-enabled": "S3_BUCKET_VERSIONING_ENABLED",
    "s3-default-encryption-kms": "S3_DEFAULT_ENCRYPTION_KMS",
    "s3-bucket-level-public-access-prohibited": "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
    "s3-bucket-ssl-requests-only": "S3_BUCKET_SSL_REQUESTS_ONLY",
    "dynamodb-pitr-enabled": "DYNAMODB_PITR_ENABLED",
    "lambda-function-public-access-prohibited": "LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED",
}
# What the recorder records: only what the rules judge (each recorded change is billed).
RECORDED_TYPES: Final = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Lambda::Function")
FIS_TARGET_FUNCTION: Final = "transfer"
FIS_CONFIG_PREFIX: Final = "FisConfigs/"
FIS_ACTIONS: Final = ("aws:lambda:invocation-error", "aws:lambda:invocation-add-delay")
FIS_MAX_STOP_CONDITIONS: Final = 5  # the essential alarms, first five in catalog order
# The FIS Lambda extension: its layer ARN per region and architecture is an AWS public parameter.
FIS_EXTENSION_PARAMETER: Final = "/aws/service/fis/lambda-extension/AWS-FIS-extension-{arch}/1.x.x"
FIS_EXEC_WRAPPER: Final = "/opt/aws-fis/bootstrap"
_CIDR = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")


@dataclass(frozen=True)
class VpcOptions:
    """Stack config ``vpc``: ``mode`` off (default), create (a VPC of the stack's own) or
    existing (``vpcId`` and at least two ``subnetIds`` in different AZs, with a route out)."""

    mode: str = "off"
    cidr: str = "10.80.0.0/16"
    interface_endpoints: bool = False
    vpc_id: str = ""
    subnet_ids: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.mode != "off"


@dataclass(frozen=True)
class AuditOptions:
    """Stack config ``audit``: a CloudTrail trail and AWS Config rules over the archive."""

    enabled: bool = False
    config_recorder: str = "create"  # 'existing': the region already has one (one per region)
    log_retention_days: int = 2557  # seven years, the seed's retention
    glacier_after_days: int = 90


@dataclass(frozen=True)
class FisOptions:
    """Stack config ``fis``: an AWS FIS experiment template against the transfer function."""

    enabled: bool = False
    duration_minutes: int = 10
    error_percentage: int = 20
    delay_percentage: int = 50
    delay_milliseconds: int = 5000


@dataclass
class Parsed:
    value: Any
    problems: list[str] = field(default_factory=list)


def _pick(raw: Mapping[str, Any], known: Mapping[str, Any], problems: list[str]) -> dict[str,
                                                                                       Any]:
    for unknown in sorted(set(raw) - set(known)):
        problems.append(f"{unknown!r} is not one of {sorted(known)}")
    return {k: raw.get(k, default) for k, default in known.items()}


def _whole(value: Any, name: str, low: int, high: int, problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{name} must be a whole number from {low} to {high}, not {value!r}")
        return low
    return value


def _flag(value: Any, name: str, problems: list[str]) -> bool:
    if not isinstance(value, bool):
        problems.append(f"{name} must be true or false, not {value!r}")
        return False
    return value


def cidr_problem(cidr: Any) -> str | None:
    """Why this is no VPC CIDR (/16 to /24, room for four /26-or-larger subnets), or None."""
    match = _CIDR.match(str(cidr))
    if not match or any(int(octet) > 255 for octet in match.groups()[:4]):
        return f"cidr {cidr!r} is not an IPv4 CIDR like 10.80.0.0/16"
    if not 16 <= int(match.group(5)) <= 24:
        return f"cidr {cidr!r}: a VPC is /16 to /24 here"
    return None


def parse_vpc(raw: Mapping[str, Any]) -> Parsed:
    problems: list[str] = []
    known = {"mode": "off", "cidr": VpcOptions.cidr, "interfaceEndpoints": False, "vpcId": "",
             "subnetIds": []}
    got = _pick(raw, known, problems)
    mode = got["mode"]
    if mode not in VPC_MODES:
        problems.append(f"mode must be one of {', '.join(VPC_MODES)}, not {mode!r}")
        mode = "off"
    if mode == "create" and (reason := cidr_problem(got["cidr"])):
        problems.append(reason)
    subnets = got["subnetIds"] if isinstance(got["subnetIds"], list) else []
    if mode == "existing":
        if not _VPC_ID.match(str(got["vpcId"])):
            problems.append(f"mode existing needs vpcId (vpc-...), not {got['vpcId']!r}")
        if len(subnets) < AZ_COUNT or not all(_SUBNET_ID.match(str(s)) for s in subnets):
            problems.append(f"mode existing needs subnetIds: at least {AZ_COUNT} subnet-... ids "
                            f"in different AZs, not {got['subnetIds']!r}")
    elif got["vpcId"] or subnets:
        problems.append("vpcId and subnetIds go with mode existing")
    endpoints = _flag(got["interfaceEndpoints"], "interfaceEndpoints", problems)
    if endpoints and mode != "create":
        problems.append("interfaceEndpoints needs mode create (an existing VPC has its own)")
    return Parsed(VpcOptions(mode, str(got["cidr"]), endpoints, str(got["vpcId"]),
                             tuple(str(s) for s in subnets)), problems)


def parse_audit(raw: Mapping[str, Any]) -> Parsed:
    problems: list[str] = []
    d = AuditOptions()
    got = _pick(raw, {"enabled": False, "configRecorder": d.config_recorder,
                      "logRetentionDays": d.log_retention_days,
                      "glacierAfterDays": d.glacier_after_days}, problems)
    recorder = got["configRecorder"]
    if recorder not in CONFIG_RECORDER_MODES:
        problems.append(f"configRecorder must be one of {', '.join(CONFIG_RECORDER_MODES)}, "
                        f"not {recorder!r}")
        recorder = "create"
    glacier = _whole(got["glacierAfterDays"], "glacierAfterDays", 1, 3650, problems)
    retention = _whole(got["logRetentionDays"], "logRetentionDays", 1, 3650, problems)
    if retention < glacier + 90:  # Glacier Flexible's 90-day minimum before the expiry
        problems.append(f"logRetentionDays ({retention}) must be at least glacierAfterDays "
                        f"+ 90 ({glacier + 90}): Glacier bills 90 days anyway")
    return Parsed(AuditOptions(_flag(got["enabled"], "enabled", problems), recorder,
                               retention, glacier), problems)


def parse_fis(raw: Mapping[str, Any]) -> Parsed:
    problems: list[str] = []
    d = FisOptions()
    got = _pick(raw, {"enabled": False, "durationMinutes": d.duration_minutes,
                      "errorPercentage": d.error_percentage,
                      "delayPercentage": d.delay_percentage,
                      "delayMilliseconds": d.delay_milliseconds}, problems)
    return Parsed(FisOptions(
        _flag(got["enabled"], "enabled", problems),
        _whole(got["durationMinutes"], "durationMinutes", 1, 720, problems),
        _whole(got["errorPercentage"], "errorPercentage", 1, 100, problems),
        _whole(got["delayPercentage"], "delayPercentage", 1, 100, problems),
        _whole(got["delayMilliseconds"], "delayMilliseconds", 1, 900_000, problems),
    ), problems)
