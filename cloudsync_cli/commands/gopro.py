"""The GoPro side as the CLI sees it: which API, which client id, the stored credentials."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from cloudsync_core import settings as names
from cloudsync_core.credentials import SecretStore
from cloudsync_core.settings import Settings

from ..context import Context

DEFAULT_GOPRO_API_URL: Final = "https://api.gopro.com"


def function_environment(ctx: Context) -> dict[str, str]:
    """The list function's environment (the deployed GOPRO_* settings); {} when unreadable."""
    try:
        name = ctx.outputs.function("list")
        answer = ctx.aws.lambda_(read_timeout=30).get_function_configuration(FunctionName=name)
    except (ClientError, BotoCoreError, Exception):  # noqa: BLE001 - only a fallback
        return {}
    return dict(answer.get("Environment", {}).get("Variables", {}))


def gopro_settings(ctx: Context, api_url: str | None = None) -> Settings:
    """Settings for talking to GoPro from here: the flag, then GOPRO_API_URL, then the stack's
    outputs, then the deployed function's setting, then the real API."""
    deployed: dict[str, str] | None = None

    def from_function(name: str) -> str:
        nonlocal deployed
        if deployed is None:
            deployed = function_environment(ctx)
        return deployed.get(name, "")

    url = (
        api_url
        or os.environ.get(names.ENV_GOPRO_API_URL)
        or ctx.outputs.gopro_api_url
        or from_function(names.ENV_GOPRO_API_URL)
        or DEFAULT_GOPRO_API_URL
    )
    client_id = os.environ.get(names.ENV_GOPRO_CLIENT_ID) or from_function(
        names.ENV_GOPRO_CLIENT_ID
    )
    client_secret = os.environ.get(names.ENV_GOPRO_CLIENT_SECRET) or from_function(
        names.ENV_GOPRO_CLIENT_SECRET
    )
    return replace(
        Settings.from_env(),
        gopro_api_url=url.rstrip("/"),
        gopro_client_id=client_id,
        gopro_client_secret=client_secret,
        secret_id=ctx.outputs.secret_id,
        table=ctx.outputs.table,
        bucket=ctx.outputs.bucket,
    )


def secret_store(ctx: Context) -> SecretStore:
    return SecretStore(ctx.aws.secrets(), ctx.outputs.secret_id)
