"""What every command gets: where to talk to, the stack (found on first use), output streams."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TextIO
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from cloudsync_core.tracker import Tracker
from cloudsync_local.published import STATE_NOTE, state_parameter_name

from .errors import EXIT_USAGE, CliError, endpoint_message
from .stack import LOCAL_REGION, Aws, StackOutputs, Target, discover

ENDPOINT_PROBE_S: Final = 3.0


def check_endpoint(url: str, reason: str, timeout_s: float = ENDPOINT_PROBE_S) -> None:
    """An endpoint that is not AWS itself: a URL, whose host resolves and answers, or one line
    saying which of these it is not (before any AWS client guesses at regions and keys)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise CliError(f"endpoint {url!r} ({reason}) is not a URL: write it as "
                       "http://HOST:PORT, e.g. http://localhost:4599", exit_code=EXIT_USAGE)
    try:
        with socket.create_connection(
            (parts.hostname, port or (443 if parts.scheme == "https" else 80)), timeout=timeout_s
        ):
            pass
    except socket.gaierror as e:
        raise CliError(f"cannot reach {url} ({reason}): the host name {parts.hostname} does not "
                       "resolve; check --endpoint-url / AWS_ENDPOINT_URL") from e
    except OSError as e:
        raise CliError(endpoint_message(url, url, reason)) from e


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
    def create(cls, target: Target | None = None, stack: str | None = None) -> Context:
        """For ``target`` (default: resolved from the environment alone), its endpoint checked
        first when it is not AWS itself."""
        target = target or Target.resolve()
        aws = Aws(target)
        if target.endpoint_url is not None:
            check_endpoint(target.endpoint_url, target.chosen_because)
            if aws.region is None:  # not AWS itself: its region is a name, any will do
                aws.region_override = LOCAL_REGION
        return cls(aws, stack)

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

    def fresh_local_cloud(self) -> str | None:
        """A sentence when the stack is a local cloud that holds nothing yet: its state lives in
        memory, so an empty archive there is no clean empty archive. None elsewhere (on AWS the
        parameter does not exist) and once a run has started."""
        if self.target.endpoint_url is None:
            return None
        try:
            answer = self.aws.ssm().get_parameter(Name=state_parameter_name(self.outputs.stack))
        except ClientError:
            return None
        started = str(json.loads(answer["Parameter"]["Value"]).get("started_at", "?"))
        if self.tracker.recent_runs(1):
            return None
        return (f"this local cloud started empty at {started}: its state is {STATE_NOTE}. "
                "Nothing archived, and no login stored, before it started is here.")

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        """A side remark on stderr (keeps stdout clean for --json)."""
        self.err.write(text + "\n")
        self.err.flush()
