"""`cloudsync demo` from nothing: simulator + local cloud + real handlers, exit 0 and a summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def command() -> list[str]:
    script = Path(sys.executable).parent / "cloudsync"
    if script.exists():  # the installed entry point, as `make demo` runs it
        return [str(script), "demo"]
    return [sys.executable, "-m", "cloudsync_cli.main", "demo"]


def test_demo_archives_and_verifies_everything() -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k != "CLOUDSYNC_STACK"}
    done = subprocess.run(
        command(), cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    assert "RESULT: all good" in out
    for step in ("log in", "first sync", "second sync", "resync one medium", "verify",
                 "read back (verify --read-data)", "compare with the source"):
        assert step in out, step
    assert "33 match their recorded CRC32, 0 differ, 0 missing" in out
    summary = out[out.index("Summary"):]
    assert "FAILED" not in summary
    assert "only the 3 new media moved" in summary
    assert "Where the objects are: s3://" in out
    # the handlers' logs went to the log file, not to the screen
    assert "Traceback" not in out + err
    assert '"level"' not in out + err
    log = Path(out.split("Logs of the functions and the local cloud: ")[1].split()[0])
    assert log.exists() and log.stat().st_size > 0
