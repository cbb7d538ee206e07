"""Where and when a medium was shot: GoPro GPMF telemetry, MP4 track finding, EXIF, the index
step. Pure Python, ranged reads only (see each module)."""
