"""TokenBucketLimiter on an event loop with virtual time: FIFO, going alone, pauses, logs."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

import pytest

from tests.limiter_sim import VirtualTime
from trakk_async._core.errors import RateLimitError
from trakk_async.ratelimit import (
    RateLimiter,
    RateLimitSnapshot,
    TokenBucketLimiter,
    WindowSnapshot,
)

OK = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"}


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


async def started(limiter: TokenBucketLimiter, headers: dict[str, str] | None = None) -> None:
    """The first request and its answer (until then the others would wait for it)."""
    await limiter.acquire()
    limiter.observe(200, headers if headers is not None else {})


def test_defaults_and_which_limits_are_known() -> None:
    limiter = TokenBucketLimiter()
    assert isinstance(limiter, RateLimiter)
    assert limiter.windows == ((60, 60.0), (1000, 3600.0))
    assert [w.known for w in limiter.snapshot().windows] == [False, False]
    assert [w.known for w in TokenBucketLimiter(per_hour=500).snapshot().windows] == [False, True]
    assert TokenBucketLimiter(per_minute=30).windows == ((30, 60.0), (1000, 3600.0))
    only = TokenBucketLimiter(windows=[(5, 1)])
    assert only.windows == ((5, 1.0),)
    assert only.snapshot().windows[0].known
    with pytest.raises(ValueError, match="not both"):
        TokenBucketLimiter(per_minute=30, windows=[(5, 1.0)])
    with pytest.raises(ValueError, match="margin"):
        TokenBucketLimiter(margin=-1)
    with pytest.raises(ValueError, match="limit"):
        TokenBucketLimiter(per_minute=0)


async def test_the_first_request_goes_alone_then_the_full_burst(vt: VirtualTime) -> None:
    limiter = vt.limiter(windows=[(60, 60.0), (1000, 3600.0)], margin=0.0)
    await limiter.acquire()
    second = asyncio.ensure_future(limiter.acquire())
    await vt.run(until=1.0)
    assert not second.done()
    assert limiter.snapshot().wait_reason == "waiting for the answer to the first request"
    vt.now = 0.0
    limiter.observe(200, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"})
    await vt.run(until=0.0)
    await second
    for _ in range(58):
        await limiter.acquire()
    assert vt.now == 0.0
    snap = limiter.snapshot()
    assert snap.remaining == 0
    assert snap.windows[0] == WindowSnapshot(
        limit=60, seconds=60.0, used=60, remaining=0, resets_in=60.0
    )
    assert snap.windows[1].remaining == 940
    assert (snap.available_in, snap.wait_reason) == (60.0, "60 per 60s spent")


async def test_a_lower_limit_in_the_first_answer_is_obeyed_before_any_burst(
    vt: VirtualTime,
) -> None:
    limiter = vt.limiter()
    waiters = [asyncio.ensure_future(limiter.acquire()) for _ in range(16)]
    await vt.run(until=1.0)
    assert sum(w.done() for w in waiters) == 1
    limiter.observe(200, {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9"})
    await vt.run(until=2.0)
    assert sum(w.done() for w in waiters) == 10
    assert limiter.windows[0] == (10, 60.0)
    for waiter in waiters:
        waiter.cancel()


async def test_500_waiters_are_served_in_arrival_order(vt: VirtualTime) -> None:
    limiter = vt.limiter(windows=[(5, 1.0), (40, 10.0)], margin=0.05)
    await started(limiter)
    served: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await limiter.acquire()
        served.append((i, vt.now))
        limiter.observe(200, {})

    tasks = [asyncio.ensure_future(one(i)) for i in range(500)]
    await vt.run()
    await asyncio.gather(*tasks)
    assert [i for i, _ in served] == list(range(500))
    times = [0.0] + [t for _, t in served]
    for limit, span in ((5, 1.05), (40, 10.05)):
        assert all(times[k + limit] >= times[k] + span for k in range(len(times) - limit))


async def test_a_cancelled_waiter_gives_its_place_back(vt: VirtualTime) -> None:
    limiter = vt.limiter(windows=[(1, 10.0)], margin=0.0)
    await started(limiter)
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


async def test_max_wait_refuses_with_the_expected_wait(vt: VirtualTime) -> None:
    limiter = vt.limiter(windows=[(2, 10.0), (3, 100.0)], margin=0.0)
    await started(limiter)
    await limiter.acquire()
    with pytest.raises(RateLimitError) as info:
        await limiter.acquire(max_wait=5.0)
    assert info.value.retry_after == 10.0
    assert info.value.reset_at is not None
    assert info.value.reset_at.timestamp() == vt.wall() + 10.0
    assert "max_wait=5" in str(info.value)
    # Queued behind one waiter, the next request would wait for the longer window.
    waiter = asyncio.ensure_future(limiter.acquire(max_wait=10.0))
    await vt.settle()
    with pytest.raises(RateLimitError) as info:
        await limiter.acquire(max_wait=60.0)
    assert info.value.retry_after == 100.0
    await vt.run()
    await waiter
    assert vt.now == 10.0
    assert limiter.snapshot().windows[1].used == 3  # the refused ones booked nothing


async def test_a_429_pauses_everyone_then_one_goes_alone(vt: VirtualTime) -> None:
    limiter = vt.limiter(windows=[(3, 10.0), (30, 100.0)], margin=0.0)
    await started(limiter)
    await limiter.acquire()
    await limiter.acquire()
    served: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await limiter.acquire()
        served.append((i, vt.now))

    tasks = [asyncio.ensure_future(one(i)) for i in range(4)]
    await vt.run(until=2.0)
    limiter.observe(200, {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "1"})
    limiter.observe(429, {"Retry-After": "7", "X-RateLimit-Limit": "3"})
    snap = limiter.snapshot()
    assert snap.paused_for == 8.0
    assert (snap.remaining, snap.wait_reason) == (0, "paused after a 429")
    await vt.run(until=9.99)
    assert served == []
    await vt.run(until=10.4)
    # The pause ended at 10: one request goes alone, the others wait for its answer ...
    assert served == [(0, 10.0)]
    limiter.observe(200, {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2"})
    await vt.run()
    await asyncio.gather(*tasks)
    # ... then the rest, in order, never more than 3 in 10 s.
    times = [t for _, t in served]
    assert [i for i, _ in served] == [0, 1, 2, 3]
    assert times[1:3] == [10.4, 10.4]
    assert times[3] == 20.4  # the first after the pause holds its place from its answer


async def test_an_attempt_without_answer_lets_the_next_one_go_alone(vt: VirtualTime) -> None:
    limiter = vt.limiter()
    await limiter.acquire()
    second = asyncio.ensure_future(limiter.acquire())
    third = asyncio.ensure_future(limiter.acquire())
    await vt.run(until=1.0)
    limiter.observe(None, {})  # the first attempt failed: no answer
    await vt.run(until=2.0)
    assert second.done()
    assert not third.done()
    limiter.observe(200, OK)
    await vt.run(until=3.0)
    assert third.done()


async def test_a_larger_limit_wakes_the_head_early(vt: VirtualTime) -> None:
    limiter = vt.limiter(windows=[(2, 60.0)], margin=0.0)
    await started(limiter)
    await limiter.acquire()
    waiter = asyncio.ensure_future(limiter.acquire())
    await vt.run(until=1.0)
    assert not waiter.done()
    limiter.observe(200, {"X-RateLimit-Limit": "4", "X-RateLimit-Remaining": "2"})
    await vt.run(until=20.0)
    assert waiter.done()
    assert vt.now == 20.0  # at the new limit's pace, not when the first place frees (60 s)
    assert limiter.windows == ((4, 60.0),)


async def test_remaining_below_ours_books_another_consumer_until_its_window_resets(
    vt: VirtualTime,
) -> None:
    limiter = vt.limiter(windows=[(10, 10.0)], margin=0.0)
    await limiter.acquire()
    limiter.observe(200, {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9"})
    vt.now = 4.0
    await limiter.acquire()
    vt.now = 5.0
    # The window opened at 0.0 (our first answer); 7 of its 9 are someone else's.
    limiter.observe(200, {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "1"})
    snap = limiter.snapshot()
    assert (snap.windows[0].used, snap.windows[0].remaining) == (9, 1)
    waiter = asyncio.ensure_future(limiter.acquire())
    await vt.run(until=9.99)
    assert not waiter.done()  # the last place is left to the other consumer's next request
    await vt.run(until=10.0)
    assert waiter.done()  # when that window reset, not 10 s after we heard of them


async def test_a_long_wait_is_logged_at_info_with_its_length_and_shown_in_the_snapshot(
    vt: VirtualTime, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = vt.limiter()
    await limiter.acquire()
    # A restart into a window another process spent: the first answer says so.
    limiter.observe(200, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0"})
    with caplog.at_level(logging.INFO, logger="trakk_async.ratelimit"):
        waiter = asyncio.ensure_future(limiter.acquire())
        await vt.run(until=1.0)
        snap = limiter.snapshot()
        assert snap.waiting == 1
        assert snap.available_in == pytest.approx(59.6)  # from the window's opening
        assert snap.wait_reason == "60 per 60s spent, 59 of them by another consumer"
        await vt.run()
        await waiter
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert caplog.records[0].getMessage() == (
        "rate limit: waiting 60.6s (60 per 60s spent, 59 of them by another consumer)"
    )


async def test_responses_without_headers_keep_the_configured_windows(vt: VirtualTime) -> None:
    # An unlimited token and a proxy that strips the headers look the same: nothing
    # changes, the configured windows stay in force.
    limiter = vt.limiter(per_minute=5)
    await started(limiter, {})
    for _ in range(4):
        await limiter.acquire()
        limiter.observe(200, {})
    assert limiter.snapshot().remaining == 0
    assert limiter.windows == ((5, 60.0), (1000, 3600.0))
    # Headers seen once and then gone: the limit learnt stays.
    limiter.observe(200, {"X-RateLimit-Limit": "8", "X-RateLimit-Remaining": "3"})
    limiter.observe(200, {})
    assert limiter.windows[0] == (8, 60.0)


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
    # The Redis limiter's head spends time awaiting its script between naps: a poke (an
    # answer came) that lands then must still cut the next nap short.
    slept: list[float] = []

    async def never_wakes(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.Event().wait()

    limiter = TokenBucketLimiter(sleep=never_wakes)
    limiter._poke()
    await asyncio.wait_for(limiter._nap(30.0), 1.0)
    assert slept == []


async def test_a_request_whose_answer_is_never_reported_holds_the_others_only_so_long(
    vt: VirtualTime,
) -> None:
    from trakk_async.ratelimit._core import LOST_ANSWER

    limiter = vt.limiter()
    await limiter.acquire()  # and the caller never calls observe()
    second = asyncio.ensure_future(limiter.acquire())
    await vt.run(until=LOST_ANSWER - 1)
    assert not second.done()
    await vt.run(until=LOST_ANSWER + 1)
    assert second.done()
