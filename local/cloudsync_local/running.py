"""``with Service() as s``: started on entry, stopped on exit, for the services this package runs
in-process (the local cloud; the GoPro simulator can use it too). Written once here so each
service only says how it starts and stops."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self


class Running(abc.ABC):
    """A service with ``start() -> self`` and ``stop()``; a context manager for free."""

    @abc.abstractmethod
    def start(self) -> Self:
        """Start; return self once ready."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop what ``start`` started (safe to call after a failed start)."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
