"""The whole resource graph of each stack, under Pulumi mocks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest

from cloudsync_cli import cost
from cloudsync_core import schema, settings
from cloudsync_core.alerts import ENV_NOTIFY_SECRET
from cloudsync_defs.functions import FUNCTIONS, SCHEDULE_EVENT
from cloudsync_defs.lifecycle import POLICIES, lifecycle_rules
from cloudsync_defs.workflow import FUNCTIONS_IN_WORKFLOW, render_transfer_definition
from components.config import AlarmThresholds

from .conftest import ACCOUNT, Graph, stack_config

pytestmark = pytest.mark.infra

T_BUCKET = "aws:s3/bucket:Bucket"
T_FUNCTION = "aws:lambda/function:Function"


def expected(graph: Graph) -> dict[str, Any]:
    cfg = stack_config(graph.stack)
    return {
        "max_media": int(cfg["cloudsync:maxConcurrentMedia"]),
        "cron": cfg["cloudsync:scheduleCron"],
        "log_level": cfg["cloudsync:logLevel"],
        "email": cfg["cloudsync:alertEmail"],
        "region": cfg["aws:region"],
    }


def test_inventory(graph: Graph) -> None:
    counts = {
        "aws:kms/key:Key": 1,
        T_BUCKET: 1,
        "aws:s3/bucketVersioning:BucketVersioning": 1,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 1,
        "aws:s3/bucketPolicy:BucketPolicy": 1,
        "aws:dynamodb/table:Table": 1,
        "aws:secretsmanager/secret:Secret": 2,  # the credentials, the notify URLs
        "aws:secretsmanager/secretVersion:SecretVersion": 0,
        "aws:secretsmanager/secretRotation:SecretRotation": 1,
        T_FUNCTION: len(FUNCTIONS),
        "aws:iam/role:Role": len(FUNCTIONS) + 2,  # + workflow + schedule
        "aws:iam/rolePolicy:RolePolicy": len(FUNCTIONS) + 2,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 0,  # no managed policies
        "aws:cloudwatch/logGroup:LogGroup": len(FUNCTIONS) + 1,
        "aws:lambda/layerVersion:LayerVersion": 1,
        "aws:sqs/queue:Queue": 1,
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": 1,
        "aws:sfn/stateMachine:StateMachine": 1,
        "aws:lambda/eventSourceMapping:EventSourceMapping": 1,
        "aws:scheduler/schedule:Schedule": 1,
        "aws:sns/topic:Topic": 1,
        "aws:sns/topicSubscription:TopicSubscription": 1,
        "aws:cloudwatch/metricAlarm:MetricAlarm": 4,  # the essential alarms (the default)
        "aws:cloudwatch/dashboard:Dashboard": 1,
        "aws:ssm/parameter:Parameter": 1,
    }
    actual = {t: len(graph.of_type(t)) for t in counts}
    assert actual == counts


def test_one_component_per_module_and_every_resource_has_a_component_parent(graph: Graph) -> None:
    components = {r.urn: r for r in graph.resources if not r.custom}
    assert {r.type for r in components.values()} == {
        "cloudsync:index:ArchiveStorage", "cloudsync:index:TrackerTable",
        "cloudsync:index:CredentialsSecret", "cloudsync:index:Alerts",
        "cloudsync:index:Functions", "cloudsync:index:TransferWorkflow",
        "cloudsync:index:NightlySchedule", "cloudsync:index:Monitoring",
        "cloudsync:index:Discovery",
    }
    for r in graph.resources:
        if r.custom:
            assert r.parent in components, f"{r.type} {r.name} has no component parent"
            parent = components[r.parent]
            assert r.name.startswith(f"{parent.name}-"), f"{r.name} not named after {parent.name}"


def test_only_the_key_and_the_bucket_are_protected(graph: Graph) -> None:
    protected = {r.type for r in graph.resources if r.protect}
    assert protected == {"aws:kms/key:Key", T_BUCKET}


ARCHIVE_OUTLIVES_THE_STACK = {
    "aws:kms/key:Key", "aws:kms/alias:Alias", T_BUCKET,
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
}


def test_destroy_keeps_the_archive_and_everything_that_reads_or_guards_it(graph: Graph) -> None:
    # retain_on_delete: once unprotected, `pulumi destroy` forgets these instead of deleting them
    # (deleting the versioning or lifecycle resource would suspend versioning or drop the rules
    # from the bucket that stays), and nothing else of the stack stays behind.
    retained = {r.type for r in graph.resources if r.custom and r.retain_on_delete}
    assert retained == ARCHIVE_OUTLIVES_THE_STACK
    for type_ in ARCHIVE_OUTLIVES_THE_STACK:
        assert all(r.retain_on_delete for r in graph.of_type(type_)), type_


def test_key(graph: Graph) -> None:
    key = graph.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    policy = json.loads(key.inputs["policy"])
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["AccountIamPolicies"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    alarms = sids["CloudWatchAlarmsPublishToEncryptedTopic"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    # only on behalf of this account's alarms: no confused deputy
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_bucket(graph: Graph) -> None:
    bucket = graph.one(T_BUCKET)
    name = bucket.inputs["bucket"]
    key_arn = graph.one("aws:kms/key:Key").outputs["arn"]
    assert name == f"cloudsync-{graph.stack}-{ACCOUNT}-{expected(graph)['region']}"
    assert bucket.inputs.get("forceDestroy") is False
    assert bucket.inputs["tags"]["Project"] == "cloudsync"
    assert bucket.inputs["tags"]["Stack"] == graph.stack
    versioning = graph.one("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs == {"bucket": name, "versioningConfiguration": {"status": "Enabled"}}
    sse = graph.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"] == [{
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms",
                                               "kmsMasterKeyId": key_arn},
        "bucketKeyEnabled": True,
    }]
    pab = graph.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                 "restrictPublicBuckets"):
        assert pab.inputs[flag] is True
    ownership = graph.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_lifecycle_is_the_validated_default_per_provider_prefix(graph: Graph) -> None:
    lifecycle = graph.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = lifecycle.inputs["rules"]
    (api,) = lifecycle_rules(POLICIES["default"], ["gopro-videos/"])
    assert rules == [{
        "id": api["ID"],
        "status": "Enabled",
        "filter": {"prefix": "gopro-videos/"},
        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
        "transitions": [{"days": 14, "storageClass": "DEEP_ARCHIVE"}],
        "noncurrentVersionTransitions": [{"noncurrentDays": 30, "storageClass": "DEEP_ARCHIVE"}],
    }]
    versioning = graph.one("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.urn in lifecycle.dependencies


def _bucket_policy(graph: Graph) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(
        graph.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    return statements


def test_bucket_cannot_be_public_nor_read_over_plain_http(graph: Graph) -> None:
    bucket_arn = graph.one(T_BUCKET).outputs["arn"]
    statements = _bucket_policy(graph)
    assert all(s["Effect"] == "Deny" for s in statements), "the bucket policy only denies"
    tls = next(s for s in statements if s["Sid"] == "DenyInsecureTransport")
    assert tls["Principal"] == "*" and tls["Action"] == "s3:*"
    assert tls["Resource"] == [bucket_arn, f"{bucket_arn}/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket = graph.one(T_BUCKET)
    assert "acl" not in bucket.inputs and "policy" not in bucket.inputs


def test_bucket_policy_denies_unencrypted_puts_and_writes_by_anyone_else(graph: Graph) -> None:
    bucket_arn = graph.one(T_BUCKET).outputs["arn"]
    key_arn = graph.one("aws:kms/key:Key").outputs["arn"]
    by_sid = {s["Sid"]: s for s in _bucket_policy(graph)}
    # only a header that is present and wrong is denied (Null false beside the comparison):
    # UploadPart and a put relying on the bucket default carry none
    assert by_sid["DenyPutsNotEncryptedWithKms"]["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption": "false"}}
    assert by_sid["DenyPutsWithAnotherKey"]["Condition"] == {
        "ArnNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn},
        "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"}}
    assert by_sid["DenyWritesOutsideArchivePrefixes"]["NotResource"] == [
        f"{bucket_arn}/gopro-videos/*"]
    writers = by_sid["DenyWritesByAnyoneButTheTransferRoles"]["Condition"]["ArnNotEquals"][
        "aws:PrincipalArn"]
    writer_roles = {
        graph.function(f.name).inputs["role"] for f in FUNCTIONS if "archive_write" in f.grants
    }
    assert set(writers) == writer_roles
    assert len(writer_roles) == 5  # prepare, transfer, finalize, mark_failed, index


def test_table(graph: Graph) -> None:
    table = graph.one("aws:dynamodb/table:Table")
    i = table.inputs
    assert i["name"] == f"cloudsync-{graph.stack}-tracker"
    assert (i["hashKey"], i["rangeKey"]) == (schema.PARTITION_KEY, schema.SORT_KEY)
    assert {a["name"]: a["type"] for a in i["attributes"]} == schema.ATTRIBUTES
    assert i["globalSecondaryIndexes"] == [{
        "name": schema.STATUS_INDEX, "hashKey": schema.STATUS_INDEX_PARTITION,
        "rangeKey": schema.STATUS_INDEX_SORT, "projectionType": "ALL"}]
    assert i["billingMode"] == "PAY_PER_REQUEST"
    assert i["streamEnabled"] is True and i["streamViewType"] == schema.STREAM_VIEW_TYPE
    assert i["pointInTimeRecovery"] == {"enabled": True}
    assert i["serverSideEncryption"] == {"enabled": True}


def test_secret_has_no_value_and_rotates_every_30_days_with_the_rotate_function(
        graph: Graph) -> None:
    secret = graph.one("aws:secretsmanager/secret:Secret", "credentials-secret")
    # no fixed name: a destroyed secret's name stays taken for its 7-day recovery window
    assert "name" not in secret.inputs
    assert secret.inputs["namePrefix"] == f"cloudsync/{graph.stack}/credentials-"
    assert not {"secretString", "secretBinary"} & set(secret.inputs)
    rotation = graph.one("aws:secretsmanager/secretRotation:SecretRotation")
    assert rotation.inputs["secretId"] == secret.outputs["arn"]
    assert rotation.inputs["rotationLambdaArn"] == graph.function("rotate").outputs["arn"]
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 30}
    assert rotation.inputs["rotateImmediately"] is False
    permission = graph.one("aws:lambda/permission:Permission")
    assert permission.inputs["principal"] == "secretsmanager.amazonaws.com"
    assert permission.inputs["sourceArn"] == secret.outputs["arn"]
    assert permission.inputs["function"] == graph.function("rotate").outputs["name"]


def test_functions(graph: Graph, bundle: Any) -> None:
    layer = graph.one("aws:lambda/layerVersion:LayerVersion")
    assert layer.inputs["compatibleArchitectures"] == ["arm64"]
    assert layer.inputs["compatibleRuntimes"] == ["python3.12"]
    assert Path(layer.inputs["code"].path) == bundle.layer_dir
    assert (bundle.layer_dir / "python" / "boto3").is_dir()
    for spec in FUNCTIONS:
        fn = graph.function(spec.name)
        i = fn.inputs
        assert i["name"] == f"cloudsync-{graph.stack}-{spec.name.replace('_', '-')}"
        assert i["runtime"] == "python3.12" and i["architectures"] == ["arm64"]
        assert i["handler"] == spec.handler
        assert (i["memorySize"], i["timeout"]) == (spec.memory_mb, spec.timeout_s)
        expected_reserved = spec.reserved_concurrency if spec.reserved_concurrency else -1
        assert i["reservedConcurrentExecutions"] == expected_reserved
        assert i["tracingConfig"] == {"mode": "Active"}
        assert i["layers"] == [layer.outputs["arn"]]
        assert isinstance(i["code"], pulumi.FileArchive)
        assert Path(i["code"].path) == bundle.code_dir
        assert (bundle.code_dir / "cloudsync_core" / "settings.py").is_file()
        log_group = next(g for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")
                         if g.inputs["name"] == f"/aws/lambda/{i['name']}")
        assert log_group.inputs["retentionInDays"] == 30
        assert i["loggingConfig"]["logGroup"] == log_group.inputs["name"]


def test_function_overrides_from_config(bundle: Any) -> None:
    from .conftest import build_stack

    config = {**stack_config("dev"),
              "cloudsync:functions": json.dumps({"transfer": {"memoryMb": 2048}})}
    graph = build_stack("dev", config)
    fn = graph.function("transfer")
    assert (fn.inputs["memorySize"], fn.inputs["timeout"]) == (2048, 290)


def test_function_environment(graph: Graph) -> None:
    e = expected(graph)
    table = graph.one("aws:dynamodb/table:Table").outputs["name"]
    bucket = graph.one(T_BUCKET).outputs["bucket"]
    secret_arn = graph.one("aws:secretsmanager/secret:Secret", "credentials-secret").outputs["arn"]
    topic_arn = graph.one("aws:sns/topic:Topic").outputs["arn"]
    machine = graph.one("aws:sfn/stateMachine:StateMachine").outputs["arn"]
    for spec in FUNCTIONS:
        env = graph.function(spec.name).inputs["environment"]["variables"]
        assert env[settings.ENV_TABLE] == table
        assert env[settings.ENV_BUCKET] == bucket
        assert env[settings.ENV_SECRET] == secret_arn
        assert env[settings.ENV_TOPIC] == topic_arn
        assert env[settings.ENV_STATE_MACHINE] == machine  # built from the name: no cycle
        assert env[settings.ENV_ENVIRONMENT] == graph.stack
        assert env[settings.ENV_MAX_CONCURRENT_MEDIA] == str(e["max_media"])
        assert env["POWERTOOLS_LOG_LEVEL"] == e["log_level"]
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "GoProSync"
        assert settings.ENV_GOPRO_CLIENT_SECRET not in env
        known = {v for k, v in vars(settings).items() if k.startswith("ENV_")}
        assert set(env) - known <= {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE",
                                    "POWERTOOLS_LOG_LEVEL", ENV_NOTIFY_SECRET}


def test_async_invocations_and_the_failure_queue(graph: Graph) -> None:
    queue = graph.one("aws:sqs/queue:Queue")
    assert queue.inputs["sqsManagedSseEnabled"] is True
    config = graph.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    async_specs = [f for f in FUNCTIONS if f.invoked_async]
    assert [f.name for f in async_specs] == ["list"]
    assert config.inputs["functionName"] == graph.function("list").outputs["name"]
    assert config.inputs["destinationConfig"] == {
        "onFailure": {"destination": queue.outputs["arn"]}}
    assert config.inputs["maximumRetryAttempts"] == 2


def test_state_machine_is_the_very_definition_the_local_cloud_runs(graph: Graph) -> None:
    machine = graph.one("aws:sfn/stateMachine:StateMachine")
    table = graph.one("aws:dynamodb/table:Table").outputs["name"]
    arns = {name: graph.function(name).outputs["arn"] for name in FUNCTIONS_IN_WORKFLOW}
    assert machine.inputs["definition"] == render_transfer_definition(
        function_arns=arns, table_name=table,
        max_concurrent_media=expected(graph)["max_media"], map_concurrency=4,
    )
    assert machine.inputs["type"] == "EXPRESS"
    assert machine.inputs["name"] == f"cloudsync-{graph.stack}-workflow"
    log_group = next(g for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")
                     if g.inputs["name"].startswith("/aws/vendedlogs/states/"))
    assert machine.inputs["loggingConfiguration"] == {
        "level": "ERROR", "includeExecutionData": False,
        "logDestination": f"{log_group.outputs['arn']}:*"}
    assert machine.inputs["tracingConfiguration"] == {"enabled": True}
    role = graph.one("aws:iam/role:Role", "workflow-role")
    assert machine.inputs["roleArn"] == role.outputs["arn"]


def test_stream_mapping(graph: Graph) -> None:
    mapping = graph.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    i = mapping.inputs
    assert i["eventSourceArn"] == graph.one("aws:dynamodb/table:Table").outputs["streamArn"]
    assert i["functionName"] == graph.function("start").outputs["arn"]
    assert json.loads(i["filterCriteria"]["filters"][0]["pattern"]) == \
        schema.PENDING_FILTER_PATTERN
    assert len(i["filterCriteria"]["filters"]) == 1
    assert i["startingPosition"] == "LATEST"
    assert i["batchSize"] == 10
    assert i["bisectBatchOnFunctionError"] is True
    assert i["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert i["maximumRetryAttempts"] == 3
    assert i["destinationConfig"] == {
        "onFailure": {"destinationArn": graph.one("aws:sqs/queue:Queue").outputs["arn"]}}
    starter_policy = graph.one("aws:iam/rolePolicy:RolePolicy", "functions-start-policy")
    assert starter_policy.urn in mapping.dependencies
    # the starter starts executions: records flow only once the state machine exists
    assert graph.one("aws:sfn/stateMachine:StateMachine").urn in mapping.dependencies


def test_schedule(graph: Graph) -> None:
    schedule = graph.one("aws:scheduler/schedule:Schedule")
    i = schedule.inputs
    assert i["scheduleExpression"] == expected(graph)["cron"]
    assert i["scheduleExpressionTimezone"] == "Europe/Berlin"
    assert i["flexibleTimeWindow"] == {"mode": "OFF"}
    assert i["state"] == "ENABLED"
    target = i["target"]
    assert target["arn"] == graph.function("list").outputs["arn"]
    assert target["roleArn"] == graph.one("aws:iam/role:Role", "schedule-role").outputs["arn"]
    assert target["retryPolicy"] == {"maximumRetryAttempts": 2, "maximumEventAgeInSeconds": 3600}
    assert target["deadLetterConfig"] == {"arn": graph.one("aws:sqs/queue:Queue").outputs["arn"]}
    assert json.loads(target["input"]) == SCHEDULE_EVENT  # what the local cloud sends too


def test_alerts_topic(graph: Graph) -> None:
    topic = graph.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == graph.one("aws:kms/key:Key").outputs["arn"]
    subscription = graph.one("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == expected(graph)["email"]
    assert subscription.inputs["topic"] == topic.outputs["arn"]
    policy = json.loads(graph.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    allow = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allow] == [{"Service": "cloudwatch.amazonaws.com"}]


def _alarms(graph: Graph) -> dict[str, dict[str, Any]]:
    return {a.inputs["name"].removeprefix(f"cloudsync-{graph.stack}-"): a.inputs
            for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}


def _alarm_metrics(alarms: dict[str, dict[str, Any]]) -> int:
    """What CloudWatch bills: every metric or Metrics Insights query an alarm reads."""
    return sum(sum(1 for q in a["metricQueries"] if "metric" in q or
                   str(q.get("expression", "")).startswith("SELECT")) for a in alarms.values())


def test_the_default_stack_watches_what_must_reach_a_person(graph: Graph) -> None:
    """A failed or timed-out medium, a night the lister did not run, a failed invocation in the
    queue: four alarms on AWS's own metrics, one metric each (the cost model's count)."""
    alarms = _alarms(graph)
    assert set(alarms) == {"StepFunction-Failed", "StepFunction-TimedOut", "Lister-Errors",
                           "DLQ-Messages"}
    assert _alarm_metrics(alarms) == cost.alarm_metric_count("essential", False) == 4
    machine = graph.one("aws:sfn/stateMachine:StateMachine").outputs["arn"]
    failed = alarms["StepFunction-Failed"]["metricQueries"][0]["metric"]
    assert failed["dimensions"] == {"StateMachineArn": machine}
    # a TIMED_OUT execution runs no Catch: only this metric tells
    timed_out = alarms["StepFunction-TimedOut"]["metricQueries"][0]["metric"]
    assert (timed_out["namespace"], timed_out["metricName"], timed_out["stat"]) == (
        "AWS/States", "ExecutionsTimedOut", "Sum")
    assert timed_out["dimensions"] == {"StateMachineArn": machine}
    assert alarms["StepFunction-TimedOut"]["threshold"] == 0
    lister = alarms["Lister-Errors"]
    assert len(lister["metricQueries"]) == 1
    metric = lister["metricQueries"][0]["metric"]
    assert (metric["namespace"], metric["metricName"], metric["stat"]) == (
        "AWS/Lambda", "Errors", "Sum")
    assert metric["dimensions"] == {"FunctionName": graph.function("list").outputs["name"]}
    assert (lister["threshold"], lister["comparisonOperator"]) == (0, "GreaterThanThreshold")
    dlq = alarms["DLQ-Messages"]["metricQueries"][0]["metric"]
    assert dlq["dimensions"] == {"QueueName": graph.one("aws:sqs/queue:Queue").outputs["name"]}
    topic = graph.one("aws:sns/topic:Topic").outputs["arn"]
    assert all(a["alarmActions"] == [topic] for a in alarms.values())
    for function in graph.of_type("aws:lambda/function:Function"):  # no custom metrics
        assert function.inputs["environment"]["variables"]["CLOUDSYNC_METRICS"] == "off"


def _per_function(key: str) -> list[str]:
    """A per-function alarm's CloudWatch alarms: one per ten functions (CloudWatch's limit)."""
    chunks = -(-len(FUNCTIONS) // 10)
    return [key, *(f"{key}-{n}" for n in range(2, chunks + 1))]


def test_every_alarm_with_custom_metrics_and_thresholds_from_config(bundle: Any) -> None:
    from .conftest import build_stack

    config = {**stack_config("prod"), "cloudsync:customMetrics": "true",
              "cloudsync:alarms": "all",
              "cloudsync:alarmThresholds": json.dumps({"syncFailures": 10,
                                                       "lowThroughputMbps": 50})}
    graph = build_stack("prod", config)
    alarms = _alarms(graph)
    t = AlarmThresholds()
    want = {
        "Sync-HighFailureRate": (10, "GreaterThanThreshold", 300, 1),
        "Auth-Failure": (t.auth_failures, "GreaterThanThreshold", 300, 1),
        "Lambda-Errors": (t.lambda_errors, "GreaterThanThreshold", 300, 1),
        "Lambda-Throttles": (t.lambda_throttles, "GreaterThanThreshold", 300, 1),
        "StepFunction-Failed": (t.workflow_failures, "GreaterThanThreshold", 300, 1),
        "StepFunction-TimedOut": (t.workflow_timeouts, "GreaterThanThreshold", 300, 1),
        "Lister-Errors": (t.lister_errors, "GreaterThanThreshold", 300, 1),
        "DLQ-Messages": (t.dlq_messages, "GreaterThanThreshold", 300, 2),
        "Low-Throughput": (50, "LessThanThreshold", 900, 2),
    }
    for key in ("Lambda-Errors", "Lambda-Throttles"):
        want.update({k: want[key] for k in _per_function(key)})
    assert set(alarms) == set(want)
    assert _alarm_metrics(alarms) == cost.alarm_metric_count("all", True, len(FUNCTIONS))
    for name, (threshold, comparison, period, evaluations) in want.items():
        a = alarms[name]
        assert (a["threshold"], a["comparisonOperator"], a["evaluationPeriods"]) == (
            threshold, comparison, evaluations), name
        assert a["treatMissingData"] == "notBreaching"
        result = next(q for q in a["metricQueries"] if q["returnData"])
        periods = {q.get("period") or q.get("metric", {}).get("period")
                   for q in a["metricQueries"]} - {None}
        assert periods == {period}, name
        assert result["id"] == "result"
    where = f"FROM GoProSync WHERE Environment = '{graph.stack}'"
    assert alarms["Sync-HighFailureRate"]["metricQueries"][0]["expression"] == \
        "SELECT SUM(SyncFailures) " + where
    assert alarms["Low-Throughput"]["metricQueries"][0]["expression"] == \
        "SELECT AVG(TransferThroughput) " + where
    errors = [q for k in _per_function("Lambda-Errors") for q in alarms[k]["metricQueries"]]
    names = [q["metric"]["dimensions"]["FunctionName"] for q in errors if "metric" in q]
    assert sorted(names) == sorted(graph.function(f.name).outputs["name"] for f in FUNCTIONS)
    for a in alarms.values():  # CloudWatch's hard limit of metrics in one alarm
        assert sum(1 for q in a["metricQueries"] if "metric" in q) <= 10
    for function in graph.of_type("aws:lambda/function:Function"):
        assert function.inputs["environment"]["variables"].get("CLOUDSYNC_METRICS") != "off"


def test_all_alarms_without_custom_metrics_read_none(bundle: Any) -> None:
    from .conftest import build_stack

    graph = build_stack("prod", {**stack_config("prod"), "cloudsync:alarms": "all"})
    alarms = _alarms(graph)
    assert set(alarms) == {*_per_function("Lambda-Errors"), *_per_function("Lambda-Throttles"),
                           "StepFunction-Failed", "StepFunction-TimedOut", "Lister-Errors",
                           "DLQ-Messages"}
    assert _alarm_metrics(alarms) == cost.alarm_metric_count("all", False, len(FUNCTIONS))


def test_dashboard_has_the_seeds_widgets(graph: Graph) -> None:
    body = json.loads(graph.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    widgets = body["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    assert titles == [
        "Sync success: media synced", "Sync success: failures", "Transfer volume (GiB)",
        "Transfer throughput (Mbit/s)", "Lambda duration (p50, p99, max)", "Errors by function",
        "Transfer workflows", "Recent errors (all log groups)",
    ]
    by_title = {w["properties"]["title"]: w for w in widgets}
    for title in ("Sync success: media synced", "Sync success: failures"):
        assert by_title[title]["properties"]["period"] == 3600
    where = f"FROM GoProSync WHERE Environment = '{graph.stack}'"
    assert [m[0]["expression"] for m in by_title["Sync success: media synced"]["properties"][
        "metrics"]] == ["SELECT SUM(VideosSynced) " + where]
    assert [m[0]["expression"] for m in by_title["Sync success: failures"]["properties"][
        "metrics"]] == ["SELECT SUM(SyncFailures) " + where]
    workflows = by_title["Transfer workflows"]["properties"]["metrics"]
    assert [m[1] for m in workflows] == [
        "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"]
    assert by_title["Errors by function"]["properties"]["stacked"] is True
    assert by_title["Transfer workflows"]["properties"]["view"] == "singleValue"
    assert by_title["Transfer workflows"]["properties"]["period"] == 86400
    durations = by_title["Lambda duration (p50, p99, max)"]["properties"]["metrics"]
    assert {m[-1]["stat"] for m in durations} == {"p50", "p99", "Maximum"}
    assert len(durations) == 3 * len(FUNCTIONS)
    logs = by_title["Recent errors (all log groups)"]
    assert logs["type"] == "log"
    assert logs["properties"]["query"].count("SOURCE '") == len(FUNCTIONS) + 1


def test_outputs_and_the_ssm_parameter_the_cli_reads(graph: Graph) -> None:
    e = graph.exports
    assert e["bucket"] == graph.one(T_BUCKET).outputs["bucket"]
    assert e["table"] == graph.one("aws:dynamodb/table:Table").outputs["name"]
    assert e["stateMachineArn"] == graph.one("aws:sfn/stateMachine:StateMachine").outputs["arn"]
    assert e["topicArn"] == graph.one("aws:sns/topic:Topic").outputs["arn"]
    credentials = graph.one("aws:secretsmanager/secret:Secret", "credentials-secret")
    assert e["secretArn"] == credentials.outputs["arn"]
    # the generated name reaches the CLI through the outputs parameter
    assert e["secretId"] == credentials.outputs["name"]
    assert e["secretId"].startswith(f"cloudsync/{graph.stack}/credentials-")
    notify = graph.one("aws:secretsmanager/secret:Secret", "credentials-notify")
    assert (e["notifySecretId"], e["notifySecretArn"]) == (notify.outputs["name"],
                                                          notify.outputs["arn"])
    assert e["notifySecretId"].startswith(f"cloudsync/{graph.stack}/notify-")
    assert not {"secretString", "secretBinary"} & set(notify.inputs)  # empty: email only
    assert e["region"] == expected(graph)["region"]
    # doctor reads the schedule by name
    assert e["scheduleName"] == graph.one("aws:scheduler/schedule:Schedule").outputs["name"]
    parameter = graph.one("aws:ssm/parameter:Parameter")
    assert parameter.inputs["name"] == f"/cloudsync/{graph.stack}/outputs"
    assert parameter.inputs["type"] == "String"
    assert e["outputsParameter"] == parameter.inputs["name"]
    stored = json.loads(parameter.inputs["insecureValue"])
    assert stored == {k: v for k, v in e.items() if k != "outputsParameter"}


def _normalise(value: Any, stack: str) -> Any:
    if isinstance(value, str):
        return re.sub(rf"(?<![A-Za-z]){stack}(?![A-Za-z])", "{stack}", value)
    if isinstance(value, dict):
        return {k: _normalise(v, stack) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, stack) for v in value]
    if isinstance(value, pulumi.FileArchive):
        return value.path
    return value


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{path}.{k}", out)
    elif isinstance(value, list):
        for n, v in enumerate(value):
            _flatten(v, f"{path}[{n}]", out)
    else:
        out[path] = value


def test_dev_and_prod_differ_exactly_as_configured(dev: Graph, prod: Graph) -> None:
    def flat(graph: Graph) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for r in graph.resources:
            _flatten(_normalise(r.inputs, graph.stack), f"{r.type}:{r.name}", out)
        return out

    a, b = flat(dev), flat(prod)
    differing = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    fn = "aws:lambda/function:Function"
    allowed = {"aws:scheduler/schedule:Schedule:schedule-schedule.scheduleExpression",
               "aws:sns/topicSubscription:TopicSubscription:alerts-email.endpoint"}
    for spec in FUNCTIONS:
        base = f"{fn}:functions-{spec.name.replace('_', '-')}.environment.variables."
        allowed |= {base + settings.ENV_MAX_CONCURRENT_MEDIA, base + "POWERTOOLS_LOG_LEVEL"}
    machine = "aws:sfn/stateMachine:StateMachine:workflow-state-machine.definition"
    in_definition = {k for k in differing if k.startswith(machine)}
    assert differing - in_definition == allowed
    # inside the definition only the media bound differs (TakeSlot/RetakeSlot ':max' and comments)
    assert in_definition and all(
        str(a.get(k)).replace("2", "5") == str(b.get(k)) for k in in_definition)
    assert a["aws:scheduler/schedule:Schedule:schedule-schedule.scheduleExpression"] == \
        "cron(0 3 * * ? *)"
    assert b["aws:scheduler/schedule:Schedule:schedule-schedule.scheduleExpression"] == \
        "cron(0 2 * * ? *)"


def test_no_secret_value_in_any_resource_input(graph: Graph) -> None:
    from cloudsync_defs.policy_rules import RULES

    (rule,) = [r for r in RULES if r.name == "no-secret-values"]
    no_secret_values = rule.check

    assert graph.of_type("aws:secretsmanager/secretVersion:SecretVersion") == []
    assert no_secret_values(graph.policy_resources()) == []
    text = json.dumps([r.inputs for r in graph.resources], default=str)
    for needle in ("eyJ", "Bearer ", "refresh_token", "access_token", "password",
                   "client_secret", "gp_access_token"):
        assert needle not in text, needle
    # the rule would notice one
    bad = [*graph.policy_resources()]
    bad[0] = type(bad[0])(bad[0].type, bad[0].name,
                          {**bad[0].props, "x": "Bearer abcdefghijklmnopqrstuvwxyz"})
    assert no_secret_values(bad)


def _insights_queries(widget: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for line in widget["properties"].get("metrics", []):
        for item in line:
            expression = item.get("expression", "") if isinstance(item, dict) else ""
            if re.match(r"\s*SELECT\b", expression, re.IGNORECASE):
                found.append(expression)
    return found


def test_every_dashboard_widget_has_at_most_one_metrics_insights_query(graph: Graph) -> None:
    # CloudWatch runs one Metrics Insights query per graph (GetMetricData takes one); a widget
    # with two shows an error instead of data.
    body = json.loads(graph.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    counts = {w["properties"]["title"]: len(_insights_queries(w)) for w in body["widgets"]}
    assert all(n <= 1 for n in counts.values()), counts
    assert sum(counts.values()) == 4  # synced, failures, volume, throughput: each in its own


def test_global_names_carry_the_region(dev: Graph) -> None:
    """One stack name in two regions of one account: IAM roles and dashboards must not clash."""
    from .conftest import build_stack

    def global_names(graph: Graph) -> set[str]:
        roles = {r.inputs["name"] for r in graph.of_type("aws:iam/role:Role")}
        dashboards = {d.inputs["dashboardName"]
                      for d in graph.of_type("aws:cloudwatch/dashboard:Dashboard")}
        buckets = {b.inputs["bucket"] for b in graph.of_type(T_BUCKET)}
        return roles | dashboards | buckets

    ireland = build_stack("dev", {**stack_config("dev"), "aws:region": "eu-west-1"})
    a, b = global_names(dev), global_names(ireland)
    assert len(a) == len(b) == len(FUNCTIONS) + 2 + 1 + 1
    assert not a & b, a & b
    assert all(len(name) <= 64 for name in a | b
               if name.startswith("cloudsync-") and not name.endswith("operations"))
    roles = [ireland.function(f.name).inputs["role"] for f in FUNCTIONS]
    assert all(":role/cloudsync-dev-eu-west-1-" in arn for arn in roles), roles


def test_the_workflow_lives_in_the_deploying_partition(bundle: Any) -> None:
    from .conftest import build_stack

    graph = build_stack("dev", {**stack_config("dev"), "aws:region": "cn-north-1"})
    definition = graph.one("aws:sfn/stateMachine:StateMachine").inputs["definition"]
    arns = set(re.findall(r'"(arn:[^"]*)"', definition))
    assert arns and all(arn.startswith("arn:aws-cn:") for arn in arns), arns
    assert "arn:aws-cn:states:::dynamodb:updateItem" in arns


def test_the_definition_takes_the_partition_given_or_the_functions_one() -> None:
    def arns(partition: str) -> dict[str, str]:
        return {n: f"arn:{partition}:lambda:cn-north-1:{ACCOUNT}:function:f-{n}"
                for n in FUNCTIONS_IN_WORKFLOW}

    def states_arns(text: str) -> set[str]:
        return set(re.findall(r'"(arn:[^":]*:states:[^"]*)"', text))

    args = {"table_name": "t", "max_concurrent_media": 1, "map_concurrency": 1}
    # the local cloud passes no partition: read from its function ARNs
    assert states_arns(render_transfer_definition(function_arns=arns("aws"), **args)) == {
        "arn:aws:states:::dynamodb:updateItem"}
    assert states_arns(render_transfer_definition(
        function_arns=arns("aws-cn"), partition="aws-cn", **args)) == {
        "arn:aws-cn:states:::dynamodb:updateItem"}
    with pytest.raises(ValueError, match="partition"):
        render_transfer_definition(function_arns=arns("aws"), partition="aws-cn", **args)


def test_deploy_md_teardown_matches_what_the_program_retains(graph: Graph) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    teardown = text[text.index("## Tear down safely"):]
    # `pulumi state delete` refuses resources others depend on: the flow never needs it
    assert "state delete" not in teardown
    for command in ("pulumi state unprotect --all --yes", "pulumi destroy --yes"):
        assert command in teardown, command
    (count,) = re.findall(r"grep -c '\"retainOnDelete\": true'\s+# (\d+)", teardown)
    assert int(count) == sum(1 for r in graph.resources if r.custom and r.retain_on_delete)
