"""Budget arithmetic and the bounds of the report watcher, without I/O.

The watcher may spend ``budget`` (a fraction) of the limiter's longest window, so its rate
is ``budget * limit / seconds`` requests per second (0.5 of 1,000 per hour: one request
every 7.2 s), sent one per evenly spaced *slot*. A share of the slots goes to looking at
projects (``/projects/{id}/reports``, oldest look first), the rest to ``/projects`` pages
and to confirming what the pages hint at. :func:`make_plan` turns that into the bounds
the watcher documents (see :class:`WatchPlan`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final, Literal

import attrs

from trakk_async._protocol.core import MAX_PER_PAGE

Strategy = Literal["per-project", "listing"]
StrategyChoice = Literal["auto", "per-project", "listing", "last-generated"]

#: The public strategy names; "last-generated" is the earlier name of "per-project".
STRATEGIES: Final = ("auto", "per-project", "listing", "last-generated")
#: Projects per ``/projects`` page: the API's maximum.
PAGE_SIZE: Final = MAX_PER_PAGE
#: The window used when the limiter describes none: the API's default hourly one.
DEFAULT_WINDOW: Final = (1000, 3600.0)
#: Share of the slots the "listing" strategy spends on looking at projects by default.
DEFAULT_RECONCILE_SHARE: Final = 0.5


def check_budget(budget: object) -> float:
    """Return ``budget`` if it is a number in (0, 1], else raise ValueError."""
    if isinstance(budget, bool) or not isinstance(budget, int | float):
        raise ValueError(f"budget must be a number in (0, 1], got {budget!r}")
    if not 0 < budget <= 1:
        raise ValueError(f"budget must be in (0, 1], got {budget!r}")
    return float(budget)


def check_share(share: object) -> float:
    """Return ``share`` if it is a number in (0, 1), else raise ValueError."""
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise ValueError(f"reconcile_share must be a number in (0, 1), got {share!r}")
    return float(share)


def check_project_ids(project_ids: object) -> tuple[int, ...] | None:
    """``project_ids`` as a sorted tuple without repeats (None stays None), else raise
    ValueError: an iterable of positive ints, not a string."""
    if project_ids is None:
        return None
    if isinstance(project_ids, str | bytes) or not isinstance(project_ids, Iterable):
        raise ValueError(f"project_ids must be positive ints, got {project_ids!r}")
    ids = list(project_ids)
    if any(type(p) is not int or p < 1 for p in ids):
        raise ValueError(f"project_ids must be positive ints, got {project_ids!r}")
    return tuple(sorted(set(ids)))


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


def time_to_send(requests: int, windows: Iterable[tuple[int, float]]) -> float:
    """Seconds, at best, to send ``requests`` through fresh windows of ``(limit, seconds)``:
    each window lets ``limit`` go, then the next ``limit`` one window later."""
    longest = 0.0
    for limit, seconds in windows:
        if limit > 0 and seconds > 0 and requests > 0:
            longest = max(longest, (math.ceil(requests / limit) - 1) * seconds)
    return longest


def resolve_strategy(choice: StrategyChoice) -> Strategy:
    """The strategy a name stands for.

    ``"auto"`` is ``"per-project"``: at a given budget it bounds *every* completion
    soonest. ``"listing"`` cannot do better on that bound: the listing shows the row of
    ``/reports/latest``, not every report, so it proves no project unchanged and every
    project must still be looked at, from a smaller share of the same budget. What it
    buys is speed for the completions the listing does show (most of them). The numbers
    are in the README's "Watching every project" and in :meth:`ReportWatcher.estimate`.
    ``"last-generated"`` is the earlier name of ``"per-project"``.
    """
    if choice == "listing":
        return "listing"
    return "per-project"


@attrs.frozen(kw_only=True)
class WatchPlan:
    """What a watcher will achieve, computed before it starts (all times in seconds).

    Attributes:
        strategy: ``"per-project"`` or ``"listing"``.
        projects: projects watched; ``listed``: projects ``/projects`` lists.
        budget, window: the share of the limiter's longest window ``(limit, seconds)``.
        rate: requests per second at full pace (``requests_per_hour`` per hour).
        reconcile_share: the share of the slots that look at projects, oldest look first.
        sweep_interval: every watched project is looked at (one ``/reports`` request)
            at least once per this many seconds.
        pass_interval: seconds between two passes over ``/projects`` (None when the
            watcher does not list: explicit ``project_ids`` with "per-project").
        detection_bound: every completion is delivered within this many seconds
            (one sweep plus one slot), whatever the listing shows.
        hinted_bound: a completion that changes the project's row in the listing is
            delivered within this many seconds (one pass plus a confirmation slot, when
            confirmations do not queue up); equal to ``detection_bound`` for
            "per-project", which does not use the rows.
        first_pass: the first pass (the listing, then one request per project without
            a checkpoint record) runs at the limiter's full pace: this many seconds at
            best, through the limiter's windows, when no project has a record yet. Its
            requests count in those windows: the bounds hold from one longest window
            after it when it used most of that window's limit.
    """

    strategy: Strategy
    projects: int
    listed: int
    budget: float
    window: tuple[int, float]
    rate: float
    reconcile_share: float
    sweep_interval: float
    pass_interval: float | None
    detection_bound: float
    hinted_bound: float
    first_pass: float

    @property
    def requests_per_hour(self) -> float:
        """Requests the watcher sends per hour at full pace, after its first pass."""
        return self.rate * 3600.0


def make_plan(
    *,
    strategy: Strategy,
    projects: int,
    listed: int | None = None,
    relist: bool = True,
    budget: float,
    window: tuple[int, float],
    windows: Iterable[tuple[int, float]] = (),
    reconcile_share: float = DEFAULT_RECONCILE_SHARE,
) -> WatchPlan:
    """The :class:`WatchPlan` for ``projects`` watched out of ``listed`` listed ones.

    ``relist`` says whether the watcher lists ``/projects`` (it does when it watches
    every project of the token, and always with "listing"); ``windows`` are all of the
    limiter's windows, for the first pass (default: ``window`` alone).
    """
    rate = watch_rate(budget, window)
    listed = projects if listed is None else listed
    watched = max(projects, 1)
    pages = listing_pages(listed)
    lists = relist or strategy == "listing"
    first = time_to_send((pages if lists else 0) + projects, list(windows) or [window])
    share = reconcile_share_of(strategy, watched, pages if lists else 0, reconcile_share)
    sweep = watched / (rate * share)
    slot = 1.0 / rate
    passes = None if not lists else pages / (rate * (1.0 - share)) if share < 1 else None
    if strategy == "listing" and passes is not None:
        # A hint waits for the next slot that is not a reconciliation's.
        hinted = passes + slot / (1.0 - share)
    else:
        hinted = sweep + slot
    return WatchPlan(
        strategy=strategy,
        projects=projects,
        listed=listed,
        budget=budget,
        window=window,
        rate=rate,
        reconcile_share=share,
        sweep_interval=sweep,
        pass_interval=passes,
        detection_bound=sweep + slot,
        hinted_bound=hinted,
        first_pass=first,
    )


def reconcile_share_of(strategy: Strategy, watched: int, pages: int, listing_share: float) -> float:
    """The share of slots that look at projects: for "per-project" all of them but the
    relisting pass (one pass per sweep), for "listing" ``listing_share``."""
    if strategy == "listing":
        return listing_share
    return watched / (watched + pages)
