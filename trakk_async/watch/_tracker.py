"""Which request the report watcher sends next, and which projects it watches.

Pure bookkeeping, no I/O and no clock of its own (``now`` is passed in). The watcher asks
:meth:`Tracker.next_job` for each request and reports the outcome back.

**First pass.** The ``/projects`` listing (when the watcher lists), then one look
(``/reports``) at every project without a checkpoint record: its baseline. The watcher
runs these at the limiter's pace, not the budget's; :attr:`Tracker.ready` turns True when
the pass is over.

**After it**, per slot, in this order: a retry that is due; a *reconciliation* when the
reconciliation credit (``share`` per slot) has reached one, for the watched project whose
last look is oldest; a *confirmation* of a listing hint (or the baseline of a project
that joined); the next ``/projects`` page; else a reconciliation anyway. The oldest look
first means every available project is looked at once per ``N / share`` slots: that is
the bound for every completion. Confirmations come out of the other slots, so a burst of
hints (at a month boundary every row moves) delays the listing, never that bound.

**Hints** ("listing" only): the row of ``/projects`` is the row of ``/reports/latest``
(calendar rules), so it proves nothing unchanged; a change of the row since the last pass,
or a completed row the watcher does not know, is a hint worth a confirmation now.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Final, Literal

import attrs

from trakk_async._models.objects import Page, ProjectSummary
from trakk_async._protocol.paging import has_next_page
from trakk_async._protocol.reports import COMPLETED
from trakk_async._protocol.schedule import WATCH_BACKOFF
from trakk_async.watch._plan import PAGE_SIZE, Strategy, in_shard
from trakk_async.watch._state import Seen

logger = logging.getLogger("trakk_async")

JobKind = Literal["page", "baseline", "confirm", "reconcile"]
Failure = Literal["transient", "permanent"]

#: Project statuses that make a project leave the watch.
LEAVING_STATUSES: Final = frozenset({"ended"})
#: Reconciliation credit may build up to this many slots while no project is available.
MAX_CREDIT: Final = 2.0


@attrs.frozen
class Job:
    """One request: page ``page`` of ``/projects``, or a look at one project's reports
    (``kind`` says why). ``attempt`` counts earlier failures of the same job."""

    kind: JobKind
    project_id: int = 0
    page: int = 0
    attempt: int = 0


@attrs.frozen
class Row:
    """A project's ``latest_report_*`` in ``/projects``: the ``/reports/latest`` row."""

    report_id: int | None
    report_number: int | None
    status: str | None
    generated_at: datetime | None

    @classmethod
    def of(cls, item: ProjectSummary) -> Row:
        """The row of one listing item."""
        status = item.latest_report_status
        return cls(
            item.latest_report_id,
            item.latest_report_number,
            None if status is None else str(status),
            item.latest_report_generated_at,
        )


def is_hint(previous: Row | None, row: Row, record: Seen) -> bool:
    """Whether a listing row is worth a confirmation: it changed since the last pass, or
    it shows a completed report the record does not know."""
    if previous is not None and previous != row:
        return True
    if row.status != COMPLETED or row.report_id is None:
        return False
    known = record.known if record.known is not None else frozenset({record.report_id})
    return row.report_id not in known


class Tracker:
    """Membership, looks and job selection of one watcher (see the module docstring)."""

    def __init__(
        self,
        *,
        strategy: Strategy,
        records: Mapping[int, Seen],
        project_ids: Iterable[int] | None,
        shard: tuple[int, int] | None,
        share: float,
        park_seconds: float,
        random: Callable[[], float],
        resume: int | None = None,
    ) -> None:
        self.strategy: Strategy = strategy
        self.share = share
        self._explicit = None if project_ids is None else frozenset(project_ids)
        self._shard = shard
        self._park_seconds = park_seconds
        self._random = random
        #: Per project: the state after everything found so far (committed or queued).
        self.records: dict[int, Seen] = {p: s for p, s in records.items() if in_shard(p, shard)}
        self.rows: dict[int, Row] = {}
        self.watched: dict[int, None] = {}
        self._left: set[int] = set()
        self._order: OrderedDict[int, None] = OrderedDict()  # oldest look first
        self._parked: dict[int, float] = {}
        self._baselines: deque[int] = deque()
        self._confirm: deque[Job] = deque()
        self._confirming: set[int] = set()
        self._retries: list[tuple[float, int, Job]] = []
        self._retrying: set[int] = set()
        self._seq = itertools.count()
        self._credit = 0.0
        self.lists = self._explicit is None or strategy == "listing"
        self._page = 1
        self._page_waiting = False  # a failed page waits for its retry
        self._pass_ids: set[int] = set()
        #: Projects the last complete listing pass showed (every shard's).
        self.listed = 0
        self.listing_passes = 0
        self.first_pass = True
        self._cycle_left: set[int] = set()
        self.cycles = 0
        # The project of the event in flight when the last watcher stopped: looked at
        # before anything else, so its event (if still uncommitted) comes first.
        self._resume: Job | None = None
        if resume is not None:
            self._resume = Job("reconcile" if resume in self.records else "baseline", resume)
        if self._explicit is not None:
            for pid in sorted(self._explicit):
                if in_shard(pid, shard):
                    self._join(pid)
        self._finish_first_pass()

    # ------------------------------------------------------------------ membership

    def _join(self, pid: int) -> None:
        if pid in self.watched:
            return
        self._left.discard(pid)
        self.watched[pid] = None
        self._cycle_left.add(pid)
        # At the end of the order; a look moves a project there too, so after the first
        # pass the projects with a record, not looked at yet, come first.
        self._order[pid] = None
        if pid in self.records:
            pass
        elif self.first_pass:
            self._baselines.append(pid)
        else:
            self._push_confirm(Job("baseline", pid))

    def _leave(self, pid: int, why: str) -> None:
        if pid not in self.watched:
            return
        del self.watched[pid]
        del self._order[pid]
        self._left.add(pid)
        self.rows.pop(pid, None)
        self._parked.pop(pid, None)
        self._confirming.discard(pid)
        self._cycle_left.discard(pid)
        logger.info("report watcher: project %d leaves the watch (%s)", pid, why)

    @property
    def ready(self) -> bool:
        """Whether the first pass is over: every watched project has a baseline, but
        those set aside after a 403 or 404 (they get it when they are back)."""
        return not self.first_pass

    def parked(self, now: float) -> list[int]:
        """Projects set aside after a 403 or a 404, until their time is up."""
        return [pid for pid, until in self._parked.items() if until > now]

    def _available(self, pid: int, now: float) -> bool:
        if pid not in self.watched or pid in self._retrying:
            return False
        until = self._parked.get(pid)
        if until is None:
            return True
        if until <= now:
            del self._parked[pid]
            logger.info("report watcher: project %d is watched again", pid)
            return True
        return False

    # ------------------------------------------------------------------ job selection

    def next_job(self, now: float) -> Job | None:
        """The job for the slot that is due now, or None when there is nothing to do."""
        if self._resume is not None:
            resume, self._resume = self._resume, None
            return resume
        while self._retries and self._retries[0][0] <= now:
            retry = heapq.heappop(self._retries)[2]
            self._retrying.discard(retry.project_id)
            if retry.kind == "page" or retry.project_id not in self._left:
                return retry
        self._finish_first_pass()  # a dropped retry may have been the last thing left
        if self.first_pass:
            return self._next_first_pass_job(now)
        self._credit = min(MAX_CREDIT, self._credit + self.share)
        if self._credit >= 1.0:
            pid = self._oldest(now)
            if pid is not None:
                self._credit -= 1.0
                return self._look(pid)
        confirmation = self._next_confirmation(now)
        if confirmation is not None:
            return confirmation
        if self.lists and not self._page_waiting:
            return Job("page", page=self._page)
        pid = self._oldest(now)
        return None if pid is None else self._look(pid)

    def _look(self, pid: int) -> Job:
        # A project without a record (it joined, or was set aside during the first pass)
        # gets its baseline from whichever look reaches it first.
        return Job("reconcile" if pid in self.records else "baseline", pid)

    def _next_confirmation(self, now: float) -> Job | None:
        for _ in range(len(self._confirm)):
            job = self._confirm.popleft()
            if job.project_id not in self._confirming:
                continue  # looked at meanwhile, or gone
            if self._available(job.project_id, now):
                self._confirming.discard(job.project_id)
                return job
            self._confirm.append(job)  # parked or retrying: keep its turn for later
        return None

    def _next_first_pass_job(self, now: float) -> Job | None:
        if self.lists and self.listing_passes == 0:
            return None if self._page_waiting else Job("page", page=self._page)
        while self._baselines:
            pid = self._baselines.popleft()
            if self._available(pid, now):
                return Job("baseline", pid)
        self._finish_first_pass()
        return None

    def _oldest(self, now: float) -> int | None:
        for pid in self._order:
            if self._available(pid, now):
                return pid
        return None

    def _push_confirm(self, job: Job) -> None:
        if job.project_id not in self._confirming:
            self._confirming.add(job.project_id)
            self._confirm.append(job)

    def retry_due_in(self, now: float) -> float | None:
        """Seconds until the earliest retry is due, if one is waiting."""
        return max(0.0, self._retries[0][0] - now) if self._retries else None

    def _finish_first_pass(self) -> None:
        if (
            self.first_pass
            and self._resume is None
            and not (self.lists and self.listing_passes == 0)
            and not self._baselines
            and not self._retries
        ):
            self.first_pass = False

    # ------------------------------------------------------------------ results

    def page_done(self, number: int, page: Page) -> None:
        """Take in page ``number`` of ``/projects``: membership, rows and hints."""
        self._page_waiting = False
        fresh = 0
        for item in page.items:
            pid = item.id
            if pid not in self._pass_ids:
                fresh += 1
                self._pass_ids.add(pid)
            if not in_shard(pid, self._shard):
                continue
            if self._explicit is not None and pid not in self._explicit:
                continue
            if str(item.status) in LEAVING_STATUSES:
                self._leave(pid, f"status {item.status}")
                continue
            self._join(pid)
            row, previous = Row.of(item), self.rows.get(pid)
            self.rows[pid] = row
            record = self.records.get(pid)
            if (
                self.strategy == "listing"
                and not self.first_pass
                and record is not None
                and is_hint(previous, row, record)
            ):
                self._push_confirm(Job("confirm", pid))
        if has_next_page(page, number, PAGE_SIZE, fresh=fresh):
            self._page = number + 1
        else:
            self._end_pass()

    def _end_pass(self) -> None:
        listed, self._pass_ids = self._pass_ids, set()
        self.listed = len(listed)
        self._page = 1
        self.listing_passes += 1
        for pid in [p for p in self.watched if p not in listed]:
            if self._explicit is None:
                self._leave(pid, "no longer listed")
            else:
                self.rows.pop(pid, None)
        self._finish_first_pass()

    def looked(self, pid: int, state: Seen) -> None:
        """Take in a look at a project's reports: ``state`` is its record after it."""
        self.records[pid] = state
        if pid not in self.watched:
            return
        self._order.move_to_end(pid)
        self._confirming.discard(pid)
        self._cycle_left.discard(pid)
        if len(self._cycle_left) <= len(self._parked) and all(
            p in self._parked for p in self._cycle_left
        ):
            self.cycles += 1
            self._cycle_left = set(self.watched)
        self._finish_first_pass()

    def requeue(self, job: Job) -> None:
        """Put back a job that was interrupted (cancelled) before its answer came."""
        self._schedule(job, float("-inf"))

    def _schedule(self, job: Job, when: float) -> None:
        if job.kind == "page":
            self._page_waiting = True
        else:
            self._retrying.add(job.project_id)
        heapq.heappush(self._retries, (when, next(self._seq), job))

    def failed(self, job: Job, failure: Failure, now: float) -> float | None:
        """Take in a failed job: retry it later (transient) or park its project.

        Returns the delay before the retry, or None when the project was parked.
        """
        if failure == "transient" or job.kind == "page":
            delay = WATCH_BACKOFF.delay(job.attempt, self._random)
            self._schedule(attrs.evolve(job, attempt=job.attempt + 1), now + delay)
            return delay
        self._parked[job.project_id] = now + self._park_seconds
        self._finish_first_pass()
        return None
