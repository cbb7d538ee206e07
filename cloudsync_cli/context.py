"""What every command gets: where to talk to, the stack (found on first use), output streams."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from cloudsync_core.tracker import Tracker

from .stack import Aws, StackOutputs, Target, discover


@dataclass
class Context:
    aws: Aws
    stack_name: str | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    poll_s: float = 1.0
    sleep: Callable[[float], None] = time.sleep  # between polls (tests play the cloud here)
    _outputs: StackOutputs | None = None
    _tracker: Tracker | None = None

    @classmethod
    def create(
        cls,
        *,
        endpoint_url: str | None = None,
        local: bool = False,
        region: str | None = None,
        profile: str | None = None,
        stack: str | None = None,
    ) -> Context:
        target = Target.resolve(endpoint_url, local=local, region=region, profile=profile)
        return cls(Aws(target), stack)

    @property
    def target(self) -> Target:
        return self.aws.target

    @property
    def outputs(self) -> StackOutputs:
        if self._outputs is None:
            self._outputs = discover(self.aws, self.stack_name)
        return self._outputs

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            table = self.outputs.table
            self._tracker = Tracker(self.aws.dynamodb(), table)
        return self._tracker

    @property
    def providers(self) -> tuple[str, ...]:
        return self.outputs.providers

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        """A side remark on stderr (keeps stdout clean for --json)."""
        self.err.write(text + "\n")
        self.err.flush()
