"""The alerts topic: encrypted with the customer-managed key, TLS only, one email subscriber."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .naming import Naming


@dataclass
class AlertsArgs:
    naming: Naming
    key_arn: pulumi.Input[str]
    email: str
    tags: Mapping[str, str]


class Alerts(pulumi.ComponentResource):
    topic: aws.sns.Topic

    def __init__(
        self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudsync:index:Alerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=args.naming.name("alerts"),
            display_name="cloudsync alerts",
            kms_master_key_id=args.key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        self.topic_policy = aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "CloudWatchAlarms",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": self.topic.arn,
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": args.naming.account}
                            },
                        },
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "sns:Publish",
                            "Resource": self.topic.arn,
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ],
                }
            ),
            opts=child,
        )
        self.subscription = aws.sns.TopicSubscription(
            f"{name}-email",
            topic=self.topic.arn,
            protocol="email",
            endpoint=args.email,
            opts=child,
        )
        self.topic_arn: pulumi.Output[str] = self.topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})
