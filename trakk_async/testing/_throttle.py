"""Laravel-style fixed-window rate limiting, one :class:`Throttle` per token.

Laravel's ``ThrottleRequests`` keeps one counter per limit. A counter's window opens at
the first request it sees and lasts ``seconds``; it is not a sliding window, so a client
may send ``limit`` requests at the end of one window and ``limit`` more at the start of
the next. When several limits apply, a request is refused as soon as one of them is
exhausted, and a refused request counts against none of them.

The headers follow Trakk's documentation: ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining``
always describe the shortest (per-minute) window, so the hourly limit is never announced
on a successful response; ``Retry-After`` and ``X-RateLimit-Reset`` come only with a 429
and name the window that was exhausted (the hour's when the hour ran out). A token with
no windows is unlimited and gets no rate-limit headers.

Time comes from an injected monotonic ``clock`` (for window arithmetic) and ``wall``
(Unix time, only for the ``X-RateLimit-Reset`` header), so tests of hour-long windows
run in microseconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping

import attrs

from trakk_async._core.timing import Clock

#: Laravel's default API throttle on Trakk: 60 per minute and 1,000 per hour.
DEFAULT_RATE_LIMITS: tuple[tuple[int, float], ...] = ((60, 60.0), (1000, 3600.0))


@attrs.define
class _Window:
    limit: int
    seconds: float
    hits: int = 0
    opened_at: float | None = None

    def roll(self, now: float) -> None:
        if self.opened_at is not None and now >= self.opened_at + self.seconds:
            self.opened_at = None
            self.hits = 0

    @property
    def remaining(self) -> int:
        return max(self.limit - self.hits, 0)


@attrs.frozen(kw_only=True)
class Decision:
    """The outcome of one request against a token's limits.

    ``limit`` and ``remaining`` describe the token's *shortest* window (the minute window
    on Trakk), on every response, whatever the longer windows hold: that is what
    ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` say on Trakk. When ``allowed`` is
    false, ``window_seconds`` is the exhausted window (the one that frees last when
    several are), and ``retry_after`` (whole seconds, rounded up, at least 1) and
    ``reset_at`` (Unix seconds) tell when it resets. A token without limits (unlimited)
    gets ``limit`` and ``remaining`` None: no rate-limit headers at all.
    """

    allowed: bool
    limit: int | None
    remaining: int | None
    window_seconds: float | None
    retry_after: int | None = None
    reset_at: int | None = None

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers (and, when refused, ``Retry-After``)."""
        out: dict[str, str] = {}
        if self.limit is not None and self.remaining is not None:
            out["X-RateLimit-Limit"] = str(self.limit)
            out["X-RateLimit-Remaining"] = str(self.remaining)
        if self.retry_after is not None:
            out["Retry-After"] = str(self.retry_after)
        if self.reset_at is not None:
            out["X-RateLimit-Reset"] = str(self.reset_at)
        return out


def _validate(limits: Iterable[tuple[int, float]]) -> list[tuple[int, float]]:
    out = [(int(limit), float(seconds)) for limit, seconds in limits]
    for limit, seconds in out:
        if limit < 1 or seconds <= 0:
            raise ValueError(f"invalid rate limit ({limit}, {seconds})")
    return sorted(out, key=lambda window: window[1])


class Throttle:
    """Several fixed windows enforced at once for one token (none: unlimited).

    >>> t = Throttle([(2, 1.0)], clock=lambda: 0.0, wall=lambda: 0.0)
    >>> [t.hit().allowed for _ in range(3)]
    [True, True, False]
    """

    def __init__(
        self,
        limits: Iterable[tuple[int, float]] = DEFAULT_RATE_LIMITS,
        *,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
    ) -> None:
        self._windows = [_Window(limit, seconds) for limit, seconds in _validate(limits)]
        self._clock = clock
        self._wall = wall
        #: window seconds -> the most requests this token had inside one window.
        self.max_in_window: dict[float, int] = {}

    @property
    def limits(self) -> list[tuple[int, float]]:
        """The ``(limit, seconds)`` pairs enforced, shortest window first."""
        return [(w.limit, w.seconds) for w in self._windows]

    def hit(self) -> Decision:
        """Count one request if every window has room, else refuse it."""
        now = self._clock()
        for window in self._windows:
            window.roll(now)
        if not self._windows:
            return Decision(allowed=True, limit=None, remaining=None, window_seconds=None)
        announced = self._windows[0]  # the headers always describe the shortest window
        exhausted = [w for w in self._windows if w.hits >= w.limit]
        if exhausted:
            # The window that frees up last decides when the client may come back.
            blocker = max(exhausted, key=lambda w: (w.opened_at or now) + w.seconds)
            reset_in = (blocker.opened_at or now) + blocker.seconds - now
            return Decision(
                allowed=False,
                limit=announced.limit,
                remaining=announced.remaining,
                window_seconds=blocker.seconds,
                retry_after=max(math.ceil(reset_in), 1),
                reset_at=math.ceil(self._wall() + reset_in),
            )
        for window in self._windows:
            if window.opened_at is None:
                window.opened_at = now
            window.hits += 1
            if window.hits > self.max_in_window.get(window.seconds, 0):
                self.max_in_window[window.seconds] = window.hits
        return Decision(
            allowed=True,
            limit=announced.limit,
            remaining=announced.remaining,
            window_seconds=announced.seconds,
        )


def merge_max(into: dict[float, int], other: Mapping[float, int]) -> None:
    """Fold one token's ``max_in_window`` into a server-wide maximum."""
    for seconds, count in other.items():
        if count > into.get(seconds, 0):
            into[seconds] = count
