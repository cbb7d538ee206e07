"""What a local cloud publishes about itself beside the stack's outputs, for the CLI to read:
SSM parameters under the stack's name (on AWS they do not exist, which is how the CLI knows).

A light module on purpose: the CLI imports it without starting anything.
"""

from __future__ import annotations

from typing import Final

STATE_NOTE: Final = (
    "in memory: it ends with this process (the archive, the tracker and the stored login are "
    "gone once it stops)"
)


def health_parameter_name(stack: str) -> str:
    """Where the local cloud says what went wrong inside it (a stalled stream)."""
    return f"/cloudsync/{stack}/local-health"


def state_parameter_name(stack: str) -> str:
    """Where the local cloud says that its state is in memory, and since when."""
    return f"/cloudsync/{stack}/local-cloud"
