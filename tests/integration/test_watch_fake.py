"""``watch_reports`` against :class:`FakeTrakk` over loopback HTTP.

Most tests run in virtual time (see ``watch_harness``) at Trakk's real limits, so bounds
of hours are checked in seconds; latencies are virtual seconds, never measured ones. The
checkpoint outage runs on the real clock against a real ``redis-server`` that is stopped
and started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.integration.watch_harness import Harness, events_until, harness
from tests.redis_server import _free_port, _ping, redis_binary
from trakk_async import CheckpointError, TrakkClient
from trakk_async._core.errors import AuthenticationError
from trakk_async.ratelimit import TokenBucketLimiter
from trakk_async.testing import FakeTrakk
from trakk_async.watch import (
    Checkpoint,
    MemoryCheckpoint,
    RedisCheckpoint,
    ReportAdvanced,
    SQLiteCheckpoint,
)

pytestmark = pytest.mark.integration

REPORTS = "/projects/{project}/reports"


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


# ---------------------------------------------------------------- every kind of completion


class Scenario:
    """Completions made at virtual times: which report ids, when, and whether the fake's
    listing row of the project changed (a hint) or not (hidden)."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.completed: dict[int, tuple[int, float]] = {}  # report id -> (project, time)
        self.hinted: set[int] = set()

    def at(self, when: float, pid: int, action: Callable[[], list[int]]) -> None:
        async def run() -> None:
            before = await self.h.row(pid)
            ids = action()
            after = await self.h.row(pid)
            for rid in ids:
                self.completed[rid] = (pid, self.h.vt.now)
                if before != after:
                    self.hinted.add(rid)

        self.h.vt.at(when, run)

    def complete(self, pid: int, *numbers: int) -> list[int]:
        """Complete these reports, in this order."""
        return [self.h.fake.complete_report(pid, number).id for number in numbers]

    def new_and_done(self, pid: int, count: int = 1) -> list[int]:
        """``count`` reports created and completed at once (ahead of their month)."""
        fake = self.h.fake
        return [fake.complete_report(pid, fake.start_next_report(pid)).id for _ in range(count)]


#: Completions the listing did not show, found by the "listing" run of the test below.
hidden: set[int] = set()


@pytest.mark.parametrize("strategy", ["per-project", "listing"])
async def test_completions_of_every_kind_are_each_delivered_once_within_their_bound(
    strategy: Any,
) -> None:
    async with harness(200, seed=3) as h:
        fake, vt = h.fake, h.vt
        rng = random.Random(11)
        picked = iter(rng.sample(h.live(), 60))
        # set-ups before the watcher's baseline
        pending = [next(picked) for _ in range(6)]
        numbers = {pid: fake.start_next_report(pid) for pid in pending}
        behind_failed = [next(picked) for _ in range(6)]
        for pid in behind_failed:
            fake.set_report_status(pid, fake.start_next_report(pid), "failed")
        out_of_order = [next(picked) for _ in range(4)]
        pairs = {
            pid: (fake.start_next_report(pid), fake.start_next_report(pid)) for pid in out_of_order
        }
        watcher = h.watcher(strategy=strategy)
        await watcher.start()
        plan = watcher.plan
        assert plan is not None
        # 40 moments, no more than one per 12 slots on average: a burst of hints queues
        # confirmations (each waits a slot), which the hinted bound does not count
        span = 40 * 12 / plan.rate
        scenario = Scenario(h)
        moments = iter(sorted(vt.now + rng.random() * span for _ in range(40)))
        for pid in pending:  # a report seen pending completes
            scenario.at(next(moments), pid, partial(scenario.complete, pid, numbers[pid]))
        for pid in behind_failed:  # a newer report completes behind an old failed one
            scenario.at(next(moments), pid, partial(scenario.new_and_done, pid))
        for pid in out_of_order:  # the newer report first, then the older one
            older, newer = pairs[pid]
            scenario.at(next(moments), pid, partial(scenario.complete, pid, newer, older))
        for _ in range(8):  # created and completed between two looks, ahead of its month
            pid = next(picked)
            scenario.at(next(moments), pid, partial(scenario.new_and_done, pid))
        for _ in range(4):  # several between two looks
            pid = next(picked)
            scenario.at(next(moments), pid, partial(scenario.new_and_done, pid, 3))
        # a month boundary: every "this month" row moves
        boundary = next(moments)

        async def new_month() -> None:
            fake.set_today(next_month(fake.today))

        vt.at(boundary, new_month)
        for _ in range(6):
            pid = next(picked)
            scenario.at(next(moments), pid, partial(scenario.new_and_done, pid))
        got = await events_until(
            watcher,
            vt,
            lambda events: (
                vt.pending == 0 and {e.report.id for e in events} >= set(scenario.completed)
            ),
            within=span + plan.detection_bound * 2,
        )
        delivered = [e.report.id for e, _ in got]
        assert sorted(delivered) == sorted(scenario.completed)  # every one, once
        for event, when in got:
            pid, completed_at = scenario.completed[event.report.id]
            assert event.project_id == pid
            assert when - completed_at <= plan.detection_bound
            # a month boundary moves many rows at once: their confirmations queue, and each
            # waits a slot (the hinted bound says "plus a slot per confirmation ahead");
            # before it, no queue builds up
            shown = strategy == "listing" and event.report.id in scenario.hinted
            if shown and completed_at < boundary:
                assert when - completed_at <= 2 * plan.hinted_bound
        assert scenario.hinted  # the listing showed some of them ...
        if strategy == "listing":
            hidden.update(set(scenario.completed) - scenario.hinted)  # ... and hid others
        # previous_* chain per project, in delivery order
        last: dict[int, int | None] = {}
        for event, _ in got:
            if event.project_id in last:
                assert event.previous_report_id == last[event.project_id]
            last[event.project_id] = event.report.id
        # and nothing more for a whole sweep
        more = await events_until(
            watcher, vt, lambda events: bool(events), within=plan.sweep_interval
        )
        assert more == []
        assert fake.stats().rate_limited == 0


async def test_some_of_those_completions_were_hidden_from_the_listing() -> None:
    """The test above covers completions the listing does not show (run it first)."""
    if not hidden:
        await test_completions_of_every_kind_are_each_delivered_once_within_their_bound("listing")
    assert hidden


async def test_the_first_pass_runs_at_the_limiters_pace_then_the_budget() -> None:
    async with harness(300) as h:
        watcher = h.watcher(strategy="per-project")
        estimate = watcher.estimate(len(h.live()), listed=len(h.fake.project_ids()))
        await watcher.start()
        first_pass = h.vt.now
        assert watcher.ready
        assert watcher.stats.baselines == len(h.live())
        # the limiter's pace: about what the windows allow, far less than the budget's
        assert first_pass <= estimate.first_pass + 60
        assert first_pass < (watcher.stats.requests / estimate.rate) / 3
        before, started = h.fake.stats().requests, h.vt.now
        await events_until(watcher, h.vt, lambda events: False, within=3600)
        spent = h.fake.stats().requests - before
        # then the budget's pace: 500 an hour (the virtual hour ends a few slots late)
        assert spent / (h.vt.now - started) * 3600 == pytest.approx(500, abs=2)
        assert h.fake.stats().rate_limited == 0


# ---------------------------------------------------------------- stops and restarts


def stores(tmp: Path) -> dict[str, Callable[[], Checkpoint]]:
    memory = MemoryCheckpoint()
    return {"memory": lambda: memory, "sqlite": lambda: SQLiteCheckpoint(tmp / "seen.sqlite3")}


async def restart_trials(
    h: Harness, make: Callable[[], Checkpoint], trials: int, seed: int
) -> None:
    """Random stops (in the first pass too, mid-request, mid-wait, after a commit or not)
    and random completions while it is down or running: nothing is lost, and a stop
    repeats at most the event delivered last before it."""
    rng = random.Random(seed)
    fake, vt = h.fake, h.vt
    live = h.live()
    expected: set[int] = set()
    delivered: set[int] = set()
    uncommitted: int | None = None
    baselined = False
    for trial in range(trials):
        store = make()
        watcher = h.watcher(strategy=rng.choice(["per-project", "listing"]), checkpoint=store)
        allowed = {uncommitted} - {None}
        if baselined:
            for _ in range(rng.randint(0, 4)):  # while it was down
                pid = rng.choice(live)
                expected.update(
                    r.id for r in [fake.complete_report(pid, fake.start_next_report(pid))]
                )
        stop_after = fake.stats().requests + rng.randint(0, 60 if trial else 400)
        task: asyncio.Future[Any] | None = None
        for _ in range(rng.randint(1, 6)):
            task = asyncio.ensure_future(anext(watcher))
            while not task.done() and fake.stats().requests < stop_after:
                await asyncio.wait({task}, timeout=0.01)
            if not task.done():
                break
            rid = task.result().report.id
            assert rid not in delivered or rid in allowed, f"repeated beyond the bound: {rid}"
            delivered.add(rid)
            allowed = set()
            uncommitted = rid
            if rng.random() < 0.3:
                await watcher.commit()
                uncommitted = None
            task = None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if watcher.ready and not baselined:
            baselined = True
        if baselined:
            for _ in range(rng.randint(0, 3)):  # what happens while it runs or just after
                pid = rng.choice(live)
                expected.add(fake.complete_report(pid, fake.start_next_report(pid)).id)
        if isinstance(store, SQLiteCheckpoint):
            await store.aclose()
    store = make()
    final = h.watcher(strategy="per-project", checkpoint=store)
    allowed = {uncommitted} - {None}
    await final.start()
    plan = final.plan
    assert plan is not None
    got = await events_until(
        final,
        vt,
        lambda events: delivered | {e.report.id for e in events} >= expected,
        within=2 * plan.detection_bound,
    )
    for event, _ in got:
        rid = event.report.id
        assert rid not in delivered or rid in allowed, f"repeated beyond the bound: {rid}"
        delivered.add(rid)
    assert expected <= delivered  # nothing lost
    if isinstance(store, SQLiteCheckpoint):
        await store.aclose()


# A fixed seed per store: hash() of a str changes with every process (PYTHONHASHSEED), which
# would make the stop points, and so the test, differ from run to run.
@pytest.mark.parametrize(("store", "seed"), [("memory", 11), ("sqlite", 12)])
async def test_fifty_random_stops_and_restarts_lose_nothing(
    store: str, seed: int, tmp_path: Path
) -> None:
    async with harness(30, seed=4, limits=[(600, 60.0), (10_000, 3600.0)]) as h:
        await restart_trials(h, stores(tmp_path)[store], 50, seed=seed)


@pytest.mark.redis
async def test_fifty_random_stops_and_restarts_on_redis_lose_nothing() -> None:
    from redis.asyncio import Redis

    with redis_process() as server:
        redis = Redis.from_url(server.url)
        try:
            async with harness(30, seed=4, limits=[(600, 60.0), (10_000, 3600.0)]) as h:
                await restart_trials(h, lambda: RedisCheckpoint(redis), 50, seed=5)
        finally:
            await redis.aclose()


# ---------------------------------------------------------------- a checkpoint outage


class RedisProcess:
    """A redis-server on a fixed port that can be stopped and started again."""

    def __init__(self, workdir: str) -> None:
        self.binary = redis_binary()
        self.port = _free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.workdir,
             "--save", "", "--appendonly", "yes"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(500):
            if _ping(self.port):
                return
            time.sleep(0.01)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextlib.contextmanager
def redis_process() -> Iterator[RedisProcess]:
    workdir = tempfile.mkdtemp(prefix="trakk-redis-")
    server = RedisProcess(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@asynccontextmanager
async def served(projects: int) -> AsyncIterator[tuple[FakeTrakk, TrakkClient]]:
    window = (1000, 1.0)
    async with FakeTrakk.running(
        seed=1, projects=projects, agencies=1, rate_limits=[window]
    ) as fake:
        limiter = TokenBucketLimiter(windows=[window])
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as client:
            yield fake, client


@pytest.mark.redis
async def test_a_redis_outage_is_ridden_out_a_long_one_ends_the_watch() -> None:
    from redis.asyncio import Redis

    with redis_process() as server:
        redis = Redis.from_url(server.url)
        try:
            async with served(20) as (fake, client):
                ids = fake.project_ids()[:4]
                watcher = client.watch_reports(ids, checkpoint=RedisCheckpoint(redis), budget=0.01)
                await watcher.start()
                done = [fake.complete_report(p, fake.start_next_report(p)).id for p in ids[:2]]
                first = await asyncio.wait_for(anext(watcher), 30)
                server.stop()  # the consumer handles the first event; Redis goes away
                second = asyncio.ensure_future(anext(watcher))
                await asyncio.sleep(1.5)
                assert not second.done()  # not before the first is committed
                server.start()
                second_event = await asyncio.wait_for(second, 30)
                assert [first.report.id, second_event.report.id] == done
                assert watcher.stats.checkpoint_failures > 0
                stored = await RedisCheckpoint(redis).load()
                assert stored[first.project_id].report_id == first.report.id  # committed

            async with served(20) as (fake, client):
                ids = fake.project_ids()[:2]
                watcher = client.watch_reports(
                    ids, checkpoint=RedisCheckpoint(redis, namespace="long"), checkpoint_outage=2.0
                )
                await watcher.start()
                fake.complete_report(ids[0], fake.start_next_report(ids[0]))
                fake.complete_report(ids[1], fake.start_next_report(ids[1]))
                await asyncio.wait_for(anext(watcher), 30)
                server.stop()
                with pytest.raises(CheckpointError) as caught:
                    await asyncio.wait_for(anext(watcher), 30)
                assert "2s" in str(caught.value)
                server.start()
        finally:
            await redis.aclose()


# ---------------------------------------------------------------- the rest


async def test_first_report_wraparound_and_project_churn() -> None:
    async with harness(30) as h:
        fake = h.fake
        watcher = h.watcher(strategy="per-project")
        await watcher.start()
        plan = watcher.plan
        assert plan is not None
        watched = watcher.stats.watched
        new = fake.add_project()  # joins through the listing; its first look is its baseline
        await events_until(watcher, h.vt, lambda e: False, within=2 * plan.sweep_interval)
        assert watcher.stats.watched == watched + 1
        first = fake.complete_report(new, fake.start_next_report(new)).id
        ((event, _),) = await events_until(
            watcher, h.vt, lambda e: len(e) == 1, within=2 * plan.detection_bound
        )
        assert (event.project_id, event.report.id) == (new, first)
        assert (event.previous_number, event.previous_report_id) == (None, None)
        # numbers wrap after 26: 26 -> 1 is still one event each
        for _ in range(25):
            fake.complete_report(new, fake.start_next_report(new))
        wrap = fake.complete_report(new, fake.start_next_report(new)).id
        got = await events_until(
            watcher, h.vt, lambda e: len(e) == 26, within=2 * plan.detection_bound
        )
        assert [e.report.report_number for e, _ in got][-2:] == [26, 1]
        assert got[-1][0].report.id == wrap
        assert got[-1][0].previous_number == 26
        # a removed project leaves at the next listing pass, without stopping the stream
        fake.remove_project(new)
        await events_until(watcher, h.vt, lambda e: False, within=2 * plan.sweep_interval)
        assert watcher.stats.watched == watched


async def test_401_ends_the_stream_403_and_500_do_not() -> None:
    async with FakeTrakk.running(
        seed=1, projects=40, agencies=2, rate_limits=[(1000, 1.0)]
    ) as fake:
        ids = fake.project_ids()[:6]
        foreign = fake.project_ids(fake.agency_id + 1)[0]  # another agency's: 403
        limiter = TokenBucketLimiter(windows=[(1000, 1.0)])
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as client:
            watcher = client.watch_reports([*ids, foreign])
            await watcher.start()
            assert watcher.stats.parked == 1
            fake.inject_fault("500", count=2, route=f"/projects/{ids[1]}/")
            done = fake.complete_report(ids[1], fake.start_next_report(ids[1]))
            event: ReportAdvanced = await asyncio.wait_for(anext(watcher), 30)
            assert event.report.id == done.id
            assert fake.stats().faults == 2  # retried (by the client or the watcher)
            fake.revoke_token(fake.token)
            with pytest.raises(AuthenticationError):
                await asyncio.wait_for(anext(watcher), 30)
            with pytest.raises(AuthenticationError):
                await anext(watcher)


async def test_requests_are_paced_not_bursted() -> None:
    # 100 a second at the fake with a 0.1 s side window to count bursts; budget 0.5: 50/s
    window = (100, 1.0)
    async with FakeTrakk.running(
        seed=1, projects=60, agencies=1, rate_limits=[window, (100, 0.1)]
    ) as fake:
        limiter = TokenBucketLimiter(windows=[window])
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as client:
            watcher = client.watch_reports(strategy="per-project")
            assert watcher.estimate(60).rate == pytest.approx(50.0)
            await watcher.start()
            before = fake.stats().requests
            task = asyncio.ensure_future(anext(watcher))
            async with asyncio.timeout(30):
                while fake.stats().requests < before + 100:  # noqa: ASYNC110 (the fake's state)
                    await asyncio.sleep(0.005)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        stats = fake.stats()
        assert stats.rate_limited == 0
        # after the first pass, evenly spaced: about 5 per 0.1 s, where a burst puts dozens
        assert stats.max_in_window[1.0] <= 100


@pytest.mark.redis
async def test_two_shards_on_one_token_and_one_redis_hash_each_change_once() -> None:
    from redis.asyncio import Redis

    with redis_process() as server:
        redis = Redis.from_url(server.url)
        try:
            async with harness(120, limits=[(600, 60.0), (10_000, 3600.0)]) as h:
                workers = [
                    h.watcher(
                        checkpoint=RedisCheckpoint(redis, namespace="shards"),
                        shard=(i, 2),
                        budget=0.25,
                    )
                    for i in range(2)
                ]
                for w in workers:
                    await w.start()
                changed = {
                    p: h.fake.complete_report(p, h.fake.start_next_report(p)).id
                    for p in h.live()[:20]
                }
                events: list[ReportAdvanced] = []
                for i, w in enumerate(workers):
                    mine = {p for p in changed if p % 2 == i}
                    plan = w.plan
                    assert plan is not None

                    def all_mine(events: list[ReportAdvanced], mine: set[int] = mine) -> bool:
                        return {e.project_id for e in events} >= mine

                    got = await events_until(w, h.vt, all_mine, within=2 * plan.detection_bound)
                    assert all(e.project_id % 2 == i for e, _ in got)
                    events.extend(e for e, _ in got)
                assert {e.project_id: e.report.id for e in events} == changed
                assert len(events) == len(changed)
                assert h.fake.stats().rate_limited == 0
        finally:
            await redis.aclose()
