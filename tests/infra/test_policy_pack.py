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

from .conftest import ROOT, Graph, build_stack, stack_config

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
     {"restrictPublicBuckets": False}, "public access not blocked (restrictPublicBuckets off)"),
    ("bucket-private-and-encrypted", rules.BUCKET_POLICY,
     {"policy": _policy_with({"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket",
                              "Resource": "arn:aws:s3:::b"})},
     "does not deny requests without TLS"),
    ("bucket-private-and-encrypted", rules.ENCRYPTION,
     {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
     "not SSE-KMS"),
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


def _pack(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The policies ``policy/__main__.py`` hands to PolicyPack."""
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
    return policies


def _engine_args(r: Resource) -> Any:
    """What the engine hands a resource policy: props behind the SDK's unknown-raising proxy."""
    from pulumi_policy import PolicyResourceOptions, ResourceValidationArgs
    from pulumi_policy.proxy import unknown_checking_proxy

    opts = PolicyResourceOptions(protect=bool(r.protect), ignore_changes=[],
                                 delete_before_replace=None, aliases=[], custom_timeouts=None,
                                 additional_secret_outputs=[])
    return ResourceValidationArgs(r.type, unknown_checking_proxy(dict(r.props)), r.urn, r.name,
                                  opts, None)


def test_the_policy_pack_wraps_every_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi_policy

    policies = _pack(monkeypatch)
    assert [p.name for p in policies] == [r.name for r in RULES]
    assert all(p.enforcement_level == pulumi_policy.EnforcementLevel.MANDATORY for p in policies)
    kinds = {p.name: type(p).__name__ for p in policies}
    # everything one resource can answer is a resource policy; only cross-resource checks not
    assert {n for n, k in kinds.items() if k == "StackValidationPolicy"} == {
        "bucket-complete", "functions-log-with-retention", "scheduled-functions-capture-failures"}

    # The wrapper reports exactly what the plain rule finds.
    reported: list[str] = []
    bad = Resource(rules.KEY, "k", {"enableKeyRotation": False}, protect=True, urn="urn:k")
    wrapper = next(p for p in policies if p.name == "encrypted-at-rest")
    wrapper.validate(_engine_args(bad), lambda message, urn=None: reported.append(message))
    assert reported == ["key k: rotation off"]


@pytest.fixture(scope="module")
def first_preview(bundle: Any) -> Graph:
    """A new stack's first ``pulumi preview``: no ARN, id or generated name is known yet."""
    return build_stack("dev", stack_config("dev"), preview=True)


def test_a_first_preview_really_has_unknowns(first_preview: Graph) -> None:
    unknown = {r.name for r in first_preview.resources if r.custom and rules.has_unknown(r.inputs)}
    # every policy document is built from an ARN: all of them unknown
    for name in ("archive-policy", "functions-transfer-policy", "workflow-policy",
                 "alerts-topic-policy"):
        assert name in unknown, name
    assert rules.has_unknown(first_preview.one(rules.ENCRYPTION).inputs["rules"])


def test_every_rule_runs_on_a_first_preview_and_judges_what_is_known(
        first_preview: Graph) -> None:
    resources = first_preview.policy_resources()
    assert check_all(resources) == {}
    # known settings are still judged: an x86 function or a public ACL fails at once
    broken = _swap(resources, rules.FUNCTION, {"architectures": ["x86_64"]})
    broken = _swap(broken, rules.PUBLIC_ACCESS_BLOCK, {"blockPublicPolicy": False})
    found = check_all(broken)
    assert set(found) == {"lambda-hardened", "bucket-private-and-encrypted"}, found


def test_the_pack_runs_on_a_first_preview_through_the_sdks_proxies(
        first_preview: Graph, monkeypatch: pytest.MonkeyPatch) -> None:
    """No policy meets an UnknownValueError (which the engine turns into "can't run")."""
    from pulumi_policy.proxy import unknown_checking_proxy

    policies = _pack(monkeypatch)
    resources = first_preview.policy_resources()
    reported: list[str] = []
    ran = 0
    for policy in policies:
        if type(policy).__name__ == "ResourceValidationPolicy":
            for r in resources:
                policy.validate(_engine_args(r), lambda m, urn=None: reported.append(m))
                ran += 1
        else:
            stack_args = type("Args", (), {"resources": [
                type("R", (), {"resource_type": r.type, "name": r.name, "urn": r.urn,
                               "props": unknown_checking_proxy(dict(r.props)),
                               "opts": type("O", (), {"protect": r.protect})()})()
                for r in resources]})()
            policy.validate(stack_args, lambda m, urn=None: reported.append(m))
            ran += 1
    assert reported == []
    assert ran > len(resources)
    # and a violation behind the proxy is still seen
    bad = _swap(resources, rules.VERSIONING, {"versioningConfiguration": {"status": "Suspended"}})
    wrapper = next(p for p in policies if p.name == "bucket-private-and-encrypted")
    for r in bad:
        if r.type == rules.VERSIONING:
            wrapper.validate(_engine_args(r), lambda m, urn=None: reported.append(m))
    assert len(reported) == 1 and "versioning not enabled" in reported[0]
