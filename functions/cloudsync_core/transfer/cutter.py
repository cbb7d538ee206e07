"""Cutting one sequential byte stream into the planned parts, for sources that ignore Range.

A server that ignores Range gives the whole body in chunks of whatever size the network hands
over; the multipart upload wants it in parts of exactly the planned sizes. ``cut_stream`` walks
the chunks once, without copying a chunk more than into its part's buffer, and asks the caller
at every part boundary, before a byte of that part is consumed, what to do with it:

- ``KEEP``: fill a buffer of the part's size; the part comes out with its bytes (to upload);
- ``CHECK``: a part S3 already holds: its bytes are read and dropped, only their CRC32 is kept
  (so a resumed upload can prove the source did not change under it);
- ``STOP``: read no further (the deadline, a failure, or nothing left that is needed).

The cutter decides nothing itself and knows nothing about S3 or time: it is the byte
arithmetic, and it checks the stream's length against the plan (more bytes than planned:
``SizeMismatchError``; fewer: a ``TransientError``, the stream broke and may start over).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

from ..errors import SizeMismatchError, TransientError
from .plan import PartRange


class Cut(Enum):
    """What to do with the next part of the stream."""

    KEEP = "keep"
    CHECK = "check"
    STOP = "stop"


@dataclass(frozen=True)
class Piece:
    """One whole part cut from the stream: its bytes (``KEEP``), or only their CRC32 (``CHECK``,
    ``data`` is None)."""

    part: PartRange
    data: bytearray | None
    crc32: int = 0  # of a checked part's bytes, unsigned


def cut_stream(
    chunks: Iterable[bytes], plan: Sequence[PartRange], decide: Callable[[PartRange], Cut]
) -> Iterator[Piece]:
    """The parts of ``plan`` (in order, contiguous from byte 0) as the chunks fill them.

    ``decide`` is called once per part, in order, before its first byte is consumed; after a
    ``STOP`` nothing more is read. Stops reading when the last planned part is out (bytes past
    it in the same chunk are a ``SizeMismatchError``).
    """
    if not plan:
        return
    cutting = _Cutting(plan)
    if not cutting.begin(decide):
        return
    for chunk in chunks:
        view = memoryview(chunk)
        off = 0
        while off < len(view):
            off, piece = cutting.feed(view, off)
            if piece is None:
                continue
            yield piece
            if not cutting.done and not cutting.begin(decide):
                return
        if cutting.done:
            return
    cutting.ended()


class _Cutting:
    """The cutter's position: which part, how far into it, its buffer or running CRC32."""

    def __init__(self, plan: Sequence[PartRange]) -> None:
        self.plan = plan
        self.index = 0
        self.pos = 0
        self.buf: bytearray | None = None
        self.crc = 0

    @property
    def done(self) -> bool:
        return self.index >= len(self.plan)

    def begin(self, decide: Callable[[PartRange], Cut]) -> bool:
        """At a part boundary: ask about the next part; False when reading ends here."""
        part = self.plan[self.index]
        choice = decide(part)
        if choice is Cut.STOP:
            return False
        self.buf = bytearray(part.length) if choice is Cut.KEEP else None
        self.crc = 0
        return True

    def feed(self, view: memoryview, off: int) -> tuple[int, Piece | None]:
        """Take bytes from ``view[off:]`` into the current part; the new offset, and the part
        once it is whole."""
        if self.done:
            size = self.plan[-1].end + 1
            raise SizeMismatchError("source stream (more bytes than probed)", size,
                                    size + len(view) - off)
        part = self.plan[self.index]
        take = min(len(view) - off, part.length - self.pos)
        piece = view[off : off + take]
        if self.buf is not None:
            self.buf[self.pos : self.pos + take] = piece
        else:
            self.crc = zlib.crc32(piece, self.crc)
        self.pos += take
        if self.pos < part.length:
            return off + take, None
        out = Piece(part, self.buf, self.crc & 0xFFFFFFFF)
        self.index += 1
        self.pos = 0
        self.buf = None
        return off + take, out

    def ended(self) -> None:
        """The stream ended: an error unless every planned part came out."""
        if not self.done:
            raise TransientError(
                f"source stream ended early: expected {self.plan[-1].end + 1} bytes, "
                f"received {self.plan[self.index].start + self.pos}"
            )
