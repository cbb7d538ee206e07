"""GoPro cloud simulator: a loopback HTTP server that follows docs/gopro-api.md.

    with GoProSimulator() as sim:
        vid = sim.library.add_video(size=8 * MiB, chapters=2)
        sim.faults.add("rate_limit", "cdn_get", count=1, retry_after=2)
        ... point the provider at sim.base_url ...
        assert sim.library.originals(vid)[0].content() == bytes_archived
"""

from collections.abc import Sequence

from .auth import BrowserToken
from .content import BLOCK_SIZE, content_bytes, expected_crc32, expected_sha256, iter_content
from .demo import build_demo_library
from .faults import KINDS as FAULT_KINDS
from .faults import Fault, FaultSet
from .handler import ACCEPT
from .library import GiB, KiB, Library, Media, MiB, SimFile
from .server import GoProSimulator
from .stats import Stats


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m cloudsync_local.simulator``."""
    from .__main__ import main as _main

    return _main(argv)


__all__ = [
    "ACCEPT",
    "BLOCK_SIZE",
    "FAULT_KINDS",
    "BrowserToken",
    "Fault",
    "FaultSet",
    "GiB",
    "GoProSimulator",
    "KiB",
    "Library",
    "Media",
    "MiB",
    "SimFile",
    "Stats",
    "build_demo_library",
    "content_bytes",
    "expected_crc32",
    "expected_sha256",
    "iter_content",
    "main",
]
