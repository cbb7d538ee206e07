"""Benchmark 2: parallel ranges against a per-connection cap, and what that means in AWS."""

from __future__ import annotations

from dataclasses import dataclass

from .throughput import MIB, Result, Sink, engine, measure

SEED_MBIT_S = 48.0  # seed-design.md Component 3's observed throughput (one stream)
LAMBDA_MBIT_S = 600.0  # aws-facts.md: one Lambda sustains ~600 Mbit/s (sjakthol benchmark)
VIDEO_BYTES = 4_000_000_000  # "a 4 GB video"
EXPRESS_LIMIT_S = 300
LAMBDA_LIMIT_S = 900


@dataclass
class ScalingPoint:
    parallel: int
    result: Result

    @property
    def mib_s(self) -> float | None:
        return self.result.mib_s


def run(sink: Sink, url: str, size: int, parallels: tuple[int, ...],
        part_size_mib: int = 16) -> list[ScalingPoint]:
    points = []
    for p in parallels:
        key = f"scaling-{p}"
        res = measure(f"engine x{p}", sink, size, key,
                      lambda p=p, key=key: engine(sink, url, key, parallel=p,  # type: ignore[misc]
                                                  part_size_mib=part_size_mib))
        points.append(ScalingPoint(p, res))
    return points


@dataclass
class AwsEstimate:
    parallel: int
    efficiency: float  # measured speed-up / parallel
    mbit_s: float
    seconds: float
    bound: str  # what limits it: "per-connection cap" or "Lambda network"


def estimate(points: list[ScalingPoint], cap_mib_s: float,
             per_connection_mbit_s: float = SEED_MBIT_S,
             lambda_mbit_s: float = LAMBDA_MBIT_S,
             video_bytes: int = VIDEO_BYTES) -> list[AwsEstimate]:
    """Each connection in AWS at the seed's observed 48 Mbit/s, scaled by the efficiency the
    loopback run measured (speed-up over one range / ranges), capped by one Lambda's network."""
    base = next((pt.mib_s for pt in points if pt.parallel == 1 and pt.mib_s), None)
    out = []
    for pt in points:
        if pt.mib_s is None:
            continue
        speedup = pt.mib_s / base if base else pt.mib_s / cap_mib_s
        efficiency = speedup / pt.parallel
        wanted = per_connection_mbit_s * pt.parallel * efficiency
        mbit = min(wanted, lambda_mbit_s)
        bound = "Lambda network" if wanted > lambda_mbit_s else "per-connection cap"
        out.append(AwsEstimate(pt.parallel, efficiency, mbit, video_bytes * 8 / (mbit * 1e6),
                               bound))
    return out


def seed_seconds(video_bytes: int = VIDEO_BYTES, mbit_s: float = SEED_MBIT_S) -> float:
    return video_bytes * 8 / (mbit_s * 1e6)


__all__ = ["MIB", "AwsEstimate", "ScalingPoint", "estimate", "run", "seed_seconds"]
