"""cloudsync's Pulumi program: reads the stack config once, wires the components, exports outputs.

``pulumi up`` runs this file; the tests import it and call ``main()`` under Pulumi mocks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
for _path in (ROOT, ROOT / "functions"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import pulumi  # noqa: E402

from cloudsync_defs import bundle as bundles  # noqa: E402
from cloudsync_defs.functions import FUNCTIONS  # noqa: E402
from components import iam  # noqa: E402
from components.alerts import Alerts, AlertsArgs  # noqa: E402
from components.archive import ArchiveStorage, ArchiveStorageArgs  # noqa: E402
from components.config import StackConfig, load  # noqa: E402
from components.credentials import CredentialsSecret, CredentialsSecretArgs  # noqa: E402
from components.discovery import Discovery, DiscoveryArgs  # noqa: E402
from components.functions import (  # noqa: E402
    STREAM_CONSUMER,
    Functions,
    FunctionsArgs,
    function_environment,
)
from components.monitoring import Monitoring, MonitoringArgs  # noqa: E402
from components.naming import Naming  # noqa: E402
from components.schedule import NightlySchedule, NightlyScheduleArgs  # noqa: E402
from components.tracker import TrackerTable, TrackerTableArgs  # noqa: E402
from components.workflow import TransferWorkflow, TransferWorkflowArgs  # noqa: E402

SCHEDULED_FUNCTION = "list"


def build_bundle() -> bundles.Bundle:
    try:
        return bundles.build()
    except bundles.BundleError as e:
        raise pulumi.RunError(f"could not build the Lambda bundle: {e}") from e


def deploy(cfg: StackConfig, naming: Naming, bundle: bundles.Bundle) -> dict[str, Any]:
    """Every component of one stack; returns the stack outputs."""
    tags = naming.tags(dict(cfg.tags))
    writers = [
        naming.role_arn(naming.role_name(spec.name))
        for spec in FUNCTIONS
        if "archive_write" in spec.grants
    ]
    archive = ArchiveStorage(
        "archive",
        ArchiveStorageArgs(naming=naming, lifecycle=cfg.lifecycle, writer_role_arns=writers,
                           tags=tags),
    )
    tracker = TrackerTable("tracker", TrackerTableArgs(naming=naming, tags=tags))
    credentials = CredentialsSecret("credentials", CredentialsSecretArgs(naming=naming, tags=tags))
    alerts = Alerts(
        "alerts", AlertsArgs(naming=naming, key_arn=archive.key_arn, email=cfg.alert_email,
                             tags=tags),
    )
    scope = iam.Scope(
        naming=naming,
        table_arn=tracker.table_arn,
        bucket_arn=archive.bucket_arn,
        prefixes=cfg.prefixes,
        key_arn=archive.key_arn,
        secret_arn=credentials.secret_arn,
        topic_arn=alerts.topic_arn,
        state_machine_arn=naming.state_machine_arn,
    )
    functions = Functions(
        "functions",
        FunctionsArgs(
            naming=naming,
            bundle=bundle,
            settings=cfg.functions,
            environment=function_environment(
                cfg, naming,
                table_name=tracker.table_name,
                bucket_name=archive.bucket_name,
                secret_arn=credentials.secret_arn,
                topic_arn=alerts.topic_arn,
            ),
            scope=scope,
            log_retention_days=cfg.log_retention_days,
            secret_rotation=cfg.secret_rotation,
            secret_rotation_days=cfg.secret_rotation_days,
            tags=tags,
        ),
    )
    workflow = TransferWorkflow(
        "workflow",
        TransferWorkflowArgs(
            naming=naming,
            function_arns=functions.arns,
            table_name=tracker.table_name,
            table_arn=tracker.table_arn,
            stream_arn=tracker.stream_arn,
            starter_function_arn=functions.arns[STREAM_CONSUMER],
            starter_ready=functions.role_policies[STREAM_CONSUMER],
            failure_queue_arn=functions.failure_queue_arn,
            max_concurrent_media=cfg.max_concurrent_media,
            map_concurrency=cfg.map_concurrency,
            batch_size=cfg.stream_batch_size,
            max_retries=cfg.stream_max_retries,
            log_retention_days=cfg.log_retention_days,
            tags=tags,
        ),
    )
    schedule = NightlySchedule(
        "schedule",
        NightlyScheduleArgs(
            naming=naming,
            cron=cfg.schedule_cron,
            timezone=cfg.schedule_timezone,
            target_function_arn=functions.arns[SCHEDULED_FUNCTION],
            dead_letter_queue_arn=functions.failure_queue_arn,
            tags=tags,
        ),
    )
    Monitoring(
        "monitoring",
        MonitoringArgs(
            naming=naming,
            thresholds=cfg.alarms,
            topic_arn=alerts.topic_arn,
            function_names=functions.names,
            state_machine_arn=workflow.state_machine_arn,
            failure_queue_name=functions.failure_queue_name,
            function_log_groups=[naming.function_log_group(s.name) for s in FUNCTIONS],
            workflow_log_group=naming.workflow_log_group,
            tags=tags,
            custom_metrics=cfg.custom_metrics,
        ),
    )
    outputs: dict[str, Any] = {
        "stack": naming.stack,
        "region": naming.region,
        "bucket": archive.bucket_name,
        "table": tracker.table_name,
        "stateMachineArn": workflow.state_machine_arn,
        "topicArn": alerts.topic_arn,
        "secretId": credentials.secret_name,
        "secretArn": credentials.secret_arn,
        "functions": functions.names,
        "listFunction": functions.names[SCHEDULED_FUNCTION],
        "scheduleName": schedule.schedule_name,
        "providers": list(cfg.providers),
        "goproApiUrl": cfg.gopro_api_url,
    }
    discovery = Discovery("discovery", DiscoveryArgs(naming=naming, outputs=outputs, tags=tags))
    return {**outputs, "outputsParameter": discovery.parameter_name}


def main() -> dict[str, Any]:
    cfg = load()
    naming = Naming.lookup(cfg.stack)
    outputs = deploy(cfg, naming, build_bundle())
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs


if __name__ == "__main__":
    main()
