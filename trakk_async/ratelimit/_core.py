"""The rate limiter's arithmetic, without I/O: sliding logs, header mirroring, 429 pauses.

Trakk throttles like Laravel: each window is *fixed* and opens at the first request after
the previous one expired. A classic token bucket (full burst, continuous refill) can put
almost twice the limit into one such window. The safe shape is a *sliding log of
reservations*: a request may go when, for every window, fewer than ``limit`` requests were
granted in the last ``seconds + margin``. The full burst stays available at once, and no
interval of the server's window length can ever hold more than ``limit`` of our requests.

Everything here takes the time as an argument (``now``: a monotonic clock; ``wall``: Unix
time, only to read ``X-RateLimit-Reset``), so hour-long windows are tested in microseconds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs

from trakk_async._core.model import Model

#: Trakk's default throttle: 60 requests per minute and 1,000 per hour.
DEFAULT_WINDOWS: Final[tuple[tuple[int, float], ...]] = ((60, 60.0), (1000, 3600.0))
#: Added to ``Retry-After`` (whole seconds, so up to one second early) before resuming.
RETRY_AFTER_SAFETY: Final = 1.0
#: After a pause, the first request goes alone; the others wait for its answer (which
#: tells how much budget is really left) at most this long (or the shortest window).
PROBE_TIMEOUT: Final = 5.0

#: At most this many foreign requests are mirrored per window (Trakk's limits are 60 and
#: 1,000): the log stays small whatever a Limit/Remaining header claims.
MAX_MIRRORED: Final = 10_000


def default_margin(seconds: float) -> float:
    """The margin added to a window when none is given: 1 % of it, within [50 ms, 1 s].

    It absorbs the jitter between the moment a request is granted and the moment the
    server counts it: 0.6 s on a minute (98.9 % of the budget usable), 1 s on an hour,
    50 ms on the sub-second windows of tests (a busy event loop delays that much).
    """
    return min(1.0, max(0.05, seconds / 100))


def check_windows(windows: Iterable[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """Validate ``(limit, seconds)`` pairs: at least one, limits >= 1, seconds > 0."""
    out: list[tuple[int, float]] = []
    for pair in windows:
        try:
            limit, seconds = pair
        except (TypeError, ValueError):
            raise ValueError(f"a window is a (limit, seconds) pair, got {pair!r}") from None
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"a window's limit must be an int >= 1, got {limit!r}")
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds <= 0
        ):
            raise ValueError(f"a window's seconds must be a number > 0, got {seconds!r}")
        out.append((limit, float(seconds)))
    if not out:
        raise ValueError("at least one (limit, seconds) window is required")
    if len({s for _, s in out}) != len(out):
        raise ValueError(f"two windows have the same length: {out!r}")
    return tuple(sorted(out, key=lambda w: w[1]))


def check_margin(margin: float | None) -> float | None:
    """Validate a margin in seconds (None: :func:`default_margin` per window)."""
    if margin is None:
        return None
    if (
        isinstance(margin, bool)
        or not isinstance(margin, int | float)
        or not math.isfinite(margin)
        or margin < 0
    ):
        raise ValueError(f"margin must be a number of seconds >= 0, got {margin!r}")
    return float(margin)


# --------------------------------------------------------------------------- headers


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Observation(Model):
    """What one response says about the token's budget (see :func:`read_headers`).

    ``limit``/``remaining`` are the ``X-RateLimit-*`` pair (which describes the window with
    the fewest requests left). ``pause`` is set on a 429: seconds to wait before any request.
    """

    limit: int | None = None
    remaining: int | None = None
    pause: float | None = None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # Plain dicts in tests and proxies that lower-case names.
        value = headers.get(name.lower())
    return value


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    if value.isdigit() and value.isascii():  # the usual case, "60": skip float parsing
        return int(value)
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _count(value: str | None, minimum: int) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number >= minimum else None


def read_counts(headers: Mapping[str, str]) -> tuple[int | None, int | None]:
    """``X-RateLimit-Limit`` (>= 1) and ``X-RateLimit-Remaining`` (>= 0) of a response.

    Either is None when absent or not a number. (The per-response fast path is
    :meth:`LimiterCore.observe_ok`; this is the general reading.)
    """
    return (
        _count(_header(headers, "X-RateLimit-Limit"), 1),
        _count(_header(headers, "X-RateLimit-Remaining"), 0),
    )


def read_headers(
    status: int,
    headers: Mapping[str, str],
    *,
    wall: float,
    longest: float,
    shortest: float | None = None,
) -> Observation:
    """Read the rate-limit headers of a response.

    On a 429 the pause is ``Retry-After`` plus :data:`RETRY_AFTER_SAFETY` (it is whole
    seconds, so up to one second early), or else the time left until ``X-RateLimit-Reset``
    (Unix seconds, read against ``wall``), or else the ``shortest`` window (a bare 429,
    from a proxy perhaps: if a longer window is spent, the next answer will say so).
    A pause is never longer than ``longest`` plus the safety: a skewed clock must not
    stall the client for days.
    """
    limit, remaining = read_counts(headers)
    pause: float | None = None
    if status == 429:
        retry_after = _number(_header(headers, "Retry-After"))
        reset = _number(_header(headers, "X-RateLimit-Reset"))
        if retry_after is not None and retry_after >= 0:
            pause = retry_after + RETRY_AFTER_SAFETY
        elif reset is not None:
            pause = max(0.0, reset - wall) + RETRY_AFTER_SAFETY
        else:
            pause = longest if shortest is None else shortest
        pause = min(pause, longest + RETRY_AFTER_SAFETY)
        if remaining is None:
            remaining = 0
    return Observation(limit=limit, remaining=remaining, pause=pause)


def window_for_limit(
    limit: int, limits: Sequence[int], configured: Sequence[int] | None = None
) -> int:
    """Index of the window an ``X-RateLimit-Limit`` value describes.

    A window whose current limit (then: whose configured limit) equals the value wins,
    the shortest on a tie; otherwise the value corrects the window whose configured limit
    is nearest on a log scale: 30 or 120 correct a 60/minute window, 500 or 5,000 a
    1,000/hour one. Comparing with the configured limits keeps one correction from
    steering the next.
    """
    configured = limits if configured is None else configured
    for candidates in (limits, configured):
        for i, value in enumerate(candidates):
            if value == limit:
                return i
    return min(range(len(configured)), key=lambda i: abs(math.log(limit / configured[i])))


def window_for_pause(pause: float, seconds: Sequence[float]) -> int:
    """Index of the window a 429's pause belongs to: the shortest one it fits in.

    A wait longer than a minute means the hour window (on the default windows).
    """
    for i, length in enumerate(seconds):
        if pause <= length + RETRY_AFTER_SAFETY:
            return i
    return len(seconds) - 1


# --------------------------------------------------------------------------- windows


@attrs.frozen(kw_only=True, repr=False, eq=False)
class WindowState(Model):
    """One window as the limiter sees it at ``now`` (the snapshot's per-window part)."""

    limit: int
    seconds: float
    used: int
    remaining: int
    resets_in: float


class SlidingLog:
    """One window: the times of the reservations of the last ``seconds + margin``.

    Grants are appended in time order (the clock is monotonic), so the log is sorted and
    expiry pops from the left. Entries may be *foreign*: requests the server counted that
    this limiter did not send (learnt from ``X-RateLimit-Remaining``).
    """

    __slots__ = ("configured", "limit", "log", "margin", "seconds", "span")

    def __init__(self, limit: int, seconds: float, margin: float) -> None:
        self.configured = limit
        self.limit = limit
        self.seconds = seconds
        self.margin = margin
        #: How long a reservation holds its place: the window plus the margin.
        self.span = seconds + margin
        self.log: deque[float] = deque()

    def expire(self, now: float) -> None:
        horizon = now - self.span
        log = self.log
        while log and log[0] <= horizon:
            log.popleft()

    def free_at(self, now: float) -> float:
        """The earliest time >= now at which one more reservation fits."""
        self.expire(now)
        excess = len(self.log) - self.limit
        if excess < 0:
            return now
        return max(now, self.log[excess] + self.span)

    def state(self, now: float) -> WindowState:
        self.expire(now)
        used = len(self.log)
        return WindowState(
            limit=self.limit,
            seconds=self.seconds,
            used=used,
            remaining=max(0, self.limit - used),
            resets_in=max(0.0, self.log[0] + self.span - now) if self.log else 0.0,
        )


class LimiterCore:
    """Several sliding logs granted together, a 429 pause, and the headers mirrored.

    >>> core = LimiterCore([(2, 10.0)], margin=0.0)
    >>> [core.try_grant(0.0) for _ in range(3)]
    [True, True, False]
    >>> core.free_at(0.0)
    10.0
    """

    def __init__(
        self,
        windows: Iterable[tuple[int, float]] = DEFAULT_WINDOWS,
        *,
        margin: float | None = None,
    ) -> None:
        checked = check_windows(windows)
        fixed = check_margin(margin)
        self.logs = tuple(
            SlidingLog(limit, seconds, default_margin(seconds) if fixed is None else fixed)
            for limit, seconds in checked
        )
        #: No grant before this time (set by a 429).
        self.paused_until = -math.inf
        #: After a pause, the time until which the first request's answer is awaited
        #: before anything else goes (None: not resuming from a pause).
        self.probe_until: float | None = None
        self._resuming = False
        #: How many times a header corrected a window's limit (cheap change detection).
        self.corrections = 0

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        """The current ``(limit, seconds)`` of each window, after header corrections."""
        return tuple((log.limit, log.seconds) for log in self.logs)

    @property
    def longest(self) -> float:
        return self.logs[-1].seconds

    @property
    def shortest(self) -> float:
        return self.logs[0].seconds

    def free_at(self, now: float) -> float:
        """The earliest time >= now at which one request may be granted."""
        at = max(now, self.paused_until)
        if self.probe_until is not None:
            at = max(at, self.probe_until)
        for log in self.logs:
            at = max(at, log.free_at(now))
        return at

    def blocker(self, now: float) -> str:
        """Why a request cannot go at ``now`` (for log lines); "" if it can."""
        if self.paused_until > now:
            return "paused after a 429"
        if self.probe_until is not None and self.probe_until > now:
            return "resuming after a 429: waiting for the first answer"
        for log in self.logs:
            if log.free_at(now) > now:
                return f"{log.limit} per {log.seconds:g}s spent"
        return ""

    def grant(self, now: float) -> None:
        """Book one request at ``now`` in every window (the caller checked free_at)."""
        for log in self.logs:
            log.log.append(now)
        if self._resuming:
            # The first request after a pause goes alone: no burst into a window that
            # someone else may have started using meanwhile.
            self._resuming = False
            self.probe_until = now + min(PROBE_TIMEOUT, self.logs[0].seconds)

    def try_grant(self, now: float) -> bool:
        """Book one request at ``now`` if every window has room and no pause holds.

        The same decision as ``free_at(now) <= now`` (after expiry every entry is younger
        than its span, so a window has room exactly when it holds fewer than its limit),
        written out because it runs before every request.
        """
        if self.paused_until > now or (self.probe_until is not None and self.probe_until > now):
            return False
        for window in self.logs:
            entries = window.log
            horizon = now - window.span  # exactly as expire()
            while entries and entries[0] <= horizon:
                entries.popleft()
            if len(entries) >= window.limit:
                return False
        self.grant(now)
        return True

    def projected(self, now: float, ahead: int) -> float:
        """When the request behind ``ahead`` queued ones would go, if nothing changes.

        Simulates the grants without booking them; used to refuse a wait longer than a
        caller's ``max_wait`` up front.
        """
        for log in self.logs:
            log.expire(now)
        logs = [(log.limit, log.span, list(log.log)) for log in self.logs]
        at = max(now, self.paused_until, self.probe_until or now)
        for _ in range(ahead + 1):
            at = max(now, self.paused_until, at)
            for limit, span, entries in logs:
                excess = len(entries) - limit
                if excess >= 0:
                    at = max(at, entries[excess] + span)
            for _, _, entries in logs:
                entries.append(at)
        return at

    def observe(self, now: float, obs: Observation) -> None:
        """Mirror what a response said: capacity, foreign usage, a 429's pause."""
        if obs.pause is None:
            self.observe_counts(now, obs.limit, obs.remaining)
            return
        self.paused_until = max(self.paused_until, now + obs.pause)
        self.probe_until = None
        self._resuming = True
        index = window_for_pause(obs.pause, [log.seconds for log in self.logs])
        if obs.limit is not None:
            limit_index = self._window_named(obs.limit)
            if self.logs[limit_index].limit == obs.limit:
                index = limit_index
            self._correct(index, obs.limit)
        # No mirroring on a 429: the pause already covers the exhausted window.

    def observe_ok(self, now: float, headers: Mapping[str, str]) -> None:
        """Mirror a successful (not 429) answer's headers.

        The usual answer (digits naming a current limit, nothing booked by anyone else,
        not resuming from a pause) is read here without a helper call or an allocation;
        any other goes through :func:`read_headers` and :meth:`observe`. It runs on every
        response.
        """
        limit = headers.get("X-RateLimit-Limit")
        remaining = headers.get("X-RateLimit-Remaining")
        if limit is not None and remaining is not None and self.probe_until is None:
            try:
                limit_n, remaining_n = int(limit), int(remaining)
            except ValueError:
                pass  # "60.0", "unlimited": read_headers decides
            else:
                for log in self.logs:
                    if log.limit == limit_n:
                        entries = log.log
                        horizon = now - log.span  # exactly as expire()
                        while entries and entries[0] <= horizon:
                            entries.popleft()
                        if remaining_n >= 0 and limit_n - remaining_n <= len(entries):
                            return  # nothing to correct, nothing foreign to book
                        break
        self.observe(now, read_headers(200, headers, wall=0.0, longest=self.longest))

    def observe_counts(self, now: float, limit: int | None, remaining: int | None) -> None:
        """Mirror a successful (not 429) answer's ``X-RateLimit-Limit``/``-Remaining``:
        what :meth:`observe` does with an :class:`Observation` without a pause."""
        self.probe_until = None
        if limit is None:
            return
        index = self._window_named(limit)
        self._correct(index, limit)
        if remaining is not None:
            self._mirror(self.logs[index], now, remaining)

    def _window_named(self, limit: int) -> int:
        # The usual answer names a current limit exactly: find it without allocating.
        for index, log in enumerate(self.logs):
            if log.limit == limit:
                return index
        logs = self.logs
        return window_for_limit(
            limit, [log.limit for log in logs], [log.configured for log in logs]
        )

    def _correct(self, index: int, limit: int) -> None:
        log = self.logs[index]
        if log.limit != limit:
            self.corrections += 1
            log.limit = limit

    def _mirror(self, log: SlidingLog, now: float, remaining: int) -> None:
        log.expire(now)
        counted = log.limit - remaining
        # The server counted more than we booked: another process or tool uses the token.
        # Its requests are dated now, the latest they can be, so they free up no earlier
        # than they really do.
        # Booked one entry per request, so bounded: a huge Limit header (a test server's
        # "unlimited") must not make one response allocate millions of entries.
        missing = min(counted, MAX_MIRRORED) - len(log.log)
        if missing > 0:
            log.log.extend([now] * missing)

    def states(self, now: float) -> tuple[WindowState, ...]:
        return tuple(log.state(now) for log in self.logs)
