"""What a rate limiter promises the client (:class:`RateLimiter`) and what it shows
(:class:`RateLimitSnapshot`, one :class:`WindowSnapshot` per window)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import attrs

from trakk_async._core.model import Model

__all__ = ["RateLimitSnapshot", "RateLimiter", "WindowSnapshot"]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class WindowSnapshot(Model):
    """One window of a :class:`RateLimitSnapshot`.

    ``limit`` requests per ``seconds`` (as learnt from the server); ``used`` of them are
    booked (ours and, when the headers told us, other consumers'), ``remaining`` may go
    now, and ``resets_in`` seconds from now the oldest booking frees its place.
    ``known`` is False while the limit is a default the server has not confirmed (the
    hourly one, which Trakk never announces: see :class:`~trakk_async.TokenBucketLimiter`).
    """

    limit: int
    seconds: float
    used: int
    remaining: int
    resets_in: float
    known: bool = True


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RateLimitSnapshot(Model):
    """The token's budget as the limiter sees it now (``client.rate_limit``).

    ``windows`` from shortest to longest; ``paused_for`` seconds are left of a pause
    after a 429; ``waiting`` tasks are queued; the next request may go in
    ``available_in`` seconds, and ``wait_reason`` says why it cannot go now ("" when it
    can). A progress display can show both while tasks wait::

        snap = client.rate_limit
        if snap.waiting and snap.available_in >= 2:
            print(f"rate limit: next request in {snap.available_in:.0f}s ({snap.wait_reason})")
        print(f"{snap.remaining} requests left now, {todo} more in ~{snap.eta(todo):.0f}s")
    """

    windows: tuple[WindowSnapshot, ...]
    paused_for: float = 0.0
    waiting: int = 0
    available_in: float = 0.0
    wait_reason: str = ""

    @property
    def remaining(self) -> int:
        """Requests that may go right now: the smallest ``remaining`` of all windows."""
        if self.paused_for > 0:
            return 0
        return min((w.remaining for w in self.windows), default=0)

    @property
    def tightest(self) -> WindowSnapshot | None:
        """The window with the fewest requests left."""
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


@runtime_checkable
class RateLimiter(Protocol):
    """What the client needs of a rate limiter; one instance may serve several clients.

    The client calls :meth:`acquire` before every attempt of a request (retries too) and
    then :meth:`observe` exactly once for that attempt: with the response's status and
    headers, or with ``None`` when no response came (a connection error, a timeout, a
    cancelled task). A limiter can thus count the requests in flight.
    """

    async def acquire(self, *, max_wait: float | None = None) -> None:
        """Wait until one request may be sent.

        Raise :class:`RateLimitError` (with ``retry_after`` set to the expected wait)
        instead of waiting longer than ``max_wait`` seconds.
        """

    def observe(self, status: int | None, headers: Mapping[str, str]) -> None:
        """Learn from an attempt's answer (``status`` None: no response came)."""

    def snapshot(self) -> RateLimitSnapshot:
        """The budget as seen now: per window, the limit, what is left, when it frees."""
