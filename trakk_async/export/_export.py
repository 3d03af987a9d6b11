"""The export run: what is requested per project, counting, progress (see the package docstring)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from contextvars import ContextVar
from functools import partial
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

import attrs

from trakk_async._client.client import RequestAttempt, TrakkClient
from trakk_async._core.errors import AuthenticationError, InvalidResponseError, TrakkError
from trakk_async.export import _files as files

__all__ = ["ExportProgress", "ExportSummary", "export_projects"]

T = TypeVar("T")

#: Requests a project costs before its content (reports, detail, keywords).
_BASE_REQUESTS = 3


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
    """Where a running export stands, passed to the ``progress`` callback.

    ``projects_total`` is None until the project list is known; ``requests_expected`` is
    the requests done plus those known to be needed plus an estimate for the projects not
    started yet (the average of those finished so far), so it only settles at the end.
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


_CURRENT_EXPORT: ContextVar[_AttemptCounter | None] = ContextVar("trakk_export", default=None)


class _AttemptCounter:
    """Counts the request attempts (and 429s) of one export's own tasks.

    Registered with :meth:`TrakkClient.add_attempt_listener`; requests that other tasks
    send through the same client at the same time are not counted (the export's tasks
    carry this counter in a context variable).
    """

    def __init__(self) -> None:
        self.sent = 0
        self.rate_limited = 0

    def __call__(self, attempt: RequestAttempt) -> None:
        if _CURRENT_EXPORT.get() is not self:
            return
        self.sent += 1
        if attempt.status == 429:
            self.rate_limited += 1


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
    from::

        summary = await export_projects(client, "out", project_ids=[12, 15], resume=True)
    """
    if type(concurrency) is not int or concurrency < 1:
        raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}")
    ids = None if project_ids is None else sorted(set(project_ids))
    if ids is not None and any(type(p) is not int or p < 1 for p in ids):
        raise ValueError("project_ids must be positive ints")
    run = _Export(client, Path(dest), resume=resume, concurrency=concurrency, progress=progress)
    return await run.run(ids)


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
        self.gate = asyncio.Semaphore(concurrency)
        self.workers = concurrency
        self.progress = progress
        self.total: int | None = None
        self.done = 0
        self.skipped = 0
        self.failed: dict[int, str] = {}
        self.logical = 0
        self.pending = 0  # requests known to be needed, not sent yet
        self.finished_requests = 0  # requests of finished projects (for the estimate)
        self.files = 0
        self.bytes = 0
        self.counter: _AttemptCounter | None = None

    async def run(self, ids: list[int] | None) -> ExportSummary:
        started = time.perf_counter()
        await _in_thread(partial(self.dest.mkdir, parents=True, exist_ok=True))
        counter = _AttemptCounter()
        self.counter = counter
        context_token = _CURRENT_EXPORT.set(counter)
        remove = self.client.add_attempt_listener(counter)
        try:
            if ids is None:
                ids = await self._list_projects()
            self.total = len(ids)
            self._report()
            queue = iter(ids)
            await _all([self._worker(queue) for _ in range(min(self.workers, len(ids)))])
            index = await _in_thread(files.build_index, self.dest)
            await self._write(self.dest / files.INDEX_FILE, index, only_if_changed=True)
        finally:
            remove()
            _CURRENT_EXPORT.reset(context_token)
        sent = counter.sent
        return ExportSummary(
            dest=self.dest,
            projects=self.done,
            skipped=self.skipped,
            failed=dict(sorted(self.failed.items())),
            files=self.files,
            bytes=self.bytes,
            requests=sent,
            rate_limited=counter.rate_limited,
            retries=max(0, sent - self.logical),
            duration=time.perf_counter() - started,
        )

    # -- counting -------------------------------------------------------------------

    def _report(self) -> None:
        if self.progress is None or self.counter is None:
            return
        started = self.done + len(self.failed)
        unstarted = 0 if self.total is None else max(0, self.total - started)
        average = self.finished_requests / self.done if self.done else _BASE_REQUESTS
        sent = self.counter.sent
        expected = self.logical + self.pending + round(unstarted * average)
        self.progress(
            ExportProgress(
                projects_total=self.total,
                projects_done=self.done,
                requests=sent,
                requests_expected=max(expected, sent),
                files=self.files,
                bytes=self.bytes,
            )
        )

    # -- requests -------------------------------------------------------------------

    async def _data(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        async with self.gate:
            self.logical += 1
            self.pending = max(0, self.pending - 1)
            try:
                body = await self.client.get_json(path, params)
            finally:
                self._report()
        if not isinstance(body, dict) or "data" not in body:
            raise InvalidResponseError("expected an object with 'data'", status=200, path=path)
        return body["data"]

    async def _list_projects(self) -> list[int]:
        ids: list[int] = []
        page, last = 1, 1
        while page <= last:
            async with self.gate:
                self.logical += 1
                body = await self.client.get_json(
                    "/projects", {"page": str(page), "per_page": "100"}
                )
            self._report()
            items = body.get("data") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise InvalidResponseError("expected a project page", status=200, path="/projects")
            ids.extend(_int(item, "id", "/projects") for item in items)
            meta = body.get("meta")
            last_page = meta.get("last_page") if isinstance(meta, dict) else None
            last = last_page if type(last_page) is int else page
            page += 1
        return sorted(set(ids))

    # -- projects -------------------------------------------------------------------

    async def _worker(self, queue: Iterable[int]) -> None:
        for pid in queue:
            before = self.logical
            try:
                await self._project(pid)
            except AuthenticationError:
                raise  # every other project would fail the same way
            except TrakkError as error:
                self.failed[pid] = _error_line(error)
            else:
                self.done += 1
                self.finished_requests += self.logical - before
            self._report()

    async def _project(self, pid: int) -> None:
        pdir = self.dest / str(pid)
        self.pending += _BASE_REQUESTS
        reports = _list(await self._data(f"/projects/{pid}/reports"), "reports")
        reports_bytes = files.dump(reports)
        marker = pdir / files.REPORTS_FILE
        old = await _in_thread(files.read_json, marker) if self.resume else None
        if old is not None and _fingerprint(old) == _fingerprint(reports):
            self.pending = max(0, self.pending - (_BASE_REQUESTS - 1))
            await self._write(marker, reports_bytes, only_if_changed=True)
            self.skipped += 1
            return
        # Incomplete until reports.json is back: a crash from here on is seen by resume.
        await _in_thread(files.unlink, marker)
        project, keywords = await _all(
            [self._data(f"/projects/{pid}"), self._data(f"/projects/{pid}/keywords")]
        )
        await self._write(pdir / files.PROJECT_FILE, files.dump(project), only_if_changed=True)
        await self._write(pdir / files.KEYWORDS_FILE, files.dump(keywords), only_if_changed=True)
        wanted = _content_numbers(_list(keywords, "keywords"), reports)
        todo = []
        for number, (report_id, _) in sorted(wanted.items()):
            path = pdir / files.CONTENT_DIR / f"{number}.json"
            if self.resume and await _in_thread(_holds, path, report_id, "completed"):
                continue
            todo.append((number, path))
        self.pending += len(todo)
        await _all([self._content(pid, number, path) for number, path in todo])
        await _in_thread(files.remove_stale, pdir, set(wanted))
        await self._write(marker, reports_bytes)

    async def _content(self, pid: int, number: int, path: Path) -> None:
        data = await self._data(f"/projects/{pid}/reports/{number}/content")
        await self._write(path, files.dump(data))

    async def _write(self, path: Path, data: bytes, *, only_if_changed: bool = False) -> None:
        if only_if_changed:
            written = await _in_thread(files.write_if_changed, path, data)
        else:
            await _in_thread(files.write_atomic, path, data)
            written = True
        if written:
            self.files += 1
            self.bytes += len(data)


async def _all(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run concurrently; unlike ``gather``, nothing outlives a failure or a cancellation.

    The first failure is raised as itself (the others were cancelled because of it).
    """
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coro) for coro in coros]
    except BaseExceptionGroup as errors:
        raise _first(errors) from None
    return [task.result() for task in tasks]


def _error_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def _in_thread(func: Callable[..., T], *args: Any) -> T:
    """``asyncio.to_thread`` that, when cancelled, still waits for the thread to finish.

    A thread cannot be stopped; without this a cancelled export would return while its
    last writes still run, and whoever looks at ``dest`` next could see their temp files.
    """
    job = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        await asyncio.wait([job])
        raise


def _content_numbers(keywords: list[Any], reports: list[Any]) -> dict[int, tuple[int, str]]:
    """Report number -> (report id, status) of the numbers that have content to fetch."""
    with_content: set[int] = set()
    for keyword in keywords:
        ids = keyword.get("content_action_ids") if isinstance(keyword, dict) else None
        if isinstance(ids, list):
            with_content.update(n for n in ids if type(n) is int)
    newest: dict[int, tuple[int, str]] = {}
    for report in reports:  # newest first: the first of a number is the one /content serves
        number = _int(report, "report_number", "reports")
        newest.setdefault(number, (_int(report, "id", "reports"), str(report.get("status"))))
    return {
        n: newest[n] for n in sorted(with_content) if n in newest and newest[n][1] == "completed"
    }


def _fingerprint(reports: Any) -> frozenset[tuple[Any, Any]] | None:
    if not isinstance(reports, list):
        return None
    return frozenset(
        (r.get("id"), r.get("status")) if isinstance(r, dict) else (None, None) for r in reports
    )


def _holds(path: Path, report_id: int, status: str) -> bool:
    body = files.read_json(path)
    return (
        isinstance(body, dict)
        and body.get("report_id") == report_id
        and body.get("generation_status") == status
    )


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InvalidResponseError(f"expected a list of {what}", status=200, path=what)
    return data


def _int(item: Any, key: str, path: str) -> int:
    value = item.get(key) if isinstance(item, dict) else None
    if type(value) is not int:
        raise InvalidResponseError(f"expected an int {key!r}", status=200, path=path)
    return value
