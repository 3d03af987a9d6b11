"""Rate limiter benchmark: the issue's scenarios, budget used and 429s drawn.

Run from the repository root::

    python benchmarks/bench_limiter.py            # everything (about a minute)
    python benchmarks/bench_limiter.py --quick    # no live runs

1. Overhead: microseconds per ``acquire`` + ``observe`` (the client's seam) next to an
   uncontended ``asyncio.Semaphore``, and a Redis round trip.
2. Against Laravel's fixed windows (simulated clock, 50-250 ms of jitter): a classic
   token bucket (burst N, continuous refill; GCRA behaves the same) against our sliding
   log, both configured with the right limits.
3. Scenarios in virtual time, without configuration (the limiter starts from 60/minute
   and 1,000/hour): real :class:`TrakkClient` s against the fake server's own throttle
   (``tests/limiter_sim.py``) through a simulated network of 50-100 ms. Utilization is
   what the server accepted over the most the token's real limits allow.
4. Live over loopback with scaled windows: budget used and 429s for 64 tasks in one
   process, for 4 processes x 16 tasks sharing a RedisRateLimiter (if ``redis-server``
   is installed), and requests seen by the server against requests booked when 5% of
   the connections drop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.limiter_sim import SimTrakk, VirtualTime, greedy, other_consumer  # noqa: E402
from trakk_async import RequestAttempt, TrakkClient  # noqa: E402
from trakk_async.ratelimit import TokenBucketLimiter  # noqa: E402
from trakk_async.ratelimit._log import Budget  # noqa: E402

HEADERS = {"X-RateLimit-Limit": "1000000000", "X-RateLimit-Remaining": "999999999"}
DEFAULTS = [(60, 60.0), (1000, 3600.0)]


# --------------------------------------------------------------------------- overhead


async def per_op(n: int, op: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await op()
    return (time.perf_counter() - started) / n * 1e6


async def overhead(n: int) -> list[tuple[str, float]]:
    sem = asyncio.Semaphore(1)

    async def semaphore() -> None:
        async with sem:
            pass

    seam = TokenBucketLimiter(windows=[(1_000_000_000, 60.0), (1_000_000_000, 3600.0)])

    async def acquire_observe() -> None:
        await seam.acquire()
        seam.observe(200, HEADERS)

    rows = [
        ("asyncio.Semaphore acquire/release", await per_op(n, semaphore)),
        ("TokenBucketLimiter acquire + observe", await per_op(n, acquire_observe)),
    ]
    with redis_url() as url:
        if url is not None:
            rows.append(await redis_overhead(url, min(n, 3000)))
    return rows


@contextlib.contextmanager
def redis_url() -> Iterator[str | None]:
    """A throwaway redis-server's URL, or None (printed why) without the binary."""
    try:
        from tests.redis_server import redis_server

        context = redis_server()
        url = context.__enter__()
    except BaseException as exc:  # pytest's fail/skip when the binary is missing
        print(f"   (Redis rows skipped: {exc})")
        yield None
        return
    try:
        yield url
    finally:
        context.__exit__(None, None, None)


async def redis_overhead(url: str, n: int) -> tuple[str, float]:
    import redis.asyncio

    from trakk_async.ratelimit import RedisRateLimiter

    client = redis.asyncio.Redis.from_url(url)
    limiter = RedisRateLimiter(
        client, token="bench", windows=[(1_000_000_000, 60.0), (1_000_000_000, 3600.0)]
    )

    async def acquire_observe() -> None:
        await limiter.acquire()
        limiter.observe(200, HEADERS)

    await acquire_observe()
    us = await per_op(n, acquire_observe)
    await limiter.aclose()
    await client.aclose()
    return ("RedisRateLimiter acquire + observe (loopback)", us)


# --------------------------------------------------------------------------- vs bucket


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
        wait = max((1.0 - t) / r if t < 1.0 else 0.0 for t, r in zip(tokens, rates, strict=True))
        for i, (limit, _) in enumerate(windows):
            tokens[i] = min(float(limit), tokens[i] + wait * rates[i]) - 1.0
        now = start + wait
        grants.append(now)
    return grants


def sliding_log(windows: list[tuple[int, float]], demand: list[float]) -> list[float]:
    """Grant times behind our budget (default margin), served in order."""
    budget = Budget(windows, margin=None, known=[True] * len(windows))
    now, grants = 0.0, []
    for arrival in demand:
        now = max(now, arrival)
        while (wait := budget.check(now)[0]) > 0:
            now += wait
        budget.book(now)
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
    scenarios: list[tuple[str, list[tuple[int, float]], Callable[[float], list[float]], float]] = [
        ("60/min, greedy, 2 h", minute, greedy_demand, 7200.0),
        ("60/min, bursts, 6 h", minute, bursty_demand, 6 * 3600.0),
        ("60/min + 1,000/h, greedy, 6 h", both, greedy_demand, 6 * 3600.0),
        ("60/min + 1,000/h, bursts, 6 h", both, bursty_demand, 6 * 3600.0),
    ]
    print("\n2. Against Laravel fixed windows (simulated clock, 50-250 ms jitter)")
    print("   util = accepted / what a client sending exactly when the server accepts would get")
    print(f"   {'scenario':31} {'limiter':21} {'sent':>6} {'ok':>6} {'429':>6} {'util':>6}")
    for name, windows, demand, duration in scenarios:
        best = oracle(windows, duration)
        for label, build in (("classic token bucket", classic_bucket), ("ours", sliding_log)):
            grants = build(windows, demand(duration))
            ok, refused = against_laravel(grants, windows, duration)
            util = f"{ok / best:6.3f}" if demand is greedy_demand else "     -"
            print(f"   {name:31} {label:21} {ok + refused:6d} {ok:6d} {refused:6d} {util}")


# --------------------------------------------------------------------------- scenarios


def attempts_of(client: TrakkClient) -> list[int | None]:
    seen: list[int | None] = []
    client.add_attempt_listener(lambda attempt: seen.append(attempt.status))
    return seen


async def hour_limit(real: int, hours: int = 6) -> str:
    vt = VirtualTime()
    sim = SimTrakk(vt, [(60, 60.0), (real, 3600.0)])
    client = sim.client("t", vt.limiter())
    await vt.gather(greedy(client, tasks=8, until=hours * 3600.0, vt=vt))
    util = sim.accepted("t", 0, hours * 3600.0) / (real * hours)
    per_hour = [sim.refused("t", h * 3600.0, (h + 1) * 3600.0) for h in range(hours)]
    return f"util {util:.3f}, 429s per hour {per_hour}"


async def minute_limit(real: int, requests: int) -> str:
    vt = VirtualTime()
    sim = SimTrakk(vt, [(real, 60.0), (100_000, 3600.0)])
    client = sim.client("t", vt.limiter())
    await vt.gather(greedy(client, tasks=16, until=1e9, vt=vt, requests=requests))
    # The floor: the first window at once, then `real` per window.
    floor = math.ceil(requests / real - 1) * 60.0
    return f"{requests} calls in {vt.now:.0f} s (floor {floor:.0f} s), 429s {sim.refused('t')}"


async def restart() -> str:
    vt = VirtualTime()
    sim = SimTrakk(vt, DEFAULTS)
    before = sim.client("t", vt.limiter())
    await vt.gather(greedy(before, tasks=4, until=1e9, vt=vt, requests=59))
    after = sim.client("t", vt.limiter())
    seen = attempts_of(after)
    await vt.gather(greedy(after, tasks=8, until=1e9, vt=vt, requests=20))
    return f"20 calls into a window with 1 place left: 429s {seen.count(429)}"


async def another_consumer() -> str:
    worst = 0
    for every, burst in ((3.0, 2), (10.0, 5), (20.0, 15), (1.5, 1)):
        vt = VirtualTime()
        sim = SimTrakk(vt, DEFAULTS)
        client = sim.client("t", vt.limiter())
        seen = attempts_of(client)
        other = asyncio.ensure_future(
            other_consumer(sim, "t", every=every, burst=burst, until=1200.0)
        )
        await vt.run(until=3.0)
        await vt.gather(greedy(client, tasks=8, until=1e9, vt=vt, requests=80))
        other.cancel()
        worst = max(worst, seen.count(429))
    return f"80 calls beside 4 kinds of other program: at most {worst} 429s"


async def two_processes(minutes: int = 10) -> str:
    vt = VirtualTime()
    sim = SimTrakk(vt, DEFAULTS)
    clients = [sim.client("t", vt.limiter()) for _ in range(2)]
    times: list[list[float]] = [[], []]

    def answered(mine: list[float]) -> Callable[[RequestAttempt], None]:
        return lambda attempt: mine.append(vt.now) if attempt.status == 200 else None

    for client, mine in zip(clients, times, strict=True):
        client.add_attempt_listener(answered(mine))
    await vt.gather(*(greedy(c, tasks=16, until=minutes * 60.0, vt=vt) for c in clients))
    worst = min(
        sum(1 for t in mine if m * 60 <= t < (m + 1) * 60)
        for mine in times
        for m in range(1, minutes)
    )
    util = sim.accepted("t", 60.0, minutes * 60.0) / (60 * (minutes - 1))
    return f"least per minute for one of them {worst}/60 (minutes 2-{minutes}), util {util:.3f}"


def scenarios() -> None:
    rows: list[tuple[str, Callable[[], Coroutine[Any, Any, str]]]] = [
        ("minute limit 10 (configured 60)", lambda: minute_limit(10, 40)),
        ("minute limit 600 (configured 60)", lambda: minute_limit(600, 900)),
        ("hour limit 2,000 (configured 1,000), 6 h", lambda: hour_limit(2000)),
        ("hour limit 500 (configured 1,000), 6 h", lambda: hour_limit(500)),
        ("restart into a spent window", restart),
        ("another consumer on the token", another_consumer),
        ("two processes, own limiters, 10 min", two_processes),
    ]
    print("\n3. Scenarios in virtual time, unconfigured limiter, the fake's throttle")
    for label, run in rows:
        print(f"   {label:42} {asyncio.run(run())}")


# --------------------------------------------------------------------------- live

LIVE_WINDOWS = [(20, 1.0), (100, 5.0)]
LIVE_SECONDS = 20.0


def live_max(duration: float) -> int:
    """The most the windows allow to requests sent in [0, duration]: back-to-back windows."""
    return min(limit * math.ceil(duration / seconds) for limit, seconds in LIVE_WINDOWS)


async def live_in_process() -> tuple[int, int]:
    from trakk_async.testing import FakeTrakk

    async with FakeTrakk.running(seed=1, projects=5, rate_limits=LIVE_WINDOWS) as fake:
        limiter = TokenBucketLimiter(windows=LIVE_WINDOWS)
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
            seen: list[tuple[int | None, float]] = []
            c.add_attempt_listener(lambda a: seen.append((a.status, time.monotonic())))
            start = time.monotonic()

            async def worker() -> None:
                while time.monotonic() < start + LIVE_SECONDS:
                    await c.get_json("/me")

            await asyncio.gather(*(worker() for _ in range(64)))
        ok = sum(1 for s, t in seen if s == 200 and t < start + LIVE_SECONDS)
        return ok, fake.stats().rate_limited


async def live_redis(url: str) -> tuple[int, int]:
    from tests.integration.test_redis_limiter import run_processes
    from trakk_async.testing import FakeTrakk

    async with FakeTrakk.running(seed=1, projects=5, rate_limits=LIVE_WINDOWS) as fake:
        start, results = await run_processes(
            url, fake.base_url, fake.token, LIVE_SECONDS, ["close"] * 4
        )
        refused = fake.stats().rate_limited
    attempts: list[Any] = [a for _, out, _ in results for a in json.loads(out)]
    ok = sum(1 for s, t in attempts if s == 200 and start <= t < start + LIVE_SECONDS)
    return ok, refused


async def live_drops() -> tuple[int, int, int]:
    from trakk_async.testing import FakeTrakk

    async with FakeTrakk.running(seed=1, projects=5, rate_limits=[(1000, 1.0)]) as fake:
        fake.inject_fault("drop", probability=0.05)
        limiter = TokenBucketLimiter(windows=[(1000, 1.0)])
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
            seen = attempts_of(c)
            await asyncio.gather(*(c.get_json("/me") for _ in range(1000)))
        stats = fake.stats()
    return len(seen), stats.requests, stats.faults


def live() -> None:
    best = live_max(LIVE_SECONDS)
    windows = ", ".join(f"{n} per {s:g} s" for n, s in LIVE_WINDOWS)
    print(f"\n4. Live against FakeTrakk over loopback ({windows}), {LIVE_SECONDS:g} s per run")
    print(f"   {'setup':44} {'ok':>6} {'429':>6} {'util':>6}   (max {best})")
    ok, refused = asyncio.run(live_in_process())
    print(f"   {'TokenBucketLimiter, 64 tasks':44} {ok:6d} {refused:6d} {ok / best:6.3f}")
    with redis_url() as url:
        if url is not None:
            ok, refused = asyncio.run(live_redis(url))
            label = "RedisRateLimiter, 4 processes x 16 tasks"
            print(f"   {label:44} {ok:6d} {refused:6d} {ok / best:6.3f}")
    booked, seen, dropped = asyncio.run(live_drops())
    print(
        f"   1,000 calls with 5% of connections dropped: {dropped} dropped, "
        f"{booked} attempts booked, {seen} requests seen by the server"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the live runs")
    parser.add_argument("-n", type=int, default=50_000, help="calls per overhead row")
    options = parser.parse_args()
    print("1. Overhead per request (no waiting)")
    rows = asyncio.run(overhead(options.n))
    base = rows[0][1]
    for label, us in rows:
        print(f"   {label:48} {us:8.2f} us  {us / base:6.1f}x")
    simulation()
    scenarios()
    if not options.quick:
        live()


if __name__ == "__main__":
    main()
