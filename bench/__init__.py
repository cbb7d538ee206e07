"""cloudsync's benchmarks: ``make bench`` (``python -m bench``) runs them all side by side.

The production path (bench.production over bench.workflow and bench.container: the real lister,
prepare, transfer and finalize functions, each invocation in a container process of its own)
against the seed's approach, rclone and the sink's own limit; lister scale (bench.lister) and the
cost model (cloudsync_cli.cost). bench.run ties them together and writes docs/BENCHMARKS.md;
tests/bench runs a small smoke version of the same code paths.
"""
