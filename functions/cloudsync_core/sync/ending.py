"""How a medium's execution ends, for finalize and mark_failed alike.

The row moves to its terminal state and is counted in its run in one transaction, but only if
this execution still owns it (else ``NOT_OURS``: another execution, or the sweep, took it);
then the slot is freed, a queued medium woken and the run's fan-in decided (``after_finish``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..contract import ArchivedRecord, ExecutionInput, Outcome
from ..services import Services
from .summary import after_finish

NOT_OURS = Outcome(status="NOT_OURS", run_complete=False)


def end_medium(
    services: Services,
    step: ExecutionInput,
    status: str,
    *,
    then: Callable[[], None],
    objects: Sequence[ArchivedRecord] = (),
    bytes_archived: int = 0,
    error_type: str | None = None,
    error_message: str | None = None,
) -> Outcome:
    """Finish the row in ``status``; ``then`` (logs, metrics) runs only when it was ours."""
    finished = services.tracker.finish(
        step.provider,
        step.media_id,
        step.wake,
        status,
        run_id=step.run_id or None,
        objects=[o.as_payload() for o in objects],
        bytes_archived=bytes_archived,
        error_type=error_type,
        error_message=error_message,
    )
    if not finished:
        return NOT_OURS
    then()
    return after_finish(services, step.provider, step.media_id, status, step.run_id or None)
