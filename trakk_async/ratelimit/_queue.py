"""The waiting room both limiters share: FIFO order, one sleeper, waits made visible."""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from datetime import UTC, datetime
from typing import Final

from trakk_async._core.errors import RateLimitError
from trakk_async._core.timing import Clock, Sleep
from trakk_async.ratelimit._core import LOST_ANSWER

logger = logging.getLogger("trakk_async.ratelimit")

#: Waits at least this long are logged at INFO (shorter ones at DEBUG): a person watching
#: a program that stops for this long wants to know why.
NOTICEABLE_WAIT: Final = 2.0


class FairQueue:
    """FIFO waiting: one head waits for a slot, the rest for their turn.

    Only the head sleeps (until its slot is due, or until :meth:`_poke` says the budget
    changed); when it is served it hands over to the next. A cancelled waiter leaves the
    queue and, if it was the head, hands over too: nothing was booked for it. Subclasses
    say when a request may go (:meth:`_grant_or_wait`).
    """

    def __init__(self, *, clock: Clock, sleep: Sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._poked: asyncio.Future[None] | None = None
        # A poke while the head is not napping (say, awaiting Redis) must not be lost.
        self._poke_pending = False
        #: The head's current wait: until when (monotonic) and why ("" when none).
        self._wait_until = -math.inf
        self._wait_reason = ""

    async def _grant_or_wait(self) -> tuple[float, str]:
        """Book a request now and return (0, ""), or return (seconds to wait, why);
        ``inf`` seconds: until :meth:`_poke`."""
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
                await waiter
            while True:
                wait, why = await self._grant_or_wait()
                if wait <= 0:
                    return
                self._announce(wait, why)
                await self._nap(wait)
        finally:
            if self._waiters and self._waiters[0] is waiter:
                self._waiters.popleft()
                if self._waiters and not self._waiters[0].done():
                    self._waiters[0].set_result(None)
            else:
                self._waiters.remove(waiter)
            if not self._waiters:
                self._wait_until, self._wait_reason = -math.inf, ""

    def _announce(self, wait: float, why: str) -> None:
        """Log a wait once (INFO when noticeable), and keep it for the snapshot."""
        until = self._clock() + wait
        changed = why != self._wait_reason or abs(until - self._wait_until) > 1.0
        self._wait_until, self._wait_reason = until, why
        if not changed:
            return
        if wait == math.inf:
            logger.debug("rate limit: %s", why)
        elif wait >= NOTICEABLE_WAIT:
            logger.info("rate limit: waiting %.1fs (%s)", wait, why)
        else:
            logger.debug("rate limit: waiting %.3fs (%s)", wait, why)

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if :meth:`_poke` is called meanwhile (or was, since
        the last nap: the caller then looks again at once). ``inf``: until poked, or
        until an unanswered attempt counts as lost (:data:`LOST_ANSWER`)."""
        if self._poke_pending:
            self._poke_pending = False
            return
        poked = self._poked = asyncio.get_running_loop().create_future()
        sleeper = asyncio.ensure_future(self._sleep(min(seconds, LOST_ANSWER)))
        try:
            await asyncio.wait((sleeper, poked), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            self._poked = None

    def _poke(self) -> None:
        """Wake the sleeping head early: the budget may have changed."""
        if self._poked is not None and not self._poked.done():
            self._poked.set_result(None)
        else:
            self._poke_pending = True
