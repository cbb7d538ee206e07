"""The nightly run: an EventBridge Scheduler schedule invoking the lister, retries and a DLQ."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from cloudsync_defs.functions import SCHEDULE_EVENT

from . import iam
from .naming import Naming

RETRIES: Final = 2
MAX_EVENT_AGE_S: Final = 3600


@dataclass
class NightlyScheduleArgs:
    naming: Naming
    cron: str
    timezone: str
    target_function_arn: pulumi.Input[str]
    dead_letter_queue_arn: pulumi.Input[str]
    tags: Mapping[str, str]


class NightlySchedule(pulumi.ComponentResource):
    schedule: aws.scheduler.Schedule

    def __init__(
        self, name: str, args: NightlyScheduleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudsync:index:NightlySchedule", name, None, opts)
        naming = args.naming
        self.role, self.role_policy = iam.service_role(self, name, iam.ServiceRole(
            naming.schedule_role_name, "the nightly schedule", "scheduler.amazonaws.com",
            [iam.invoke([args.target_function_arn]), iam.queue_send(args.dead_letter_queue_arn)],
        ), naming, args.tags)
        self.schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            name=naming.name("nightly"),
            description="cloudsync: list the library and queue what is new",
            schedule_expression=args.cron,
            schedule_expression_timezone=args.timezone,
            flexible_time_window={"mode": "OFF"},
            state="ENABLED",
            target={
                "arn": args.target_function_arn,
                "role_arn": self.role.arn,
                "input": json.dumps(SCHEDULE_EVENT),
                "retry_policy": {
                    "maximum_retry_attempts": RETRIES,
                    "maximum_event_age_in_seconds": MAX_EVENT_AGE_S,
                },
                "dead_letter_config": {"arn": args.dead_letter_queue_arn},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role_policy]),
        )
        self.schedule_arn: pulumi.Output[str] = self.schedule.arn
        self.schedule_name: pulumi.Output[str] = self.schedule.name
        self.register_outputs(
            {"schedule_arn": self.schedule_arn, "schedule_name": self.schedule_name}
        )
