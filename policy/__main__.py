"""cloudsync's CrossGuard policy pack: ``pulumi preview --policy-pack policy``.

The rules live in cloudsync_defs/policy_rules.py as plain functions (the infra tests run them over
the Pulumi-mocks graph); this file only wraps each one as a stack validation policy.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from cloudsync_defs.policy_rules import RULES, Resource, Rule


def _resources(args: StackValidationArgs) -> list[Resource]:
    found: list[Resource] = []
    for r in args.resources:
        opts: Any = getattr(r, "opts", None)
        protect = getattr(opts, "protect", None)
        found.append(Resource(type=r.resource_type, name=r.name, props=dict(r.props),
                              protect=protect, urn=r.urn))
    return found


def _policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for violation in rule.check(_resources(args)):
            report_violation(violation, None)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


PolicyPack(name="cloudsync", policies=[_policy(rule) for rule in RULES])
