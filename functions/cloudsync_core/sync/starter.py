"""The stream consumer: one workflow execution per medium that became PENDING.

Express executions have no idempotent names, so a duplicated delivery may start two; the
workflow's conditional claim makes the second one end quietly. Names still carry the row's
wake-up so every execution is traceable to the write that started it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..aws import translate
from ..contract import ExecutionInput
from ..errors import BadEventError
from ..services import Services
from ..tracker import PENDING, plain

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class StartRequest:
    provider: str
    media_id: str
    wake: int
    run_id: str

    @classmethod
    def from_values(cls, image: dict[str, Any]) -> StartRequest | None:
        """The request for a stream record's new image; None when it is not a PENDING row."""
        values = plain(dict(image))
        if values.get("status") != PENDING:
            return None
        provider, media_id, wake = (
            values.get("provider"),
            values.get("media_id"),
            values.get("wake"),
        )
        if (
            not isinstance(provider, str)
            or not isinstance(media_id, str)
            or not isinstance(wake, int)
        ):
            raise BadEventError("stream record lacks provider, media_id or wake")
        if provider.startswith("#"):
            return None
        return cls(provider, media_id, wake, str(values.get("run_id") or ""))

    def execution_name(self, event_id: str) -> str:
        """≤ 80 characters, unique per delivery, readable: media, wake-up, delivery hash."""
        base = _NAME_UNSAFE.sub("_", f"{self.media_id}-w{self.wake}")[:60]
        digest = hashlib.sha256(event_id.encode()).hexdigest()[:12]
        return f"{base}-{digest}"

    def execution_input(self) -> ExecutionInput:
        """The workflow's input (the contract's ``ExecutionInput``): nothing secret."""
        return ExecutionInput(
            provider=self.provider,
            media_id=self.media_id,
            wake=self.wake,
            run_id=self.run_id,
            correlation_id=f"{self.run_id}/{self.media_id}/w{self.wake}",
        )


def start_transfer(services: Services, request: StartRequest, event_id: str) -> str:
    """StartExecution; errors become typed so the batch processor reports this record failed."""
    services.settings.require("state_machine_arn")
    try:
        answer = services.sfn.start_execution(
            stateMachineArn=services.settings.state_machine_arn,
            name=request.execution_name(event_id),
            input=json.dumps(request.execution_input().as_payload()),
        )
    except services.sfn.exceptions.ExecutionAlreadyExists:
        return ""  # a redelivery of the same record: it is started already
    except Exception as e:
        raise translate(e, "start transfer workflow") from e
    return answer["executionArn"]
