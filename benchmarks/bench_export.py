"""Export benchmark: wall time against the floor the rate-limit windows allow.

    python benchmarks/bench_export.py [--projects 200] [--scale 1000]

The fake and the client's limiter get Trakk's windows (60/minute, 1,000/hour) divided by
``--scale``. The floor for N requests is the earliest time the last of them may be sent with
every window respected at once (see :func:`floor_seconds`). Reported: wall / floor (goal
<= 1.05), requests per exported file, requests by kind, and peak RSS of this process
(the fake runs in it too, so this overstates the exporter's own memory).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

from trakk_async import TokenBucketLimiter, TrakkClient
from trakk_async.export import export_projects
from trakk_async.testing import FakeTrakk


def floor_seconds(requests: int, windows: list[tuple[int, float]]) -> float:
    """When the last of ``requests`` requests may go at the earliest, starting with a full
    budget, if no interval of a window's length holds more than its limit (every window
    at once: the k-th request waits for the (k - limit)-th plus ``seconds``)."""
    times: list[float] = []
    for k in range(requests):
        at = 0.0
        for limit, seconds in windows:
            if k >= limit:
                at = max(at, times[k - limit] + seconds)
        times.append(at)
    return times[-1] if times else 0.0


def _count_json(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.json"))


def naive_floor(requests: int, windows: list[tuple[int, float]]) -> float:
    """The same per window alone: ``max((ceil(N / limit) - 1) * seconds)``."""
    return max((math.ceil(requests / limit) - 1) * seconds for limit, seconds in windows)


async def run(projects: int, scale: float) -> None:
    windows = [(60, 60.0 / scale), (1000, 3600.0 / scale)]
    async with FakeTrakk.running(
        seed=11, projects=projects, agencies=1, rate_limits=windows
    ) as fake:
        limiter = TokenBucketLimiter(windows=windows)
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as client:
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                summary = await export_projects(client, Path(tmp))
                wall = time.perf_counter() - started
                exported = await asyncio.to_thread(_count_json, Path(tmp))
        stats = fake.stats()
    floor = floor_seconds(summary.requests, windows)
    naive = naive_floor(summary.requests, windows)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"windows: {windows}")
    print(
        f"projects: {summary.projects}, files: {exported} (+ index.jsonl), bytes: {summary.bytes:,}"
    )
    print(f"requests: {summary.requests} (429s {summary.rate_limited}, retries {summary.retries})")
    print(f"by route: {stats.by_route}")
    print(f"requests per exported file: {summary.requests / exported:.3f}")
    print(f"wall {wall:.2f}s, floor {floor:.2f}s, ratio {wall / floor:.3f}")
    print(f"(per-window floor {naive:.2f}s, ratio {wall / naive:.3f})")
    print(f"peak RSS (process, fake included): {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--scale", type=float, default=1000.0, help="window divisor")
    args = parser.parse_args()
    asyncio.run(run(args.projects, args.scale))
    sys.exit(0)


if __name__ == "__main__":
    main()
