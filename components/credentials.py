"""The credentials secret. Pulumi creates the secret and never its value.

The user stores the login with ``cloudsync login`` (a SecretVersion made outside Pulumi), so no
token or password ever passes through stack config, state or a resource input. Rotation (the
seed's 30 days) is attached by the functions component, which owns the ``rotate`` function; the
secret has no value until ``cloudsync login``, and the rotate function's steps do nothing on a
secret without a stored login (Secrets Manager tests a new rotation configuration at once).

The name is a fixed prefix plus a suffix Secrets Manager's client generates (``name_prefix``): a
destroyed secret keeps its name for its 7-day recovery window, so a fixed name would stop the
stack from being created again within that week. Nobody needs the name: the functions get the ARN
and the ``cloudsync`` CLI reads ``secretId`` from the outputs parameter (components/discovery.py).

The notify secret (``notify``) holds the Slack and webhook URLs alerts are posted to (a Slack
webhook URL is a credential by itself). It is a secret of its own so that only the functions that
send alerts may read it (grant ``notify_secret_read``), and it is created empty too: no value
means no Slack or webhook alerts, so no stack setting turns them on. ``cloudsync notify-setup``
stores the URLs, ``notifySecretId`` in the outputs names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .naming import Naming


@dataclass
class CredentialsSecretArgs:
    naming: Naming
    tags: Mapping[str, str]


class CredentialsSecret(pulumi.ComponentResource):
    secret: aws.secretsmanager.Secret

    def __init__(
        self, name: str, args: CredentialsSecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudsync:index:CredentialsSecret", name, None, opts)
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name_prefix=args.naming.secret_name_prefix,
            description="GoPro login tokens for cloudsync; set with `cloudsync login`",
            recovery_window_in_days=7,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.notify = aws.secretsmanager.Secret(
            f"{name}-notify",
            name_prefix=f"cloudsync/{args.naming.stack}/notify-",
            description="Slack and webhook alert URLs for cloudsync; set with "
            "`cloudsync notify-setup` (empty: email alerts only)",
            recovery_window_in_days=7,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.secret_arn: pulumi.Output[str] = self.secret.arn
        self.secret_name: pulumi.Output[str] = self.secret.name
        self.notify_secret_arn: pulumi.Output[str] = self.notify.arn
        self.notify_secret_name: pulumi.Output[str] = self.notify.name
        self.register_outputs({"secret_arn": self.secret_arn, "secret_name": self.secret_name,
                               "notify_secret_arn": self.notify_secret_arn})
