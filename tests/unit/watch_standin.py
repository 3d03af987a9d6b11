"""An in-memory stand-in for the client the report watcher uses, in virtual time.

Each project has reports (oldest first) whose status the test moves along; the listing
row of a project follows Trakk's documented rule (the row of ``/reports/latest``: a
completed report dated in the current month, else the not-completed report with the
earliest date), unless a test freezes it. Requests take no virtual time.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import attrs

from trakk_async._core.errors import (
    AuthenticationError,
    InternalServerError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
)
from trakk_async._models.objects import (
    Listing,
    Page,
    PageLinks,
    PageMeta,
    ProjectLinks,
    ProjectSummary,
    Report,
)
from trakk_async.watch import Checkpoint, MemoryCheckpoint, ReportWatcher, Seen

TODAY = date(2026, 3, 15)


class VirtualTime:
    """A clock that moves only when something sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        self.slept += max(0.0, seconds)
        await asyncio.sleep(0)


@attrs.define
class Rep:
    id: int
    number: int
    status: str
    day: date


def month(day: date, offset: int) -> date:
    index = day.year * 12 + day.month - 1 + offset
    return date(index // 12, index % 12 + 1, min(day.day, 28))


class World:
    """Projects and their reports; ``requests`` logs every path asked."""

    def __init__(self, projects: int, *, history: int = 3) -> None:
        self.today = TODAY
        self._ids = itertools.count(1000)
        self.reports: dict[int, list[Rep]] = {}
        for pid in range(1, projects + 1):
            self.reports[pid] = []
            for back in range(history, 0, -1):
                self.add(pid, "completed", month(TODAY, -back))
        self.status = dict.fromkeys(self.reports, "active")
        self.frozen: dict[int, Rep | None] = {}
        self.requests: list[str] = []
        self.forbidden: set[int] = set()
        self.malformed: set[int] = set()
        self.revoked = False
        self.fail_next = 0

    def add(self, pid: int, status: str = "pending", day: date | None = None) -> Rep:
        """A new report, dated a month after the project's last one."""
        existing = self.reports[pid]
        day = day or (month(existing[-1].day, 1) if existing else self.today)
        report = Rep(next(self._ids), len(existing) % 26 + 1, status, day)
        existing.append(report)
        return report

    def complete(self, pid: int, report: Rep | None = None) -> Rep:
        """Complete ``report`` (default: a new one, created and completed at once)."""
        report = report or self.add(pid)
        report.status = "completed"
        return report

    def row(self, pid: int) -> Rep | None:
        if pid in self.frozen:
            return self.frozen[pid]
        reports = self.reports[pid]
        current = [
            r
            for r in reports
            if r.status == "completed"
            and (r.day.year, r.day.month) == (self.today.year, self.today.month)
        ]
        if current:
            return max(current, key=lambda r: (r.day, r.id))
        pipeline = [r for r in reports if r.status != "completed"]
        return min(pipeline, key=lambda r: (r.day, r.id)) if pipeline else None

    def freeze(self, pid: int) -> None:
        """Keep the project's listing row as it is now, whatever happens."""
        self.frozen[pid] = self.row(pid)

    def check(self, path: str) -> None:
        self.requests.append(path)
        if self.revoked:
            raise AuthenticationError("revoked", status=401, code="unauthenticated", path=path)
        if self.fail_next:
            self.fail_next -= 1
            raise InternalServerError("boom", status=500, code="server_error", path=path)


def report_model(pid: int, rep: Rep) -> Report:
    return Report(
        id=rep.id,
        project_id=pid,
        report_number=rep.number,
        report_name=None,
        status=rep.status,
        date_to_create_texts=rep.day,
        date_to_send_to_client=None,
        sent=False,
        approved_status=None,
        approved_by=None,
        managed_status=None,
        managed_by=None,
        pdf_link=None,
        web_link=None,
    )


def links_of(pid: int) -> ProjectLinks:
    """A listing item's ``links``: relative paths, as documented."""
    return ProjectLinks(
        latest_report=f"/api/v1/projects/{pid}/reports/latest",
        last_generated_report=f"/api/v1/projects/{pid}/reports/last-generated",
    )


def summary_model(world: World, pid: int) -> ProjectSummary:
    row = world.row(pid)
    return ProjectSummary(
        id=pid,
        name=f"project {pid}",
        status=world.status[pid],
        keyword_count=3,
        latest_report_generated_at=None,
        latest_report_id=None if row is None else row.id,
        latest_report_number=None if row is None else row.number,
        latest_report_status=None if row is None else row.status,
        links=links_of(pid),
    )


class StandInPager:
    def __init__(self, world: World, per_page: int) -> None:
        self.world = world
        self.per_page = per_page

    async def page(self, number: int) -> Page:
        await asyncio.sleep(0)
        self.world.check("/projects")
        pids = sorted(self.world.reports)
        chunk = pids[(number - 1) * self.per_page : number * self.per_page]
        last = max(1, -(-len(pids) // self.per_page))
        return Page(
            items=tuple(summary_model(self.world, pid) for pid in chunk),
            meta=PageMeta(current_page=number, last_page=last, total=len(pids)),
            links=PageLinks(next=None if number >= last else f"?page={number + 1}"),
        )


class StandInProjects:
    def __init__(self, world: World) -> None:
        self.world = world

    def list(self, *, per_page: int = 100) -> StandInPager:
        return StandInPager(self.world, per_page)


class StandInReports:
    def __init__(self, world: World) -> None:
        self.world = world

    async def list(self, pid: int) -> Listing[Report]:
        await asyncio.sleep(0)
        path = f"/projects/{pid}/reports"
        self.world.check(path)
        if pid in self.world.forbidden:
            raise PermissionDeniedError("no", status=403, code="forbidden", path=path)
        if pid in self.world.malformed:
            raise InvalidResponseError("expected int @ $.data[0].id", status=200, path=path)
        if pid not in self.world.reports:
            raise NotFoundError("gone", status=404, code="not_found", path=path)
        items = [report_model(pid, r) for r in reversed(self.world.reports[pid])]
        return Listing(items=tuple(items))


@attrs.define
class Window:
    limit: int
    seconds: float


@attrs.define
class Snapshot:
    windows: list[Window]


class StandInClient:
    def __init__(self, world: World, windows: list[Window] | None = None) -> None:
        self.world = world
        self.projects = StandInProjects(world)
        self.reports = StandInReports(world)
        self.rate_limit = Snapshot(windows or [Window(60, 60.0), Window(1000, 3600.0)])


class FlakyCheckpoint:
    """A memory checkpoint whose ``save`` fails while ``down`` says so; logs saves."""

    def __init__(self, down: Callable[[], bool] = lambda: False) -> None:
        self.inner = MemoryCheckpoint()
        self.down = down
        self.saves: list[dict[int, Seen]] = []

    async def load(self) -> Mapping[int, Seen]:
        if self.down():
            raise ConnectionError("store unreachable")
        return await self.inner.load()

    async def save(self, records: Mapping[int, Seen]) -> None:
        await asyncio.sleep(0)
        if self.down():
            raise ConnectionError("store unreachable")
        self.saves.append(dict(records))
        await self.inner.save(records)

    async def aclose(self) -> None:
        """Nothing to release."""


def make_watcher(
    world: World,
    vt: VirtualTime,
    *,
    checkpoint: Checkpoint | None = None,
    windows: list[Window] | None = None,
    **kwargs: Any,
) -> ReportWatcher:
    return ReportWatcher(
        StandInClient(world, windows),  # type: ignore[arg-type]
        checkpoint=checkpoint,
        _clock=vt.clock,
        _sleep=vt.sleep,
        _random=lambda: 0.5,
        **kwargs,
    )
