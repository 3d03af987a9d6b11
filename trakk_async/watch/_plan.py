"""Budget arithmetic and pacing for the report watcher, without I/O.

The watcher may spend ``budget`` (a fraction) of the limiter's longest window, so its rate
is ``budget * limit / seconds`` requests per second (0.5 of 1,000 per hour: one request
every 7.2 s). It sends them one per *slot*, slots evenly spaced at that rate: a pacing
schedule, never a burst. A slot missed because the limiter or the consumer held the
watcher is not made up later.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Final, Literal

import attrs

Strategy = Literal["last-generated", "listing"]
StrategyChoice = Literal["last-generated", "listing", "auto"]

#: Projects per ``/projects`` page (the API's maximum).
PAGE_SIZE: Final = 100
#: The window used when the limiter describes none: the API's default hourly one.
DEFAULT_WINDOW: Final = (1000, 3600.0)
#: "auto" picks "listing" from this many watched projects on ...
AUTO_MIN_PROJECTS: Final = 25
#: ... when a listing sweep costs at most this fraction of one request per project.
AUTO_MAX_COST_RATIO: Final = 0.25
#: Share of the slots the "listing" strategy reserves for reconciliation by default.
DEFAULT_RESYNC_SHARE: Final = 0.2


def check_budget(budget: object) -> float:
    """Return ``budget`` if it is a number in (0, 1], else raise ValueError."""
    if isinstance(budget, bool) or not isinstance(budget, int | float):
        raise ValueError(f"budget must be a number in (0, 1], got {budget!r}")
    if not 0 < budget <= 1:
        raise ValueError(f"budget must be in (0, 1], got {budget!r}")
    return float(budget)


def check_shard(shard: object) -> tuple[int, int]:
    """Return ``shard`` if it is ``(i, n)`` with ``0 <= i < n``, else raise ValueError."""
    if (
        not isinstance(shard, tuple)
        or len(shard) != 2
        or any(type(v) is not int for v in shard)
        or not 0 <= shard[0] < shard[1]
    ):
        raise ValueError(f"shard must be (i, n) with 0 <= i < n, got {shard!r}")
    return shard[0], shard[1]


def in_shard(project_id: int, shard: tuple[int, int] | None) -> bool:
    """Whether a project belongs to worker ``i`` of ``n``: ``project_id % n == i``.

    Stable (it depends on nothing but the id), so n workers with the same ``n`` and
    ``i = 0 .. n-1`` cover every project exactly once, whatever each of them lists.
    """
    if shard is None:
        return True
    index, count = shard
    return project_id % count == index


def longest_window(windows: Iterable[tuple[int, float]]) -> tuple[int, float]:
    """The window with the most seconds (the hourly one by default)."""
    best: tuple[int, float] | None = None
    for limit, seconds in windows:
        if limit > 0 and seconds > 0 and (best is None or seconds > best[1]):
            best = (int(limit), float(seconds))
    return best or DEFAULT_WINDOW


def watch_rate(budget: float, window: tuple[int, float]) -> float:
    """Requests per second the watcher may send: ``budget`` of the window's limit."""
    limit, seconds = window
    return budget * limit / seconds


def listing_pages(listed: int) -> int:
    """Requests one pass over ``/projects`` costs for ``listed`` projects (at least 1)."""
    return max(1, math.ceil(listed / PAGE_SIZE))


def choose_strategy(choice: StrategyChoice, watched: int, listed: int) -> Strategy:
    """Resolve ``"auto"``: "listing" when it is much cheaper than one request per project.

    That is, from :data:`AUTO_MIN_PROJECTS` watched projects on, when a listing sweep costs
    at most :data:`AUTO_MAX_COST_RATIO` of a "last-generated" sweep (so a handful of
    explicit ids among 10,000 listed projects is still polled one by one).
    """
    if choice != "auto":
        return choice
    if watched >= AUTO_MIN_PROJECTS and listing_pages(listed) <= AUTO_MAX_COST_RATIO * watched:
        return "listing"
    return "last-generated"


@attrs.frozen(kw_only=True)
class WatchPlan:
    """What a watcher will achieve for a number of projects, computed before it starts.

    ``rate`` is the requests per second it may spend; ``sweep_interval`` the seconds
    between two looks at the same project (for "listing": between two listing passes,
    without confirmations); ``requests_per_sweep`` what one such look costs;
    ``resync_interval`` ("listing" only) the documented bound within which a change the
    listing cannot show is still caught, for the worst case where every project is at risk
    (see :class:`~trakk_async.watch.ReportWatcher`); ``detection_bound`` the longest a
    change visible to the strategy goes unnoticed, when confirmations do not queue up.
    """

    strategy: Strategy
    projects: int
    budget: float
    window: tuple[int, float]
    rate: float
    requests_per_sweep: float
    sweep_interval: float
    resync_interval: float | None
    detection_bound: float

    @property
    def requests_per_hour(self) -> float:
        """Requests the watcher sends per hour of wall time at full pace."""
        return self.rate * 3600.0


def make_plan(
    *,
    strategy: Strategy,
    projects: int,
    listed: int | None = None,
    relist: bool = True,
    budget: float,
    window: tuple[int, float],
    resync_share: float = DEFAULT_RESYNC_SHARE,
) -> WatchPlan:
    """The :class:`WatchPlan` for ``projects`` watched out of ``listed`` listed ones.

    ``relist`` says whether a "last-generated" watcher also re-lists ``/projects`` once per
    sweep (it does when it watches every project of the token).
    """
    rate = watch_rate(budget, window)
    listed = projects if listed is None else listed
    pages = listing_pages(listed)
    if strategy == "last-generated":
        per_sweep = float(projects + (pages if relist else 0))
        sweep = per_sweep / rate
        return WatchPlan(
            strategy=strategy,
            projects=projects,
            budget=budget,
            window=window,
            rate=rate,
            requests_per_sweep=per_sweep,
            sweep_interval=sweep,
            resync_interval=None,
            detection_bound=sweep + 1 / rate,
        )
    page_rate = rate * (1 - resync_share)
    sweep = pages / page_rate
    resync = max(projects, 1) / (rate * resync_share)
    return WatchPlan(
        strategy=strategy,
        projects=projects,
        budget=budget,
        window=window,
        rate=rate,
        requests_per_sweep=float(pages),
        sweep_interval=sweep,
        resync_interval=resync,
        # One pass to see the hint, one slot to confirm it.
        detection_bound=sweep + 2 / rate,
    )


class Pacer:
    """Evenly spaced slots at ``rate`` per second, on an injected clock.

    :meth:`delay` says how long to wait for the next slot, :meth:`consume` takes it. A
    slot taken less than one interval late keeps the schedule (a sleep that wakes a little
    late must not slow the pace: at 7.2 ms slots, 0.5 ms a slot is 7 %); one taken later
    than that moves it (no catch-up burst after a stall).
    """

    __slots__ = ("_clock", "_interval", "_next")

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
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


def backoff(
    attempt: int, random: Callable[[], float], *, base: float = 1.0, cap: float = 60.0
) -> float:
    """Seconds before retry ``attempt`` (0-based): doubling from ``base`` to ``cap``,
    with jitter over the upper half so failing projects do not retry in lockstep."""
    ceiling = min(cap, base * 2.0 ** min(attempt, 30))
    return ceiling / 2 + random() * ceiling / 2
