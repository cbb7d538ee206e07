"""Starting and stopping the bench's helper processes (sinks, simulator, s3rver, transfers)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from .child import fake_aws_env

ROOT = Path(__file__).resolve().parent.parent
S3RVER_VERSION = "3.7.1"


def python_env() -> dict[str, str]:
    """The environment for a child Python: fake AWS, the repo's import roots."""
    env = fake_aws_env()
    roots = [str(ROOT / "functions"), str(ROOT / "local"), str(ROOT)]
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join(roots + ([old] if old else []))
    env.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "GoProSync")
    return env


class ChildError(RuntimeError):
    pass


class Child:
    """A process that prints one JSON line when ready and stops when its stdin closes."""

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None,
                 ready_timeout: float = 120.0, name: str = "child",
                 json_line: bool = True, cwd: str | None = None) -> None:
        self.name = name
        self.argv = argv
        self._env = env
        self._timeout = ready_timeout
        self._json_line = json_line
        self._cwd = cwd
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}
        self._stderr: list[str] = []

    def start(self) -> Child:
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=self._env, cwd=self._cwd,
        )
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        if self._json_line:
            self.info = self._read_json()
        return self

    def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-50]

    def _read_json(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()  # type: ignore[union-attr]
                                                            ), daemon=True)
        reader.start()
        reader.join(self._timeout)
        line = box[0] if box else ""
        if not line.strip():
            self.stop()
            raise ChildError(f"{self.name} did not start: {''.join(self._stderr)[-2000:]}")
        value = json.loads(line)
        if not isinstance(value, dict):
            raise ChildError(f"{self.name}: unexpected answer {line!r}")
        return value

    def stderr_tail(self) -> str:
        return "".join(self._stderr)[-2000:]

    def stop(self, timeout: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> Child:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def py_child(*args: str, name: str, ready_timeout: float = 120.0) -> Child:
    return Child([sys.executable, "-m", "bench.child", *args], env=python_env(),
                 name=name, ready_timeout=ready_timeout, cwd=str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
