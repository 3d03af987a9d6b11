"""Rate limiter benchmark: acquire overhead, and 429s against Laravel fixed windows.

Run from the repository root::

    python benchmarks/bench_limiter.py            # everything (about 50 s)
    python benchmarks/bench_limiter.py --quick    # overhead and simulation only

1. Overhead: microseconds per ``acquire`` (and ``acquire`` + ``observe``, the client's
   seam) next to an uncontended ``asyncio.Semaphore``, and a Redis round trip.
2. Simulation (simulated clock, 50-250 ms of network jitter): a classic token bucket
   (burst N, continuous refill; GCRA behaves the same) against ours, both facing
   Laravel's fixed windows that open at the first request.
3. Live: budget utilization (requests completed / the most the windows allow in the run)
   and 429s over loopback HTTP with scaled windows: 64 tasks in one process, and
   4 processes x 16 tasks sharing a RedisRateLimiter (if ``redis-server`` is installed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trakk_async.ratelimit import TokenBucketLimiter  # noqa: E402
from trakk_async.ratelimit._core import LimiterCore  # noqa: E402

HEADERS = {"X-RateLimit-Limit": "1000000000", "X-RateLimit-Remaining": "999999999"}


# --------------------------------------------------------------------------- overhead


async def per_op(n: int, op: Callable[[], object]) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await op()  # type: ignore[misc]
    return (time.perf_counter() - started) / n * 1e6


async def overhead(n: int) -> list[tuple[str, float]]:
    sem = asyncio.Semaphore(1)

    async def semaphore() -> None:
        async with sem:
            pass

    big = [(1_000_000_000, 60.0), (1_000_000_000, 3600.0)]
    limiter = TokenBucketLimiter(windows=big)
    seam = TokenBucketLimiter(windows=big)

    async def acquire_observe() -> None:
        await seam.acquire()
        seam.observe(200, HEADERS)

    rows = [
        ("asyncio.Semaphore acquire/release", await per_op(n, semaphore)),
        ("TokenBucketLimiter.acquire", await per_op(n, limiter.acquire)),
        ("TokenBucketLimiter acquire + observe", await per_op(n, acquire_observe)),
    ]
    redis_row = await redis_overhead(min(n, 5000))
    if redis_row is not None:
        rows.append(redis_row)
    return rows


def start_redis() -> tuple[object, str] | None:
    try:
        from tests.redis_server import redis_server

        context = redis_server()
        url = context.__enter__()
    except BaseException as exc:  # pytest's fail/skip when the binary is missing
        print(f"   (Redis rows skipped: {exc})")
        return None
    return context, url


async def redis_overhead(n: int) -> tuple[str, float] | None:
    started = start_redis()
    if started is None:
        return None
    context, url = started
    try:
        import redis.asyncio

        from trakk_async.ratelimit import RedisRateLimiter

        client = redis.asyncio.Redis.from_url(url)
        limiter = RedisRateLimiter(
            client, token="bench", windows=[(1_000_000_000, 60.0), (1_000_000_000, 3600.0)]
        )
        await limiter.acquire()
        us = await per_op(n, limiter.acquire)
        await client.aclose()
        return ("RedisRateLimiter.acquire (loopback round trip)", us)
    finally:
        context.__exit__(None, None, None)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- simulation


class Laravel:
    """Fixed windows opened by the first request; a refused request counts nowhere."""

    def __init__(self, windows: list[tuple[int, float]]) -> None:
        self.windows = windows
        self.opened: list[float | None] = [None] * len(windows)
        self.hits = [0] * len(windows)

    def hit(self, now: float) -> bool:
        for i, (_, seconds) in enumerate(self.windows):
            opened = self.opened[i]
            if opened is not None and now >= opened + seconds:
                self.opened[i], self.hits[i] = None, 0
        if any(self.hits[i] >= limit for i, (limit, _) in enumerate(self.windows)):
            return False
        for i in range(len(self.windows)):
            if self.opened[i] is None:
                self.opened[i] = now
            self.hits[i] += 1
        return True

    def next_open(self, now: float) -> float:
        """When a request would be accepted (for the oracle)."""
        at = now
        for i, (limit, seconds) in enumerate(self.windows):
            opened = self.opened[i]
            if opened is not None and now < opened + seconds and self.hits[i] >= limit:
                at = max(at, opened + seconds)
        return at


def greedy_demand(duration: float) -> list[float]:
    """A client that always has a request to send (a backlog of ``10 * duration``)."""
    return [0.0] * int(10 * duration)


def bursty_demand(duration: float, seed: int = 7) -> list[float]:
    """Batches of 30-120 requests every 20-150 s (exports started by users or cron)."""
    rng = random.Random(seed)
    now, out = 0.0, []
    while now < duration:
        out += [now] * rng.randint(30, 120)
        now += rng.uniform(20, 150)
    return out


def classic_bucket(windows: list[tuple[int, float]], demand: list[float]) -> list[float]:
    """Grant times behind one token bucket per window (burst N, continuous refill)."""
    tokens = [float(limit) for limit, _ in windows]
    rates = [limit / seconds for limit, seconds in windows]
    now, grants = 0.0, []
    for arrival in demand:
        start = max(now, arrival)
        for i, (limit, _) in enumerate(windows):
            tokens[i] = min(float(limit), tokens[i] + (start - now) * rates[i])
        # Wait until every bucket holds a whole token.
        wait = max((1.0 - t) / r if t < 1.0 else 0.0 for t, r in zip(tokens, rates, strict=True))
        for i, (limit, _) in enumerate(windows):
            tokens[i] = min(float(limit), tokens[i] + wait * rates[i]) - 1.0
        now = start + wait
        grants.append(now)
    return grants


def sliding_log(windows: list[tuple[int, float]], demand: list[float]) -> list[float]:
    """Grant times behind our limiter's core (default margin), served in order."""
    core = LimiterCore(windows)
    now, grants = 0.0, []
    for arrival in demand:
        now = core.free_at(max(now, arrival))
        core.grant(now)
        grants.append(now)
    return grants


def oracle(windows: list[tuple[int, float]], duration: float) -> int:
    """The most a client could get: it sends exactly when the server would accept."""
    server, now, sent = Laravel(windows), 0.0, 0
    while True:
        now = server.next_open(now)
        if now >= duration:
            return sent
        assert server.hit(now)
        sent += 1


def against_laravel(
    grants: list[float], windows: list[tuple[int, float]], duration: float, seed: int = 1
) -> tuple[int, int]:
    """(accepted, 429s) when ``grants`` reach the server after 50-250 ms of latency."""
    rng = random.Random(seed)
    arrivals = sorted(t + rng.uniform(0.05, 0.25) for t in grants if t < duration)
    server = Laravel(windows)
    accepted = sum(server.hit(t) for t in arrivals)
    return accepted, len(arrivals) - accepted


def simulation() -> None:
    minute, both = [(60, 60.0)], [(60, 60.0), (1000, 3600.0)]
    scenarios = [
        ("60/min, greedy, 2 h", minute, greedy_demand, 7200.0),
        ("60/min, bursts, 6 h", minute, bursty_demand, 6 * 3600.0),
        ("60/min + 1,000/h, greedy, 6 h", both, greedy_demand, 6 * 3600.0),
        ("60/min + 1,000/h, bursts, 6 h", both, bursty_demand, 6 * 3600.0),
    ]
    print("\n2. Simulation against Laravel fixed windows (simulated clock, 50-250 ms jitter)")
    print("   util = accepted / what a client sending exactly when the server accepts would get")
    print(f"   {'scenario':31} {'limiter':21} {'sent':>6} {'ok':>6} {'429':>6} {'util':>6}")
    for name, windows, demand, duration in scenarios:
        best = oracle(windows, duration)
        for label, build in (("classic token bucket", classic_bucket), ("ours", sliding_log)):
            grants = build(windows, demand(duration))
            ok, refused = against_laravel(grants, windows, duration)
            util = f"{ok / best:6.3f}" if demand is greedy_demand else "     -"
            print(f"   {name:31} {label:21} {ok + refused:6d} {ok:6d} {refused:6d} {util}")


# --------------------------------------------------------------------------- live

LIVE_WINDOWS = [(20, 1.0), (100, 5.0)]
LIVE_SECONDS = 20.0


def live_max(duration: float) -> int:
    """The most the windows allow to requests sent in [0, duration]: back-to-back windows."""
    return min(limit * math.ceil(duration / seconds) for limit, seconds in LIVE_WINDOWS)


async def greedy(
    limiter: object, base_url: str, token: str, tasks: int, duration: float
) -> tuple[int, int]:
    """``tasks`` tasks sending through the client's seam until ``duration`` is over.

    Returns (answered 200, answered 429). A request whose slot comes after the deadline
    is not sent, so the run is exactly ``duration`` long on the limiter's side.
    """
    import aiohttp

    deadline = time.monotonic() + duration
    ok = refused = 0
    url, headers = f"{base_url}/me", {"Authorization": f"Bearer {token}"}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal ok, refused
        while True:
            await limiter.acquire()  # type: ignore[attr-defined]
            if time.monotonic() >= deadline:
                return
            async with session.get(url, headers=headers) as r:
                await r.read()
                limiter.observe(r.status, r.headers)  # type: ignore[attr-defined]
                if r.status == 200:
                    ok += 1
                else:
                    refused += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=tasks)) as session:
        await asyncio.gather(*(worker(session) for _ in range(tasks)))
    return ok, refused


CHILD = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
import redis.asyncio
from benchmarks.bench_limiter import greedy, LIVE_WINDOWS
from trakk_async.ratelimit import RedisRateLimiter

async def main(redis_url, base_url, token, duration):
    client = redis.asyncio.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(client, token=token, windows=LIVE_WINDOWS)
    ok, refused = await greedy(limiter, base_url, token, 16, duration)
    await limiter.aclose()
    await client.aclose()
    print(json.dumps([ok, refused]))

asyncio.run(main(*sys.argv[2:5], float(sys.argv[5])))
"""


async def live_in_process() -> tuple[int, int]:
    from trakk_async.testing import FakeTrakk

    async with FakeTrakk.running(seed=1, projects=5, rate_limits=LIVE_WINDOWS) as fake:
        limiter = TokenBucketLimiter(windows=LIVE_WINDOWS)
        ok, refused = await greedy(limiter, fake.base_url, fake.token, 64, LIVE_SECONDS)
        assert fake.stats().rate_limited == refused
    return ok, refused


async def live_redis(redis_url: str) -> tuple[int, int]:
    from trakk_async.testing import FakeTrakk

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=LIVE_WINDOWS) as fake:
        args = [str(ROOT), redis_url, fake.base_url, fake.token, str(LIVE_SECONDS)]
        children = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", CHILD, *args, env=env, stdout=subprocess.PIPE
            )
            for _ in range(4)
        ]
        results = [json.loads((await child.communicate())[0]) for child in children]
        ok, refused = sum(r[0] for r in results), sum(r[1] for r in results)
        assert fake.stats().rate_limited == refused
    return ok, refused


def live() -> None:
    best = live_max(LIVE_SECONDS)
    windows = ", ".join(f"{n} per {s:g} s" for n, s in LIVE_WINDOWS)
    print(f"\n3. Live against FakeTrakk over loopback ({windows}), {LIVE_SECONDS:g} s per run")
    print(f"   {'setup':40} {'ok':>6} {'429':>6} {'util':>6}   (max {best})")
    ok, refused = asyncio.run(live_in_process())
    print(f"   {'TokenBucketLimiter, 64 tasks':40} {ok:6d} {refused:6d} {ok / best:6.3f}")
    started = start_redis()
    if started is None:
        return
    context, url = started
    try:
        ok, refused = asyncio.run(live_redis(url))
    finally:
        context.__exit__(None, None, None)  # type: ignore[attr-defined]
    label = "RedisRateLimiter, 4 processes x 16 tasks"
    print(f"   {label:40} {ok:6d} {refused:6d} {ok / best:6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the live runs")
    parser.add_argument("-n", type=int, default=100_000, help="acquires per overhead row")
    options = parser.parse_args()
    print("1. Overhead per request (no waiting)")
    rows = asyncio.run(overhead(options.n))
    base = rows[0][1]
    for label, us in rows:
        print(f"   {label:48} {us:8.2f} us  {us / base:6.1f}x")
    simulation()
    if not options.quick:
        live()


if __name__ == "__main__":
    main()
