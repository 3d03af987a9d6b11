"""The report watcher end to end over an in-memory stand-in for the client (virtual time)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any, cast

import attrs
import pytest

from trakk_async._core.errors import (
    AuthenticationError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
)
from trakk_async.watch import MemoryCheckpoint, ReportAdvanced, ReportWatcher, Seen


@attrs.frozen
class FakeReport:
    id: int
    project_id: int
    report_number: int
    status: str


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@attrs.define
class Window:
    limit: int
    seconds: float


@attrs.define
class Snapshot:
    windows: list[Window]


class World:
    """Projects and their reports, answering like the API (newest report = highest id)."""

    def __init__(self, projects: int, seed: int = 1) -> None:
        self.ids = itertools.count(1000)
        self.reports: dict[int, list[FakeReport]] = {}
        rng = random.Random(seed)
        for pid in range(1, projects + 1):
            self.reports[pid] = []
            for _ in range(rng.randint(0, 3)):
                self.add(pid, "completed")
        self.status = dict.fromkeys(self.reports, "active")
        self.requests: list[str] = []
        self.forbidden: set[int] = set()
        self.revoked = False
        self.fail_next: int = 0

    def add(self, pid: int, status: str) -> FakeReport:
        number = len(self.reports[pid]) % 26 + 1
        report = FakeReport(next(self.ids), pid, number, status)
        self.reports[pid].append(report)
        return report

    def complete(self, pid: int) -> FakeReport:
        pending = [r for r in self.reports[pid] if r.status != "completed"]
        if pending:
            old = pending[0]
            self.reports[pid][self.reports[pid].index(old)] = done = attrs.evolve(
                old, status="completed"
            )
            return done
        return self.add(pid, "completed")

    def last_generated(self, pid: int) -> FakeReport | None:
        done = [r for r in self.reports[pid] if r.status == "completed"]
        return done[-1] if done else None

    def check(self, path: str) -> None:
        self.requests.append(path)
        if self.revoked:
            raise AuthenticationError("revoked", status=401, code="unauthenticated", path=path)
        if self.fail_next:
            self.fail_next -= 1
            raise InternalServerError("boom", status=500, code="server_error", path=path)


class FakeReports:
    def __init__(self, world: World) -> None:
        self.world = world

    async def last_generated(self, pid: int) -> FakeReport:
        await asyncio.sleep(0)
        path = f"/projects/{pid}/reports/last-generated"
        self.world.check(path)
        if pid in self.world.forbidden:
            raise PermissionDeniedError("no", status=403, code="forbidden", path=path)
        report = self.world.last_generated(pid) if pid in self.world.reports else None
        if report is None:
            raise NotFoundError("none", status=404, code="not_found", path=path)
        return report


class FakeClient:
    def __init__(self, world: World, windows: list[Window] | None = None) -> None:
        self.world = world
        self.reports = FakeReports(world)
        self.rate_limit = Snapshot(windows or [Window(60, 60.0), Window(1000, 3600.0)])

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        await asyncio.sleep(0)
        assert path == "/projects"
        assert params is not None
        self.world.check(path)
        page, per_page = int(params["page"]), int(params["per_page"])
        pids = sorted(self.world.reports)
        chunk = pids[(page - 1) * per_page : page * per_page]
        last_page = max(1, -(-len(pids) // per_page))
        data = []
        for pid in chunk:
            newest = self.world.reports[pid][-1] if self.world.reports[pid] else None
            data.append(
                {
                    "id": pid,
                    "status": self.world.status[pid],
                    "latest_report_id": newest.id if newest else None,
                    "latest_report_number": newest.report_number if newest else None,
                    "latest_report_status": newest.status if newest else None,
                    "latest_report_generated_at": None,
                }
            )
        return {
            "data": data,
            "meta": {"current_page": page, "last_page": last_page, "total": len(pids)},
            "links": {"next": None if page >= last_page else f"?page={page + 1}"},
        }


async def until(predicate: Callable[[], object]) -> None:
    """Let the watcher's task run until ``predicate`` holds (virtual time: no real wait)."""
    while not predicate():  # noqa: ASYNC110 (state of another task, on virtual time)
        await asyncio.sleep(0)


def make_watcher(world: World, vt: VirtualTime, **kwargs: Any) -> tuple[ReportWatcher, FakeClient]:
    client = FakeClient(world)
    watcher = ReportWatcher(
        cast(Any, client), _clock=vt.clock, _sleep=vt.sleep, _random=lambda: 0.5, **kwargs
    )
    return watcher, client


async def run_until(
    watcher: ReportWatcher,
    vt: VirtualTime,
    world: World,
    schedule: dict[float, list[int]],
    horizon: float,
) -> list[ReportAdvanced]:
    """Iterate the watcher while ``schedule`` (virtual second -> projects) completes reports."""
    events: list[ReportAdvanced] = []
    pending = sorted(schedule.items())

    async def drive() -> None:
        async for event in watcher:
            events.append(event)

    original = vt.sleep

    async def sleep(seconds: float) -> None:
        await original(seconds)
        while pending and pending[0][0] <= vt.now:
            for pid in pending.pop(0)[1]:
                world.complete(pid)
        if vt.now >= horizon:
            await watcher.aclose()

    vt.sleep = sleep  # type: ignore[method-assign]
    watcher._sleep = sleep
    await asyncio.wait_for(drive(), timeout=30)
    return events


@pytest.mark.parametrize("strategy", ["last-generated", "listing", "auto"])
async def test_every_completion_is_one_event(strategy: Any) -> None:
    world, vt = World(300), VirtualTime()
    watcher, _ = make_watcher(world, vt, strategy=strategy)
    rng = random.Random(7)
    completed = rng.sample(sorted(world.reports), 50)
    # lg: a sweep is 300 + 3 requests at 1/7.2 s: ~36 min; give every change 2 sweeps.
    start, span = 4 * 3600.0, 3 * 3600.0
    schedule: dict[float, list[int]] = {}
    for pid in completed:
        schedule.setdefault(start + rng.random() * span, []).append(pid)
    events = await run_until(watcher, vt, world, schedule, horizon=start + span + 2 * 3600)
    assert sorted(e.project_id for e in events) == sorted(completed)
    for event in events:
        assert event.report.id == world.last_generated(event.project_id).id  # type: ignore[union-attr]
        assert not event.baseline
    stats = watcher.stats
    assert stats.events == 50
    # never more than the budget: half of 1,000 per hour, on evenly spaced slots
    assert len(world.requests) <= 0.5 * 1000 * vt.now / 3600 + 2


async def test_hidden_completion_behind_a_pending_newer_report() -> None:
    """The listing shows report 21 pending while the older 20 completes: nothing in the
    listing changes, so only reconciliation can see it, within the documented bound."""
    world, vt = World(300), VirtualTime()
    pid = 5
    world.reports[pid].append(FakeReport(90_001, pid, 20, "running"))
    world.reports[pid].append(FakeReport(90_002, pid, 21, "pending"))
    watcher, _ = make_watcher(world, vt, strategy="listing")
    plan = watcher.estimate(300)
    assert plan.resync_interval is not None
    change_at = 2 * 3600.0
    detected: list[tuple[ReportAdvanced, float]] = []

    async def drive() -> None:
        async for event in watcher:
            detected.append((event, vt.now))
            break

    original = vt.sleep

    async def sleep(seconds: float) -> None:
        before = vt.now
        await original(seconds)
        if before < change_at <= vt.now:
            reports = world.reports[pid]
            reports[-2] = attrs.evolve(reports[-2], status="completed")
        if vt.now > change_at + 2 * plan.resync_interval:  # type: ignore[operator]
            await watcher.aclose()  # not caught: fail instead of hanging

    watcher._sleep = sleep
    await asyncio.wait_for(drive(), timeout=30)
    assert len(detected) == 1, "the hidden completion was never detected"
    event, at = detected[0]
    assert event.project_id == pid
    assert event.report.id == 90_001
    assert at - change_at <= plan.resync_interval
    assert watcher.stats.reconciliations > 0


async def test_resync_catches_hidden_completion_within_bound() -> None:
    world, vt = World(300), VirtualTime()
    pid = 5
    world.reports[pid].append(FakeReport(90_001, pid, 20, "running"))
    world.reports[pid].append(FakeReport(90_002, pid, 21, "pending"))
    watcher, _ = make_watcher(world, vt, strategy="listing")
    plan = watcher.estimate(300)
    assert plan.resync_interval is not None
    change_at = 2 * 3600.0

    def complete_older(_: int) -> FakeReport:
        reports = world.reports[pid]
        reports[-2] = attrs.evolve(reports[-2], status="completed")
        return reports[-2]

    world.complete = complete_older  # type: ignore[method-assign, assignment]
    events = await run_until(
        watcher, vt, world, {change_at: [pid]}, horizon=change_at + plan.resync_interval
    )
    assert [e.report.id for e in events] == [90_001]
    latency = events[0].detected_at  # wall time: use the virtual clock instead
    assert latency is not None
    assert watcher.stats.reconciliations > 0


async def test_commit_only_after_the_consumer_comes_back() -> None:
    world, vt = World(30), VirtualTime()
    checkpoint = MemoryCheckpoint()
    watcher, _ = make_watcher(world, vt, strategy="last-generated", checkpoint=checkpoint)
    # one baseline sweep, then complete a report
    first = asyncio.ensure_future(watcher.__anext__())
    await until(lambda: watcher.stats.ready)
    report = world.complete(3)
    event = await asyncio.wait_for(first, 5)
    assert event.report.id == report.id
    assert checkpoint.records[3] != Seen(report.id, report.report_number)  # not yet
    world.complete(4)
    await asyncio.wait_for(watcher.__anext__(), 5)
    assert checkpoint.records[3] == Seen(report.id, report.report_number)
    await watcher.commit()
    assert checkpoint.records[4] == Seen(
        world.last_generated(4).id,  # type: ignore[union-attr]
        world.last_generated(4).report_number,  # type: ignore[union-attr]
    )


async def test_restart_emits_changes_made_while_down_and_repeats_the_in_flight_one() -> None:
    world, vt = World(40), VirtualTime()
    checkpoint = MemoryCheckpoint()
    watcher, _ = make_watcher(world, vt, strategy="listing", checkpoint=checkpoint)
    first = asyncio.ensure_future(watcher.__anext__())
    await until(lambda: watcher.stats.ready)
    world.complete(1)
    in_flight = await asyncio.wait_for(first, 5)
    await watcher.aclose()  # crashed while handling the event: not committed
    while_down = [2, 3, 4]
    for pid in while_down:
        world.complete(pid)
    again, _ = make_watcher(world, vt, strategy="listing", checkpoint=checkpoint)
    seen: list[int] = []
    async for event in again:
        seen.append(event.project_id)
        if len(seen) == 4:
            break
    assert sorted(seen) == [1, 2, 3, 4]
    assert in_flight.project_id == 1


async def test_401_ends_the_stream_and_403_parks_one_project(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world, vt = World(30), VirtualTime()
    world.forbidden.add(7)
    watcher, _ = make_watcher(world, vt, strategy="last-generated", project_ids=range(1, 31))
    caplog.set_level(logging.WARNING, "trakk_async")
    first = asyncio.ensure_future(watcher.__anext__())
    # every other project has its baseline: a completion before that would be a baseline
    await until(lambda: watcher.stats.ready and watcher.stats.parked)
    assert "project 7" in caplog.text
    world.complete(9)
    event = await asyncio.wait_for(first, 5)
    assert event.project_id == 9
    world.revoked = True
    with pytest.raises(AuthenticationError):
        await asyncio.wait_for(watcher.__anext__(), 5)
    with pytest.raises(AuthenticationError):
        await watcher.__anext__()


async def test_transient_errors_are_retried() -> None:
    world, vt = World(30), VirtualTime()
    watcher, _ = make_watcher(world, vt, strategy="last-generated", project_ids=range(1, 31))
    first = asyncio.ensure_future(watcher.__anext__())
    await until(lambda: watcher.stats.ready)
    world.fail_next = 3
    world.complete(12)
    event = await asyncio.wait_for(first, 5)
    assert event.project_id == 12
    assert watcher.stats.failures == 3


async def test_break_leaves_no_task_behind() -> None:
    world, vt = World(30), VirtualTime()
    # baselines as events, so the first one comes without waiting for a change
    watcher, _ = make_watcher(world, vt, strategy="listing", emit_baselines=True)
    before = asyncio.all_tasks()
    async for _ in watcher:  # pragma: no branch
        break
    assert asyncio.all_tasks() == before


async def test_cancel_mid_request_requeues_and_leaves_nothing() -> None:
    world, vt = World(30), VirtualTime()
    watcher, _ = make_watcher(world, vt, strategy="last-generated", project_ids=[1, 2])
    task = asyncio.ensure_future(watcher.__anext__())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_emit_baselines() -> None:
    world, vt = World(10), VirtualTime()
    watcher, _ = make_watcher(world, vt, strategy="listing", emit_baselines=True)
    with_reports = [p for p in world.reports if world.reports[p]]
    events = []
    async for event in watcher:
        events.append(event)
        if len(events) == len(with_reports):
            break
    assert all(e.baseline and e.previous_report_id is None for e in events)
    assert sorted(e.project_id for e in events) == with_reports


def test_estimate_before_starting() -> None:
    world, vt = World(1), VirtualTime()
    watcher, _ = make_watcher(world, vt)
    plan = watcher.estimate(1000)
    assert plan.strategy == "listing"
    assert plan.sweep_interval == pytest.approx(10 / (500 / 3600 * 0.8))
    lg, _ = make_watcher(world, vt, strategy="last-generated", project_ids=[1, 2, 3])
    assert lg.estimate().sweep_interval == pytest.approx(3 * 7.2)
    with pytest.raises(ValueError, match="number of projects"):
        watcher.estimate()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "fast"},
        {"budget": 0},
        {"shard": (2, 2)},
        {"resync_share": 1.0},
        {"project_ids": [0]},
    ],
)
def test_bad_arguments_raise_before_any_request(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_watcher(World(1), VirtualTime(), **kwargs)
