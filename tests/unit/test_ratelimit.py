"""TokenBucketLimiter on an event loop with virtual time: FIFO, cancellation, pauses."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import subprocess
import sys

import pytest

from trakk_async._core.errors import RateLimitError
from trakk_async.ratelimit import (
    RateLimiter,
    RateLimitSnapshot,
    TokenBucketLimiter,
    WindowSnapshot,
)


class VirtualTime:
    """A clock and a sleep for the limiter; :meth:`run` advances time only when all idle."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + seconds, next(self._seq), future))
        await future

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    async def run(self, until: float = float("inf")) -> None:
        """Let the tasks run, jumping to the next timer whenever they all wait."""
        while True:
            await self.settle()
            while self._timers and self._timers[0][2].done():  # cancelled sleeps
                heapq.heappop(self._timers)
            if not self._timers or self._timers[0][0] > until:
                return
            at, _, future = heapq.heappop(self._timers)
            self.now = max(self.now, at)
            future.set_result(None)

    def limiter(self, windows: list[tuple[int, float]], margin: float = 0.0) -> TokenBucketLimiter:
        return TokenBucketLimiter(
            windows=windows, margin=margin, clock=self.clock, wall=self.wall, sleep=self.sleep
        )


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


def test_it_is_a_rate_limiter_with_the_default_windows() -> None:
    limiter = TokenBucketLimiter()
    assert isinstance(limiter, RateLimiter)
    assert limiter.windows == ((60, 60.0), (1000, 3600.0))
    assert TokenBucketLimiter(per_minute=30).windows == ((30, 60.0), (1000, 3600.0))
    assert TokenBucketLimiter(windows=[(5, 1)]).windows == ((5, 1.0),)
    with pytest.raises(ValueError, match="not both"):
        TokenBucketLimiter(per_minute=30, windows=[(5, 1.0)])
    with pytest.raises(ValueError, match="margin"):
        TokenBucketLimiter(margin=-1)


async def test_the_full_burst_goes_without_sleeping(vt: VirtualTime) -> None:
    limiter = vt.limiter([(60, 60.0), (1000, 3600.0)])
    for _ in range(60):
        await limiter.acquire()
    assert vt.sleeps == []
    snap = limiter.snapshot()
    assert snap.remaining == 0
    assert snap.windows[0] == WindowSnapshot(
        limit=60, seconds=60.0, used=60, remaining=0, resets_in=60.0
    )
    assert snap.windows[1].remaining == 940
    assert snap.available_in == 60.0


async def test_500_waiters_are_served_in_arrival_order(vt: VirtualTime) -> None:
    limiter = vt.limiter([(5, 1.0), (40, 10.0)], margin=0.05)
    served: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await limiter.acquire()
        served.append((i, vt.now))

    tasks = [asyncio.ensure_future(one(i)) for i in range(500)]
    await vt.run()
    await asyncio.gather(*tasks)
    assert [i for i, _ in served] == list(range(500))
    times = [t for _, t in served]
    for limit, span in ((5, 1.05), (40, 10.05)):
        assert all(times[k + limit] >= times[k] + span for k in range(len(times) - limit))
    # One sleeper at a time: about one sleep per grant that had to wait, no herd.
    assert len(vt.sleeps) <= 500


async def test_a_cancelled_waiter_gives_its_place_back(vt: VirtualTime) -> None:
    limiter = vt.limiter([(1, 10.0)])
    await limiter.acquire()
    head = asyncio.ensure_future(limiter.acquire())
    middle = asyncio.ensure_future(limiter.acquire())
    last = asyncio.ensure_future(limiter.acquire())
    await vt.settle()
    assert limiter.snapshot().waiting == 3
    middle.cancel()
    await vt.run(until=5.0)
    head.cancel()  # while it sleeps as the head of the queue
    await vt.run(until=10.0)
    assert last.done()
    assert vt.now == 10.0  # the first free slot, not a later one
    assert limiter.snapshot().windows[0].used == 1
    assert limiter.snapshot().waiting == 0
    assert head.cancelled()
    assert middle.cancelled()


async def test_cancelled_just_after_its_turn_came_it_still_hands_over(vt: VirtualTime) -> None:
    limiter = vt.limiter([(2, 10.0)])
    await limiter.acquire()
    await limiter.acquire()

    async def first() -> None:
        await limiter.acquire()
        # The queue has just woken `second`, which has not run yet: cancel it now.
        second.cancel()

    head = asyncio.ensure_future(first())
    second = asyncio.ensure_future(limiter.acquire())
    third = asyncio.ensure_future(limiter.acquire())
    await vt.run()
    await head
    await third
    assert second.cancelled()
    assert vt.now == 10.0
    assert limiter.snapshot().windows[0].used == 2


async def test_max_wait_refuses_with_the_expected_wait(vt: VirtualTime) -> None:
    limiter = vt.limiter([(2, 10.0), (3, 100.0)])
    await limiter.acquire()
    await limiter.acquire()
    with pytest.raises(RateLimitError) as info:
        await limiter.acquire(max_wait=5.0)
    assert info.value.retry_after == 10.0
    assert info.value.reset_at is not None
    assert info.value.reset_at.timestamp() == vt.wall() + 10.0
    assert "max_wait=5" in str(info.value)
    # Queued behind one waiter, the third request would wait for the hour window.
    waiter = asyncio.ensure_future(limiter.acquire(max_wait=10.0))
    await vt.settle()
    with pytest.raises(RateLimitError) as info:
        await limiter.acquire(max_wait=60.0)
    assert info.value.retry_after == 100.0
    await vt.run()
    await waiter
    assert vt.now == 10.0
    assert limiter.snapshot().windows[1].used == 3  # the refused ones booked nothing


async def test_a_429_pauses_everyone_then_resumes_in_order(vt: VirtualTime) -> None:
    limiter = vt.limiter([(3, 10.0), (30, 100.0)])
    for _ in range(3):
        await limiter.acquire()
    served: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await limiter.acquire()
        served.append((i, vt.now))

    tasks = [asyncio.ensure_future(one(i)) for i in range(4)]
    await vt.run(until=2.0)
    vt.now = 2.0
    limiter.observe(429, {"Retry-After": "29", "X-RateLimit-Limit": "3"})
    snap = limiter.snapshot()
    assert snap.paused_for == 30.0
    assert snap.remaining == 0
    assert limiter.windows == ((3, 10.0), (30, 100.0))
    await vt.run(until=36.0)
    # Resuming without a burst: the first request goes alone, at the end of the pause ...
    assert served == [(0, 32.0)]
    vt.now = 33.0
    # ... and its answer (one request left in this window) lets the queue go on.
    limiter.observe(200, {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "1"})
    await vt.run()
    await asyncio.gather(*tasks)
    assert served == [(0, 32.0), (1, 33.0), (2, 42.0), (3, 43.0)]


async def test_after_a_pause_a_lost_first_answer_only_delays_the_rest(vt: VirtualTime) -> None:
    limiter = vt.limiter([(5, 2.0)])
    limiter.observe(429, {"Retry-After": "1"})
    first = asyncio.ensure_future(limiter.acquire())
    second = asyncio.ensure_future(limiter.acquire())
    await vt.run()
    await asyncio.gather(first, second)
    assert vt.now == 4.0  # paused until 2.0, then the answer awaited for one window


async def test_a_larger_limit_wakes_the_head_early(vt: VirtualTime) -> None:
    limiter = vt.limiter([(2, 60.0)])
    await limiter.acquire()
    await limiter.acquire()
    waiter = asyncio.ensure_future(limiter.acquire())
    await vt.run(until=1.0)
    assert not waiter.done()
    limiter.observe(200, {"X-RateLimit-Limit": "4", "X-RateLimit-Remaining": "2"})
    await vt.settle()
    assert waiter.done()
    assert vt.now == 0.0
    assert limiter.windows == ((4, 60.0),)


async def test_remaining_below_ours_slows_down(vt: VirtualTime) -> None:
    limiter = vt.limiter([(10, 10.0)])
    await limiter.acquire()
    limiter.observe(200, {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "2"})
    assert limiter.snapshot().windows[0].remaining == 2
    await limiter.acquire()
    await limiter.acquire()
    waiter = asyncio.ensure_future(limiter.acquire())
    await vt.run()
    await waiter
    assert vt.now == 10.0


async def test_a_wait_is_logged_with_how_long_and_why(
    vt: VirtualTime, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = vt.limiter([(1, 60.0)])
    await limiter.acquire()
    with caplog.at_level(logging.DEBUG, logger="trakk_async.ratelimit"):
        waiter = asyncio.ensure_future(limiter.acquire())
        await vt.run()
        await waiter
    assert "waiting 60.000s for a request slot: 1 per 60s spent" in caplog.text


def test_snapshot_eta_for_a_progress_bar() -> None:
    snap = RateLimitSnapshot(
        windows=(
            WindowSnapshot(limit=60, seconds=60.0, used=50, remaining=10, resets_in=20.0),
            WindowSnapshot(limit=1000, seconds=3600.0, used=100, remaining=900, resets_in=1.0),
        )
    )
    assert snap.remaining == 10
    assert snap.tightest is snap.windows[0]
    assert snap.eta(0) == 0.0
    assert snap.eta(10) == 0.0
    assert snap.eta(70) == 20.0
    assert snap.eta(71) == 80.0
    paused = RateLimitSnapshot(windows=snap.windows, paused_for=5.0)
    assert paused.remaining == 0
    assert paused.eta(1) == 5.0


def test_redis_is_imported_only_for_a_redis_limiter() -> None:
    code = (
        "import sys, trakk_async.ratelimit as r; "
        "assert 'redis' not in sys.modules; "
        "cls = r.RedisRateLimiter; assert cls.__name__ == 'RedisRateLimiter'; "
        "import trakk_async.ratelimit._redis; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


async def test_a_poke_while_the_head_is_not_napping_is_not_lost() -> None:
    # The Redis limiter's head spends time awaiting its script between naps: a poke (the
    # answer after a 429 pause came) that lands then must still cut the next nap short.
    slept: list[float] = []

    async def never_wakes(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.Event().wait()

    limiter = TokenBucketLimiter(sleep=never_wakes)
    limiter._poke()
    await asyncio.wait_for(limiter._nap(30.0), 1.0)
    assert slept == []


async def test_try_acquire_books_without_waiting_and_never_jumps_the_queue() -> None:
    vt = VirtualTime()
    limiter = vt.limiter([(2, 10.0)])
    assert limiter.try_acquire() is True
    assert limiter.try_acquire() is True
    assert limiter.try_acquire() is False  # spent: nothing booked
    assert limiter.snapshot().windows[0].used == 2
    waiter = asyncio.ensure_future(limiter.acquire())
    await vt.settle()
    vt.now = 10.0  # room again, but a task is queued: it goes first
    assert limiter.try_acquire() is False
    await vt.run()
    await waiter
    assert limiter.snapshot().windows[0].used == 1
