"""The export run: every project, or the ones asked for, into a directory (see the package
docstring); one project at a time goes through :meth:`Mirror.refresh`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import Final

import attrs

from trakk_async._client.client import TrakkClient
from trakk_async._core.errors import AuthenticationError, TrakkError
from trakk_async._models.objects import ProjectSummary
from trakk_async._protocol.core import MAX_PER_PAGE
from trakk_async.export import _files as files
from trakk_async.export._index import INDEX_FILE, Journal, build_index
from trakk_async.export._lock import locked
from trakk_async.export._project import FRESH, RESUME, Mirror
from trakk_async.export._runtime import AttemptCounter, counting, error_line, in_thread, run_all

__all__ = ["ExportProgress", "ExportSummary", "export_projects"]

#: Requests a project costs before its content (reports, detail, keywords).
_BASE_REQUESTS = 3
#: Projects per page of ``/projects``: the API's maximum.
PAGE_SIZE: Final = MAX_PER_PAGE


@attrs.frozen(kw_only=True)
class ExportSummary:
    """What an export did.

    ``projects`` exported (``skipped`` of them found unchanged on resume), ``failed``
    project id -> error line (``"NotFoundError: ..."``), ``files`` and ``bytes`` written
    this run (unchanged files are not rewritten), ``requests`` sent (each retry counts),
    ``rate_limited`` 429 answers, ``retries`` requests sent again after an error,
    ``duration`` in seconds.
    """

    dest: Path
    projects: int
    skipped: int
    failed: Mapping[int, str]
    files: int
    bytes: int
    requests: int
    rate_limited: int
    retries: int
    duration: float


@attrs.frozen(kw_only=True)
class ExportProgress:
    """Where a running export (or sync) stands, passed to the ``progress`` callback.

    ``projects_total`` is None until the projects to fetch are known; ``requests_expected``
    is the requests done plus those known to be needed plus an estimate for the projects
    not started yet (the average of those finished so far), so it only settles at the end.
    """

    projects_total: int | None
    projects_done: int
    requests: int
    requests_expected: int
    files: int
    bytes: int

    @property
    def requests_left(self) -> int:
        """``requests_expected - requests``, never negative."""
        return max(0, self.requests_expected - self.requests)


ProgressCallback = Callable[[ExportProgress], None]


def progress_of(
    mirror: Mirror, sent: int, *, total: int | None, done: int, unstarted: int, files: int
) -> ExportProgress:
    """Where a run stands: ``unstarted`` is the estimated cost of what has not started."""
    expected = mirror.logical + mirror.pending + unstarted
    return ExportProgress(
        projects_total=total,
        projects_done=done,
        requests=sent,
        requests_expected=max(expected, sent),
        files=files,
        bytes=mirror.bytes,
    )


async def export_projects(
    client: TrakkClient,
    dest: str | PathLike[str],
    *,
    project_ids: Iterable[int] | None = None,
    resume: bool = False,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
) -> ExportSummary:
    """Export projects (every project of the token by default) into ``dest``.

    See the module docstring for the layout and what is requested. ``concurrency`` bounds
    the requests in flight (they all still queue in the client's rate limiter);
    ``progress`` is called after every request and every finished project. A project
    whose requests fail after the client's retries is recorded in ``summary.failed`` and
    the others go on; anything else (an :class:`AuthenticationError`, an ``OSError`` such
    as a full disk, an exception from ``progress``, cancellation) stops the export and is
    raised as itself, leaving only whole files behind for ``resume=True`` to continue
    from. Raises :class:`DestinationBusyError` at once when another export or sync is
    writing ``dest``::

        summary = await export_projects(client, "out", project_ids=[12, 15], resume=True)
    """
    check_concurrency(concurrency)
    ids = check_project_ids(project_ids)
    path = Path(dest)
    with locked(path):
        run = _Export(client, path, resume=resume, concurrency=concurrency, progress=progress)
        return await run.run(None if ids is None else sorted(ids))


def check_project_ids(project_ids: Iterable[int] | None) -> frozenset[int] | None:
    """The ids as a set; ValueError unless every one is a positive int."""
    if project_ids is None:
        return None
    ids = frozenset(project_ids)
    if any(type(p) is not int or p < 1 for p in ids):
        raise ValueError("project_ids must be positive ints")
    return ids


def check_concurrency(concurrency: object) -> None:
    """Raise ValueError unless ``concurrency`` is an int >= 1."""
    if type(concurrency) is not int or concurrency < 1:
        raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}")


async def list_projects(
    client: TrakkClient, on_page: Callable[[], None]
) -> dict[int, ProjectSummary]:
    """Every project of ``/projects`` by id (its first row if listed twice), walked with
    the client's pager (one paging rule); ``on_page`` is called after each page."""
    projects: dict[int, ProjectSummary] = {}
    async for page in client.projects.list(per_page=PAGE_SIZE).pages():
        on_page()
        for item in page.items:
            projects.setdefault(item.id, item)
    return projects


class _Export:
    def __init__(
        self,
        client: TrakkClient,
        dest: Path,
        *,
        resume: bool,
        concurrency: int,
        progress: ProgressCallback | None,
    ) -> None:
        self.client = client
        self.dest = dest
        self.resume = resume
        self.workers = concurrency
        self.progress = progress
        self.journal = Journal(dest)
        self.mirror = Mirror(
            client, dest, concurrency=concurrency, journal=self.journal, on_request=self._report
        )
        self.total: int | None = None
        self.done = 0
        self.skipped = 0
        self.failed: dict[int, str] = {}
        self.finished_requests = 0  # requests of finished projects (for the estimate)
        self.counter: AttemptCounter | None = None

    async def run(self, ids: list[int] | None) -> ExportSummary:
        started = time.perf_counter()
        await in_thread(files.clean_temp_files, self.dest)
        with counting(self.client) as counter:
            self.counter = counter
            if ids is None:
                ids = sorted(await list_projects(self.client, self._page_listed))
            self.total = len(ids)
            self._report()
            queue = iter(ids)
            await run_all([self._worker(queue) for _ in range(min(self.workers, len(ids)))])
            index = await in_thread(build_index, self.dest)
            await self.mirror.write(self.dest / INDEX_FILE, index, only_if_changed=True)
            await in_thread(self.journal.clear)
        sent = counter.sent
        return ExportSummary(
            dest=self.dest,
            projects=self.done,
            skipped=self.skipped,
            failed=dict(sorted(self.failed.items())),
            files=self.mirror.files,
            bytes=self.mirror.bytes,
            requests=sent,
            rate_limited=counter.rate_limited,
            retries=max(0, sent - self.mirror.logical),
            duration=time.perf_counter() - started,
        )

    def _page_listed(self) -> None:
        self.mirror.logical += 1
        self._report()

    def _report(self) -> None:
        if self.progress is None or self.counter is None:
            return
        started = self.done + len(self.failed)
        unstarted = 0 if self.total is None else max(0, self.total - started)
        average = self.finished_requests / self.done if self.done else _BASE_REQUESTS
        self.progress(
            progress_of(
                self.mirror,
                self.counter.sent,
                total=self.total,
                done=self.done,
                unstarted=round(unstarted * average),
                files=self.mirror.files,
            )
        )

    async def _worker(self, queue: Iterable[int]) -> None:
        need = RESUME if self.resume else FRESH
        for pid in queue:
            before = self.mirror.logical
            try:
                refreshed = await self.mirror.refresh(pid, need)
            except AuthenticationError:
                raise  # every other project would fail the same way
            except TrakkError as error:
                self.failed[pid] = error_line(error)
            else:
                self.done += 1
                self.skipped += not refreshed.changed
                self.finished_requests += self.mirror.logical - before
            self._report()
