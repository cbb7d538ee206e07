"""S3's size limits for multipart uploads, written once (AWS: "Amazon S3 multipart upload limits").

Read by the transfer planner and prepare (inside Lambda, hence here in ``cloudsync_core``), by
the stack config's validation and by the cost model (through ``cloudsync_defs.stack``).
"""

from __future__ import annotations

from typing import Final

MIB: Final = 1024 * 1024
GIB: Final = 1024 * MIB
TIB: Final = 1024 * GIB

MIN_PART_SIZE: Final = 5 * MIB  # every part but the last
MAX_PART_SIZE: Final = 5 * GIB
MAX_PARTS: Final = 10_000
MAX_OBJECT_SIZE: Final = 5 * TIB
