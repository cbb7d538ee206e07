"""Keeping what embedded services print off the screen: file descriptors 1 and 2 go to a log
file while ``Screen.out`` / ``Screen.err`` still reach the terminal.

Handlers log to ``sys.stdout``, moto and the simulator print to ``sys.stderr``, from many
threads: redirecting the descriptors catches all of it, whoever holds which stream object.
``cloudsync local up`` (quiet unless ``--verbose``) and ``cloudsync demo`` both use it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass(frozen=True)
class Screen:
    """The terminal's stdout and stderr while everything else goes to the log file."""

    out: TextIO
    err: TextIO
    log_path: Path


@contextlib.contextmanager
def quiet_output(log_path: Path) -> Iterator[Screen]:
    """Descriptors 1 and 2 appended to ``log_path`` inside the block; restored after it."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    out = os.fdopen(os.dup(saved[0]), "w", buffering=1, encoding="utf-8")
    err = os.fdopen(os.dup(saved[1]), "w", buffering=1, encoding="utf-8")
    log = log_path.open("a", encoding="utf-8")
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        yield Screen(out, err, log_path)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        for stream in (out, err, log):
            with contextlib.suppress(Exception):
                stream.close()
