"""cloudsync's CrossGuard policy pack: ``pulumi preview --policy-pack policy``.

The rules live in cloudsync_defs/policy_rules.py as plain functions (the infra tests run them over
the Pulumi-mocks graph); this file only wraps them: a rule over one resource becomes a resource
validation policy (run on each resource's inputs as it is registered, on a first preview too), a
rule across resources a stack validation policy.

The SDK hands a policy its properties behind proxies that raise ``UnknownValueError`` on any
unknown value, turning the whole policy into an advisory "can't run" on a new stack's first
preview. The wrappers unwrap them into plain values that keep the engine's unknown sentinels, and
the rules skip what is unknown (``policy_rules.is_unknown``) and judge the rest.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

ROOT = Path(__file__).resolve().parent.parent
# cloudsync_defs, and cloudsync_core's plain facts it shares with Lambda (S3's limits)
for _path in (ROOT / "functions", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from cloudsync_defs.policy_rules import RULES, Resource, Rule  # noqa: E402

_PROXIES = frozenset({"_DictProxy", "_ListProxy", "_DictSecretsProxy", "_ListSecretsProxy"})


def plain(value: Any) -> Any:
    """Plain dicts and lists from the SDK's proxies, unknown sentinels kept as they are."""
    if type(value).__name__ in _PROXIES:
        value = value["__target"]  # the proxies' own way out, that raises on nothing
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _protect(opts: Any) -> bool | None:
    protect = getattr(opts, "protect", None)
    return protect if isinstance(protect, bool) else None


def _resource(type_: str, name: str, props: Any, opts: Any, urn: str) -> Resource:
    return Resource(type=type_, name=name, props=plain(props), protect=_protect(opts), urn=urn)


def _mandatory(rule: Rule) -> dict[str, Any]:
    """What every cloudsync policy is: named as its rule, and enforced."""
    return {"name": rule.name, "description": rule.description,
            "enforcement_level": EnforcementLevel.MANDATORY}


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    check = rule.resource_check
    assert check is not None

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        resource = _resource(args.resource_type, args.name, args.props, args.opts, args.urn)
        for violation in check(resource):
            report_violation(violation, None)

    return ResourceValidationPolicy(validate=validate, **_mandatory(rule))


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [_resource(r.resource_type, r.name, r.props, getattr(r, "opts", None), r.urn)
                     for r in args.resources]
        for violation in rule.check(resources):
            report_violation(violation, None)

    return StackValidationPolicy(validate=validate, **_mandatory(rule))


def policies() -> list[Policy]:
    return [_resource_policy(rule) if rule.is_resource_rule else _stack_policy(rule)
            for rule in RULES]


PolicyPack(name="cloudsync", policies=policies())
