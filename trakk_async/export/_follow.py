"""``sync --follow``: after one sync run, keep the directory fresh through the report watcher.

The directory itself is the watcher's checkpoint (:class:`DestinationCheckpoint`): what
the watcher has seen of a project is what the project's ``reports.json`` shows completed.
An event is handled by bringing its project up to date (``reports.json`` is written
last), and only then does the watcher commit it; committing a record the files do not
show yet brings the project up to date first. So every completed report lands in the
directory, and a restart (even after ``kill -9``) repeats at most the project in flight:
the guarantee of the watcher's checkpoints, by construction rather than by a second
record that could disagree with the files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import Final

from trakk_async._client.client import TrakkClient
from trakk_async._core.errors import NotFoundError, PermissionDeniedError
from trakk_async._core.timing import Sleep
from trakk_async.export import _files as files
from trakk_async.export._export import ProgressCallback, check_concurrency, check_project_ids
from trakk_async.export._lock import locked
from trakk_async.export._plan import DEFAULT_RECONCILE_SHARE, check_share
from trakk_async.export._project import EVERYTHING, RESUME, Mirrored
from trakk_async.export._runtime import in_thread
from trakk_async.export._session import ChangeCallback, Session
from trakk_async.export._sync import SyncRun, SyncSummary
from trakk_async.watch import ReportAdvanced, Seen, WatchPlan
from trakk_async.watch._state import first_look

__all__ = ["DestinationCheckpoint", "follow_projects"]

logger = logging.getLogger("trakk_async")

#: Seconds between two writes of the index and the state file while following.
DEFAULT_COMMIT_INTERVAL: Final = 60.0
#: Calls of the event handler (bringing one project up to date) before the follow stops.
_HANDLER_ATTEMPTS: Final = 5


def mirrored_record(project_dir: Path) -> Seen | None:
    """A project's watcher record as its files show it (None when incomplete)."""
    mirrored = Mirrored.read(project_dir)
    refs = mirrored.refs() if mirrored.complete else None
    return None if refs is None else first_look(refs)


class DestinationCheckpoint:
    """A report watcher's checkpoint that is an export directory.

    :meth:`load` reads every complete project's ``reports.json``: its completed reports
    are the ones seen. :meth:`save` makes the directory show at least what a record says:
    when it already does (the event's handler wrote the project), nothing happens; else
    the project is brought up to date, which is the commit.
    """

    def __init__(self, session: Session, lock: asyncio.Lock) -> None:
        self._session = session
        self._lock = lock

    def __repr__(self) -> str:
        return f"<DestinationCheckpoint dest={str(self._session.dest)!r}>"

    async def load(self) -> Mapping[int, Seen]:
        """Every complete project's record, from its files."""
        return await in_thread(self._load)

    def _load(self) -> dict[int, Seen]:
        dest = self._session.dest
        records: dict[int, Seen] = {}
        for pid, complete in files.project_dirs(dest).items():
            record = mirrored_record(dest / str(pid)) if complete else None
            if record is not None:
                records[pid] = record
        return records

    async def save(self, records: Mapping[int, Seen]) -> None:
        """Bring the projects whose files do not show their record up to date.

        Keys below 1 are not projects but the watcher's mark (see :class:`Checkpoint`):
        the directory keeps no mark, so they are dropped (a restart then looks at the
        project in flight in its turn, and its files still decide what is delivered).
        """
        for pid, record in records.items():
            if pid < 1:
                continue
            mirrored = await in_thread(mirrored_record, self._session.dest / str(pid))
            if mirrored is not None and mirrored.known == record.known:
                continue
            async with self._lock:
                await _refresh_or_remove(self._session, pid, mirrored is not None)

    async def aclose(self) -> None:
        """Nothing to release: the session belongs to :func:`follow_projects`."""


async def _refresh_or_remove(session: Session, pid: int, complete: bool) -> None:
    try:
        await session.refresh(pid, RESUME if complete else EVERYTHING)
    except (NotFoundError, PermissionDeniedError):
        logger.info("sync: project %d is gone; removed from %s", pid, session.dest)
        await session.remove(pid)


async def follow_projects(
    client: TrakkClient,
    dest: str | PathLike[str],
    *,
    project_ids: Iterable[int] | None = None,
    budget: float = 0.5,
    reconcile_share: float = DEFAULT_RECONCILE_SHARE,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
    on_change: ChangeCallback | None = None,
    on_sync: Callable[[SyncSummary], None] | None = None,
    on_ready: Callable[[WatchPlan], None] | None = None,
    commit_interval: float = DEFAULT_COMMIT_INTERVAL,
) -> None:
    """Sync ``dest`` once, then keep it fresh until cancelled (or an error ends it).

    The first part is :func:`sync_projects` (``on_sync`` gets its summary). Then a
    report watcher (:meth:`TrakkClient.watch_reports`, at ``budget`` of the rate limit,
    on ``project_ids`` or every project) brings each project whose report completes up to date
    within the watcher's bound (``on_ready`` gets its :class:`WatchPlan` once it runs),
    and ``on_change`` hears of every file added, modified or removed. ``index.jsonl``
    and the state file are written every ``commit_interval`` seconds when something
    changed, and when the follow ends. Every completed report lands in ``dest``; a
    restart repeats at most the project in flight. Other changes (a new project without
    completed reports, a removed one, approvals, project details) wait for the next
    plain sync. Raises :class:`DestinationBusyError` when another run holds ``dest``.
    """
    share = check_share(reconcile_share)
    check_concurrency(concurrency)
    ids = check_project_ids(project_ids)
    if isinstance(commit_interval, bool) or not commit_interval >= 0:
        raise ValueError(f"commit_interval must be seconds >= 0, got {commit_interval!r}")
    path = Path(dest)
    with locked(path):
        session = await Session.open(client, path, concurrency=concurrency, on_change=on_change)
        summary = await SyncRun(session, progress).run(share=share, full=False, project_ids=ids)
        if on_sync is not None:
            on_sync(summary)
        lock = asyncio.Lock()
        checkpoint = DestinationCheckpoint(session, lock)
        watcher = client.watch_reports(ids, checkpoint=checkpoint, budget=budget)
        follow = _Follow(session, lock, commit_interval)

        async def handle(event: ReportAdvanced) -> None:
            async with lock:
                await _refresh_or_remove(session, event.project_id, True)
                if not commit_interval:
                    await session.commit()
            follow.dirty = True

        async with watcher:
            await watcher.start()
            if on_ready is not None and watcher.plan is not None:
                on_ready(watcher.plan)
            committer = asyncio.ensure_future(
                follow.commit_periodically() if commit_interval else asyncio.Event().wait()
            )
            try:
                await watcher.handle(handle, attempts=_HANDLER_ATTEMPTS)
            finally:
                committer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await committer
                async with lock:
                    await session.commit()


class _Follow:
    """The periodic commit of a follow (index, state file, journal)."""

    def __init__(
        self, session: Session, lock: asyncio.Lock, interval: float, *, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.session = session
        self.lock = lock
        self.interval = interval
        self.dirty = False
        self._sleep = sleep

    async def commit_periodically(self) -> None:
        while True:
            await self._sleep(self.interval)
            if self.dirty or self.session.touched:
                async with self.lock:
                    self.dirty = False
                    await self.session.commit()
