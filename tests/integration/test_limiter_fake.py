"""The limiter in real time against the fake over loopback HTTP, with small windows.

The same scenarios as ``tests/unit/test_ratelimit_scenarios.py`` (virtual time), here
with real sockets, aiohttp and the fake's own throttle. Windows are seconds long, so a
limiter given Trakk-shaped windows scaled down (``SCALED``) plays an unconfigured one.
Assertions count what the server saw (429s, requests), never durations to the
millisecond.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import pytest

from trakk_async import RequestAttempt, TokenBucketLimiter, TrakkClient
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

#: A minute and an hour shrunk to 2 and 120 seconds, at Trakk's default limits.
SCALED = [(60, 2.0), (1000, 120.0)]


def record(client: TrakkClient) -> list[RequestAttempt]:
    attempts: list[RequestAttempt] = []
    client.add_attempt_listener(attempts.append)
    return attempts


async def calls(client: TrakkClient, n: int, tasks: int = 8) -> None:
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            await client.get_json("/me")

    await asyncio.gather(*(worker() for _ in range(tasks)))


def statuses(attempts: list[RequestAttempt]) -> list[int | None]:
    return [a.status for a in attempts]


async def test_a_lower_real_limit_costs_no_429() -> None:
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=[(8, 2.0)]) as fake:
        limiter = TokenBucketLimiter(windows=SCALED)
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
            attempts = record(c)
            await calls(c, 20, tasks=16)
        stats = fake.stats()
    assert stats.rate_limited == 0
    assert statuses(attempts).count(200) == stats.requests == 20
    assert limiter.windows[0] == (8, 2.0)


async def test_a_raised_limit_is_used_at_its_full_rate() -> None:
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=[(400, 2.0)]) as fake:
        limiter = TokenBucketLimiter(windows=SCALED)
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
            started = time.monotonic()
            await calls(c, 500, tasks=16)
            elapsed = time.monotonic() - started
        stats = fake.stats()
    assert stats.rate_limited == 0
    assert limiter.windows[0] == (400, 2.0)
    # 400 at once, 100 more in the next window: two windows, not 500 / 60 of them.
    assert elapsed < 6 * 2.0


async def test_a_restart_into_a_spent_window_costs_no_429() -> None:
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=[(20, 2.0)]) as fake:
        async with TrakkClient(
            fake.token, base_url=fake.base_url, rate_limiter=TokenBucketLimiter(windows=SCALED)
        ) as before:
            await calls(before, 19)
        limiter = TokenBucketLimiter(windows=SCALED)  # the program restarted
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
            attempts = record(c)
            await calls(c, 10)
        stats = fake.stats()
    assert stats.rate_limited == 0
    assert statuses(attempts) == [200] * 10


async def test_another_consumer_costs_at_most_4_429s_in_80_requests() -> None:
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=[(40, 2.0)]) as fake:
        stop = asyncio.Event()

        async def other_program() -> None:  # the same token, without our limiter
            headers = {"Authorization": f"Bearer {fake.token}"}
            async with aiohttp.ClientSession() as session:
                while not stop.is_set():
                    for _ in range(3):
                        async with session.get(f"{fake.base_url}/me", headers=headers) as r:
                            await r.read()
                    await asyncio.sleep(0.5)

        other = asyncio.ensure_future(other_program())
        await asyncio.sleep(0.3)  # it was there first
        async with TrakkClient(
            fake.token, base_url=fake.base_url, rate_limiter=TokenBucketLimiter(windows=SCALED)
        ) as c:
            attempts = record(c)
            await calls(c, 80)
        stop.set()
        await other
    assert statuses(attempts).count(200) == 80
    assert statuses(attempts).count(429) <= 4


async def test_two_programs_with_their_own_limiters_share_the_budget() -> None:
    seconds = 12.0
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=[(30, 2.0)]) as fake:
        answered: list[list[float]] = [[], []]

        def listener(times: list[float]) -> Callable[[RequestAttempt], None]:
            return lambda a: times.append(time.monotonic()) if a.status == 200 else None

        async def program(times: list[float], delay: float) -> None:
            await asyncio.sleep(delay)
            limiter = TokenBucketLimiter(windows=SCALED)
            async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
                c.add_attempt_listener(listener(times))
                deadline = start + seconds

                async def worker() -> None:
                    while time.monotonic() < deadline:
                        await c.get_json("/me")

                await asyncio.gather(*(worker() for _ in range(16)))

        start = time.monotonic()
        await asyncio.gather(program(answered[0], 0.0), program(answered[1], 0.7))
    # None is starved for a window; once each has seen the other (a 429's pause, in
    # whole seconds, is a window here), each gets at least a quarter of every window.
    for times in answered:
        per_window = [
            sum(1 for t in times if start + w * 2.0 <= t < start + (w + 1) * 2.0)
            for w in range(int(seconds / 2.0))
        ]
        assert min(per_window[1:]) >= 1, per_window
        assert min(per_window[3:]) >= 30 / 4, per_window


async def test_with_dropped_connections_every_request_on_the_wire_is_booked() -> None:
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=[(1000, 1.0)]) as fake:
        fake.inject_fault("drop", probability=0.05)
        limiter = TokenBucketLimiter(windows=[(1000, 1.0)])
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
            attempts = record(c)
            await calls(c, 300, tasks=8)
        stats = fake.stats()
    dropped = statuses(attempts).count(None)
    assert dropped > 0  # the faults happened ...
    assert stats.faults == dropped
    # ... and aiohttp re-sent none of them behind the limiter's back.
    assert stats.requests == len(attempts) == 300 + dropped
    assert stats.rate_limited == 0
