"""What the report watcher knows about each project, and what it should ask next.

Pure bookkeeping, no I/O and no clock of its own (``now`` is passed in): the watcher feeds
it listing pages and ``/last-generated`` answers, and asks it for the next :class:`Job`
each time a pacing slot comes up. Priority of jobs: due retries, confirmations of listing
hints, baselines, then the strategy's own round (listing pages interleaved with
reconciliation, or one ``/last-generated`` per project).

Listing semantics relied on: ``latest_report_*`` in ``/projects`` describe the project's
newest report, any status; ``/last-generated`` is the newest *completed* one. So when the
listing's newest is completed and is the report we last saw, nothing can have changed
("proven"); every other project is "at risk" and is reconciled periodically.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Literal

import attrs

from trakk_async.watch._checkpoint import Seen
from trakk_async.watch._plan import Strategy, backoff, in_shard

logger = logging.getLogger("trakk_async")

JobKind = Literal["page", "poll", "confirm", "baseline", "resync"]
Failure = Literal["transient", "forbidden", "missing"]

COMPLETED: Final = "completed"
#: Project statuses that make a project leave the watch.
LEAVING_STATUSES: Final = frozenset({"ended"})
#: Reconciliation credit may build up to this many slots while nothing is at risk.
MAX_CREDIT: Final = 2.0


@attrs.frozen
class Hint:
    """What one ``/projects`` item says about a project and its newest report."""

    project_id: int
    project_status: str
    report_id: int | None
    report_number: int | None
    report_status: str | None
    generated_at: str | None


@attrs.frozen
class Job:
    """One request the watcher should send: a listing page or one project's
    ``/last-generated``. ``attempt`` counts earlier failures of the same job."""

    kind: JobKind
    project_id: int = 0
    page: int = 0
    attempt: int = 0


@attrs.frozen
class Change:
    """A project's last generated report as just learned, against what was known.

    ``baseline`` is True for the first sighting of a project (``previous`` is None then).
    """

    project_id: int
    previous: Seen | None
    current: Seen

    @property
    def baseline(self) -> bool:
        """Whether this is a first sighting rather than a change."""
        return self.previous is None


def proven(hint: Hint | None, seen: Seen | None) -> bool:
    """Whether the listing proves that ``seen`` is still the last generated report."""
    if hint is None or seen is None:
        return False
    if hint.report_id is None:
        return seen.report_id is None
    return hint.report_status == COMPLETED and hint.report_id == seen.report_id


def needs_confirmation(previous: Hint | None, hint: Hint, seen: Seen) -> bool:
    """Whether a listing change may mean a new last generated report: confirm it.

    A newest report that is completed and is not the one we saw is a likely change. A
    different newest report (or none becoming one) after one that was not proven may hide
    the completion of the earlier one. A new report starting after a proven one cannot
    change ``/last-generated``, nor can a status moving between non-completed values.
    """
    if hint.report_status == COMPLETED and hint.report_id != seen.report_id:
        return True
    if previous is None or previous == hint:
        return False
    return hint.report_id != previous.report_id and not proven(previous, seen)


class Tracker:
    """Per-project state and job selection for one watcher (see the module docstring)."""

    def __init__(
        self,
        *,
        strategy: Strategy,
        seen: Mapping[int, Seen],
        project_ids: Iterable[int] | None,
        shard: tuple[int, int] | None,
        emit_baselines: bool,
        resync_share: float,
        park_seconds: float,
        random: Callable[[], float],
    ) -> None:
        self.strategy: Strategy = strategy
        self._explicit = None if project_ids is None else frozenset(project_ids)
        self._shard = shard
        self._emit_baselines = emit_baselines
        self._resync_share = resync_share
        self._park_seconds = park_seconds
        self._random = random
        self.seen: dict[int, Seen] = {p: s for p, s in seen.items() if in_shard(p, shard)}
        self.hints: dict[int, Hint] = {}
        self.watched: dict[int, None] = {}
        self._parked: dict[int, float] = {}
        self._confirm: deque[int] = deque()
        self._baseline: deque[int] = deque()
        self._resync: deque[int] = deque()
        self._queued: set[tuple[JobKind, int]] = set()
        self._retries: list[tuple[float, int, Job]] = []
        self._seq = itertools.count()
        self._credit = 0.0
        # Listing pass: the next page to ask, whether one is out, ids seen in this pass.
        self.relist = self._explicit is None
        self._page = 1 if (strategy == "listing" or self.relist) else 0
        self._page_out = False
        self._pass_ids: set[int] = set()
        self.listing_passes = 0
        # "last-generated" round over a snapshot of the watched projects.
        self._cycle: list[int] = []
        self._cycle_pos = 0
        self.cycles = 0
        if self._explicit is not None:
            for pid in sorted(self._explicit):
                if in_shard(pid, shard):
                    self._join(pid)
            if strategy == "last-generated":
                self._start_cycle()

    # ------------------------------------------------------------------ membership

    def _join(self, pid: int) -> None:
        if pid in self.watched:
            return
        self.watched[pid] = None
        if self.strategy == "listing" and pid not in self.hints:
            self._push("resync", pid)

    def _leave(self, pid: int, why: str) -> None:
        if pid in self.watched:
            del self.watched[pid]
            self._parked.pop(pid, None)
            logger.info("report watcher: project %d leaves the watch (%s)", pid, why)

    @property
    def ready(self) -> bool:
        """Whether every watched project has a baseline (after a first listing pass)."""
        if (self.relist or self.strategy == "listing") and self.listing_passes == 0:
            return False
        return all(pid in self.seen or pid in self._parked for pid in self.watched)

    def parked(self, now: float) -> list[int]:
        """Projects set aside after a 403 or an unexpected 404, until their time is up."""
        return [pid for pid, until in self._parked.items() if until > now]

    # ------------------------------------------------------------------ job selection

    def _push(self, kind: JobKind, pid: int, *, front: bool = False) -> None:
        if (kind, pid) in self._queued:
            return
        self._queued.add((kind, pid))
        queue = {"confirm": self._confirm, "baseline": self._baseline, "resync": self._resync}[kind]
        if front:
            queue.appendleft(pid)
        else:
            queue.append(pid)

    def _available(self, pid: int, now: float) -> bool:
        if pid not in self.watched:
            return False
        until = self._parked.get(pid)
        if until is None:
            return True
        if until <= now:
            del self._parked[pid]
            logger.info("report watcher: project %d is watched again", pid)
            return True
        return False

    def _pop(self, queue: deque[int], kind: JobKind, now: float) -> int | None:
        for _ in range(len(queue)):
            pid = queue.popleft()
            if not self._available(pid, now):
                if pid in self.watched:
                    queue.append(pid)  # parked: keep its place for later
                    continue
                self._queued.discard((kind, pid))
                continue
            self._queued.discard((kind, pid))
            return pid
        return None

    def _next_resync(self, now: float) -> int | None:
        for _ in range(len(self._resync)):
            pid = self._pop(self._resync, "resync", now)
            if pid is None:
                return None
            if not proven(self.hints.get(pid), self.seen.get(pid)):
                self._push("resync", pid)  # stays in the round until proven
                return pid
        return None

    def _start_cycle(self) -> None:
        self._cycle = list(self.watched)
        self._cycle_pos = 0

    def next_job(self, now: float) -> Job | None:
        """The job for the slot that is due now, or None when there is nothing to do."""
        if self._retries and self._retries[0][0] <= now:
            return heapq.heappop(self._retries)[2]
        for queue, kind in ((self._confirm, "confirm"), (self._baseline, "baseline")):
            pid = self._pop(queue, kind, now)  # type: ignore[arg-type]
            if pid is not None:
                return Job(kind, pid)  # type: ignore[arg-type]
        if self.strategy == "listing":
            return self._next_listing_job(now)
        return self._next_cycle_job(now)

    def _next_listing_job(self, now: float) -> Job | None:
        self._credit = min(MAX_CREDIT, self._credit + self._resync_share)
        if self._credit >= 1.0 or self._page_out:
            pid = self._next_resync(now)
            if pid is not None:
                self._credit = max(0.0, self._credit - 1.0)
                return Job("resync", pid)
        if not self._page_out:
            self._page_out = True
            return Job("page", page=self._page)
        return None

    def _next_cycle_job(self, now: float) -> Job | None:
        if self._page and not self._page_out:
            self._page_out = True
            return Job("page", page=self._page)
        if self._page:
            return None  # a page is out or waiting for its retry
        while self._cycle_pos < len(self._cycle):
            pid = self._cycle[self._cycle_pos]
            self._cycle_pos += 1
            if self._available(pid, now):
                return Job("poll", pid)
        self.cycles += 1
        if self.relist:
            self._page = 1
            self._page_out = True
            return Job("page", page=1)
        self._start_cycle()
        if not self._cycle:
            return None
        return self._next_cycle_job(now)

    # ------------------------------------------------------------------ results

    def page_done(self, page: int, hints: Iterable[Hint], more: bool) -> dict[int, Seen]:
        """Take in one listing page; returns baselines learned from the listing alone."""
        self._page_out = False
        commits: dict[int, Seen] = {}
        for hint in hints:
            pid = hint.project_id
            if not in_shard(pid, self._shard):
                continue
            if self._explicit is not None and pid not in self._explicit:
                continue
            self._pass_ids.add(pid)
            if hint.project_status in LEAVING_STATUSES:
                if pid in self.watched:
                    self._leave(pid, f"status {hint.project_status}")
                continue
            self._join(pid)
            previous = self.hints.get(pid)
            self.hints[pid] = hint
            if self.strategy != "listing":
                continue
            seen = self.seen.get(pid)
            if seen is None:
                learned = self._baseline_from(hint)
                if learned is None:
                    self._push("baseline", pid)
                else:
                    self.seen[pid] = commits[pid] = learned
            elif needs_confirmation(previous, hint, seen):
                self._push("confirm", pid)
            elif not proven(hint, seen):
                self._push("resync", pid, front=previous is None)
        if more:
            self._page = page + 1
            return commits
        self._end_pass()
        return commits

    def _baseline_from(self, hint: Hint) -> Seen | None:
        if self._emit_baselines and hint.report_id is not None:
            return None  # the event needs the whole Report: fetch it
        if hint.report_id is None:
            return Seen.nothing()
        if hint.report_status == COMPLETED:
            return Seen(hint.report_id, hint.report_number)
        return None

    def _end_pass(self) -> None:
        self.listing_passes += 1
        listed, self._pass_ids = self._pass_ids, set()
        if self._explicit is None:
            for pid in [p for p in self.watched if p not in listed]:
                self._leave(pid, "no longer listed")
                self.hints.pop(pid, None)
        else:
            for pid in self.watched:
                if pid not in listed:
                    self.hints.pop(pid, None)
                    self._push("resync", pid)
        if self.strategy == "listing":
            self._page = 1
        else:
            self._page = 0
            self._start_cycle()

    def fetched(self, job: Job, seen_now: Seen, now: float) -> Change | None:
        """Take in a ``/last-generated`` answer (``Seen.nothing()`` for a 404).

        Returns the :class:`Change` to report, or None when nothing changed. A 404 for a
        project known to have had a completed report parks the project (reports do not
        vanish: the project was removed or moved) and changes nothing.
        """
        pid = job.project_id
        previous = self.seen.get(pid)
        if previous is not None and previous.report_id == seen_now.report_id:
            return None
        if previous is not None and seen_now.report_id is None:
            logger.warning(
                "report watcher: project %d had report %s but /last-generated now answers "
                "404; parked for %.0fs",
                pid,
                previous.report_id,
                self._park_seconds,
            )
            self._parked[pid] = now + self._park_seconds
            return None
        self.seen[pid] = seen_now
        return Change(pid, previous, seen_now)

    def requeue(self, job: Job) -> None:
        """Put back a job that was interrupted (cancelled) before its answer came."""
        if job.kind == "page":
            self._page_out = True
        heapq.heappush(self._retries, (float("-inf"), next(self._seq), job))

    def failed(self, job: Job, failure: Failure, now: float) -> float | None:
        """Take in a failed job: retry it later (transient) or park its project.

        Returns the delay before the retry, or None when the project was parked.
        """
        if failure == "transient" or job.kind == "page":
            delay = backoff(job.attempt, self._random)
            retry = attrs.evolve(job, attempt=job.attempt + 1)
            heapq.heappush(self._retries, (now + delay, next(self._seq), retry))
            return delay
        self._parked[job.project_id] = now + self._park_seconds
        return None

    def retry_due_in(self, now: float) -> float | None:
        """Seconds until the earliest retry is due, if any is waiting."""
        if not self._retries:
            return None
        return max(0.0, self._retries[0][0] - now)


def _opt_int(value: object) -> int | None:
    return value if type(value) is int else None


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_listing_page(body: object, page: int) -> tuple[list[Hint], bool, int | None]:
    """The hints of one decoded ``/projects`` page, whether more pages follow, and the
    total ``meta`` announces. Items without an integer id are skipped; a body that is
    not a page raises ValueError."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ValueError("a /projects page must be an object with a data list")
    hints = [
        Hint(
            project_id=item["id"],
            project_status=_opt_str(item.get("status")) or "",
            report_id=_opt_int(item.get("latest_report_id")),
            report_number=_opt_int(item.get("latest_report_number")),
            report_status=_opt_str(item.get("latest_report_status")),
            generated_at=_opt_str(item.get("latest_report_generated_at")),
        )
        for item in body["data"]
        if isinstance(item, dict) and type(item.get("id")) is int
    ]
    more = bool(body["data"])
    links, meta = body.get("links"), body.get("meta")
    if isinstance(links, dict) and "next" in links and links["next"] is None:
        more = False
    total: int | None = None
    if isinstance(meta, dict):
        last_page = _opt_int(meta.get("last_page"))
        if last_page is not None:
            more = more and page < last_page
        total = _opt_int(meta.get("total"))
    return hints, more, total
