"""One process's hold on a destination directory, under its lock: the sync state, the
index, the journal, and the :class:`Mirror` that writes projects. A sync run and
``--follow`` work through it, so both record what they do the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trakk_async._client.client import TrakkClient
from trakk_async._protocol.reports import is_completed
from trakk_async.export import _files as files
from trakk_async.export._index import FileChange, Index, Journal
from trakk_async.export._project import Mirror, Need, Refreshed
from trakk_async.export._runtime import in_thread
from trakk_async.export._state import ProjectState, SyncState

__all__ = ["ChangeCallback", "Session"]

ChangeCallback = Callable[[FileChange], None]


class Session:
    """One process's hold on a destination (under its lock): state, index, journal and
    the :class:`Mirror` that writes projects. Used by a sync run and by ``--follow``."""

    def __init__(
        self,
        client: TrakkClient,
        dest: Path,
        *,
        concurrency: int,
        on_change: ChangeCallback | None,
        state: SyncState,
        index: Index,
        journal: Journal,
    ) -> None:
        self.client = client
        self.dest = dest
        self.concurrency = concurrency
        self.on_change = on_change
        self.state = state
        self.index = index
        self.journal = journal
        #: Called after every request (a sync run sets it, for its progress).
        self.on_request: Callable[[], None] = lambda: None
        self.mirror = Mirror(
            client, dest, concurrency=concurrency, journal=journal, on_request=self._requested
        )
        #: Projects whose index lines may be out of date (a killed run's, or written).
        self.touched: set[int] = set()
        #: Files added, modified or removed so far.
        self.changes = 0

    @classmethod
    async def open(
        cls,
        client: TrakkClient,
        dest: Path,
        *,
        concurrency: int,
        on_change: ChangeCallback | None,
    ) -> Session:
        """Read the destination (under its lock): temp files of killed runs are removed,
        the index and the state loaded, the journal's projects marked to re-index."""
        await in_thread(files.clean_temp_files, dest)
        journal = Journal(dest)
        index = await in_thread(Index.load, dest)
        state = await in_thread(SyncState.load, dest)
        session = cls(
            client,
            dest,
            concurrency=concurrency,
            on_change=on_change,
            state=state,
            index=index,
            journal=journal,
        )
        session.touched = await in_thread(journal.read)
        return session

    # -- the files ---------------------------------------------------------------------

    async def reindex(self, pid: int) -> None:
        """Recompute a project's index lines and report its changed files."""
        self.touched.discard(pid)
        for change in await in_thread(self.index.refresh, pid):
            self.changes += 1
            if self.on_change is not None:
                self.on_change(change)

    async def commit(self) -> None:
        """Write the index (and the state file), then empty the journal."""
        for pid in sorted(self.touched):
            await self.reindex(pid)
        await in_thread(self.index.write)
        await in_thread(self.state.save, self.dest)
        await in_thread(self.journal.clear)

    async def refresh(self, pid: int, need: Need) -> Refreshed:
        """Bring one project up to date, record its look, re-index it if it changed."""
        refreshed = await self.mirror.refresh(pid, need)
        if refreshed.changed or pid in self.touched:
            await self.reindex(pid)
        previous = self.state.projects.get(pid)
        self.state.projects[pid] = ProjectState(
            previous.row if previous is not None else None,
            self.state.run,
            frozenset(r.id for r in refreshed.reports if not is_completed(r)),
        )
        return refreshed

    async def remove(self, pid: int) -> None:
        """Delete a project from the destination."""
        await in_thread(self.journal.note, pid)
        await in_thread(files.remove_project, self.dest / str(pid))
        self.state.projects.pop(pid, None)
        await self.reindex(pid)

    def _requested(self) -> None:
        self.on_request()
