"""The report watcher end to end over an in-memory stand-in for the client (virtual time)."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import pytest

from tests.unit.watch_standin import (
    FlakyCheckpoint,
    VirtualTime,
    World,
    make_watcher,
    month,
)
from trakk_async import CheckpointError, TrakkError
from trakk_async._core.errors import AuthenticationError
from trakk_async.watch import MemoryCheckpoint, ReportAdvanced, ReportWatcher, Seen


async def ready(watcher: ReportWatcher) -> None:
    await watcher.start()
    assert watcher.ready


async def collect(watcher: ReportWatcher, count: int) -> list[ReportAdvanced]:
    return [await anext(watcher) for _ in range(count)]


# ---------------------------------------------------------------- events


@pytest.mark.parametrize("strategy", ["per-project", "listing"])
async def test_several_completions_between_two_looks_are_one_event_each(strategy: Any) -> None:
    world, vt = World(30), VirtualTime()
    watcher = make_watcher(world, vt, strategy=strategy)
    await ready(watcher)
    last = world.reports[7][-1]
    done = [world.complete(7) for _ in range(3)]  # three reports created and completed
    events = await collect(watcher, 3)
    assert [e.report.id for e in events] == [r.id for r in done]
    assert [(e.previous_report_id, e.report.id) for e in events] == [
        (last.id, done[0].id),
        (done[0].id, done[1].id),
        (done[1].id, done[2].id),
    ]
    assert [e.previous_number for e in events] == [last.number, done[0].number, done[1].number]
    assert not any(e.baseline for e in events)


async def test_each_event_is_committed_before_the_next_one_is_handed_out() -> None:
    world, vt = World(5), VirtualTime()
    store = FlakyCheckpoint()
    watcher = make_watcher(world, vt, checkpoint=store, project_ids=[1, 2, 3, 4, 5])
    await ready(watcher)
    baselines = len(store.saves)
    done = [world.complete(2) for _ in range(2)]
    first = await anext(watcher)
    # handed out, not committed; the mark names the project of the event in flight
    assert store.saves[baselines:] == [{0: Seen(2, None)}]
    second = await anext(watcher)
    assert store.saves[baselines + 1 :] == [
        {2: Seen(done[0].id, done[0].number, first_known(world, 2, 1))}
    ]
    await watcher.commit()
    assert store.saves[-1] == {2: Seen(done[1].id, done[1].number, first_known(world, 2, 0))}
    assert (first.report.id, second.report.id) == (done[0].id, done[1].id)


def first_known(world: World, pid: int, skip_newest: int) -> frozenset[int]:
    completed = [r.id for r in world.reports[pid] if r.status == "completed"]
    return frozenset(completed[: len(completed) - skip_newest])


async def test_an_older_report_completing_after_a_newer_one_is_delivered() -> None:
    world, vt = World(10), VirtualTime()
    old = world.add(4, "failed", month(world.today, -1))
    newer = world.add(4, "pending")
    watcher = make_watcher(world, vt, project_ids=[4])
    await ready(watcher)
    world.complete(4, newer)
    world.complete(4, old)  # the overdue one completes second, behind the newer one
    events = await collect(watcher, 2)
    assert {e.report.id for e in events} == {old.id, newer.id}


@pytest.mark.parametrize("kind", ["early", "behind a failed row", "overdue", "created and done"])
async def test_listing_catches_hidden_completions_within_the_bound(kind: str) -> None:
    """Completions that leave the listing row as it was: only reconciliation finds them."""
    world, vt = World(60), VirtualTime()
    pid = 17
    if kind == "early":  # this month's completed report is the row; next month's completes
        world.add(pid, "completed", world.today)
        target = world.add(pid, "pending")
    elif kind == "behind a failed row":  # an old failed report stays the row for good
        world.add(pid, "failed", month(world.today, -5))
        target = world.add(pid, "running")
    elif kind == "overdue":  # last month's report completes now, behind this month's row
        target = world.add(pid, "running", month(world.today, -1))
        world.add(pid, "completed", world.today)
    else:  # a report created and completed between two passes, next month's
        world.add(pid, "completed", world.today)
        target = None
    watcher = make_watcher(world, vt, strategy="listing")
    await ready(watcher)
    row = world.row(pid)
    plan = watcher.plan
    assert plan is not None
    started = vt.now
    target = world.complete(pid, target)
    assert world.row(pid) == row  # the listing shows nothing
    event = await anext(watcher)
    assert (event.project_id, event.report.id) == (pid, target.id)
    assert vt.now - started <= plan.detection_bound
    assert watcher.stats.confirmations == 0


async def test_listing_confirms_a_hinted_completion_within_the_hinted_bound() -> None:
    world, vt = World(250), VirtualTime()
    pending = world.add(40, "running", world.today)
    watcher = make_watcher(world, vt, strategy="listing")
    await ready(watcher)
    plan = watcher.plan
    assert plan is not None
    started = vt.now
    world.complete(40, pending)  # dated this month: the row moves to it
    event = await anext(watcher)
    assert event.report.id == pending.id
    assert vt.now - started <= plan.hinted_bound
    assert watcher.stats.confirmations == 1


async def test_a_month_boundary_delivers_nothing_twice_and_misses_nothing() -> None:
    world, vt = World(40), VirtualTime()
    for pid in range(1, 41):
        world.add(pid, "completed", world.today)  # every row: this month's report
    upcoming = {pid: world.add(pid, "pending") for pid in range(1, 41, 3)}
    watcher = make_watcher(world, vt, strategy="listing")
    await ready(watcher)
    world.today = month(world.today, 1)  # every row moves: a flood of hints
    for pid, report in upcoming.items():
        world.complete(pid, report)
    events = await collect(watcher, len(upcoming))
    assert sorted((e.project_id, e.report.id) for e in events) == sorted(
        (pid, r.id) for pid, r in upcoming.items()
    )
    plan = watcher.plan
    assert plan is not None
    for _ in range(3):  # a full sweep later, nothing more
        task = asyncio.ensure_future(anext(watcher))
        until = vt.now + plan.sweep_interval
        while vt.now < until and not task.done():  # noqa: ASYNC110 (virtual time)
            await asyncio.sleep(0)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# ---------------------------------------------------------------- the first pass


async def test_the_first_pass_runs_at_the_limiters_pace_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world, vt = World(300), VirtualTime()
    watcher = make_watcher(world, vt, strategy="listing")
    before = watcher.stats
    assert before.ready is False
    with caplog.at_level(logging.INFO, logger="trakk_async"):
        await watcher.start()
    assert vt.slept == 0.0  # no pacing of its own: only the client's limiter paces it
    assert watcher.ready
    assert watcher.stats.ready
    assert watcher.stats.baselines == 300
    assert any("ready" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


@pytest.mark.parametrize("stop_after", range(14))
async def test_a_restart_at_any_point_of_the_first_pass_loses_nothing(stop_after: int) -> None:
    """Projects baselined before the stop keep their baseline: what completes after it,
    while the watcher is down, is delivered by the next one."""
    world, vt = World(12), VirtualTime()
    store = MemoryCheckpoint()
    first = make_watcher(world, vt, checkpoint=store, strategy="per-project")
    task = asyncio.ensure_future(first.start())
    while len(world.requests) < stop_after and not task.done():  # noqa: ASYNC110
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    baselined = set(store.records)
    done = {pid: world.complete(pid).id for pid in world.reports}  # while it is down
    again = make_watcher(world, vt, checkpoint=store, strategy="per-project")
    await again.start()
    expected = {pid: done[pid] for pid in baselined}
    events = await collect(again, len(expected)) if expected else []
    assert {e.project_id: e.report.id for e in events} == expected


async def test_an_old_checkpoint_record_loads_and_is_upgraded() -> None:
    world, vt = World(3), VirtualTime()
    reports = world.reports[2]
    store = MemoryCheckpoint({2: Seen(reports[0].id, reports[0].number)})  # two reports ago
    watcher = make_watcher(world, vt, checkpoint=store, project_ids=[2])
    events = await collect(watcher, 2)
    assert [e.report.id for e in events] == [reports[1].id, reports[2].id]
    assert events[0].previous_report_id == reports[0].id
    await watcher.commit()
    assert store.records[2] == Seen(
        reports[2].id, reports[2].number, frozenset(r.id for r in reports)
    )


# ---------------------------------------------------------------- delivery guarantee


@pytest.mark.parametrize("seed", range(25))
async def test_stop_and_restart_repeats_at_most_the_last_event(seed: int) -> None:
    """Random stops (mid-request, mid-wait, after a commit or not): the events a restarted
    watcher delivers again are at most the one delivered last before the stop."""
    rng = random.Random(seed)
    world, vt = World(15, history=1), VirtualTime()
    store = MemoryCheckpoint()
    expected: set[int] = set()
    delivered: set[int] = set()
    uncommitted: int | None = None  # delivered last and not committed when stopped
    for round_ in range(5):
        watcher = make_watcher(world, vt, checkpoint=store, strategy="per-project")
        if round_ == 0:  # what completes before a project's baseline is not an event
            await watcher.start()
        # a round that delivers nothing leaves the same event the last delivered
        allowed = {uncommitted} - {None}
        for _ in range(rng.randint(1, 6)):
            pid = rng.randint(1, 15)
            expected.update(world.complete(pid).id for _ in range(rng.randint(1, 2)))
        for _ in range(rng.randint(0, 8)):
            task = asyncio.ensure_future(anext(watcher))
            for _ in range(rng.randint(0, 400)):
                await asyncio.sleep(0)
                if task.done():
                    break
            if not task.done():  # stopped while it works: nothing new delivered
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                break
            rid = task.result().report.id
            assert rid not in delivered or rid in allowed, "repeated beyond the bound"
            delivered.add(rid)
            allowed = set()  # delivered once more: the old one is committed now
            uncommitted = rid
            if rng.random() < 0.3:
                await watcher.commit()
                uncommitted = None
    final = make_watcher(world, vt, checkpoint=store, strategy="per-project")
    allowed = {uncommitted} - {None}
    while delivered != expected:
        rid = (await anext(final)).report.id
        assert rid not in delivered or rid in allowed, "repeated beyond the bound"
        delivered.add(rid)
    assert delivered == expected  # nothing lost


async def test_an_event_left_in_flight_comes_first_after_a_restart() -> None:
    """Without the mark, an event left uncommitted by one stop waited for its project's
    turn behind new events; a second stop in that time left two uncommitted, and both
    came again (the "two events repeated" of the old watcher)."""
    world, vt = World(10), VirtualTime()
    store = MemoryCheckpoint()
    first = make_watcher(world, vt, checkpoint=store, project_ids=range(1, 11))
    await first.start()
    late = world.complete(9)  # project 9: late in the order of looks
    assert (await anext(first)).report.id == late.id  # stopped while handling it
    early = world.complete(1)  # project 1: first in the order of looks
    second = make_watcher(world, vt, checkpoint=store, project_ids=range(1, 11))
    assert (await anext(second)).report.id == late.id  # the one in flight, first
    assert (await anext(second)).report.id == early.id  # stopped while handling this one
    third = make_watcher(world, vt, checkpoint=store, project_ids=range(1, 11))
    assert (await anext(third)).report.id == early.id  # only the last one again
    world.complete(5)
    assert (await anext(third)).report.id != late.id


# ---------------------------------------------------------------- the checkpoint store


async def test_a_short_checkpoint_outage_is_ridden_out() -> None:
    world, vt = World(5), VirtualTime()
    outage = [False]
    store = FlakyCheckpoint(lambda: outage[0])
    watcher = make_watcher(world, vt, checkpoint=store, project_ids=[1, 2, 3, 4, 5])
    await ready(watcher)
    first, second = world.complete(3), world.complete(4)
    assert (await anext(watcher)).report.id == first.id
    outage[0] = True
    task = asyncio.ensure_future(anext(watcher))
    start = vt.now
    while vt.now - start < 20:  # 20 s of outage: the next event waits for the commit
        await asyncio.sleep(0)
        assert not task.done()
    outage[0] = False
    assert (await task).report.id == second.id
    assert store.inner.records[3].report_id == first.id
    assert watcher.stats.checkpoint_failures > 0


async def test_a_long_checkpoint_outage_ends_the_stream_with_a_trakk_error() -> None:
    world, vt = World(5), VirtualTime()
    outage = [False]
    store = FlakyCheckpoint(lambda: outage[0])
    watcher = make_watcher(world, vt, checkpoint=store, project_ids=[1, 2], checkpoint_outage=30.0)
    await ready(watcher)
    world.complete(1)
    await anext(watcher)
    outage[0] = True
    start = vt.now
    with pytest.raises(CheckpointError) as caught:
        await anext(watcher)
    assert isinstance(caught.value, TrakkError)
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert 30.0 <= vt.now - start <= 31.0
    assert "30s" in str(caught.value)
    outage[0] = False
    with pytest.raises(CheckpointError):  # the stream stays ended
        await anext(watcher)


# ---------------------------------------------------------------- handling events


async def test_handle_retries_times_out_and_sets_poison_events_aside() -> None:
    world, vt = World(6), VirtualTime()
    store = MemoryCheckpoint()
    watcher = make_watcher(world, vt, checkpoint=store, project_ids=range(1, 7))
    await ready(watcher)
    poison, flaky, fine = world.complete(1), world.complete(2), world.complete(3)
    calls: dict[int, int] = {}
    dead: list[tuple[int, str]] = []

    async def handler(event: ReportAdvanced) -> None:
        calls[event.report.id] = calls.get(event.report.id, 0) + 1
        if event.report.id == poison.id:
            await asyncio.Event().wait()  # hangs
        if event.report.id == flaky.id and calls[flaky.id] < 3:
            raise RuntimeError("try again")

    async def dead_letter(event: ReportAdvanced, error: BaseException) -> None:
        dead.append((event.report.id, type(error).__name__))

    handled = await watcher.handle(
        handler, timeout=0.01, attempts=3, dead_letter=dead_letter, max_events=3
    )
    assert handled == 3
    assert calls == {poison.id: 3, flaky.id: 3, fine.id: 1}
    assert dead == [(poison.id, "TimeoutError")]
    assert store.records[3].report_id == fine.id  # the last one committed too
    assert store.records[1].report_id == poison.id  # set aside, then committed


async def test_handle_without_a_dead_letter_raises_and_commits_nothing() -> None:
    world, vt = World(3), VirtualTime()
    store = MemoryCheckpoint()
    watcher = make_watcher(world, vt, checkpoint=store, project_ids=[1, 2, 3])
    await ready(watcher)
    before = store.records[2]
    world.complete(2)

    async def failing(event: ReportAdvanced) -> None:
        raise ValueError("cannot publish")

    with pytest.raises(ValueError, match="cannot publish"):
        await watcher.handle(failing, attempts=2)
    assert store.records[2] == before


@pytest.mark.parametrize(
    "kwargs", [{"attempts": 0}, {"timeout": 0}, {"max_events": 0}, {"attempts": 1.5}]
)
async def test_handle_checks_its_arguments(kwargs: dict[str, Any]) -> None:
    watcher = make_watcher(World(1), VirtualTime())

    async def nothing(event: ReportAdvanced) -> None:
        return None

    with pytest.raises(ValueError):
        await watcher.handle(nothing, **kwargs)


# ---------------------------------------------------------------- errors and the rest


async def test_401_ends_the_stream_403_sets_one_project_aside() -> None:
    world, vt = World(6), VirtualTime()
    world.forbidden.add(2)
    watcher = make_watcher(world, vt, project_ids=range(1, 7))
    await ready(watcher)
    assert watcher.stats.parked == 1
    done = world.complete(5)
    assert (await anext(watcher)).report.id == done.id
    world.revoked = True
    with pytest.raises(AuthenticationError):
        await anext(watcher)
    with pytest.raises(AuthenticationError):
        await anext(watcher)


async def test_a_project_answering_a_body_of_the_wrong_shape_is_set_aside() -> None:
    world, vt = World(4), VirtualTime()
    world.malformed.add(3)
    watcher = make_watcher(world, vt, project_ids=range(1, 5))
    await ready(watcher)
    assert watcher.stats.parked == 1
    done = world.complete(2)
    assert (await anext(watcher)).report.id == done.id
    # set aside for an hour, not asked again every slot meanwhile
    assert world.requests.count("/projects/3/reports") == 1


async def test_transient_errors_are_retried() -> None:
    world, vt = World(4), VirtualTime()
    watcher = make_watcher(world, vt, project_ids=range(1, 5))
    await ready(watcher)
    world.fail_next = 3
    done = world.complete(3)
    assert (await anext(watcher)).report.id == done.id
    assert watcher.stats.failures == 3


async def test_emit_baselines_delivers_each_projects_newest_completed_report() -> None:
    world, vt = World(4), VirtualTime()
    world.add(4, "pending")
    store = MemoryCheckpoint()
    watcher = make_watcher(
        world, vt, checkpoint=store, project_ids=range(1, 5), emit_baselines=True
    )
    events = await collect(watcher, 4)
    assert all(e.baseline and e.previous_report_id is None for e in events)
    newest = {
        pid: [r for r in reps if r.status == "completed"][-1].id
        for pid, reps in world.reports.items()
    }
    assert {e.project_id: e.report.id for e in events} == newest
    assert set(store.records) == {0, 1, 2, 3}  # the last one is committed on the next call


async def test_break_and_cancel_leave_no_task_behind() -> None:
    world, vt = World(10), VirtualTime()
    watcher = make_watcher(world, vt, emit_baselines=True)
    before = asyncio.all_tasks()
    async for _ in watcher:  # pragma: no branch
        break
    assert asyncio.all_tasks() == before
    task = asyncio.ensure_future(anext(make_watcher(world, vt, project_ids=[1, 2])))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == before


def test_estimate_before_starting() -> None:
    world, vt = World(1), VirtualTime()
    plan = make_watcher(world, vt).estimate(1000)
    assert plan.strategy == "per-project"
    assert plan.detection_bound == pytest.approx(1010 * 7.2 + 7.2)
    listing = make_watcher(world, vt, strategy="listing").estimate(1000)
    assert listing.hinted_bound < plan.detection_bound < listing.detection_bound
    explicit = make_watcher(world, vt, strategy="last-generated", project_ids=[1, 2, 3])
    assert explicit.estimate().sweep_interval == pytest.approx(3 * 7.2)
    with pytest.raises(ValueError, match="number of projects"):
        make_watcher(world, vt).estimate()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "fast"},
        {"budget": 0},
        {"shard": (2, 2)},
        {"reconcile_share": 1.0},
        {"project_ids": [0]},
        {"project_ids": ["7", 3]},
        {"project_ids": "42"},
        {"project_ids": [True]},
        {"checkpoint_outage": -1},
    ],
)
def test_bad_arguments_raise_before_any_request(kwargs: dict[str, Any]) -> None:
    world = World(1)
    with pytest.raises(ValueError):
        make_watcher(world, VirtualTime(), **kwargs)
    assert world.requests == []
