"""Everything a function reads from its environment, read once and typed.

The Pulumi program and the local cloud set the same variables (``ENV_*`` names below).
AWS endpoints are not a setting here: boto3 honours ``AWS_ENDPOINT_URL`` itself, which is how
the local cloud points every client at moto. The ``gopro_*`` fields are the GoPro provider's
(providers/gopro/), kept here because the stack, the local cloud and the CLI set them by these
names; another provider reads its own variables in its own package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from .errors import ConfigurationError

ENV_TABLE: Final = "CLOUDSYNC_TABLE"
ENV_BUCKET: Final = "CLOUDSYNC_BUCKET"
ENV_SECRET: Final = "CLOUDSYNC_SECRET_ID"  # noqa: S105 (a variable name)
ENV_TOPIC: Final = "CLOUDSYNC_TOPIC_ARN"
ENV_STATE_MACHINE: Final = "CLOUDSYNC_STATE_MACHINE_ARN"
ENV_ENVIRONMENT: Final = "CLOUDSYNC_ENVIRONMENT"
ENV_GOPRO_API_URL: Final = "GOPRO_API_URL"
ENV_GOPRO_CLIENT_ID: Final = "GOPRO_CLIENT_ID"
ENV_GOPRO_CLIENT_SECRET: Final = "GOPRO_CLIENT_SECRET"  # noqa: S105  # the web app's public client secret
ENV_MAX_CONCURRENT_MEDIA: Final = "CLOUDSYNC_MAX_CONCURRENT_MEDIA"
ENV_RETRY_BUDGET: Final = "CLOUDSYNC_RETRY_BUDGET"
ENV_TIME_BUDGET: Final = "CLOUDSYNC_TIME_BUDGET_SECONDS"
ENV_LEASE: Final = "CLOUDSYNC_LEASE_SECONDS"
ENV_PART_SIZE_MIB: Final = "CLOUDSYNC_PART_SIZE_MIB"
ENV_PARALLEL_RANGES: Final = "CLOUDSYNC_PARALLEL_RANGES"
ENV_MEDIA_TYPES: Final = "CLOUDSYNC_MEDIA_TYPES"
ENV_MAX_ITEMS: Final = "CLOUDSYNC_MAX_ITEMS"
ENV_METRICS: Final = "CLOUDSYNC_METRICS"  # "off": no custom metrics (stack config customMetrics)
ENV_INCLUDE_RENDERS: Final = "CLOUDSYNC_INCLUDE_RENDERS"  # "true": archive GoPro share renders
# Read by the lister itself (sync/selection.py, sync/listing_state.py), not by Settings:
ENV_SELECTION: Final = "CLOUDSYNC_SELECTION"  # stack config ``selection``, as JSON
ENV_FULL_LISTING_DAYS: Final = "CLOUDSYNC_FULL_LISTING_DAYS"  # stack config ``fullListingDays``


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}") from e
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, not {value}")
    return value


def _flag(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no", "off"):
        return False
    if raw in ("true", "1", "yes", "on"):
        return True
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


@dataclass(frozen=True)
class Settings:
    table: str
    bucket: str
    secret_id: str
    topic_arn: str
    state_machine_arn: str
    environment: str
    gopro_api_url: str
    gopro_client_id: str
    gopro_client_secret: str
    max_concurrent_media: int  # the seed's 5: Express starts are unbounded by themselves
    retry_budget: int  # claims of one medium before a FAILED row stays failed
    time_budget_s: int  # how long one execution may transfer before it continues anew
    lease_s: int  # how long a claim holds a medium; longer than the Express limit
    part_size_mib: int  # 0: chosen from the file size
    parallel_ranges: int  # ranged GETs in flight inside one transfer invocation
    media_types: tuple[str, ...]
    max_items: int | None
    # GoPro's share renders (composition "export") are SKIPPED unless this is on (stack config
    # includeRenders): they are copies GoPro made, which its own app hides.
    include_renders: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        max_items = _int(ENV_MAX_ITEMS, 0)
        return cls(
            table=env.get(ENV_TABLE, ""),
            bucket=env.get(ENV_BUCKET, ""),
            secret_id=env.get(ENV_SECRET, ""),
            topic_arn=env.get(ENV_TOPIC, ""),
            state_machine_arn=env.get(ENV_STATE_MACHINE, ""),
            environment=env.get(ENV_ENVIRONMENT, "dev"),
            gopro_api_url=env.get(ENV_GOPRO_API_URL, "https://api.gopro.com").rstrip("/"),
            gopro_client_id=env.get(ENV_GOPRO_CLIENT_ID, ""),
            gopro_client_secret=env.get(ENV_GOPRO_CLIENT_SECRET, ""),
            max_concurrent_media=_int(ENV_MAX_CONCURRENT_MEDIA, 5, minimum=1),
            retry_budget=_int(ENV_RETRY_BUDGET, 3, minimum=1),
            time_budget_s=_int(ENV_TIME_BUDGET, 240, minimum=1),
            lease_s=_int(ENV_LEASE, 360, minimum=1),
            part_size_mib=_int(ENV_PART_SIZE_MIB, 0),
            parallel_ranges=_int(ENV_PARALLEL_RANGES, 8, minimum=1),
            media_types=tuple(
                t.strip() for t in env.get(ENV_MEDIA_TYPES, "").split(",") if t.strip()
            ),
            max_items=max_items or None,
            include_renders=_flag(ENV_INCLUDE_RENDERS),
        )

    def require(self, *names: str) -> None:
        """Fail clearly when a function runs without a setting it needs."""
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            raise ConfigurationError(f"missing settings: {', '.join(missing)}")
