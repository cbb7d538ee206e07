"""Lambda `index`: where and when one archived medium was shot (GPMF / EXIF), after COMPLETED.

Invoked by the transfer workflow once a medium is archived (its Catch ends the workflow
normally: the index never fails an archive) and by ``cloudsync index --rebuild``. Event:
``{"provider": ..., "media_id": ..., "correlation_id": ...}``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cloudsync_core.contract import IndexRequest
from cloudsync_core.errors import CloudSyncError
from cloudsync_core.observability import logger, register_secret, tracer
from cloudsync_core.services import Services, services
from cloudsync_core.sync.source import authenticator
from cloudsync_core.telemetry.index import SidecarFinder, index_medium
from cloudsync_core.telemetry.sources import gopro_sidecars


def sidecar_finder(svc: Services, provider: str) -> SidecarFinder | None:
    """GoPro's ``gpmf`` sidecars when a valid token is at hand; None otherwise (the archive
    is read instead; an index run never pauses the stack or alerts)."""
    if provider != "gopro" or not svc.settings.secret_id:
        return None
    try:  # not fresh_grant: the index must not count as the login failing or alarm
        grant = authenticator(svc).ensure_fresh(min_valid_seconds=60)
    except CloudSyncError as e:
        logger.info("no GoPro token for sidecars", extra={"why": type(e).__name__})
        return None
    for secret in grant.secrets():
        register_secret(secret)  # redacted from every log line
    return gopro_sidecars(svc.settings.gopro_api_url, grant)


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = IndexRequest.from_payload(event)
    svc = services()
    return index_medium(svc, request.provider, request.media_id,
                        sidecar_finder(svc, request.provider))
