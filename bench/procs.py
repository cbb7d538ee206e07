"""Starting and stopping the bench's helper processes (sinks, simulator, s3rver, transfers)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
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


def run_transfer_child(url: str, endpoint: str, bucket: str, key: str, *, parallel: int = 8,
                       part_size_mib: int = 0, timeout: float = 900.0) -> dict[str, Any]:
    """One engine transfer in a fresh process; its JSON report (peak RSS, seconds)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.child", "transfer", "--url", url, "--endpoint", endpoint,
         "--bucket", bucket, "--key", key, "--parallel", str(parallel),
         "--part-size-mib", str(part_size_mib)],
        capture_output=True, text=True, env=python_env(), cwd=str(ROOT), timeout=timeout,
        check=False, stdin=subprocess.DEVNULL,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise ChildError(f"transfer child failed ({out.returncode}): {out.stderr[-2000:]}")
    value = json.loads(lines[-1])
    assert isinstance(value, dict)
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class S3rver:
    """s3rver from npm, installed into a cache folder on first use; None when it won't."""

    endpoint: str
    child: Child
    directory: str
    notes: list[str] = field(default_factory=list)

    def stop(self) -> None:
        self.child.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def install_s3rver(cache: Path, timeout: float = 240.0) -> tuple[Path | None, str]:
    """``npm install s3rver@3.7.1`` into ``cache``; (path of its bin script, note)."""
    script = cache / "node_modules" / "s3rver" / "bin" / "s3rver.js"
    if script.exists():
        return script, f"s3rver {S3RVER_VERSION} (npm, cached in {cache})"
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None, "s3rver not run: node/npm not installed"
    cache.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache),
             f"s3rver@{S3RVER_VERSION}"],
            capture_output=True, text=True, timeout=timeout, check=False,
            stdin=subprocess.DEVNULL, cwd=str(cache),
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"s3rver not run: npm install failed ({type(e).__name__})"
    if out.returncode != 0 or not script.exists():
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["?"]
        return None, f"s3rver not run: npm install failed ({tail[0][:120]})"
    return script, f"s3rver {S3RVER_VERSION} (npm, installed into {cache})"


def start_s3rver(cache: Path) -> tuple[S3rver | None, str]:
    script, note = install_s3rver(cache)
    node = shutil.which("node")
    if script is None or node is None:
        return None, note
    directory = tempfile.mkdtemp(prefix="bench-s3rver-")
    port = free_port()
    child = Child([node, str(script), "-d", directory, "-a", "127.0.0.1", "-p", str(port),
                   "--silent"], name="s3rver", json_line=False)
    child.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return S3rver(f"http://127.0.0.1:{port}", child, directory), note
        except OSError:
            time.sleep(0.2)
    child.stop()
    shutil.rmtree(directory, ignore_errors=True)
    return None, f"s3rver not run: it did not listen within 30 s ({child.stderr_tail()[-200:]})"
