"""The sync run: bring an export directory up to date from the listing (see the package
docstring, *Sync*)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import Final

import attrs

from trakk_async._client.client import TrakkClient
from trakk_async._core.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    TrakkError,
)
from trakk_async._models.converter import structure_single
from trakk_async._models.deviations import Deviations
from trakk_async._models.objects import ProjectSummary
from trakk_async.export import _files as files
from trakk_async.export._export import (
    ProgressCallback,
    check_concurrency,
    check_project_ids,
    list_projects,
    progress_of,
)
from trakk_async.export._lock import locked
from trakk_async.export._plan import (
    DEFAULT_RECONCILE_SHARE,
    Planned,
    check_share,
    cycle_runs,
    plan_run,
    reconcile_slots,
)
from trakk_async.export._project import EVERYTHING, RECONCILE, Need
from trakk_async.export._runtime import AttemptCounter, counting, error_line, in_thread, run_all
from trakk_async.export._session import ChangeCallback, Session
from trakk_async.export._state import ProjectState, Row, row_of

__all__ = ["SyncRun", "SyncSummary", "sync_projects"]

#: The state file is written every this many projects brought up to date (and at the
#: end), so a killed run redoes little.
_FLUSH_EVERY: Final = 500
#: Requests a project of each kind costs at least (for the progress estimate).
_BASE_COST: Final = {"new": 3, "full": 3, "hinted": 2, "reconciled": 1}


@attrs.frozen(kw_only=True)
class SyncSummary:
    """What a sync did.

    ``listed`` projects in ``/projects``; ``checked`` of them had their reports list
    compared: ``new`` ones (fetched whole), ``hinted`` ones (their listing row changed),
    ``reconciled`` ones (the rotation, or every one with ``full=True``); ``changed``
    projects had a file written or removed; ``removed`` projects left the directory
    (no longer listed, and ``/projects/{id}`` answers 404 or 403). ``failed``: project id
    -> error line, retried by the next run. ``files``: files added, modified or removed
    (what ``on_change`` saw, the lines of ``trakk sync --json``); ``bytes`` written.
    ``requests`` sent (each retry counts), ``rate_limited`` 429 answers, ``retries``,
    ``duration`` in seconds. ``run`` counts the syncs of this directory;
    ``cycle_runs`` is the number of runs within which, at this share, every listed
    project is looked at.
    """

    dest: Path
    run: int
    listed: int
    checked: int
    new: int
    hinted: int
    reconciled: int
    changed: int
    removed: int
    failed: Mapping[int, str]
    files: int
    bytes: int
    requests: int
    rate_limited: int
    retries: int
    duration: float
    cycle_runs: int


async def sync_projects(
    client: TrakkClient,
    dest: str | PathLike[str],
    *,
    project_ids: Iterable[int] | None = None,
    reconcile_share: float = DEFAULT_RECONCILE_SHARE,
    full: bool = False,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
    on_change: ChangeCallback | None = None,
) -> SyncSummary:
    """Bring the export directory ``dest`` up to date with the fewest requests.

    Same layout and ``index.jsonl`` as :func:`export_projects`; an empty ``dest`` gets a
    whole export. The ``/projects`` listing (100 projects a request) says which projects
    are new, gone, or hinted; ``reconcile_share`` of the listed projects (default 1%)
    have their reports list compared as well, in rotation, because the listing cannot
    show every completion; ``full=True`` fetches every project's detail, keywords and
    reports instead. ``project_ids`` limits the sync to those projects (the listing is
    still read whole; other projects in ``dest`` are left alone). See the package
    docstring for what is requested and the bounds.
    ``on_change`` is called for each file added, modified or removed, ``progress`` after
    every request. A project whose requests fail is recorded in ``summary.failed`` and
    tried again by the next run; other errors stop the sync (only whole files are left,
    and the next run repairs). Raises :class:`DestinationBusyError` at once when another
    export or sync is writing ``dest``::

        summary = await sync_projects(client, "backup")
        print(summary.changed, "projects changed,", summary.requests, "requests")
    """
    share = check_share(reconcile_share)
    check_concurrency(concurrency)
    ids = check_project_ids(project_ids)
    path = Path(dest)
    with locked(path):
        session = await Session.open(client, path, concurrency=concurrency, on_change=on_change)
        return await SyncRun(session, progress).run(share=share, full=full, project_ids=ids)


def _row_from_file(project_dir: Path, deviations: Deviations) -> Row | None:
    """The listing row a project's ``project.json`` repeats, read as the client reads the
    listing (None if it cannot be read): the baseline of a project the state file does
    not know."""
    data = files.read_json(project_dir / files.PROJECT_FILE)
    if not isinstance(data, dict):
        return None
    try:
        summary = structure_single(
            {"data": data}, deviations, f"{project_dir.name}/project.json", cls=ProjectSummary
        )
    except ValueError:  # ResponseShapeError: a broken identity field
        return None
    return row_of(summary)


class SyncRun:
    """One sync run through a :class:`Session` (see :func:`sync_projects`)."""

    def __init__(self, session: Session, progress: ProgressCallback | None) -> None:
        self.session = session
        self.progress = progress
        self.counter: AttemptCounter | None = None
        self._total: int | None = None
        self._done = 0
        self._left_cost = 0

    def _report(self) -> None:
        if self.progress is None or self.counter is None:
            return
        session = self.session
        self.progress(
            progress_of(
                session.mirror,
                self.counter.sent,
                total=self._total,
                done=self._done,
                unstarted=self._left_cost,
                files=session.changes,
            )
        )

    async def run(
        self, *, share: float, full: bool, project_ids: frozenset[int] | None = None
    ) -> SyncSummary:
        """Run once; the summary says what was done."""
        started = time.perf_counter()
        session = self.session
        session.state.run += 1
        session.on_request = self._report
        try:
            return await self._run(started, share, full, project_ids)
        finally:
            session.on_request = lambda: None

    async def _run(
        self, started: float, share: float, full: bool, project_ids: frozenset[int] | None
    ) -> SyncSummary:
        session = self.session

        def chosen(pid: int) -> bool:
            return project_ids is None or pid in project_ids

        with counting(session.client) as counter:
            self.counter = counter
            listed = {pid: row for pid, row in (await self._list()).items() if chosen(pid)}
            present = await in_thread(files.project_dirs, session.dest)
            complete = {pid: done for pid, done in present.items() if chosen(pid)}
            unknown = [p for p in listed if complete.get(p) and self._row(p) is None]
            baselines = await in_thread(self._baselines, unknown)
            planned = plan_run(
                listed=listed,
                complete=complete,
                state=session.state.projects,
                baseline=baselines.get,
                share=share,
                full=full,
            )
            # Not listed: gone, out of sight, or asked for by id (such a project is kept
            # and completed while /projects/{id} answers).
            gone = sorted(
                {p for p in complete if p not in listed}
                | {p for p in project_ids or () if p not in listed}
            )
            self._total = len(planned) + len(gone)
            self._left_cost = sum(_BASE_COST[p.reason] for p in planned) + len(gone)
            self._report()
            outcome = _Outcome()
            queue: Iterator[Planned | int] = iter([*planned, *gone])
            workers = min(session.concurrency, len(planned) + len(gone))
            await run_all([self._worker(queue, outcome) for _ in range(workers)])
            self._remember_rows(listed, outcome.failed)
            await session.commit()
        sent = counter.sent
        slots = reconcile_slots(share, len(listed))
        return SyncSummary(
            dest=session.dest,
            run=session.state.run,
            listed=len(listed),
            checked=sum(outcome.kinds.values()),
            new=outcome.kinds.get("new", 0),
            hinted=outcome.kinds.get("hinted", 0),
            reconciled=outcome.kinds.get("reconciled", 0) + outcome.kinds.get("full", 0),
            changed=outcome.changed,
            removed=outcome.removed,
            failed=dict(sorted(outcome.failed.items())),
            files=session.changes,
            bytes=session.mirror.bytes,
            requests=sent,
            rate_limited=counter.rate_limited,
            retries=max(0, sent - session.mirror.logical),
            duration=time.perf_counter() - started,
            cycle_runs=min(1, len(listed)) if full else cycle_runs(len(listed), slots),
        )

    def _remember_rows(self, listed: Mapping[int, Row], failed: Mapping[int, str]) -> None:
        """Record the listing rows of the projects now up to date: all listed projects
        but the failed ones (their old row makes the next run look at them again)."""
        projects = self.session.state.projects
        for pid, row in listed.items():
            if pid in failed:
                continue
            record = projects.get(pid)
            projects[pid] = (
                ProjectState(row, 0) if record is None else attrs.evolve(record, row=row)
            )

    def _row(self, pid: int) -> Row | None:
        record = self.session.state.projects.get(pid)
        return None if record is None else record.row

    def _baselines(self, pids: Iterable[int]) -> dict[int, Row]:
        deviations = Deviations()
        dest = self.session.dest
        found = {pid: _row_from_file(dest / str(pid), deviations) for pid in pids}
        return {pid: row for pid, row in found.items() if row is not None}

    async def _list(self) -> dict[int, Row]:
        """Every project of ``/projects`` and its row."""
        listing = await list_projects(self.session.client, self._page_listed)
        return {pid: row_of(item) for pid, item in listing.items()}

    def _page_listed(self) -> None:
        self.session.mirror.logical += 1
        self._report()

    async def _worker(self, queue: Iterable[Planned | int], outcome: _Outcome) -> None:
        for job in queue:
            pid = job if isinstance(job, int) else job.project_id
            cost = 1 if isinstance(job, int) else _BASE_COST[job.reason]
            try:
                if isinstance(job, int):
                    await self._gone(pid, outcome)
                else:
                    refreshed = await self.session.refresh(pid, _need(job))
                    outcome.kinds[job.reason] = outcome.kinds.get(job.reason, 0) + 1
                    outcome.changed += refreshed.changed
            except AuthenticationError:
                raise  # every other project would fail the same way
            except TrakkError as error:
                outcome.failed[pid] = error_line(error)
            self._done += 1
            self._left_cost = max(0, self._left_cost - cost)
            if self._done % _FLUSH_EVERY == 0:
                await in_thread(self.session.state.save, self.session.dest)
            self._report()

    async def _gone(self, pid: int, outcome: _Outcome) -> None:
        """A project in the destination that the listing no longer shows: removed once
        ``/projects/{id}`` confirms it is gone (a listing that shifted while it was read
        must not cost a mirror)."""
        session = self.session
        try:
            await session.mirror.fetch_object(f"/projects/{pid}")
        except (NotFoundError, PermissionDeniedError):
            if not (session.dest / str(pid)).is_dir():
                raise  # asked for by id, never there: a failure, as in an export
            await session.remove(pid)
            outcome.removed += 1
            outcome.changed += 1
            return
        if not (session.dest / str(pid) / files.REPORTS_FILE).is_file():
            # Still there, not listed, and left incomplete by a killed run: finish it.
            outcome.changed += (await session.refresh(pid, EVERYTHING)).changed


@attrs.define
class _Outcome:
    kinds: dict[str, int] = attrs.Factory(dict)
    changed: int = 0
    removed: int = 0
    failed: dict[int, str] = attrs.Factory(dict)


def _need(job: Planned) -> Need:
    if job.reason in ("new", "full"):
        return EVERYTHING
    if job.reason == "hinted":
        return Need(detail=True, keywords=job.keywords)
    return RECONCILE
