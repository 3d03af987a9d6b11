"""The limiter's rules, without I/O: what a response says, and what to do about it.

Trakk's headers (its documentation; ``../shared/spec/trakk-public-docs-notes.md``):
``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` describe the **shortest** (minute)
window on every response, 429s included; ``Retry-After`` / ``X-RateLimit-Reset`` come
only with a 429 and name the window that ran out (the hour's when the hour did). Limits
are per token, may be raised, lowered or removed; the hourly one is never announced.

From that, the rules both limiters follow (:class:`LimiterCore` per process, applied to a
budget of sliding logs kept in memory or in Redis):

* **The minute window from the headers.** ``Limit`` sets the shortest window's limit, up
  or down. ``Remaining`` is the truth about the server's current window: when the server
  counts more than this limiter booked (its requests in flight included), the
  difference is another consumer's, booked as of the moment that server window opened
  (at the latest), so it frees when the server's window resets.
* **Going alone.** Until the first answer arrives, and again after every pause, one
  request goes alone and the others wait for its answer, which tells what is left: a
  lower real limit, or a window another program spent, costs no 429. Its booking holds
  its place from its answer (it may have opened the server's window only then: a first
  connection is slow).
* **Pauses.** A 429 pauses every request for as long as it says (``Retry-After``, else
  ``X-RateLimit-Reset``, read on the server's clock by
  :func:`~trakk_async._protocol.core.rate_limit_wait`) plus :data:`RETRY_AFTER_SAFETY`,
  never longer than the window it names; a 429 that says nothing pauses one shortest
  window. The refused request counted nowhere, so its booking is removed.
* **Longer windows without configuration.** They start from the configured (default)
  limits. A 429 whose wait is longer than the shortest window (or that comes while the
  minute window has room) names a longer one: its limit becomes what was booked since
  that server window opened (less the requests still on their way, refused too), if
  one of this limiter's requests opened it; then the limit is ``known``. While such a
  limit is still a default, reaching it does not stop the requests: when the minute
  window has room, one request goes alone (a *probe*); if it passes, the limit grows to
  what is booked, and the next probe follows its answer; the probe that fails is the one
  429 that teaches the real limit. So a token with other limits and no configuration
  gets its whole hourly budget, at the cost of at most one 429 per hour while learning
  (requests in flight when a lower hour runs out are refused with it). A limit the
  caller configures is known from the start and never probed.
* **Sharing.** While another consumer's requests are seen, this limiter spaces its
  requests at half the token's rate (:data:`SHARED_PACE`) and keeps a few places of the
  window free for the other's next ones, so independent limiters on one token interleave
  instead of racing for each window. A limiter whose requests outran the budget (it had
  to wait for a window) spreads them over a few seconds instead of bursting the instant
  the window frees: the same throughput, and a newcomer's requests get counted, which is how
  the first one learns it is there (:data:`SATURATED_SPREAD`).
* **No headers.** A response without rate-limit headers (a token with its limits
  removed, or a proxy that strips them: the two look the same) changes nothing: the
  configured windows stay in force.

Time is passed in: ``now`` is monotonic seconds, ``wall`` Unix seconds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

import attrs

from trakk_async._core.model import Model
from trakk_async._protocol.core import rate_limit_wait

#: Trakk's default throttle: 60 requests per minute and 1,000 per hour.
DEFAULT_WINDOWS: Final[tuple[tuple[int, float], ...]] = ((60, 60.0), (1000, 3600.0))
#: Added to a 429's wait before resuming: Laravel computes the reset in whole seconds, so
#: it may be up to a second early.
RETRY_AFTER_SAFETY: Final = 1.0
#: While another consumer is seen, requests are spaced this many times wider than the
#: token's rate allows: half of it each, so two consumers interleave without filling
#: the window early (and without racing for it when it resets).
SHARED_PACE: Final = 2.0
#: Once the budget was outrun, the places a window frees are used over this many
#: seconds (or the whole window, if shorter) rather than all at once: a process
#: resuming after a pause (a second after the reset) still finds some, gets counted, and
#: so is seen by the one that was alone. The throughput is the same.
SATURATED_SPREAD: Final = 5.0
#: An attempt whose answer was never reported after this long is taken as lost (a caller
#: that skipped :meth:`RateLimiter.observe`): it no longer counts as in flight.
LOST_ANSWER: Final = 300.0


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
    """Validate a margin in seconds (None: the default margin per window)."""
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


# --------------------------------------------------------------------------- responses


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Answer(Model):
    """What one response says about the token's budget (see :func:`read_answer`).

    ``limit`` / ``remaining``: the shortest window's ``X-RateLimit-*`` pair (None when
    absent or malformed; ``remaining`` never above ``limit``). ``refused``: a 429;
    ``wait``: the seconds it asks to wait, None when it does not say.
    """

    limit: int | None = None
    remaining: int | None = None
    refused: bool = False
    wait: float | None = None


def _count(value: str | None, minimum: int) -> int | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number >= minimum else None


def read_answer(status: int, headers: Mapping[str, str], *, wall: float) -> Answer:
    """Read a response's rate-limit headers; ``wall`` (Unix seconds) stands in for the
    server's clock only when the response has no ``Date`` header."""
    limit = _count(headers.get("X-RateLimit-Limit"), 1)
    remaining = _count(headers.get("X-RateLimit-Remaining"), 0)
    if limit is not None and remaining is not None:
        remaining = min(remaining, limit)
    if status != 429:
        return Answer(limit=limit, remaining=remaining)
    now = datetime.fromtimestamp(wall, UTC)
    return Answer(
        limit=limit, remaining=remaining, refused=True, wait=rate_limit_wait(headers, now=now)
    )


# --------------------------------------------------------------------------- updates


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Update(Model):
    """What an answer changes in the budget shared by the limiters of a token.

    ``limit``: the shortest window's new limit. ``counted``: requests the server counts
    in its current shortest window; more than the budget holds are another consumer's,
    booked ``opened_ago`` seconds ago, when that server window opened at the latest;
    with ``redate``, those booked already move there too (a 429 told when the window
    opened). ``alone_granted``: the request that went alone, booked at this time (this
    process's clock), was answered: its booking moves to now, as that request may have
    opened the server's window only now. ``refused``: a 429, whose request counted
    nowhere (its booking goes).
    ``pause``: seconds during which no request may go. ``learn``: a longer window that
    the 429 says ran out; its limit becomes what was booked in the last ``learn_ago``
    seconds, less ``learn_in_flight`` requests still on their way (refused too: the
    window ran out before them). ``probe_passed``: a probe beyond a default limit was
    accepted; every window whose limit is not known takes what it has booked as its
    limit.
    """

    limit: int | None = None
    counted: int | None = None
    opened_ago: float = 0.0
    redate: bool = False
    alone_granted: float | None = None
    refused: bool = False
    pause: float = 0.0
    learn: int | None = None
    learn_ago: float = 0.0
    learn_in_flight: int = 0
    probe_passed: bool = False

    @property
    def changes_budget(self) -> bool:
        return (
            self.limit is not None
            or self.counted is not None
            or self.redate
            or self.alone_granted is not None
            or self.refused
            or self.pause > 0
            or self.learn is not None
            or self.probe_passed
        )


# --------------------------------------------------------------------------- state


class LimiterCore:
    """One process's side of the rules: pauses, going alone, answers in flight, pacing.

    The budget (sliding logs, in memory or in Redis) says whether a window has room; this
    says whether a request may go now for any other reason, and turns each answer into
    an :class:`Update` of the budget. ``seconds`` are the windows' lengths, shortest
    first.

    >>> core = LimiterCore([60.0, 3600.0])
    >>> core.hold(0.0, span=60.6, limit=60)
    (0.0, '')
    >>> core.granted(0.0, probe=False)
    >>> core.hold(0.0, span=60.6, limit=60)  # the first request goes alone
    (inf, 'waiting for the answer to the first request')
    """

    def __init__(self, seconds: Sequence[float]) -> None:
        self.seconds = tuple(seconds)
        #: No request before this time (a 429).
        self.paused_until = -math.inf
        #: Why the next request must go alone ("" when it need not).
        self.alone_next = "the first request"
        #: The request that went alone, while its answer is awaited ("" when none).
        self.alone_out = ""
        self._probe_out = False
        #: Grant times of the attempts not yet answered, oldest first.
        self.in_flight: deque[float] = deque()
        self._last_grant = -math.inf
        #: Until then, requests are spaced evenly: another consumer was seen, or the
        #: requests outran the budget (:meth:`outran`).
        self.sharing_until = -math.inf
        self._others_burst = 0
        self.saturated_until = -math.inf
        # The server's current shortest window: when it opened (at the latest) and the
        # most it counted in it.
        self._window_opened: float | None = None
        self._window_counted = 0
        # Per longer window: the grant that opened the server's current window, as far
        # as this process can tell (Laravel opens one at the first request after the
        # previous one ended); None until the next grant.
        self._opened: list[float | None] = [None] * len(self.seconds)

    # -- before a request -----------------------------------------------------------

    def hold(self, now: float, *, span: float, limit: int) -> tuple[float, str]:
        """(seconds, why) before a request may go, budget aside; ``inf``: until an answer.

        ``span`` and ``limit`` are the shortest window's: they set the spacing of
        requests while the token is shared or the budget outrun.
        """
        self._forget_lost(now)
        if self.paused_until > now:
            return self.paused_until - now, "paused after a 429"
        if self.alone_out:
            return math.inf, f"waiting for the answer to {self.alone_out}"
        if self.alone_next and self.in_flight:
            return math.inf, f"waiting for the requests in flight before {self.alone_next}"
        shared = SHARED_PACE * span / limit
        if self.sharing_until > now and self._last_grant + shared > now:
            return self._last_grant + shared - now, "another consumer shares the token"
        spread = min(span, SATURATED_SPREAD) / limit
        if self.saturated_until > now and self._last_grant + spread > now:
            return self._last_grant + spread - now, "requests spread over the window"
        return 0.0, ""

    def reserve(self, now: float) -> int:
        """Places of the shortest window to leave free while another consumer is seen:
        its next requests would otherwise race ours for the last places. As many as it
        sent at once between two of our answers (at least one); the budget caps them."""
        return max(1, self._others_burst) if self.sharing_until > now else 0

    def may_probe(self, now: float) -> bool:
        """Whether a probe beyond a default limit may go now: nothing else in flight."""
        self._forget_lost(now)
        return not self.in_flight and not self.alone_out

    def granted(self, now: float, *, probe: bool) -> None:
        """A request was booked at ``now`` (``probe``: beyond a default limit)."""
        self.in_flight.append(now)
        self._last_grant = now
        for index, opened in enumerate(self._opened):
            if index and (opened is None or now >= opened + self.seconds[index]):
                self._opened[index] = now
        if probe:
            self.alone_out = "a probe of the hourly limit"
            self._probe_out = True
        elif self.alone_next:
            self.alone_out, self.alone_next = self.alone_next, ""

    def _forget_lost(self, now: float) -> None:
        while self.in_flight and self.in_flight[0] + LOST_ANSWER <= now:
            self.in_flight.popleft()
            if not self.in_flight:
                self._release_alone()

    def _release_alone(self) -> None:
        if self.alone_out:
            # Its answer never came: the next request goes alone in its place.
            self.alone_next = self.alone_next or self.alone_out
            self.alone_out = ""
            self._probe_out = False

    # -- after a request ------------------------------------------------------------

    def no_answer(self, now: float) -> None:
        """An attempt got no response (connection error, timeout, cancellation)."""
        if self.in_flight:
            self.in_flight.popleft()
        self._release_alone()

    def answered(self, now: float, answer: Answer) -> Update:
        """Take in an answer and say what it changes in the budget."""
        granted = self.in_flight.popleft() if self.in_flight else None
        # The request that went alone may have opened the server's window as late as
        # now (a first connection is slow): its booking holds its place from now.
        alone_granted = granted if self.alone_out else None
        probe, self._probe_out, self.alone_out = self._probe_out, False, ""
        counted, opened_ago = self._server_window(now, answer)
        if not answer.refused:
            return Update(
                limit=answer.limit,
                counted=counted,
                opened_ago=opened_ago,
                alone_granted=alone_granted,
                probe_passed=probe,
            )
        pause, index, age = self._pause_for(answer)
        self.paused_until = max(self.paused_until, now + pause)
        self.alone_next = "the first request after the pause"
        learn, learn_ago = None, 0.0
        if index == 0 and self._window_opened is not None:
            # The wait tells when the shortest window opened, better than our guess:
            # another consumer's requests in it free when it resets.
            self._window_opened = min(self._window_opened, now - age)
            opened_ago = now - self._window_opened
        elif index:
            opened, self._opened[index] = self._opened[index], None
            # Learn only from a server window that one of our requests opened: the
            # count of a window someone else opened is not known here.
            if opened is not None and opened <= now - age + RETRY_AFTER_SAFETY:
                learn, learn_ago = index, now - opened
        return Update(
            limit=answer.limit,
            counted=counted,
            opened_ago=opened_ago,
            redate=index == 0,
            refused=True,
            pause=pause,
            learn=learn,
            learn_ago=learn_ago,
            learn_in_flight=len(self.in_flight),
        )

    def paused_elsewhere(self, now: float, until: float) -> None:
        """Another process sharing the budget was told to pause until ``until``."""
        if until > self.paused_until:
            self.paused_until = until
            self.alone_next = "the first request after the pause"

    def outran(self, now: float, span: float) -> None:
        """A request had to wait for the budget (or for its turn while spaced): more
        requests than the budget allows, so space them for the next ``span`` rather than
        sending a burst whenever a window frees. Throughput stays the same, and a
        newcomer on the token gets its requests counted, which tells us it is there."""
        self.saturated_until = now + span

    def saw_others(self, now: float, span: float, count: int) -> None:
        """``count`` requests of another consumer were booked: space ours for ``span``
        (after a pause, if one holds: that consumer will be back when it ends)."""
        if self.sharing_until > now:
            self._others_burst = max(self._others_burst, count)
        else:
            self._others_burst = 0  # the first sighting sums up its past, not its bursts
        self.sharing_until = max(now, self.paused_until) + span

    def _server_window(self, now: float, answer: Answer) -> tuple[int | None, float]:
        """What the server counts in its current shortest window, and how long ago that
        window opened at the latest.

        Compared with every booking (ours in flight included), the count shows another
        consumer only when it is certain: answers overtake each other on the way, so a
        count taken before some of our requests arrived is not evidence.
        """
        if answer.limit is None or answer.remaining is None:
            return None, 0.0
        counted = answer.limit - answer.remaining
        opened = self._window_opened
        # A new server window: the count fell by more than reordered answers explain,
        # or the window we knew is over. It opened before this answer was counted.
        if (
            opened is None
            or now - opened >= self.seconds[0]
            or counted + len(self.in_flight) + 1 < self._window_counted
        ):
            self._window_opened, self._window_counted = now, counted
            return counted, 0.0
        self._window_counted = max(self._window_counted, counted)
        return counted, now - opened

    def _pause_for(self, answer: Answer) -> tuple[float, int | None, float]:
        """(pause, the window that ran out or None when the 429 does not say, how long
        ago that server window opened at the latest)."""
        wait = answer.wait
        if wait is None:
            return self.seconds[0], None, 0.0
        # With room left in the shortest window, a longer one ran out.
        first = 1 if answer.remaining and len(self.seconds) > 1 else 0
        index = len(self.seconds) - 1
        for i in range(first, len(self.seconds)):
            if wait <= self.seconds[i] + RETRY_AFTER_SAFETY:
                index = i
                break
        seconds = self.seconds[index]
        # It resets ``wait`` from now, give or take the second Retry-After is rounded to.
        age = max(0.0, seconds - wait - (RETRY_AFTER_SAFETY if index == 0 else 0.0))
        return min(wait, seconds) + RETRY_AFTER_SAFETY, index, age
