"""Bringing one project's files up to date: what is requested, what is kept, in what order.

The export and the sync both go through :meth:`Mirror.refresh`; they differ only in what
they already know (the :class:`Need`). Per project:

1. ``GET /projects/{id}/reports`` always: the exact list of reports and their status.
2. ``GET /projects/{id}`` and ``GET /projects/{id}/keywords`` when the caller asks, when
   the mirror of the project is incomplete, and otherwise by what changed: the detail
   when the reports list changed and the caller cannot tell whether the listing row did
   (``Need.detail=None``); the keywords when a report's id or status changed
   (``content_action_ids`` follow completions).
3. ``GET /projects/{id}/reports/{n}/content`` for each report number in some keyword's
   ``content_action_ids`` whose newest report is ``completed`` (no request for content
   that does not exist), unless the file already holds it. A content file embeds its
   report's fields, the project's domain and status, and every keyword's id, text and
   URL; it is kept only while none of those changed since it was fetched (the mirror's
   ``reports.json``, ``project.json`` and ``keywords.json`` are that record).

Writes: nothing when nothing changed. Otherwise the project is noted in the journal and
its ``reports.json`` is set aside (the project is incomplete from here on), content is
written, then the detail and keywords, then ``reports.json`` last. Every content file
whose record changed is fetched before any record file is replaced, so a run that is
killed part-way leaves a record (the set-aside reports list, the detail and keywords
as they are) against which the next run keeps every content file still valid.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from trakk_async._client.client import TrakkClient
from trakk_async._core.errors import InvalidResponseError
from trakk_async._models.envelope import response_data
from trakk_async._protocol.reports import is_completed
from trakk_async.export import _files as files
from trakk_async.export._index import Journal
from trakk_async.export._runtime import in_thread, run_all

__all__ = ["Mirror", "Mirrored", "Need", "Refreshed", "ReportRef", "content_numbers"]


@attrs.frozen
class ReportRef:
    """What the rules read of one raw report object: id, number and status."""

    id: int
    report_number: int
    status: str

    @classmethod
    def of(cls, raw: Any, path: str) -> ReportRef:
        """Read a report object; InvalidResponseError when its id or number is missing."""
        return cls(_int(raw, "id", path), _int(raw, "report_number", path), str(raw.get("status")))


def report_refs(reports: list[Any], path: str) -> list[ReportRef]:
    """The :class:`ReportRef` of each report of a list (newest first, as served)."""
    return [ReportRef.of(raw, path) for raw in reports]


def content_numbers(keywords: list[Any], reports: list[ReportRef]) -> dict[int, ReportRef]:
    """Report number -> the report whose content ``/content`` serves, for the numbers that
    have content: in some keyword's ``content_action_ids``, newest report completed."""
    with_content: set[int] = set()
    for keyword in keywords:
        ids = keyword.get("content_action_ids") if isinstance(keyword, dict) else None
        if isinstance(ids, list):
            with_content.update(n for n in ids if type(n) is int)
    newest: dict[int, ReportRef] = {}
    for report in reports:  # newest first: the first of a number is the one /content serves
        newest.setdefault(report.report_number, report)
    return {n: newest[n] for n in sorted(with_content) if n in newest and is_completed(newest[n])}


def fingerprint(reports: list[ReportRef]) -> frozenset[tuple[int, str]]:
    """The ids and statuses of a reports list: what decides which content exists."""
    return frozenset((r.id, r.status) for r in reports)


def _project_basis(project: Mapping[str, Any]) -> tuple[Any, ...]:
    """The project fields a content file embeds (``project_domain``, ``project_status``)."""
    return (project.get("domain"), project.get("status"))


def _keyword_basis(keywords: list[Any]) -> tuple[Any, ...]:
    """The keyword fields a content file embeds, in order (id, text, URL of each)."""
    return tuple(
        (k.get("id"), k.get("keyword"), k.get("url")) if isinstance(k, dict) else None
        for k in keywords
    )


@attrs.frozen
class Mirrored:
    """A project's record in the destination: its reports list, detail and keywords (all
    None when there is none). ``interrupted``: the reports list is the one set aside by
    a rewrite that did not finish, good only to tell which content files are valid."""

    reports: list[Any] | None = None
    reports_bytes: bytes | None = None
    project: dict[str, Any] | None = None
    project_bytes: bytes | None = None
    keywords: list[Any] | None = None
    keywords_bytes: bytes | None = None
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        """Whether the project's last update finished."""
        return self.reports is not None and not self.interrupted

    @classmethod
    def read(cls, project_dir: Path) -> Mirrored:
        """Read a project's record; none unless all three files are whole."""
        interrupted = False
        reports_bytes = files.read_bytes(project_dir / files.REPORTS_FILE)
        if reports_bytes is None:
            interrupted = True
            reports_bytes = files.read_bytes(project_dir / files.PREVIOUS_REPORTS_FILE)
        project_bytes = files.read_bytes(project_dir / files.PROJECT_FILE)
        keywords_bytes = files.read_bytes(project_dir / files.KEYWORDS_FILE)
        if reports_bytes is None or project_bytes is None or keywords_bytes is None:
            return cls()
        reports = files.read_json_bytes(reports_bytes)
        project = files.read_json_bytes(project_bytes)
        keywords = files.read_json_bytes(keywords_bytes)
        if not (
            _is_list_of_objects(reports)
            and isinstance(project, dict)
            and _is_list_of_objects(keywords)
        ):
            return cls()
        return cls(
            reports, reports_bytes, project, project_bytes, keywords, keywords_bytes, interrupted
        )

    def refs(self) -> list[ReportRef] | None:
        """The mirrored reports as :class:`ReportRef` (None when incomplete or unreadable)."""
        if self.reports is None:
            return None
        try:
            return report_refs(self.reports, files.REPORTS_FILE)
        except InvalidResponseError:
            return None


@attrs.frozen(kw_only=True)
class Need:
    """What the caller already knows about a project, as what to request beyond its
    reports list.

    ``detail``: True requests ``/projects/{id}`` always; None also when the reports list
    changed; False only when the mirror is incomplete. ``keywords``: True always, else
    only when a report's id or status changed or the mirror is incomplete. ``mirror``:
    False ignores what the destination holds (a fresh export writes every file).
    """

    detail: bool | None
    keywords: bool
    mirror: bool = True


#: An export without ``resume``: every file fetched and written.
FRESH: Need = Need(detail=True, keywords=True, mirror=False)
#: ``resume=True`` and a watcher's event: the reports list decides.
RESUME: Need = Need(detail=None, keywords=False)
#: ``--full``, and a project new to the destination.
EVERYTHING: Need = Need(detail=True, keywords=True)
#: A reconciliation: the listing row did not change, so neither did the detail's copy.
RECONCILE: Need = Need(detail=False, keywords=False)


@attrs.frozen
class Refreshed:
    """The outcome of :meth:`Mirror.refresh`: the project's reports now, and whether any
    of its files was written."""

    reports: list[ReportRef]
    changed: bool


class Mirror:
    """The requests and writes of one run into a destination, counted.

    ``concurrency`` bounds the requests in flight (they all still queue in the client's
    rate limiter); ``on_request`` is called after every request (for progress).
    """

    def __init__(
        self,
        client: TrakkClient,
        dest: Path,
        *,
        concurrency: int,
        journal: Journal,
        on_request: Callable[[], None],
    ) -> None:
        self.client = client
        self.dest = dest
        self.journal = journal
        self.gate = asyncio.Semaphore(concurrency)
        self.on_request = on_request
        #: Requests sent (retries not counted), and those known to be needed still.
        self.logical = 0
        self.pending = 0
        #: Files written and their bytes (unchanged files are not rewritten).
        self.files = 0
        self.bytes = 0

    async def fetch(self, path: str, *, bare: bool = False) -> Any:
        """The data of ``GET path`` as served (unknown fields kept)."""
        async with self.gate:
            self.logical += 1
            self.pending = max(0, self.pending - 1)
            try:
                body = await self.client.get_json(path)
            finally:
                self.on_request()
        data = response_data(body, bare=bare)
        if data is None:
            raise InvalidResponseError("expected a 'data' member", status=200, path=path)
        return data

    async def fetch_list(self, path: str) -> list[Any]:
        """The data of ``GET path``, which must be a list of objects."""
        data = await self.fetch(path)
        if not _is_list_of_objects(data):
            raise InvalidResponseError("expected a list of objects", status=200, path=path)
        assert isinstance(data, list)
        return data

    async def fetch_object(self, path: str, *, bare: bool = False) -> dict[str, Any]:
        """The data of ``GET path``, which must be an object."""
        data = await self.fetch(path, bare=bare)
        if not isinstance(data, dict):
            raise InvalidResponseError("expected an object", status=200, path=path)
        return data

    async def refresh(self, pid: int, need: Need) -> Refreshed:
        """Bring project ``pid``'s files up to date (see the module docstring)."""
        pdir = self.dest / str(pid)
        old = await in_thread(Mirrored.read, pdir) if need.mirror else Mirrored()
        old_refs = old.refs()
        if old_refs is None:
            old = Mirrored()
        self.pending += 1
        path = f"/projects/{pid}/reports"
        reports = await self.fetch_list(path)
        refs = report_refs(reports, path)
        reports_bytes = files.dump(reports)
        same = old.complete and old.reports_bytes == reports_bytes
        get_detail = not old.complete or bool(need.detail) or (need.detail is None and not same)
        get_keywords = (
            not old.complete or need.keywords or fingerprint(refs) != fingerprint(old_refs or [])
        )
        if same and not get_detail and not get_keywords:
            return Refreshed(refs, changed=False)

        self.pending += get_detail + get_keywords
        fetched = await run_all(
            [
                *([self.fetch_object(f"/projects/{pid}")] if get_detail else []),
                *([self.fetch_list(f"/projects/{pid}/keywords")] if get_keywords else []),
            ]
        )
        project = fetched.pop(0) if get_detail else old.project
        keywords = fetched.pop(0) if get_keywords else old.keywords
        assert isinstance(project, dict)
        assert isinstance(keywords, list)
        project_bytes, keywords_bytes = files.dump(project), files.dump(keywords)
        wanted = content_numbers(keywords, refs)
        todo = await in_thread(_content_to_fetch, pdir, old, wanted, reports, project, keywords)
        if (
            same
            and not todo
            and project_bytes == old.project_bytes
            and keywords_bytes == old.keywords_bytes
        ):
            return Refreshed(refs, changed=False)

        await in_thread(self.journal.note, pid)
        # Incomplete until reports.json is back: a crash from here on is seen by the next run.
        await in_thread(files.set_aside_reports, pdir)
        self.pending += len(todo)
        await run_all([self._content(pid, number, pdir) for number in todo])
        await self.write(pdir / files.PROJECT_FILE, project_bytes, only_if_changed=True)
        await self.write(pdir / files.KEYWORDS_FILE, keywords_bytes, only_if_changed=True)
        await in_thread(files.remove_stale, pdir, set(wanted))
        await self.write(pdir / files.REPORTS_FILE, reports_bytes)
        await in_thread(files.unlink, pdir / files.PREVIOUS_REPORTS_FILE)
        return Refreshed(refs, changed=True)

    async def _content(self, pid: int, number: int, pdir: Path) -> None:
        data = await self.fetch_object(f"/projects/{pid}/reports/{number}/content", bare=True)
        await self.write(files.content_path(pdir, number), files.dump(data))

    async def write(self, path: Path, data: bytes, *, only_if_changed: bool = False) -> None:
        if only_if_changed:
            written = await in_thread(files.write_if_changed, path, data)
        else:
            await in_thread(files.write_atomic, path, data)
            written = True
        if written:
            self.files += 1
            self.bytes += len(data)


def _content_to_fetch(
    pdir: Path,
    old: Mirrored,
    wanted: Mapping[int, ReportRef],
    reports: list[Any],
    project: dict[str, Any],
    keywords: list[Any],
) -> list[int]:
    """The wanted numbers whose content file is missing or may be out of date."""
    if (
        old.reports is None
        or old.project is None
        or old.keywords is None
        or _project_basis(old.project) != _project_basis(project)
        or _keyword_basis(old.keywords) != _keyword_basis(keywords)
    ):
        return sorted(wanted)
    old_rows = {row.get("id"): row for row in old.reports}
    new_rows = {row.get("id"): row for row in reports}
    return [
        number
        for number, report in sorted(wanted.items())
        if old_rows.get(report.id) != new_rows.get(report.id)
        or not files.content_path(pdir, number).is_file()
    ]


def _is_list_of_objects(data: Any) -> bool:
    return isinstance(data, list) and all(isinstance(item, dict) for item in data)


def _int(item: Any, key: str, path: str) -> int:
    value = item.get(key) if isinstance(item, dict) else None
    if type(value) is not int:
        raise InvalidResponseError(f"expected an int {key!r}", status=200, path=path)
    return value
