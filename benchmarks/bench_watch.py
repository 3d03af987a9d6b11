"""Report watcher benchmark: detection latency and request spend per strategy.

Run from the repository root::

    python benchmarks/bench_watch.py                    # 100 and 1,000 projects
    python benchmarks/bench_watch.py --projects 10000 --strategies listing

Against :class:`FakeTrakk` over loopback HTTP, the API's windows (60 a minute, 1,000 an
hour) are scaled down ``--scale`` times on both sides (the fake's throttle and the
client's limiter), so an hour of budget runs in 3.6 s at the default scale of 1,000.
After the watcher has its baselines, ``--changes`` reports complete at random moments
spread over two sweeps (at most one change per
ten request slots); each one's detection latency is the time from the fake completing
it to the event, and every figure below is converted back to real-API seconds.

The floor is the least a strategy can do at ``budget``: one sweep, N (+ the listing
pages) requests for "last-generated", ceil(N/100) for "listing", at the budget's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trakk_async import TrakkClient  # noqa: E402
from trakk_async.ratelimit import TokenBucketLimiter  # noqa: E402
from trakk_async.testing import FakeTrakk  # noqa: E402
from trakk_async.watch import ReportAdvanced  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def run(
    projects: int, strategy: str, scale: float, changes: int, seed: int
) -> dict[str, Any]:
    windows = [(60, 60.0 / scale), (1000, 3600.0 / scale)]
    async with FakeTrakk.running(
        seed=seed, projects=projects, agencies=1, rate_limits=windows
    ) as fake:
        limiter = TokenBucketLimiter(windows=windows)
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as client:
            watcher = client.watch_reports(strategy=strategy, budget=0.5)  # type: ignore[arg-type]
            detected: dict[int, float] = {}

            async def consume() -> None:
                event: ReportAdvanced
                async for event in watcher:
                    detected.setdefault(event.project_id, time.monotonic())

            task = asyncio.ensure_future(consume())
            while not watcher.stats.ready:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            plan = watcher.plan
            assert plan is not None
            live = [p for p in fake.project_ids() if fake.world.projects[p].status != "ended"]
            rng = random.Random(seed)
            chosen = rng.sample(live, min(changes, len(live)))
            # over two sweeps, and no faster than one change per 10 slots: each change costs
            # a confirmation slot, taken from the listing pages, so a burst of changes
            # measures the burst, not the watcher (1,000 projects make ~1 report an hour)
            span = max(2 * plan.sweep_interval, 10 * len(chosen) / plan.rate)
            moments = sorted(rng.random() * span for _ in chosen)
            before = fake.stats()
            requests_before = watcher.stats.requests
            boundaries: list[float] = []

            async def monitor() -> None:  # when each sweep ends, to 2 ms
                last = watcher.stats.sweeps
                while True:
                    await asyncio.sleep(0.002)
                    if watcher.stats.sweeps != last:
                        last = watcher.stats.sweeps
                        boundaries.append(time.monotonic())

            monitoring = asyncio.ensure_future(monitor())
            started = time.monotonic()
            completed: dict[int, float] = {}
            for pid, at in zip(chosen, moments, strict=True):
                await asyncio.sleep(max(0.0, started + at - time.monotonic()))
                fake.complete_report(pid, fake.start_next_report(pid))
                completed[pid] = time.monotonic()
            deadline = time.monotonic() + 4 * plan.sweep_interval + 5
            while len(detected) < len(completed) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            elapsed = time.monotonic() - started
            spent = watcher.stats.requests - requests_before
            monitoring.cancel()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            after = fake.stats()
    latencies = [(detected[p] - completed[p]) * scale for p in completed if p in detected]
    rate = plan.rate
    floor_requests = plan.requests_per_sweep
    return {
        "projects": projects,
        "strategy": plan.strategy,
        "detected": f"{len(latencies)}/{len(completed)}",
        "p50_s": statistics.median(latencies) if latencies else float("nan"),
        "p95_s": percentile(latencies, 0.95) if latencies else float("nan"),
        # the plan is in the scaled windows' seconds
        "floor_s": floor_requests / rate * scale,
        "estimate_sweep_s": plan.sweep_interval * scale,
        "achieved_sweep_s": (
            (boundaries[-1] - boundaries[0]) / (len(boundaries) - 1) * scale
            if len(boundaries) > 1
            else float("nan")
        ),
        "requests_per_hour": spent / (elapsed * scale) * 3600.0,
        "last_generated_per_change": (
            after.by_route.get("/projects/{project}/reports/last-generated", 0)
            - before.by_route.get("/projects/{project}/reports/last-generated", 0)
        )
        / max(1, len(completed)),
        "429s": after.rate_limited,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--strategies", nargs="+", default=["last-generated", "listing"])
    parser.add_argument("--scale", type=float, default=1000.0)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    columns = (
        "projects", "strategy", "detected", "p50_s", "p95_s", "floor_s", "estimate_sweep_s",
        "achieved_sweep_s",
        "requests_per_hour", "last_generated_per_change", "429s",
    )  # fmt: skip
    print(" | ".join(columns))
    for projects in args.projects:
        for strategy in args.strategies:
            row = asyncio.run(run(projects, strategy, args.scale, args.changes, args.seed))
            print(
                " | ".join(
                    f"{row[c]:.1f}" if isinstance(row[c], float) else str(row[c]) for c in columns
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
