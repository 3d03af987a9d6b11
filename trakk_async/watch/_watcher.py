"""The report watcher, :class:`ReportWatcher` (see the package docstring)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self, TypeVar

from trakk_async._core.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    CheckpointError,
    InvalidResponseError,
)
from trakk_async._core.timing import Clock, Sleep
from trakk_async._protocol.core import is_retryable
from trakk_async._protocol.schedule import Pacer
from trakk_async.watch._checkpoint import Checkpoint, MemoryCheckpoint
from trakk_async.watch._events import ReportAdvanced, WatchStats
from trakk_async.watch._handling import DeadLetter, Handler, handle_events
from trakk_async.watch._ledger import Ledger
from trakk_async.watch._plan import (
    DEFAULT_RECONCILE_SHARE,
    PAGE_SIZE,
    STRATEGIES,
    StrategyChoice,
    WatchPlan,
    check_budget,
    check_project_ids,
    check_shard,
    check_share,
    in_shard,
    longest_window,
    make_plan,
    resolve_strategy,
)
from trakk_async.watch._state import Seen, first_look, newest_completed, next_look
from trakk_async.watch._tracker import Job, Tracker

if TYPE_CHECKING:
    from trakk_async._client.client import TrakkClient
    from trakk_async._client.pager import ProjectPager
    from trakk_async._models.objects import Report

__all__ = ["ReportWatcher"]

logger = logging.getLogger("trakk_async")

T = TypeVar("T")

#: Seconds a failing checkpoint store is retried before the stream ends.
DEFAULT_CHECKPOINT_OUTAGE: Final = 60.0


class ReportWatcher:
    """An async iterator of :class:`ReportAdvanced` events; see the module docstring.

    Built by :meth:`TrakkClient.watch_reports`; the arguments are documented there.
    ``reconcile_share`` is the share of the slots the "listing" strategy spends on
    looking at every project in turn; ``checkpoint_outage`` the seconds a failing
    checkpoint store is retried before the stream ends with :class:`CheckpointError`.
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
        reconcile_share: float = DEFAULT_RECONCILE_SHARE,
        checkpoint_outage: float = DEFAULT_CHECKPOINT_OUTAGE,
        _clock: Clock | None = None,
        _sleep: Sleep | None = None,
        _random: Callable[[], float] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        if isinstance(checkpoint_outage, bool) or not (
            isinstance(checkpoint_outage, int | float) and checkpoint_outage >= 0
        ):
            raise ValueError(f"checkpoint_outage must be seconds >= 0, got {checkpoint_outage!r}")
        self._client = client
        self._ids = check_project_ids(project_ids)
        self._budget = check_budget(budget)
        self._strategy = resolve_strategy(strategy)
        self._shard = None if shard is None else check_shard(shard)
        self._emit_baselines = emit_baselines
        self._share = check_share(reconcile_share)
        self._clock = _clock or time.monotonic
        self._sleep: Sleep = _sleep or asyncio.sleep
        self._random = _random or random.random
        self._tracker: Tracker | None = None
        self._pager: ProjectPager | None = None
        self._pacer: Pacer | None = None
        self._plan: WatchPlan | None = None
        self._events: deque[tuple[ReportAdvanced, Seen]] = deque()
        self._delivered: tuple[int, Seen] | None = None
        self._ledger = Ledger(
            checkpoint if checkpoint is not None else MemoryCheckpoint(),
            outage=float(checkpoint_outage),
            shard=self._shard,
            clock=self._clock,
            sleep=self._sleep,
            random=self._random,
        )
        self._started_at = 0.0
        self._closed = False
        self._error: BaseException | None = None
        self._counts = dict.fromkeys(
            ("requests", "page", "baseline", "confirm", "reconcile", "failures"),
            0,
        )
        self._counts["events"] = 0

    def __repr__(self) -> str:
        return f"<ReportWatcher strategy={self._strategy!r} budget={self._budget}>"

    # ------------------------------------------------------------------ planning

    def _windows(self) -> list[tuple[int, float]]:
        return [(w.limit, w.seconds) for w in self._client.rate_limit.windows]

    def _make_plan(self, projects: int, listed: int) -> WatchPlan:
        windows = self._windows()
        return make_plan(
            strategy=self._strategy,
            projects=projects,
            listed=listed,
            relist=self._ids is None,
            budget=self._budget,
            window=longest_window(windows),
            windows=windows,
            reconcile_share=self._share,
        )

    def estimate(self, projects: int | None = None, *, listed: int | None = None) -> WatchPlan:
        """The bounds and request rate this watcher will achieve for ``projects``.

        ``projects`` defaults to the number of ``project_ids`` given (required otherwise);
        ``listed`` is how many projects ``/projects`` lists (default: ``projects``, times
        ``n`` when sharded). Call it before iterating, for example to size ``budget``::

            plan = client.watch_reports().estimate(1_000)
            print(plan.strategy, plan.detection_bound, plan.hinted_bound)
        """
        if projects is None:
            if self._ids is None:
                raise ValueError("estimate() needs the number of projects to watch")
            projects = sum(1 for p in self._ids if in_shard(p, self._shard))
        if listed is None:
            listed = projects * (self._shard[1] if self._shard and self._ids is None else 1)
        return self._make_plan(projects, listed)

    @property
    def plan(self) -> WatchPlan | None:
        """The plan in force once the first pass is over (None before)."""
        return self._plan

    @property
    def ready(self) -> bool:
        """Whether the first pass is over: from then on every report that completes is
        delivered (see the module docstring for the bound)."""
        return self._tracker is not None and self._tracker.ready

    @property
    def stats(self) -> WatchStats:
        """A snapshot of the watcher's counters."""
        tracker, counts = self._tracker, self._counts
        return WatchStats(
            strategy=self._strategy,
            ready=self.ready,
            watched=len(tracker.watched) if tracker else 0,
            parked=len(tracker.parked(self._clock())) if tracker else 0,
            requests=counts["requests"],
            pages=counts["page"],
            baselines=counts["baseline"],
            confirmations=counts["confirm"],
            reconciliations=counts["reconcile"],
            failures=counts["failures"],
            checkpoint_failures=self._ledger.failures,
            events=counts["events"],
            listing_passes=tracker.listing_passes if tracker else 0,
            sweeps=tracker.cycles if tracker else 0,
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
        await self._guard(self._commit_delivered())

    async def start(self) -> None:
        """Run the first pass now, if it is not over: returns once :attr:`ready`.

        Iterating does this too; call it to know when the watch is complete, for
        example to tell a user. Events found meanwhile (``emit_baselines=True``) wait
        for the iteration.
        """
        if self._error is not None:
            raise self._error
        await self._guard(self._run_first_pass())

    async def _run_first_pass(self) -> None:
        await self._commit_delivered()
        if self._tracker is None:
            await self._start()
        while not self.ready and not self._closed:
            await self._step()

    async def handle(
        self,
        handler: Handler,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (a limit per call of the handler)
        attempts: int = 1,
        dead_letter: DeadLetter | None = None,
        max_events: int | None = None,
    ) -> int:
        """Call ``await handler(event)`` for every event, with a timeout and retries.

        Each call may take ``timeout`` seconds (None: no limit); a call that raises or
        times out is retried up to ``attempts`` calls in all, with backoff (1 s doubling
        to a minute). After the last failed attempt the event goes to ``dead_letter``
        (an async callable of the event and the error, e.g. :class:`DeadLetterFile`) and
        is committed, so one poison event never blocks the others; without a
        ``dead_letter`` the last error is raised and the event stays uncommitted (a
        restarted watcher delivers it again). Returns the number of events handled once
        ``max_events`` is reached or the stream ends::

            async with client.watch_reports(checkpoint=store) as watcher:
                await watcher.handle(publish, timeout=60, attempts=5,
                                     dead_letter=DeadLetterFile("failed.jsonl"))
        """
        return await handle_events(
            self,
            handler,
            timeout=timeout,
            attempts=attempts,
            dead_letter=dead_letter,
            max_events=max_events,
            sleep=self._sleep,
            random=self._random,
        )

    async def __anext__(self) -> ReportAdvanced:
        if self._error is not None:  # the stream ended on an error: say so again
            raise self._error
        if self._closed:
            raise StopAsyncIteration
        await self._guard(self._next_event())
        event, state = self._events.popleft()
        self._delivered = (event.project_id, state)
        self._counts["events"] += 1
        return event

    async def _next_event(self) -> None:
        # The previous event is committed before the next one exists for the consumer:
        # a crash repeats at most the event delivered last.
        await self._commit_delivered()
        if self._tracker is None:
            await self._start()
        while not self._events:
            await self._step()
            if self._closed:
                raise StopAsyncIteration
        # A restarted watcher looks at this project first: should this event be delivered
        # again, it comes before any other, so at any time at most one delivered event is
        # uncommitted.
        await self._ledger.mark(self._events[0][0].project_id)

    async def _guard(self, work: Awaitable[T]) -> T:
        """Run ``work``; an error that ends the stream (401, checkpoint gone) is kept."""
        try:
            return await work
        except (AuthenticationError, CheckpointError) as error:
            self._error = error
            self._closed = True
            logger.error("report watcher stops: %s", error)
            raise

    # ------------------------------------------------------------------ checkpoint

    async def _commit_delivered(self) -> None:
        if self._delivered is not None:
            pid, state = self._delivered
            await self._ledger.save({pid: state})
            self._delivered = None

    # ------------------------------------------------------------------ the work

    async def _start(self) -> None:
        records = await self._ledger.load()
        self._started_at = self._clock()
        tracker = Tracker(
            strategy=self._strategy,
            records=records,
            project_ids=self._ids,
            shard=self._shard,
            share=self._share,
            park_seconds=longest_window(self._windows())[1],
            random=self._random,
            resume=self._ledger.marked,
        )
        if tracker.lists:
            self._pager = self._client.projects.list(per_page=PAGE_SIZE)
        self._tracker = tracker
        logger.info(
            "report watcher: strategy %s, first pass at the rate limiter's pace "
            "(%d projects with a checkpoint record)",
            self._strategy,
            len(tracker.records),
        )
        if tracker.ready:
            self._became_ready()

    def _became_ready(self) -> None:
        tracker = self._tracker
        assert tracker is not None
        self._replan()
        plan = self._plan
        assert plan is not None
        logger.info(
            "report watcher: ready after %.0fs: %d projects watched (%d baselines); "
            "every completion within %.0fs, those the listing shows within %.0fs, "
            "%.0f requests/hour",
            self._clock() - self._started_at,
            len(tracker.watched),
            self._counts["baseline"],
            plan.detection_bound,
            plan.hinted_bound,
            plan.requests_per_hour,
        )

    def _replan(self) -> None:
        tracker = self._tracker
        assert tracker is not None
        watched = len(tracker.watched)
        self._plan = plan = self._make_plan(watched, max(tracker.listed, watched))
        tracker.share = plan.reconcile_share
        if self._pacer is None or abs(self._pacer.interval * plan.rate - 1.0) > 1e-9:
            pacer = Pacer(plan.rate, self._clock)
            if self._pacer is not None:
                pacer.follow(self._pacer)
            self._pacer = pacer

    async def _step(self) -> None:
        tracker = self._tracker
        assert tracker is not None
        if tracker.first_pass:
            job = tracker.next_job(self._clock())
            if job is None:
                wait = tracker.retry_due_in(self._clock())
                if wait is not None:
                    await self._sleep(wait)
            else:
                await self._execute(tracker, job)
            if tracker.ready:
                self._became_ready()
            return
        pacer = self._pacer
        assert pacer is not None
        delay = pacer.delay()
        if delay > 0:
            await self._sleep(delay)
        job = tracker.next_job(self._clock())
        pacer.consume()
        if job is None:
            return
        before = (tracker.listing_passes, tracker.cycles)
        await self._execute(tracker, job)
        if (tracker.listing_passes, tracker.cycles) != before:
            self._replan()

    async def _execute(self, tracker: Tracker, job: Job) -> None:
        self._counts["requests"] += 1
        self._counts[job.kind] += 1
        try:
            if job.kind == "page":
                assert self._pager is not None
                tracker.page_done(job.page, await self._pager.page(job.page))
            else:
                listing = await self._client.reports.list(job.project_id)
                await self._took_look(tracker, job.project_id, listing.items)
        except AuthenticationError:
            raise
        except (APIError, APIConnectionError, InvalidResponseError) as error:
            # What the client's retry policy would send again (5xx, 429, timeouts, a body
            # cut short) is retried with backoff; a project whose answer will not change
            # (403, 404, a body of the wrong shape) is set aside for a while. A listing
            # page is always retried: the watch cannot do without it.
            permanent = job.kind != "page" and not is_retryable(error)
            self._failed(tracker, job, permanent, error)
        except BaseException:
            tracker.requeue(job)  # cancelled: the same request goes first next time
            raise

    def _failed(self, tracker: Tracker, job: Job, permanent: bool, error: Exception) -> None:
        self._counts["failures"] += 1
        delay = tracker.failed(job, "permanent" if permanent else "transient", self._clock())
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
                "report watcher: %s answered %s; set aside for %.0fs",
                what,
                error,
                longest_window(self._windows())[1],
            )

    async def _took_look(self, tracker: Tracker, pid: int, reports: Sequence[Report]) -> None:
        """Turn a project's reports list into events (or a baseline) and its record."""
        record = tracker.records.get(pid)
        if record is None:
            state = first_look(reports)
            newest = newest_completed(reports)
            if self._emit_baselines and newest is not None:
                event = ReportAdvanced(
                    project_id=pid,
                    previous_number=None,
                    previous_report_id=None,
                    report=newest,
                    baseline=True,
                )
                self._events.append((event, state))  # committed once handled
            else:
                await self._ledger.save({pid: state})  # a baseline is committed at once
            tracker.looked(pid, state)
            return
        completions, state = next_look(record, reports)
        for completion in completions:
            event = ReportAdvanced(
                project_id=pid,
                previous_number=completion.before.report_number,
                previous_report_id=completion.before.report_id,
                report=completion.report,
            )
            self._events.append((event, completion.after))
        if not completions and state != record:
            await self._ledger.save({pid: state})  # only the record shrank
        tracker.looked(pid, state)
