"""The report watcher: :class:`ReportWatcher` and its events (see the package docstring)."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import attrs

from trakk_async._core.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
    TrakkError,
)
from trakk_async.watch._checkpoint import (
    Checkpoint,
    MemoryCheckpoint,
    Seen,
)
from trakk_async.watch._plan import (
    DEFAULT_RESYNC_SHARE,
    PAGE_SIZE,
    Pacer,
    Strategy,
    StrategyChoice,
    WatchPlan,
    check_budget,
    check_shard,
    choose_strategy,
    in_shard,
    longest_window,
    make_plan,
)
from trakk_async.watch._tracker import Change, Failure, Job, Tracker, parse_listing_page

if TYPE_CHECKING:
    from trakk_async._client.client import TrakkClient
    from trakk_async._models.objects import Report

__all__ = ["ReportAdvanced", "ReportWatcher", "WatchStats"]

logger = logging.getLogger("trakk_async")

Sleep = Callable[[float], Awaitable[None]]

_STRATEGIES: Final = ("auto", "last-generated", "listing")


@attrs.frozen(kw_only=True)
class ReportAdvanced:
    """A project's last generated report changed to ``report``.

    ``previous_number`` and ``previous_report_id`` describe the report it replaced; both
    are None for a project's first completed report. ``baseline`` is True only for first
    sightings, emitted when the watcher was built with ``emit_baselines=True``.
    ``detected_at`` is when the watcher learned of it (UTC).
    """

    project_id: int
    previous_number: int | None
    previous_report_id: int | None
    report: Report
    baseline: bool = False
    detected_at: datetime = attrs.field(factory=lambda: datetime.now(UTC), eq=False)


@attrs.frozen(kw_only=True)
class WatchStats:
    """Counters of a running watcher, for logs and dashboards."""

    strategy: Strategy | None
    ready: bool
    watched: int
    parked: int
    requests: int
    pages: int
    polls: int
    confirmations: int
    reconciliations: int
    failures: int
    events: int
    listing_passes: int
    sweeps: int


def _limiter_windows(client: TrakkClient) -> list[tuple[int, float]]:
    """The client limiter's windows as ``(limit, seconds)``, from ``client.rate_limit``.

    The snapshot's limits are those in force after header corrections, so a watcher that
    starts after the server said "1,000 per hour" plans with that. An empty list (a limiter
    that describes no window) makes the plan fall back to the API's default hourly window.
    """
    return [(window.limit, window.seconds) for window in client.rate_limit.windows]


class ReportWatcher:
    """An async iterator of :class:`ReportAdvanced` events; see the module docstring.

    Built by :meth:`TrakkClient.watch_reports`; the arguments are documented there.
    """

    def __init__(
        self,
        client: TrakkClient,
        project_ids: Iterable[int] | None = None,
        *,
        checkpoint: Checkpoint | None = None,
        budget: float = 0.5,
        strategy: StrategyChoice = "auto",
        shard: tuple[int, int] | None = None,
        emit_baselines: bool = False,
        resync_share: float = DEFAULT_RESYNC_SHARE,
        _clock: Callable[[], float] | None = None,
        _sleep: Sleep | None = None,
        _random: Callable[[], float] | None = None,
    ) -> None:
        if strategy not in _STRATEGIES:
            raise ValueError(f"strategy must be one of {_STRATEGIES}, got {strategy!r}")
        if not 0 < resync_share < 1:
            raise ValueError(f"resync_share must be in (0, 1), got {resync_share!r}")
        self._client = client
        self._ids = None if project_ids is None else tuple(sorted(set(project_ids)))
        if self._ids is not None and any(type(p) is not int or p < 1 for p in self._ids):
            raise ValueError("project_ids must be positive ints")
        self._checkpoint: Checkpoint = checkpoint if checkpoint is not None else MemoryCheckpoint()
        self._budget = check_budget(budget)
        self._choice: StrategyChoice = strategy
        self._shard = None if shard is None else check_shard(shard)
        self._emit_baselines = emit_baselines
        self._resync_share = resync_share
        self._clock = _clock or time.monotonic
        self._sleep: Sleep = _sleep or asyncio.sleep
        self._random = _random or random.random
        self._tracker: Tracker | None = None
        self._pacer: Pacer | None = None
        self._plan: WatchPlan | None = None
        self._listed = 0
        self._events: deque[tuple[ReportAdvanced, Seen]] = deque()
        self._delivered: tuple[int, Seen] | None = None
        self._closed = False
        self._error: BaseException | None = None
        self._counts = dict.fromkeys(
            ("requests", "page", "poll", "confirm", "baseline", "resync", "failures", "events"),
            0,
        )

    def __repr__(self) -> str:
        strategy = self._tracker.strategy if self._tracker else self._choice
        return f"<ReportWatcher strategy={strategy!r} budget={self._budget}>"

    # ------------------------------------------------------------------ planning

    def _window(self) -> tuple[int, float]:
        return longest_window(_limiter_windows(self._client))

    def estimate(self, projects: int | None = None, *, listed: int | None = None) -> WatchPlan:
        """The sweep interval and request rate this watcher will achieve for ``projects``.

        ``projects`` defaults to the number of ``project_ids`` given (required otherwise);
        ``listed`` is how many projects ``/projects`` lists (default: ``projects``, times
        ``n`` when sharded). Call it before iterating, for example to size ``budget``::

            watcher = client.watch_reports()
            plan = watcher.estimate(1_000)
            print(plan.strategy, plan.sweep_interval, plan.resync_interval)
        """
        if projects is None:
            if self._ids is None:
                raise ValueError("estimate() needs the number of projects to watch")
            projects = sum(1 for p in self._ids if in_shard(p, self._shard))
        if listed is None:
            listed = projects * (self._shard[1] if self._shard and self._ids is None else 1)
        strategy = choose_strategy(self._choice, projects, listed)
        return make_plan(
            strategy=strategy,
            projects=projects,
            listed=listed,
            relist=self._ids is None,
            budget=self._budget,
            window=self._window(),
            resync_share=self._resync_share,
        )

    @property
    def plan(self) -> WatchPlan | None:
        """The plan in force, once the watcher has started (None before)."""
        return self._plan

    @property
    def stats(self) -> WatchStats:
        """A snapshot of the watcher's counters."""
        tracker = self._tracker
        counts = self._counts
        return WatchStats(
            strategy=tracker.strategy if tracker else None,
            ready=tracker.ready if tracker else False,
            watched=len(tracker.watched) if tracker else 0,
            parked=len(tracker.parked(self._clock())) if tracker else 0,
            requests=counts["requests"],
            pages=counts["page"],
            polls=counts["poll"] + counts["baseline"],
            confirmations=counts["confirm"],
            reconciliations=counts["resync"],
            failures=counts["failures"],
            events=counts["events"],
            listing_passes=tracker.listing_passes if tracker else 0,
            sweeps=(tracker.listing_passes if tracker.strategy == "listing" else tracker.cycles)
            if tracker
            else 0,
        )

    # ------------------------------------------------------------------ iteration

    def __aiter__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the watcher. The event last delivered stays uncommitted (call
        :meth:`commit` first if you handled it). The checkpoint is not closed."""
        self._closed = True
        self._events.clear()

    async def commit(self) -> None:
        """Commit the event last delivered now, instead of on the next iteration."""
        if self._delivered is not None:
            pid, seen = self._delivered
            await self._checkpoint.save({pid: seen})
            self._delivered = None

    async def __anext__(self) -> ReportAdvanced:
        if self._error is not None:  # a 401 ended the stream: say so again, not "done"
            raise self._error
        if self._closed:
            raise StopAsyncIteration
        await self.commit()
        try:
            if self._tracker is None:
                await self._start()
            while not self._events:
                await self._step()
                if self._closed:
                    raise StopAsyncIteration
        except AuthenticationError as error:
            self._error = error
            self._closed = True
            logger.error("report watcher stops: %s", error)
            raise
        event, seen = self._events.popleft()
        self._delivered = (event.project_id, seen)
        self._counts["events"] += 1
        return event

    # ------------------------------------------------------------------ the work

    def _make_plan(self, strategy: Strategy, watched: int, listed: int) -> WatchPlan:
        return make_plan(
            strategy=strategy,
            projects=watched,
            listed=listed,
            relist=self._ids is None,
            budget=self._budget,
            window=self._window(),
            resync_share=self._resync_share,
        )

    async def _start(self) -> None:
        seen = await self._checkpoint.load()
        first_page: tuple[Any, ...] | None = None
        watched = (
            sum(1 for p in self._ids if in_shard(p, self._shard)) if self._ids is not None else 0
        )
        listed = watched
        strategy: Strategy
        if self._choice != "auto":
            strategy = self._choice
        elif self._ids is not None and watched < 25:
            strategy = "last-generated"
        else:
            # One listing page tells how many projects there are; it is not wasted.
            self._pacer = Pacer(self._make_plan("listing", 1, 1).rate, self._clock)
            self._pacer.consume()
            self._counts["requests"] += 1
            self._counts["page"] += 1
            body = await self._client.get_json("/projects", {"page": "1", "per_page": "100"})
            hints, more, total = parse_listing_page(body, 1)
            first_page = (hints, more)
            listed = total if total is not None else len(hints)
            if self._ids is None:
                count = self._shard[1] if self._shard else 1
                watched = math.ceil(listed / count)
            strategy = choose_strategy("auto", watched, listed)
        self._tracker = Tracker(
            strategy=strategy,
            seen=seen,
            project_ids=self._ids,
            shard=self._shard,
            emit_baselines=self._emit_baselines,
            resync_share=self._resync_share,
            park_seconds=self._window()[1],
            random=self._random,
        )
        self._replan(listed)
        logger.info(
            "report watcher: strategy %s, %d projects, %.3g requests/s, sweep every %.3gs",
            strategy,
            self._plan.projects if self._plan else 0,
            self._plan.rate if self._plan else 0,
            self._plan.sweep_interval if self._plan else 0,
        )
        if first_page is not None and (strategy == "listing" or self._ids is None):
            hints, more = first_page
            await self._save(self._tracker.page_done(1, hints, more))

    def _replan(self, listed: int | None = None) -> None:
        tracker = self._tracker
        assert tracker is not None
        if listed is not None:
            self._listed = listed
        watched = len(tracker.watched) or (self._plan.projects if self._plan else listed or 1)
        self._plan = self._make_plan(tracker.strategy, watched, max(self._listed, watched))
        if self._pacer is None or not math.isclose(1 / self._pacer.interval, self._plan.rate):
            old, self._pacer = self._pacer, Pacer(self._plan.rate, self._clock)
            if old is not None and old.delay() > 0:
                self._pacer.consume()  # keep spacing across the change

    async def _save(self, records: dict[int, Seen]) -> None:
        if records:
            await self._checkpoint.save(records)

    async def _step(self) -> None:
        tracker, pacer = self._tracker, self._pacer
        assert tracker is not None
        assert pacer is not None
        delay = pacer.delay()
        if delay > 0:
            await self._sleep(delay)
        now = self._clock()
        job = tracker.next_job(now)
        pacer.consume()
        if job is None:
            return
        passes, cycles = tracker.listing_passes, tracker.cycles
        try:
            await self._run(tracker, job)
        except BaseException:
            if not isinstance(self._error, AuthenticationError):
                tracker.requeue(job)
            raise
        if (tracker.listing_passes, tracker.cycles) != (passes, cycles):
            self._replan()

    async def _run(self, tracker: Tracker, job: Job) -> None:
        self._counts["requests"] += 1
        self._counts[job.kind] += 1
        try:
            if job.kind == "page":
                body = await self._client.get_json(
                    "/projects", {"page": str(job.page), "per_page": str(PAGE_SIZE)}
                )
                try:
                    hints, more, _ = parse_listing_page(body, job.page)
                except ValueError as exc:
                    raise InvalidResponseError(str(exc), status=200, path="/projects") from None
                await self._save(tracker.page_done(job.page, hints, more))
                return
            report: Report | None
            try:
                report = await self._client.reports.last_generated(job.project_id)
                seen = Seen(report.id, report.report_number)
            except NotFoundError:
                report, seen = None, Seen.nothing()
            change = tracker.fetched(job, seen, self._clock())
            if change is not None:
                await self._deliver(change, report)
        except AuthenticationError:
            raise
        except (APIError, APIConnectionError, InvalidResponseError) as error:
            # 5xx, 429, timeouts and garbled bodies pass; 403 (and other 4xx) on one
            # project will not, so that project is parked instead of retried.
            permanent = (
                isinstance(error, APIError)
                and 400 <= error.status < 500
                and not isinstance(error, RateLimitError)
                and job.kind != "page"
            )
            self._fail(tracker, job, "forbidden" if permanent else "transient", error)

    def _fail(self, tracker: Tracker, job: Job, failure: Failure, error: TrakkError) -> None:
        self._counts["failures"] += 1
        delay = tracker.failed(job, failure, self._clock())
        what = (
            f"page {job.page} of /projects" if job.kind == "page" else f"project {job.project_id}"
        )
        if delay is not None:
            logger.warning(
                "report watcher: %s failed (%s); retry %d in %.1fs",
                what,
                error,
                job.attempt + 1,
                delay,
            )
        else:
            logger.warning(
                "report watcher: %s answered %s; parked for %.0fs",
                what,
                error,
                self._window()[1],
            )

    async def _deliver(self, change: Change, report: Report | None) -> None:
        previous = change.previous
        if previous is None and (not self._emit_baselines or report is None):
            await self._save({change.project_id: change.current})
            return
        assert report is not None
        event = ReportAdvanced(
            project_id=change.project_id,
            previous_number=previous.report_number if previous else None,
            previous_report_id=previous.report_id if previous else None,
            report=report,
            baseline=previous is None,
        )
        self._events.append((event, change.current))
