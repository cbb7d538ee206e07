"""The CrossGuard rules (cloudsync_defs.policy_rules) over the mock graph, and against bad input."""

from __future__ import annotations

import json
import runpy
import sys
from dataclasses import replace
from typing import Any

import pytest

from cloudsync_defs import policy_rules as rules
from cloudsync_defs.policy_rules import RULES, Resource, check_all

from .conftest import ROOT, Graph

pytestmark = pytest.mark.infra


def test_every_rule_passes_on_the_stack(graph: Graph) -> None:
    assert check_all(graph.policy_resources()) == {}


def test_the_rules_see_the_whole_graph(graph: Graph) -> None:
    types = {r.type for r in graph.policy_resources()}
    for needed in (rules.ROLE_POLICY, rules.BUCKET, rules.BUCKET_POLICY, rules.LIFECYCLE,
                   rules.FUNCTION, rules.STATE_MACHINE, rules.EVENT_SOURCE_MAPPING,
                   rules.SCHEDULE, rules.TABLE, rules.TOPIC, rules.QUEUE, rules.KEY):
        assert needed in types


def _swap(resources: list[Resource], type_: str, change: dict[str, Any],
          protect: bool | None = None) -> list[Resource]:
    out = []
    for r in resources:
        if r.type == type_:
            r = replace(r, props={**r.props, **change},
                        protect=r.protect if protect is None else protect)
        out.append(r)
    return out


def _policy_with(statement: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


BAD_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("iam-least-privilege", rules.ROLE_POLICY,
     {"policy": _policy_with({"Effect": "Allow", "Action": "*", "Resource": "*"})},
     "wildcard action '*'"),
    ("iam-least-privilege", rules.ROLE_POLICY,
     {"policy": _policy_with({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"})},
     "Resource '*' for scopable actions"),
    ("iam-least-privilege", rules.ROLE_POLICY,
     {"policy": _policy_with({"Effect": "Allow", "Action": ["cloudwatch:PutMetricData"],
                              "Resource": "*"})},
     "without a cloudwatch:namespace condition"),
    ("iam-trust-single-service", rules.ROLE,
     {"assumeRolePolicy": _policy_with({"Effect": "Allow", "Principal": {"AWS": "*"},
                                        "Action": "sts:AssumeRole"})},
     "one service principal"),
    ("resource-policies-not-public", rules.TOPIC_POLICY,
     {"policy": _policy_with({"Effect": "Allow", "Principal": "*", "Action": "sns:Publish",
                              "Resource": "arn:aws:sns:x:1:t"})},
     "allows every principal"),
    ("bucket-private-and-encrypted", rules.PUBLIC_ACCESS_BLOCK,
     {"restrictPublicBuckets": False}, "no public access block"),
    ("bucket-private-and-encrypted", rules.BUCKET_POLICY,
     {"policy": _policy_with({"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket",
                              "Resource": "arn:aws:s3:::b"})},
     "denying requests without TLS"),
    ("bucket-private-and-encrypted", rules.ENCRYPTION,
     {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
     "no SSE-KMS"),
    ("bucket-private-and-encrypted", rules.VERSIONING,
     {"versioningConfiguration": {"status": "Suspended"}}, "versioning not enabled"),
    ("lifecycle-valid", rules.LIFECYCLE,
     {"rules": [{"id": "seed", "status": "Enabled", "filter": {"prefix": "gopro-videos/"},
                 "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
                 "transitions": [{"days": 7, "storageClass": "GLACIER_IR"},
                                 {"days": 14, "storageClass": "DEEP_ARCHIVE"}]}]},
     "less than 90 days after the GLACIER_IR"),
    ("lifecycle-valid", rules.LIFECYCLE,
     {"rules": [{"id": "r", "status": "Enabled", "filter": {"prefix": "gopro-videos/"},
                 "transitions": [{"days": 14, "storageClass": "DEEP_ARCHIVE"}]}]},
     "no AbortIncompleteMultipartUpload"),
    ("lambda-hardened", rules.FUNCTION, {"architectures": ["x86_64"]}, "architectures"),
    ("lambda-hardened", rules.FUNCTION, {"tracingConfig": {"mode": "PassThrough"}}, "X-Ray"),
    ("failures-captured", rules.EVENT_SOURCE_MAPPING, {"destinationConfig": {}},
     "no on-failure destination"),
    ("failures-captured", rules.SCHEDULE,
     {"target": {"arn": "arn:aws:lambda:x:1:function:f", "roleArn": "r"}}, "no dead-letter"),
    ("workflow-logging", rules.STATE_MACHINE,
     {"loggingConfiguration": {"level": "ERROR", "includeExecutionData": True,
                               "logDestination": "arn:aws:logs:x"}},
     "execution data would be logged"),
    ("encrypted-at-rest", rules.TABLE, {"pointInTimeRecovery": {"enabled": False}},
     "point-in-time recovery off"),
    ("encrypted-at-rest", rules.TOPIC, {"kmsMasterKeyId": None}, "not encrypted"),
    ("no-secret-values", rules.FUNCTION,
     {"environment": {"variables": {"GOPRO_REFRESH_TOKEN": "abc123"}}}, "holds a secret"),
    ("no-secret-values", rules.TABLE,
     {"tags": {"note": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"}}, "a JWT"),
]


@pytest.mark.parametrize(("rule", "type_", "change", "fragment"), BAD_CASES,
                         ids=[f"{c[0]}:{c[3][:30]}" for c in BAD_CASES])
def test_a_deliberately_bad_resource_fails_its_rule(
        dev: Graph, rule: str, type_: str, change: dict[str, Any], fragment: str) -> None:
    found = check_all(_swap(dev.policy_resources(), type_, change))
    assert rule in found, found
    assert any(fragment in v for v in found[rule]), found[rule]


def test_an_unprotected_archive_fails(dev: Graph) -> None:
    found = check_all(_swap(dev.policy_resources(), rules.BUCKET, {}, protect=False))
    assert list(found) == ["archive-protected"]


def test_a_secret_version_fails(dev: Graph) -> None:
    bad = [*dev.policy_resources(),
           Resource(rules.SECRET_VERSION, "oops", {"secretId": "s", "secretString": "hunter2"})]
    found = check_all(bad)
    assert list(found) == ["no-secret-values"]
    assert len(found["no-secret-values"]) == 2


def test_the_policy_pack_wraps_every_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi_policy

    made: list[Any] = []

    class Recorder:
        def __init__(self, name: str, policies: list[Any], **_: Any) -> None:
            made.append((name, policies))

    monkeypatch.setattr(pulumi_policy, "PolicyPack", Recorder)
    monkeypatch.setattr(sys, "path", list(sys.path))
    runpy.run_path(str(ROOT / "policy" / "__main__.py"), run_name="__main__")
    ((name, policies),) = made
    assert name == "cloudsync"
    assert [p.name for p in policies] == [r.name for r in RULES]
    assert all(p.enforcement_level == pulumi_policy.EnforcementLevel.MANDATORY for p in policies)

    # The wrapper reports exactly what the plain rule finds.
    class Args:
        def __init__(self, resources: list[Resource]) -> None:
            self.resources = [
                type("R", (), {"resource_type": r.type, "name": r.name, "props": r.props,
                               "urn": r.urn, "opts": type("O", (), {"protect": r.protect})()})()
                for r in resources
            ]

    reported: list[str] = []
    bad = [Resource(rules.KEY, "k", {"enableKeyRotation": False}, protect=True)]
    wrapper = next(p for p in policies if p.name == "encrypted-at-rest")
    wrapper.validate(Args(bad), lambda message, urn=None: reported.append(message))
    assert reported == ["key k: rotation off"]
