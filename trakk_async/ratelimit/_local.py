"""The in-process limiter (:class:`TokenBucketLimiter`), the waiting queue it shares with
the Redis limiter, the limiter protocol and its snapshot values."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import attrs

from trakk_async._core.errors import RateLimitError
from trakk_async._core.model import Model
from trakk_async.ratelimit._core import (
    DEFAULT_WINDOWS,
    LimiterCore,
    WindowState,
    read_headers,
)

__all__ = ["RateLimitSnapshot", "RateLimiter", "TokenBucketLimiter", "WindowSnapshot"]

logger = logging.getLogger("trakk_async.ratelimit")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class WindowSnapshot(Model):
    """One window of a :class:`RateLimitSnapshot`.

    ``limit`` requests per ``seconds`` (after header corrections); ``used`` of them are
    booked (ours and, when the headers told us, other consumers'), ``remaining`` may go
    now, and ``resets_in`` seconds from now the oldest booking frees its place.
    """

    limit: int
    seconds: float
    used: int
    remaining: int
    resets_in: float


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RateLimitSnapshot(Model):
    """The token's budget as the limiter sees it now (``client.rate_limit``).

    ``windows`` from shortest to longest; ``paused_for`` seconds are left of a pause
    after a 429; ``waiting`` tasks are queued; the next request may go in
    ``available_in`` seconds. For a progress bar::

        snap = client.rate_limit
        print(f"{snap.remaining} requests left now, {todo} more in ~{snap.eta(todo):.0f}s")
    """

    windows: tuple[WindowSnapshot, ...]
    paused_for: float = 0.0
    waiting: int = 0
    available_in: float = 0.0

    @property
    def remaining(self) -> int:
        """Requests that may go right now: the smallest ``remaining`` of all windows."""
        if self.paused_for > 0:
            return 0
        return min((w.remaining for w in self.windows), default=0)

    @property
    def tightest(self) -> WindowSnapshot | None:
        """The window with the fewest requests left (the one the server reports on)."""
        return min(self.windows, key=lambda w: (w.remaining, -w.seconds), default=None)

    def eta(self, requests: int) -> float:
        """Seconds until ``requests`` more could all have been sent, at best.

        An estimate for progress bars: each window lets ``remaining`` go now, the rest
        once the booked ones free up, then ``limit`` per ``seconds``; other consumers of
        the token and queued tasks ahead are not counted.
        """
        if requests <= 0:
            return 0.0
        eta = self.paused_for
        for w in self.windows:
            more = requests - w.remaining
            if more > 0:
                rounds = math.ceil(more / w.limit)
                eta = max(eta, self.paused_for + (rounds - 1) * w.seconds + w.resets_in)
        return eta


def _window_snapshots(states: Iterable[WindowState]) -> tuple[WindowSnapshot, ...]:
    return tuple(
        WindowSnapshot(
            limit=s.limit,
            seconds=s.seconds,
            used=s.used,
            remaining=s.remaining,
            resets_in=s.resets_in,
        )
        for s in states
    )


@runtime_checkable
class RateLimiter(Protocol):
    """What the client needs of a rate limiter; one instance may serve several clients.

    A limiter may also offer ``try_acquire() -> bool``: book a request if it may go at
    once, without waiting. The client then calls it first and awaits :meth:`acquire` only
    when it returns False (:class:`TokenBucketLimiter` does; it saves a coroutine per
    request).
    """

    async def acquire(self, *, max_wait: float | None = None) -> None:
        """Wait until one request may be sent.

        Raise :class:`RateLimitError` (with ``retry_after`` set to the expected wait)
        instead of waiting longer than ``max_wait`` seconds.
        """

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response's status and rate-limit headers."""

    def snapshot(self) -> RateLimitSnapshot:
        """The budget as seen now: per window, the limit, what is left, when it frees."""


class _FairQueue:
    """FIFO waiting shared by the limiters: one head waits for a slot, the rest for a turn.

    Only the head sleeps (until its slot is due, or until :meth:`_poke` says the budget
    grew); when it is served it hands over to the next. A cancelled waiter leaves the
    queue and, if it was the head, hands over too: nothing was booked for it.
    """

    def __init__(self, sleep: Sleep) -> None:
        self._sleep = sleep
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._poked: asyncio.Future[None] | None = None
        # A poke while the head is not napping (say, awaiting Redis) must not be lost.
        self._poke_pending = False

    async def _grant_or_wait(self) -> tuple[float, str]:
        """Book a request now and return (0, ""), or return (seconds to wait, why)."""
        raise NotImplementedError

    def _refuse(self, wait: float, max_wait: float, wall: float) -> RateLimitError:
        return RateLimitError(
            f"the rate limiter would wait {wait:.1f}s for a request slot, "
            f"more than max_wait={max_wait:g}s",
            retry_after=wait,
            reset_at=datetime.fromtimestamp(wall + wait, UTC),
        )

    async def _queue(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            if self._waiters[0] is not waiter:
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug("queued behind %d waiting requests", len(self._waiters) - 1)
                await waiter
            while True:
                wait, why = await self._grant_or_wait()
                if wait <= 0:
                    return
                logger.debug("waiting %.3fs for a request slot: %s", wait, why)
                await self._nap(wait)
        finally:
            if self._waiters and self._waiters[0] is waiter:
                self._waiters.popleft()
                if self._waiters and not self._waiters[0].done():
                    self._waiters[0].set_result(None)
            else:
                self._waiters.remove(waiter)

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if :meth:`_poke` is called meanwhile (or was, since
        the last nap: the caller then looks again at once)."""
        if self._poke_pending:
            self._poke_pending = False
            return
        poked = self._poked = asyncio.get_running_loop().create_future()
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        try:
            await asyncio.wait((sleeper, poked), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            self._poked = None

    def _poke(self) -> None:
        """Wake the sleeping head early: the budget may have grown."""
        if self._poked is not None and not self._poked.done():
            self._poked.set_result(None)
        else:
            self._poke_pending = True


class TokenBucketLimiter(_FairQueue):
    """The default in-process limiter: several windows at once, headers mirrored.

    ::

        limiter = TokenBucketLimiter()                        # 60/minute and 1,000/hour
        limiter = TokenBucketLimiter(per_minute=30, per_hour=500)
        limiter = TokenBucketLimiter(windows=[(20, 1.0), (100, 10.0)])  # any windows
        async with TrakkClient(rate_limiter=limiter) as a, TrakkClient(rate_limiter=limiter) as b:
            ...                                               # one budget for both

    Never more than ``limit`` requests in any interval of ``seconds + margin`` of a
    window; the whole burst is available at once. ``margin`` (seconds, the same for every
    window) absorbs the delay between a grant and the server counting the request; by
    default 1 % of each window, between 50 ms and 1 s. ``clock`` (monotonic seconds),
    ``wall`` (Unix seconds, to read ``X-RateLimit-Reset``) and ``sleep`` are injectable.

    ``X-RateLimit-Limit`` corrects a window's capacity (the value tells which window the
    pair describes); ``X-RateLimit-Remaining`` lower than this limiter expects books the
    difference (someone else uses the token); a 429 pauses every task until the window
    resets (``Retry-After`` plus a second of safety), then the queue resumes in order,
    without a burst: the first request goes alone and the others wait for its answer.
    """

    def __init__(
        self,
        per_minute: int | None = None,
        per_hour: int | None = None,
        *,
        windows: Iterable[tuple[int, float]] | None = None,
        margin: float | None = None,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(sleep)
        if windows is None:
            (minute, _), (hour, _) = DEFAULT_WINDOWS
            windows = [
                (minute if per_minute is None else per_minute, 60.0),
                (hour if per_hour is None else per_hour, 3600.0),
            ]
        elif per_minute is not None or per_hour is not None:
            raise ValueError("pass either per_minute/per_hour or windows, not both")
        self._core = LimiterCore(windows, margin=margin)
        self._clock = clock
        self._wall = wall

    def __repr__(self) -> str:
        windows = ", ".join(f"{limit}/{seconds:g}s" for limit, seconds in self.windows)
        return f"<TokenBucketLimiter {windows} waiting={len(self._waiters)}>"

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        """The ``(limit, seconds)`` windows enforced now, after header corrections."""
        return self._core.windows

    def try_acquire(self) -> bool:
        """Book one request now if it may go at once (nobody queued); never waits.

        The client calls this before :meth:`acquire`: the usual request, with budget
        left, then costs no coroutine. False means: call :meth:`acquire` to queue.
        """
        return not self._waiters and self._core.try_grant(self._clock())

    async def acquire(self, *, max_wait: float | None = None) -> None:
        """Wait (in FIFO order) until one request may be sent; see :class:`RateLimiter`."""
        now = self._clock()
        if not self._waiters and self._core.try_grant(now):
            return
        if max_wait is not None:
            wait = self._core.projected(now, len(self._waiters)) - now
            if wait > max_wait:
                raise self._refuse(wait, max_wait, self._wall())
        await self._queue()

    async def _grant_or_wait(self) -> tuple[float, str]:
        now = self._clock()
        at = self._core.free_at(now)
        if at <= now:
            self._core.grant(now)
            return 0.0, ""
        return at - now, self._core.blocker(now)

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Mirror a response's rate-limit headers; pause everyone on a 429."""
        core = self._core
        before, probing = core.corrections, core.probe_until is not None
        if status == 429:
            obs = read_headers(
                status, headers, wall=self._wall(), longest=core.longest, shortest=core.shortest
            )
            core.observe(self._clock(), obs)
            logger.debug("429: pausing every request for %.1fs", obs.pause)
        else:  # every other response: no wall clock, usually no allocation
            core.observe_ok(self._clock(), headers)
        if core.corrections != before:
            logger.debug("rate-limit windows corrected from headers: %s", core.windows)
            self._poke()
        elif probing and core.probe_until is None:
            self._poke()  # the first answer after a pause came: the queue resumes

    def snapshot(self) -> RateLimitSnapshot:
        """The budget as seen now (what ``client.rate_limit`` returns)."""
        now = self._clock()
        return RateLimitSnapshot(
            windows=_window_snapshots(self._core.states(now)),
            paused_for=max(0.0, self._core.paused_until - now),
            waiting=len(self._waiters),
            available_in=self._core.free_at(now) - now,
        )
