"""The token's budget in memory, without I/O: one sliding log of reservations per window.

Trakk throttles like Laravel: each window is *fixed* and opens at the first request after
the previous one expired. A classic token bucket (full burst, continuous refill) can put
almost twice the limit into one such window. The safe shape is a *sliding log*: a request
may go when fewer than ``limit`` requests were booked in the last ``span`` seconds (the
window plus a margin). The full burst stays available at once, and no interval of the
server's window length ever holds more than ``limit`` of the requests booked here.

A booking is ``(time, count)``: one per request sent, or one for several requests that
another consumer of the token sent (learnt from ``X-RateLimit-Remaining``), so a huge
count costs one entry. Times come from a monotonic clock and are passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final

from trakk_async.ratelimit._api import WindowSnapshot
from trakk_async.ratelimit._core import Update

#: A booking holds its place for the window plus this share of it (1 %), within the two
#: bounds below: 0.6 s on a minute, 1 s on an hour, 50 ms on the sub-second windows of
#: tests (a busy event loop delays that much). It absorbs the delay between the moment a
#: request is booked and the moment the server counts it.
MARGIN_SHARE: Final = 0.01
MIN_MARGIN: Final = 0.05
MAX_MARGIN: Final = 1.0


def default_margin(seconds: float) -> float:
    """The margin of a window of ``seconds`` when none is given (see :data:`MARGIN_SHARE`)."""
    return min(MAX_MARGIN, max(MIN_MARGIN, seconds * MARGIN_SHARE))


def capped_reserve(reserve: int, limit: int) -> int:
    """Places kept free for another consumer: at most a tenth of the limit (one at least,
    unless the limit is one)."""
    return min(reserve, max(1, limit // 10), limit - 1)


class _Booking:
    __slots__ = ("at", "count", "foreign")

    def __init__(self, at: float, count: int, foreign: bool) -> None:
        self.at = at
        self.count = count
        self.foreign = foreign


class SlidingLog:
    """The bookings of one window, oldest first, and their total (``used``).

    ``limit`` may change (the server announces another); ``known`` says whether it is
    certain (configured by the caller, or learnt from a 429) or a default still to be
    confirmed by probing.

    >>> log = SlidingLog(limit=2, seconds=10.0, margin=0.0)
    >>> log.book(0.0); log.book(3.0)
    >>> log.free_at(4.0), log.free_at(10.0)
    (10.0, 10.0)
    """

    __slots__ = ("_entries", "known", "limit", "seconds", "span", "used")

    def __init__(self, *, limit: int, seconds: float, margin: float, known: bool = True) -> None:
        self.limit = limit
        self.seconds = seconds
        #: How long a booking holds its place: the window plus the margin.
        self.span = seconds + margin
        self.known = known
        self.used = 0
        self._entries: deque[_Booking] = deque()  # sorted by time

    def expired(self, booked_at: float, now: float) -> bool:
        """Whether a booking made at ``booked_at`` no longer counts at ``now``.

        The one expiry rule: :meth:`free_at` returns ``booked_at + span`` for the booking
        that blocks, and at exactly that time this says True, whatever the floats.
        """
        return booked_at + self.span <= now

    def expire(self, now: float) -> None:
        entries = self._entries
        while entries and self.expired(entries[0].at, now):
            self.used -= entries.popleft().count

    def room(self, now: float) -> int:
        """How many more requests may be booked at ``now`` (negative: overbooked)."""
        self.expire(now)
        return self.limit - self.used

    def free_at(self, now: float, *, reserve: int = 0) -> float:
        """The earliest time >= ``now`` at which one more booking fits (and ``reserve``
        more would still fit after it; at most a tenth of the limit)."""
        self.expire(now)
        excess = self.used - self.limit + 1 + capped_reserve(reserve, self.limit)
        if excess <= 0:
            return now
        for booking in self._entries:
            excess -= booking.count
            if excess <= 0:
                return max(now, booking.at + self.span)
        raise AssertionError("unreachable: used is the sum of the entries")

    def book(self, at: float, count: int = 1, *, foreign: bool = False) -> None:
        """Book ``count`` requests at ``at``; ``foreign``: another consumer's, dated back
        to when the server's window opened."""
        if count <= 0:
            return
        booking = _Booking(at, count, foreign)
        entries = self._entries
        if not entries or entries[-1].at <= at:
            entries.append(booking)
        else:  # dated back: keep the log sorted (it lands near the end)
            index = len(entries)
            while index and entries[index - 1].at > at:
                index -= 1
            entries.insert(index, booking)
        self.used += count

    def move(self, at: float, to: float) -> None:
        """Move one of our bookings made at ``at`` to ``to`` (later: it holds its place
        longer). Nothing happens if there is none (it expired, or was refused)."""
        for booking in self._entries:
            if booking.at == at and not booking.foreign:
                booking.count -= 1
                self.used -= 1
                self._entries = deque(b for b in self._entries if b.count)
                self.book(to)
                return

    def redate_foreign(self, opened: float) -> None:
        """Another consumer's bookings made after ``opened`` move back to it: they belong
        to the server window that opened then, and free when it resets."""
        moved = [b for b in self._entries if b.foreign and b.at > opened]
        if moved:
            self._entries = deque(b for b in self._entries if not (b.foreign and b.at > opened))
            self.used -= sum(b.count for b in moved)
            self.book(opened, sum(b.count for b in moved), foreign=True)

    def foreign(self, now: float) -> int:
        """How many of the bookings are another consumer's."""
        self.expire(now)
        return sum(b.count for b in self._entries if b.foreign)

    def unbook(self, count: int = 1) -> None:
        """Remove ``count`` of our newest bookings: requests the server counted nowhere."""
        for booking in reversed(self._entries):
            if count <= 0:
                break
            if booking.foreign:
                continue
            taken = min(count, booking.count)
            booking.count -= taken
            count -= taken
            self.used -= taken
        self._entries = deque(b for b in self._entries if b.count)

    def used_since(self, since: float) -> int:
        """Bookings made at or after ``since``."""
        total = 0
        for booking in reversed(self._entries):
            if booking.at < since:
                break
            total += booking.count
        return total

    def resets_in(self, now: float) -> float:
        """Seconds until the oldest booking frees its place (0 when there is none)."""
        self.expire(now)
        return self._entries[0].at + self.span - now if self._entries else 0.0

    def bookings(self) -> list[tuple[float, int]]:
        """A copy of the bookings, oldest first (for projections and tests)."""
        return [(booking.at, booking.count) for booking in self._entries]

    def clone(self) -> SlidingLog:
        """An independent copy (to simulate grants without booking them)."""
        copy = SlidingLog(limit=self.limit, seconds=self.seconds, margin=0.0, known=self.known)
        copy.span = self.span
        for booking in self._entries:
            copy.book(booking.at, booking.count, foreign=booking.foreign)
        return copy

    def snapshot(self, now: float) -> WindowSnapshot:
        self.expire(now)
        return WindowSnapshot(
            limit=self.limit,
            seconds=self.seconds,
            used=self.used,
            remaining=max(0, self.limit - self.used),
            resets_in=self.resets_in(now),
            known=self.known,
        )


class Budget:
    """A token's windows in memory, shortest first: whether a request fits, and the
    :class:`~trakk_async.ratelimit._core.Update` of each answer applied to them.

    ``known[i]`` says whether window ``i``'s limit is certain (configured by the caller);
    an unknown one is probed beyond its limit (see :meth:`check`).
    """

    def __init__(
        self,
        windows: Sequence[tuple[int, float]],
        *,
        margin: float | None,
        known: Sequence[bool],
    ) -> None:
        self.logs = tuple(
            SlidingLog(
                limit=limit,
                seconds=seconds,
                margin=default_margin(seconds) if margin is None else margin,
                known=is_known,
            )
            for (limit, seconds), is_known in zip(windows, known, strict=True)
        )

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        return tuple((log.limit, log.seconds) for log in self.logs)

    def check(self, now: float, *, reserve: int = 0) -> tuple[float, bool, str]:
        """(seconds until one more request fits, whether only as a probe, why it waits).

        ``reserve`` places of the shortest window are left free (for another consumer's
        request on its way). A request fits *as a probe* when the only full windows are
        longer ones whose limit is not known yet: it may go alone, to test that limit.
        """
        at, why, probe = now, "", False
        for index, log in enumerate(self.logs):
            free = log.free_at(now, reserve=0 if index else reserve)
            if free <= now:
                continue
            if index and not log.known:
                probe = True
            elif free > at:
                at, why = free, f"{log.limit} per {log.seconds:g}s spent"
                if others := log.foreign(now):
                    why += f", {others} of them by another consumer"
        if at > now:
            return at - now, False, why
        return 0.0, probe, ""

    def book(self, now: float) -> None:
        for log in self.logs:
            log.book(now)

    def apply(self, now: float, update: Update) -> int:
        """Apply an answer's update; returns how many requests of another consumer it
        booked."""
        shortest = self.logs[0]
        if update.limit is not None:
            shortest.limit, shortest.known = update.limit, True
        if update.alone_granted is not None:
            for log in self.logs:
                log.move(update.alone_granted, now)
        if update.refused:
            for log in self.logs:
                log.unbook()
        foreign = 0
        if update.counted is not None:
            shortest.expire(now)
            # The server counts more than is booked here (ours in flight included):
            # another consumer's requests, dated when that server window opened. Only in
            # the window the headers describe: a longer one learns from its own 429s.
            foreign = update.counted - shortest.used
            shortest.book(now - update.opened_ago, foreign, foreign=True)
        if update.redate:
            shortest.redate_foreign(now - update.opened_ago)
        if update.learn is not None:
            log = self.logs[update.learn]
            log.expire(now)
            log.limit = max(1, log.used_since(now - update.learn_ago) - update.learn_in_flight)
            log.known = True
        if update.probe_passed:
            for log in self.logs[1:]:
                if not log.known:
                    log.expire(now)
                    log.limit = max(log.limit, log.used)
        return max(0, foreign)

    def projected(self, now: float, ahead: int) -> float:
        """When the request behind ``ahead`` queued ones would fit, if nothing changes."""
        logs = [log.clone() for log in self.logs]
        at = now
        for _ in range(ahead + 1):
            at = max(log.free_at(at) for log in logs)
            for log in logs:
                log.book(at)
        return at

    def snapshot(self, now: float) -> tuple[WindowSnapshot, ...]:
        return tuple(log.snapshot(now) for log in self.logs)
