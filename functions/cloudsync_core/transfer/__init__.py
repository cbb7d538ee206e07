"""The verified ranged transfer engine: source link -> S3 multipart upload, resumable.

``plan`` cuts files into parts, ``source`` reads them from pre-signed links, ``s3ops`` drives
the multipart upload's life (create/resume, complete without overwriting, verify, abort),
``engine`` moves the bytes within a deadline (``cutter`` cuts a stream into parts where the source
ignores Range), ``checksums`` does the CRC32 arithmetic,
``origin`` reads GoPro's own checksum (the origin's S3 ETag) and plans around it.
"""

from .checksums import b64_to_crc32, combine_parts, crc32, crc32_b64, crc32_combine, crc32_to_b64
from .engine import (
    RangeReader,
    Reader,
    StreamReader,
    TransferReport,
    md5_hex,
    read_whole,
    transfer_parts,
    transfer_stream,
)
from .plan import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    PartRange,
    PartSlice,
    choose_part_size,
    part_count,
    part_ranges,
    slices,
)
from .s3ops import (
    ArchivedObject,
    UploadedPart,
    abort_upload,
    complete_upload,
    put_small,
    start_upload,
    stored_object,
    upload_gone,
    uploaded_parts,
)
from .source import HttpRangeSource, SourceInfo, SourcePin, SourceReadPolicy

__all__ = [
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "ArchivedObject",
    "HttpRangeSource",
    "PartRange",
    "PartSlice",
    "RangeReader",
    "Reader",
    "SourceInfo",
    "SourcePin",
    "SourceReadPolicy",
    "StreamReader",
    "TransferReport",
    "UploadedPart",
    "abort_upload",
    "b64_to_crc32",
    "choose_part_size",
    "combine_parts",
    "complete_upload",
    "crc32",
    "crc32_b64",
    "crc32_combine",
    "crc32_to_b64",
    "md5_hex",
    "part_count",
    "part_ranges",
    "put_small",
    "read_whole",
    "slices",
    "start_upload",
    "stored_object",
    "transfer_parts",
    "transfer_stream",
    "upload_gone",
    "uploaded_parts",
]
