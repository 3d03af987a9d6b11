"""The in-process limiter, :class:`TokenBucketLimiter`: the rules of ``_core`` applied to a
budget kept in memory."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping

from trakk_async._core.timing import Clock, Sleep
from trakk_async.ratelimit._api import RateLimitSnapshot
from trakk_async.ratelimit._core import (
    DEFAULT_WINDOWS,
    LimiterCore,
    Update,
    check_margin,
    check_windows,
    read_answer,
)
from trakk_async.ratelimit._log import Budget
from trakk_async.ratelimit._queue import FairQueue

__all__ = ["TokenBucketLimiter"]

logger = logging.getLogger("trakk_async.ratelimit")


def default_windows(
    per_minute: int | None, per_hour: int | None, windows: Iterable[tuple[int, float]] | None
) -> tuple[tuple[tuple[int, float], ...], tuple[bool, ...]]:
    """The windows a limiter starts from, shortest first, and which limits are known
    (given by the caller) rather than defaults to confirm."""
    if windows is not None:
        if per_minute is not None or per_hour is not None:
            raise ValueError("pass either per_minute/per_hour or windows, not both")
        checked = check_windows(windows)
        return checked, (True,) * len(checked)
    (minute, _), (hour, _) = DEFAULT_WINDOWS
    checked = check_windows(
        [
            (minute if per_minute is None else per_minute, 60.0),
            (hour if per_hour is None else per_hour, 3600.0),
        ]
    )
    return checked, (per_minute is not None, per_hour is not None)


def log_update(
    update: Update, foreign: int, windows: Callable[[], tuple[tuple[int, float], ...]]
) -> None:
    """Tell what an answer changed, at INFO for what a person would want to know.

    ``windows`` gives the limiter's windows; it is called only when a limit was learnt,
    so the answers that change nothing (nearly all) do not build them.
    """
    if update.refused:
        logger.info("rate limit: a 429; every request pauses for %.1fs", update.pause)
    if update.learn is not None:
        limit, seconds = windows()[update.learn]
        logger.info("rate limit: the server allows %d requests per %gs (learnt)", limit, seconds)
    if foreign > 0:
        logger.debug("rate limit: %d requests of another consumer booked", foreign)


class TokenBucketLimiter(FairQueue):
    """The default in-process limiter: several windows at once, read from the headers.

    ::

        limiter = TokenBucketLimiter()                        # learns the token's limits
        limiter = TokenBucketLimiter(per_minute=30, per_hour=500)
        limiter = TokenBucketLimiter(windows=[(20, 1.0), (100, 10.0)])  # any windows
        async with TrakkClient(rate_limiter=limiter) as a, TrakkClient(rate_limiter=limiter) as b:
            ...                                               # one budget for both

    Never more than ``limit`` requests in any interval of ``seconds + margin`` of a
    window; the whole burst is available at once. ``margin`` (seconds, the same for every
    window) absorbs the delay between a grant and the server counting the request; by
    default 1 % of each window, between 50 ms and 1 s.

    Without configuration it starts from Trakk's defaults, 60 per minute and 1,000 per
    hour, and learns the token's real limits: the minute one from ``X-RateLimit-Limit``
    (the first request goes alone, so a lower limit costs no 429), the hourly one from a
    429 that says the hour ran out, or by probing past 1,000 one request at a time. A
    limit you pass (``per_minute``, ``per_hour``, ``windows``) is taken as known: the
    headers still correct the shortest window, but a longer one is never probed.
    ``X-RateLimit-Remaining`` lower than expected books another consumer's requests; a
    429 pauses every task, then one request goes alone. The full rules are in the
    README ("Rate limits").

    ``clock`` (monotonic seconds), ``wall`` (Unix seconds, for a 429 without a ``Date``
    header) and ``sleep`` are injectable.
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
        super().__init__(clock=clock, sleep=sleep)
        checked, known = default_windows(per_minute, per_hour, windows)
        self._budget = Budget(checked, margin=check_margin(margin), known=known)
        self._core = LimiterCore([seconds for _, seconds in checked])
        self._wall = wall

    def __repr__(self) -> str:
        windows = ", ".join(f"{limit}/{seconds:g}s" for limit, seconds in self.windows)
        return f"<TokenBucketLimiter {windows} waiting={len(self._waiters)}>"

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        """The ``(limit, seconds)`` windows enforced now, as learnt from the server."""
        return self._budget.windows

    async def acquire(self, *, max_wait: float | None = None) -> None:
        """Wait (in FIFO order) until one request may be sent; see :class:`RateLimiter`."""
        if not self._waiters:
            wait, _ = self._try_grant()
            if wait <= 0:
                return
        if max_wait is not None:
            wait = self._expected_wait(len(self._waiters))
            if wait > max_wait:
                raise self._refuse(wait, max_wait, self._wall())
        await self._queue()

    async def _grant_or_wait(self) -> tuple[float, str]:
        return self._try_grant()

    def _hold(self, now: float) -> tuple[float, str]:
        shortest = self._budget.logs[0]
        return self._core.hold(now, span=shortest.span, limit=shortest.limit)

    def _try_grant(self) -> tuple[float, str]:
        now = self._clock()
        hold, why = self._hold(now)
        wait, probe, budget_why = self._budget.check(now, reserve=self._core.reserve(now))
        if wait > hold:
            hold, why = wait, budget_why
        if hold > 0:
            if hold != math.inf and self._core.paused_until <= now:
                self._core.outran(now, self._budget.logs[0].span)
            return hold, why
        if probe and not self._core.may_probe(now):
            return math.inf, "waiting for the requests in flight before probing a longer window"
        self._budget.book(now)
        self._core.granted(now, probe=probe)
        return 0.0, ""

    def _expected_wait(self, ahead: int) -> float:
        now = self._clock()
        hold, _ = self._hold(now)
        hold = 0.0 if hold == math.inf else hold  # an answer on its way: soon
        return max(hold, self._budget.projected(now + hold, ahead) - now)

    def observe(self, status: int | None, headers: Mapping[str, str]) -> None:
        """Learn from an attempt's answer (None: none came); see :class:`RateLimiter`."""
        now = self._clock()
        if status is None:
            self._core.no_answer(now)
        else:
            update = self._core.answered(now, read_answer(status, headers, wall=self._wall()))
            foreign = self._budget.apply(now, update)
            if foreign > 0:
                self._core.saw_others(now, self._budget.logs[0].span, foreign)
            log_update(update, foreign, lambda: self._budget.windows)
        self._poke()

    def snapshot(self) -> RateLimitSnapshot:
        """The budget as seen now (what ``client.rate_limit`` returns)."""
        now = self._clock()
        hold, why = self._hold(now)
        wait, _, budget_why = self._budget.check(now, reserve=self._core.reserve(now))
        if hold == math.inf:  # an answer on its way decides: show what is known
            hold = 0.0
        if wait > hold:
            hold, why = wait, budget_why
        return RateLimitSnapshot(
            windows=self._budget.snapshot(now),
            paused_for=max(0.0, self._core.paused_until - now),
            waiting=len(self._waiters),
            available_in=hold,
            wait_reason=why,
        )

    async def aclose(self) -> None:
        """Nothing to release (the Redis limiter's counterpart flushes to Redis)."""
