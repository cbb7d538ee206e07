"""Reading the archive back: ``cloudsync verify --read-data`` runs this inside AWS.

``digest`` streams an object's bytes through CRC32 and GoPro's part MD5s in bounded memory,
``check`` judges one object against its tracker record, ``batch`` answers one invocation of the
``verify`` function. In-region reads cost no transfer; the CLI only sends object names and
receives verdicts.
"""

from .batch import ReadItem, ReadRequest, read_back
from .check import (
    CORRUPT,
    MISSING,
    NEEDS_RESTORE,
    NOT_REACHED,
    OK,
    RESTORING,
    UNCHECKED,
    ReadResult,
    check_object,
    readability,
)
from .digest import read_object

__all__ = [
    "CORRUPT",
    "MISSING",
    "NEEDS_RESTORE",
    "NOT_REACHED",
    "OK",
    "RESTORING",
    "UNCHECKED",
    "ReadItem",
    "ReadRequest",
    "ReadResult",
    "check_object",
    "read_back",
    "read_object",
    "readability",
]
