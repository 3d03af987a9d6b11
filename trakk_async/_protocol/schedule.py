"""Every wait of the SDK, computed once: retry backoff, polling intervals and pacing.

Pure arithmetic on injected clocks and random draws, shared by the request path's
:class:`~trakk_async._protocol.core.RetryPolicy`, ``wait_for_completion``'s poll
intervals and the report watcher (its request slots, its retries of failed requests,
checkpoint writes and event handlers). Three kinds of schedule:

* :class:`Backoff`: after failure ``n`` (0-based) wait up to ``min(cap, base * 2**n)``,
  jittered either over the whole range ("full", for the request path: many clients
  sharing a server spread out most) or over its upper half ("equal", for the watcher:
  a retry never comes much sooner than the schedule says).
* :class:`GrowingInterval`: a poll interval that starts short, grows by a factor per
  poll up to a cap, and starts again when what is polled changes state; +-10% jitter.
* :class:`Pacer`: evenly spaced slots at a fixed rate, never a burst.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

import attrs

from trakk_async._core.timing import Clock

Random = Callable[[], float]
Jitter = Literal["full", "equal"]

#: Exponents above this give the cap anyway; bounding them keeps ``2.0**n`` finite.
_MAX_EXPONENT: Final = 60


def spread(value: float, fraction: float, random: Random) -> float:
    """``value`` moved by up to +-``fraction`` of itself, uniformly (``random()`` in [0, 1))."""
    return value * (1.0 - fraction + 2.0 * fraction * random())


@attrs.frozen
class Backoff:
    """Exponential backoff with jitter: ``delay(n)`` is the wait after failure ``n``.

    The ceiling is ``min(cap, base * 2**n)``; ``"full"`` jitter draws the wait from
    ``[0, ceiling)``, ``"equal"`` jitter from ``[ceiling / 2, ceiling)``.
    """

    base: float
    cap: float
    jitter: Jitter = "full"

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failure ``attempt`` (0-based)."""
        return min(self.cap, self.base * 2.0 ** min(max(attempt, 0), _MAX_EXPONENT))

    def delay(self, attempt: int, random: Random) -> float:
        """Seconds to wait after failure ``attempt`` (0-based)."""
        ceiling = self.ceiling(attempt)
        if self.jitter == "full":
            return random() * ceiling
        return ceiling / 2.0 + random() * ceiling / 2.0


#: The watcher's backoff for its own retries (a request, a checkpoint write, a handler):
#: 1 s doubling to a minute, never much sooner than scheduled.
WATCH_BACKOFF: Final = Backoff(base=1.0, cap=60.0, jitter="equal")


class GrowingInterval:
    """A poll interval per state: ``first(state)`` when the state changes, then times
    ``growth`` per poll up to ``cap_factor`` times the first, each jittered by
    +-``jitter``."""

    __slots__ = ("_cap_factor", "_current", "_first", "_growth", "_jitter", "_random", "_state")

    def __init__(
        self,
        first: Callable[[str], float],
        *,
        growth: float,
        cap_factor: float,
        jitter: float,
        random: Random,
    ) -> None:
        self._first = first
        self._growth = growth
        self._cap_factor = cap_factor
        self._jitter = jitter
        self._random = random
        self._state: str | None = None
        self._current = 0.0

    def next(self, state: str) -> float:
        """Seconds to wait after a poll that saw ``state``."""
        first = self._first(state)
        if state != self._state:
            self._state = state
            self._current = first
        else:
            self._current = min(first * self._cap_factor, self._current * self._growth)
        return spread(self._current, self._jitter, self._random)


class Pacer:
    """Evenly spaced slots at ``rate`` per second, on an injected clock.

    :meth:`delay` says how long to wait for the next slot, :meth:`consume` takes it. A
    slot taken less than one interval late keeps the schedule (a sleep that wakes a little
    late must not slow the pace); one taken later than that moves it (no catch-up burst
    after a stall).
    """

    __slots__ = ("_clock", "_interval", "_next")

    def __init__(self, rate: float, clock: Clock) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate!r}")
        self._interval = 1.0 / rate
        self._clock = clock
        self._next: float | None = None

    @property
    def interval(self) -> float:
        """Seconds between two slots."""
        return self._interval

    def delay(self) -> float:
        """Seconds until the next slot is due (0 if due now)."""
        if self._next is None:
            return 0.0
        return max(0.0, self._next - self._clock())

    def consume(self) -> None:
        """Take the current slot; the next one is due one interval later."""
        now = self._clock()
        late = self._next is None or now - self._next >= self._interval
        start = now if late or self._next is None else self._next
        self._next = start + self._interval

    def follow(self, previous: Pacer) -> None:
        """Keep ``previous``'s spacing: the next slot is due one of *our* intervals
        after ``previous``'s last slot (used when the rate changes)."""
        if previous._next is not None:
            self._next = previous._next - previous._interval + self._interval
