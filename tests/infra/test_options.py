"""The optional features (stack config ``vpc``, ``audit``, ``fis``): off by default, and what they
build when on, under Pulumi mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cloudsync_defs import alarms as alarm_defs
from cloudsync_defs import options
from cloudsync_defs.functions import FUNCTIONS
from cloudsync_defs.policy_rules import check_all
from components.config import ConfigError, parse

from .conftest import ACCOUNT, Graph, build_stack, stack_config

pytestmark = pytest.mark.infra

T_SUBNET = "aws:ec2/subnet:Subnet"
T_SG = "aws:ec2/securityGroup:SecurityGroup"
T_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
T_TRAIL = "aws:cloudtrail/trail:Trail"
T_RULE = "aws:cfg/rule:Rule"
T_TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
T_BUCKET = "aws:s3/bucket:Bucket"
OPTION_TYPES = ("aws:ec2/", "aws:cloudtrail/", "aws:cfg/", "aws:fis/")
VPC_ID, SUBNETS = "vpc-0123456789abcdef0", ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]


@pytest.fixture(scope="module")
def on(bundle: Any) -> Graph:
    """Every option on: a VPC of its own with interface endpoints, audit, a game day."""
    return build_stack("dev", {
        **stack_config("dev"),
        "cloudsync:vpc": json.dumps({"mode": "create", "interfaceEndpoints": True}),
        "cloudsync:audit": json.dumps({"enabled": True}),
        "cloudsync:fis": json.dumps({"enabled": True, "errorPercentage": 30}),
    })


@pytest.fixture(scope="module")
def existing(bundle: Any) -> Graph:
    """An existing VPC and subnets; audit with the region's existing Config recorder."""
    return build_stack("prod", {
        **stack_config("prod"),
        "cloudsync:vpc": json.dumps({"mode": "existing", "vpcId": VPC_ID, "subnetIds": SUBNETS}),
        "cloudsync:audit": json.dumps({"enabled": True, "configRecorder": "existing"}),
    })


def _statements(graph: Graph, policy_name: str) -> dict[str, dict[str, Any]]:
    policy = graph.one("aws:iam/rolePolicy:RolePolicy", policy_name)
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_every_option_is_off_by_default(graph: Graph) -> None:
    assert not [r.type for r in graph.resources if r.type.startswith(OPTION_TYPES)]
    assert len(graph.of_type(T_BUCKET)) == 1  # only the archive
    for spec in FUNCTIONS:
        fn = graph.function(spec.name).inputs
        assert "vpcConfig" not in fn and len(fn["layers"]) == 1
        assert "AWS_FIS_CONFIGURATION_LOCATION" not in fn["environment"]["variables"]
        assert "VpcNetworkInterfaces" not in _statements(
            graph, f"functions-{spec.name.replace('_', '-')}-policy")


def test_vpc_puts_every_function_in_two_private_subnets_of_two_azs_behind_one_nat(
        on: Graph) -> None:
    subnets = {s.name: s for s in on.of_type(T_SUBNET)}
    private = [subnets["network-private-1"], subnets["network-private-2"]]
    assert len({s.inputs["availabilityZone"] for s in private}) == 2
    nat = on.one("aws:ec2/natGateway:NatGateway")
    assert nat.inputs["subnetId"] == "network-public-id"
    assert subnets["network-public"].inputs["availabilityZone"] == \
        private[0].inputs["availabilityZone"]
    routes = on.one("aws:ec2/routeTable:RouteTable", "network-private-routes")
    assert routes.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0",
                                        "natGatewayId": "network-nat-id"}]
    function_sg = on.one(T_SG, "network-functions-sg")
    for spec in FUNCTIONS:
        placed = on.function(spec.name).inputs["vpcConfig"]
        assert placed["subnetIds"] == ["network-private-1-id", "network-private-2-id"]
        assert placed["securityGroupIds"] == ["network-functions-sg-id"]
        ec2 = _statements(on, f"functions-{spec.name.replace('_', '-')}-policy")[
            "VpcNetworkInterfaces"]
        assert ec2["Action"] == sorted(options.LAMBDA_VPC_ACTIONS)
    # the functions' group: nothing in, HTTPS out only; the endpoints' group: 443 from it only
    assert function_sg.inputs["ingress"] == []
    assert [(e["protocol"], e["fromPort"], e["toPort"]) for e in function_sg.inputs["egress"]] \
        == [("tcp", 443, 443)]
    endpoints_sg = on.one(T_SG, "network-endpoints-sg")
    assert endpoints_sg.inputs["egress"] == []
    assert [(i["fromPort"], i["securityGroups"]) for i in endpoints_sg.inputs["ingress"]] == [
        (443, ["network-functions-sg-id"])]


def test_vpc_endpoints_gateway_for_s3_and_dynamodb_and_interface_for_the_rest(on: Graph) -> None:
    by_service = {e.inputs["serviceName"].rsplit(".", 1)[1]: e.inputs
                  for e in on.of_type(T_ENDPOINT)}
    assert set(by_service) == {*options.GATEWAY_ENDPOINT_SERVICES,
                               *options.INTERFACE_ENDPOINT_SERVICES}
    for service in options.GATEWAY_ENDPOINT_SERVICES:
        assert by_service[service]["vpcEndpointType"] == "Gateway"
        assert by_service[service]["routeTableIds"] == ["network-private-routes-id"]
    for service in options.INTERFACE_ENDPOINT_SERVICES:
        e = by_service[service]
        assert e["serviceName"] == f"com.amazonaws.eu-central-1.{service}"
        assert (e["vpcEndpointType"], e["privateDnsEnabled"]) == ("Interface", True)
        assert e["subnetIds"] == ["network-private-1-id", "network-private-2-id"]


def test_an_existing_vpc_gets_only_the_security_group(existing: Graph) -> None:
    types = {r.type for r in existing.resources if r.type.startswith("aws:ec2/")}
    assert types == {T_SG}
    assert existing.one(T_SG).inputs["vpcId"] == VPC_ID
    assert existing.function("transfer").inputs["vpcConfig"]["subnetIds"] == SUBNETS


def test_audit_trail_logs_archive_reads_and_writes_into_its_own_log_bucket(on: Graph) -> None:
    trail = on.one(T_TRAIL).inputs
    archive = on.one(T_BUCKET, "archive-bucket").outputs["arn"]
    key = on.one("aws:kms/key:Key", "audit-key")
    assert (trail["isMultiRegionTrail"], trail["enableLogFileValidation"]) == (True, True)
    assert trail["kmsKeyId"] == key.outputs["arn"]
    log_bucket = on.one(T_BUCKET, "audit-bucket")
    assert trail["s3BucketName"] == log_bucket.inputs["bucket"]
    selectors = {s["name"]: s["fieldSelectors"] for s in trail["advancedEventSelectors"]}
    assert selectors["management events"] == [{"field": "eventCategory",
                                               "equals": ["Management"]}]
    data = {f["field"]: f for f in selectors["archive object reads and writes"]}
    assert data["resources.ARN"]["startsWiths"] == [f"{archive}/"]
    assert data["resources.type"]["equals"] == ["AWS::S3::Object"]
    assert "readOnly" not in data  # reads and writes both
    # the log bucket: protected, encrypted with the audit key, versioned, lifecycle-managed
    assert log_bucket.protect and key.protect and key.inputs["enableKeyRotation"] is True
    bucket = log_bucket.inputs["bucket"]

    def setting(type_: str) -> dict[str, Any]:
        return next(r.inputs for r in on.of_type(type_) if r.inputs.get("bucket") == bucket)

    sse = setting("aws:s3/bucketServerSideEncryptionConfiguration:"
                  "BucketServerSideEncryptionConfiguration")["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms",
                                                         "kmsMasterKeyId": key.outputs["arn"]}
    assert setting("aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"] == {
        "status": "Enabled"}
    (rule,) = setting("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[
        "rules"]
    assert rule["transitions"] == [{"days": 90, "storageClass": "GLACIER"}]
    assert rule["expiration"] == {"days": 2557}


def test_log_bucket_policy_lets_only_this_trail_write(on: Graph) -> None:
    bucket = on.one(T_BUCKET, "audit-bucket").inputs["bucket"]
    policy = next(r for r in on.of_type("aws:s3/bucketPolicy:BucketPolicy")
                  if r.inputs["bucket"] == bucket)
    sids = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    trail_arn = on.one(T_TRAIL).outputs["arn"]
    for sid in ("CloudTrailAclCheck", "CloudTrailWrite"):
        assert sids[sid]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert sids[sid]["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    assert sids["CloudTrailWrite"]["Resource"] == f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT}/*"


def test_config_rules_judge_the_archive_table_and_functions(on: Graph, existing: Graph) -> None:
    for graph in (on, existing):
        rules = {r.inputs["name"]: r.inputs for r in graph.of_type(T_RULE)}
        assert set(rules) == {f"cloudsync-{graph.stack}-{n}" for n in options.CONFIG_RULES}
        archive = graph.one(T_BUCKET, "archive-bucket").inputs["bucket"]
        versioning = rules[f"cloudsync-{graph.stack}-s3-bucket-versioning-enabled"]
        assert versioning["source"] == {"owner": "AWS",
                                        "sourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"}
        assert versioning["scope"]["complianceResourceId"] == archive
    recorder = on.one("aws:cfg/recorder:Recorder").inputs["recordingGroup"]
    assert recorder["resourceTypes"] == list(options.RECORDED_TYPES)
    assert not existing.of_type("aws:cfg/recorder:Recorder")  # the region's own is used


def test_game_day_targets_the_transfer_function_and_stops_on_the_alarms(on: Graph) -> None:
    template = on.one(T_TEMPLATE).inputs
    transfer = on.function("transfer")
    (target,) = template["targets"]
    assert target["resourceArns"] == [transfer.outputs["arn"]]
    assert target["resourceType"] == "aws:lambda:function"
    actions = {a["actionId"]: {p["key"]: p["value"] for p in a["parameters"]}
               for a in template["actions"]}
    assert set(actions) == set(options.FIS_ACTIONS)
    assert actions["aws:lambda:invocation-error"]["invocationPercentage"] == "30"
    assert actions["aws:lambda:invocation-add-delay"]["startupDelayMilliseconds"] == "5000"
    alarms = {a.inputs["name"]: a.outputs["arn"]
              for a in on.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    essential = {f"cloudsync-dev-{a.key}" for a in alarm_defs.selected("essential", False)}
    assert {s["value"] for s in template["stopConditions"]} == {alarms[n] for n in essential}
    assert {s["source"] for s in template["stopConditions"]} == {"aws:cloudwatch:alarm"}
    # the FIS extension on the transfer function only, reading its S3 location
    env = transfer.inputs["environment"]["variables"]
    location = f"arn:aws:s3:::cloudsync-dev-fis-{ACCOUNT}-eu-central-1/FisConfigs/"
    assert env["AWS_FIS_CONFIGURATION_LOCATION"] == location
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/aws-fis/bootstrap"
    assert len(transfer.inputs["layers"]) == 2 and "fis-extension-arm64" in transfer.inputs[
        "layers"][1]
    assert _statements(on, "functions-transfer-policy")["FisConfigRead"]["Resource"] == \
        f"{location}*"
    assert len(on.function("list").inputs["layers"]) == 1
    assert on.exports["gameDayTemplateId"] == "gameday-template-id"  # the mocks' id
    assert on.exports["auditTrailArn"] == on.one(T_TRAIL).outputs["arn"]
    published = json.loads(on.one("aws:ssm/parameter:Parameter").inputs["insecureValue"])
    assert published["gameDayTemplateId"] == "gameday-template-id"
    fis = _statements(on, "gameday-fis-policy")
    assert set(fis) == {"WriteFaultConfigs", "ReadTargetFunction", "EncryptFaultConfigs"}
    assert fis["ReadTargetFunction"]["Resource"] == transfer.outputs["arn"]


def test_the_policy_pack_passes_the_options_and_catches_open_egress(on: Graph,
                                                                   existing: Graph) -> None:
    assert check_all(on.policy_resources()) == {}
    assert check_all(existing.policy_resources()) == {}
    resources = on.policy_resources()
    sg = next(i for i, r in enumerate(resources) if r.name == "network-functions-sg")
    open_egress = {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}
    resources[sg] = type(resources[sg])(resources[sg].type, resources[sg].name,
                                        {**resources[sg].props, "egress": [open_egress]})
    assert "network-https-only" in check_all(resources)


@pytest.mark.parametrize(("key", "value", "says"), [
    ("vpc", {"mode": "on"}, "mode must be one of off, create, existing"),
    ("vpc", {"mode": "existing", "vpcId": VPC_ID, "subnetIds": SUBNETS[:1]}, "at least 2"),
    ("vpc", {"mode": "create", "cidr": "10.0.0.0/8"}, "/16 to /24"),
    ("vpc", {"interfaceEndpoints": True}, "interfaceEndpoints needs mode create"),
    ("audit", {"enabled": True, "configRecorder": "mine"}, "configRecorder must be one of"),
    ("fis", {"enabled": True, "errorPercentage": 0}, "errorPercentage must be"),
    ("fis", {"enable": True}, "'enable' is not one of"),
])
def test_bad_option_values_fail_preview_with_one_line(key: str, value: dict[str, Any],
                                                       says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse("dev", {"alertEmail": "a@example.com", key: json.dumps(value)})
    (line,) = [x for x in str(caught.value).splitlines() if x.strip().startswith("- ")]
    assert f"cloudsync:{key}:" in line and says in line


def test_each_option_is_a_component_of_its_own_and_audit_logs_outlive_the_stack(
        on: Graph) -> None:
    from .conftest import ROOT

    components = {r.urn: r for r in on.resources if not r.custom}
    new = {"cloudsync:index:Network", "cloudsync:index:Audit", "cloudsync:index:GameDay"}
    assert new <= {c.type for c in components.values()}
    for r in on.resources:
        if r.custom:
            assert r.name.startswith(f"{components[r.parent].name}-"), r.name
    audit = next(c for c in components.values() if c.type == "cloudsync:index:Audit")
    kept = [r for r in on.resources if r.parent == audit.urn and r.retain_on_delete]
    words = {8: "eight"}
    text = (ROOT / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    assert f"({words[len(kept)]} more\n`retainOnDelete` resources" in text
