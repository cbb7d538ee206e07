"""cloudsync's benchmarks: ``make bench`` (``python -m bench``) runs them all side by side.

throughput (bench.throughput), parallel scaling (bench.scaling), memory (bench.child transfer),
lister scale (bench.lister) and the cost model (cloudsync_cli.cost); bench.run ties them together
and writes docs/BENCHMARKS.md. tests/bench runs a small smoke version of the same code paths.
"""
