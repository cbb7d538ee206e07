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
import pulumi_aws as aws  # noqa: E402

from cloudsync_defs import alarms as alarm_defs  # noqa: E402
from cloudsync_defs import bundle as bundles  # noqa: E402
from cloudsync_defs import options  # noqa: E402
from cloudsync_defs.functions import FUNCTIONS  # noqa: E402
from components import game_day, iam  # noqa: E402
from components.alerts import Alerts, AlertsArgs  # noqa: E402
from components.archive import ArchiveStorage, ArchiveStorageArgs  # noqa: E402
from components.audit import Audit, AuditArgs  # noqa: E402
from components.config import StackConfig, load  # noqa: E402
from components.credentials import CredentialsSecret, CredentialsSecretArgs  # noqa: E402
from components.discovery import Discovery, DiscoveryArgs  # noqa: E402
from components.functions import (  # noqa: E402
    ARCHITECTURE,
    STREAM_CONSUMER,
    FaultInjection,
    Functions,
    FunctionsArgs,
    Placement,
    function_environment,
)
from components.game_day import GameDay, GameDayArgs  # noqa: E402
from components.monitoring import Monitoring, MonitoringArgs  # noqa: E402
from components.naming import Naming  # noqa: E402
from components.network import Network, NetworkArgs  # noqa: E402
from components.schedule import NightlySchedule, NightlyScheduleArgs  # noqa: E402
from components.tracker import TrackerTable, TrackerTableArgs  # noqa: E402
from components.workflow import TransferWorkflow, TransferWorkflowArgs  # noqa: E402

SCHEDULED_FUNCTION = "list"


def build_bundle() -> bundles.Bundle:
    try:
        return bundles.build()
    except bundles.BundleError as e:
        raise pulumi.RunError(f"could not build the Lambda bundle: {e}") from e


class _Program:
    """The components of one stack, each built by one method from the config and the
    components before it."""

    def __init__(self, cfg: StackConfig, naming: Naming, bundle: bundles.Bundle) -> None:
        self.cfg = cfg
        self.naming = naming
        self.bundle = bundle
        self.tags = naming.tags(dict(cfg.tags))
        self.option_outputs: dict[str, Any] = {}  # only the options that are on

    def storage(self) -> None:
        naming, tags = self.naming, self.tags
        writers = [naming.role_arn(naming.role_name(spec.name))
                   for spec in FUNCTIONS if "archive_write" in spec.grants]
        self.archive = ArchiveStorage("archive", ArchiveStorageArgs(
            naming=naming, lifecycle=self.cfg.lifecycle, writer_role_arns=writers, tags=tags))
        self.tracker = TrackerTable("tracker", TrackerTableArgs(naming=naming, tags=tags))
        self.credentials = CredentialsSecret(
            "credentials", CredentialsSecretArgs(naming=naming, tags=tags))
        self.alerts = Alerts("alerts", AlertsArgs(
            naming=naming, key_arn=self.archive.key_arn, email=self.cfg.alert_email, tags=tags))

    def functions(self) -> None:
        cfg, naming = self.cfg, self.naming
        scope = iam.Scope(
            naming=naming, table_arn=self.tracker.table_arn, bucket_arn=self.archive.bucket_arn,
            prefixes=cfg.prefixes, key_arn=self.archive.key_arn,
            secret_arn=self.credentials.secret_arn, topic_arn=self.alerts.topic_arn,
            state_machine_arn=naming.state_machine_arn,
            notify_secret_arn=self.credentials.notify_secret_arn,
        )
        environment = function_environment(
            cfg, naming, table_name=self.tracker.table_name,
            bucket_name=self.archive.bucket_name, secret_arn=self.credentials.secret_arn,
            topic_arn=self.alerts.topic_arn,
        )
        self.fns = Functions("functions", FunctionsArgs(
            naming=naming, bundle=self.bundle, settings=cfg.functions, environment=environment,
            scope=scope, log_retention_days=cfg.log_retention_days,
            secret_rotation=cfg.secret_rotation, secret_rotation_days=cfg.secret_rotation_days,
            tags=self.tags, placement=self.placement(), fault_injection=self.fault_injection(),
        ))

    def placement(self) -> Placement | None:
        """Stack config ``vpc``: the network the functions run in, or None (Lambda's own)."""
        vpc = self.cfg.vpc
        if not vpc.enabled:
            return None
        zones: list[str] = []
        if vpc.mode == "create":
            zones = list(aws.get_availability_zones(state="available").names)
        network = Network("network", NetworkArgs(
            naming=self.naming, options=vpc, availability_zones=zones, tags=self.tags))
        return Placement(network.subnet_ids, network.security_group_ids)

    def fault_injection(self) -> FaultInjection | None:
        """Stack config ``fis``: the FIS extension on the function the game day targets."""
        if not self.cfg.fis.enabled:
            return None
        return FaultInjection(
            function=options.FIS_TARGET_FUNCTION,
            layer_arn=game_day.extension_layer_arn(ARCHITECTURE),
            environment={"AWS_LAMBDA_EXEC_WRAPPER": options.FIS_EXEC_WRAPPER,
                         "AWS_FIS_CONFIGURATION_LOCATION": game_day.config_location(self.naming)},
            statements=game_day.extension_reads(self.naming))

    def workflow(self) -> None:
        cfg, fns, tracker = self.cfg, self.fns, self.tracker
        self.transfer = TransferWorkflow("workflow", TransferWorkflowArgs(
            naming=self.naming, function_arns=fns.arns, table_name=tracker.table_name,
            table_arn=tracker.table_arn, stream_arn=tracker.stream_arn,
            starter_function_arn=fns.arns[STREAM_CONSUMER],
            starter_ready=fns.role_policies[STREAM_CONSUMER],
            failure_queue_arn=fns.failure_queue_arn,
            max_concurrent_media=cfg.max_concurrent_media, map_concurrency=cfg.map_concurrency,
            batch_size=cfg.stream_batch_size, max_retries=cfg.stream_max_retries,
            log_retention_days=cfg.log_retention_days, tags=self.tags,
        ))
        self.schedule = NightlySchedule("schedule", NightlyScheduleArgs(
            naming=self.naming, cron=cfg.schedule_cron, timezone=cfg.schedule_timezone,
            target_function_arn=fns.arns[SCHEDULED_FUNCTION],
            dead_letter_queue_arn=fns.failure_queue_arn, tags=self.tags,
        ))

    def monitoring(self) -> None:
        naming = self.naming
        self.monitor = Monitoring("monitoring", MonitoringArgs(
            naming=naming, thresholds=self.cfg.alarms, topic_arn=self.alerts.topic_arn,
            function_names=self.fns.names, state_machine_arn=self.transfer.state_machine_arn,
            failure_queue_name=self.fns.failure_queue_name,
            function_log_groups=[naming.function_log_group(s.name) for s in FUNCTIONS],
            workflow_log_group=naming.workflow_log_group, tags=self.tags,
            custom_metrics=self.cfg.custom_metrics,
        ))

    def options(self) -> None:
        """The optional features that watch or exercise the rest (stack config ``audit``,
        ``fis``); the VPC is the functions' (``placement``)."""
        cfg, naming, tags = self.cfg, self.naming, self.tags
        if cfg.audit.enabled:
            audit = Audit("audit", AuditArgs(
                naming=naming, options=cfg.audit, archive_bucket_arn=self.archive.bucket_arn,
                archive_bucket_name=self.archive.bucket_name,
                table_name=self.tracker.table_name, tags=tags))
            self.option_outputs.update(auditTrailArn=audit.trail_arn,
                                       auditBucket=audit.bucket_name)
        if cfg.fis.enabled:
            essential = [a.key for a in alarm_defs.catalog() if a.essential]
            stops = [self.monitor.alarms[k].arn for k in essential if k in self.monitor.alarms]
            self.game_day = GameDay("gameday", GameDayArgs(
                naming=naming, options=cfg.fis,
                target_function_arn=self.fns.arns[options.FIS_TARGET_FUNCTION],
                stop_alarm_arns=stops[:options.FIS_MAX_STOP_CONDITIONS],
                key_arn=self.archive.key_arn, tags=tags))
            self.option_outputs["gameDayTemplateId"] = self.game_day.template_id

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs, published for the CLI (``cloudsync_defs.stack``'s contract)."""
        outputs: dict[str, Any] = {
            "stack": self.naming.stack,
            "region": self.naming.region,
            "bucket": self.archive.bucket_name,
            "table": self.tracker.table_name,
            "stateMachineArn": self.transfer.state_machine_arn,
            "topicArn": self.alerts.topic_arn,
            "secretId": self.credentials.secret_name,
            "secretArn": self.credentials.secret_arn,
            "notifySecretId": self.credentials.notify_secret_name,
            "notifySecretArn": self.credentials.notify_secret_arn,
            "functions": self.fns.names,
            "listFunction": self.fns.names[SCHEDULED_FUNCTION],
            "scheduleName": self.schedule.schedule_name,
            "providers": list(self.cfg.providers),
            "goproApiUrl": self.cfg.gopro_api_url,
            **self.option_outputs,
        }
        discovery = Discovery("discovery", DiscoveryArgs(
            naming=self.naming, outputs=outputs, tags=self.tags))
        return {**outputs, "outputsParameter": discovery.parameter_name}


def deploy(cfg: StackConfig, naming: Naming, bundle: bundles.Bundle) -> dict[str, Any]:
    """Every component of one stack; returns the stack outputs."""
    program = _Program(cfg, naming, bundle)
    program.storage()
    program.functions()
    program.workflow()
    program.monitoring()
    program.options()
    return program.outputs()


def main() -> dict[str, Any]:
    cfg = load()
    naming = Naming.lookup(cfg.stack)
    outputs = deploy(cfg, naming, build_bundle())
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs


if __name__ == "__main__":
    main()
