"""``watch_reports`` over real loopback HTTP against :class:`FakeTrakk`.

The client's limiter and the fake's throttle use one tiny window, so a budget meant for an
hour is spent in about a second. Assertions are counts (events, requests at the fake,
429s), never durations; the wall-clock limits below only stop a broken test from hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.redis_server import redis_server
from trakk_async import TrakkClient
from trakk_async._core.errors import AuthenticationError
from trakk_async.ratelimit import TokenBucketLimiter
from trakk_async.testing import FakeTrakk
from trakk_async.watch import (
    Checkpoint,
    RedisCheckpoint,
    ReportAdvanced,
    ReportWatcher,
    SQLiteCheckpoint,
)

pytestmark = pytest.mark.integration

#: 1,000 requests per second on both sides: budget=0.5 is 500 watcher requests a second.
WINDOW = (1000, 1.0)
LAST_GENERATED = "/projects/{project}/reports/last-generated"
SAFETY = 60.0  # seconds; only so that a bug fails the test instead of hanging it


@asynccontextmanager
async def served(projects: int, window: tuple[int, float] = WINDOW) -> AsyncIterator[Any]:
    async with FakeTrakk.running(
        seed=1, projects=projects, agencies=1, rate_limits=[window]
    ) as fake:
        yield fake


def client_of(fake: FakeTrakk, window: tuple[int, float] = WINDOW) -> TrakkClient:
    limiter = TokenBucketLimiter(windows=[window])
    return TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter)


def watched_ids(fake: FakeTrakk) -> list[int]:
    """The projects a watcher follows: listed, and not ended."""
    return [p for p in fake.project_ids() if fake.world.projects[p].status != "ended"]


def complete_new_report(fake: FakeTrakk, pid: int) -> int:
    """Start the project's next report and complete it: one change of /last-generated."""
    number = fake.start_next_report(pid)
    return fake.complete_report(pid, number).id


class Consumer:
    """Iterates a watcher in a task, collecting events."""

    def __init__(self, watcher: ReportWatcher, *, hang_on_first: bool = False) -> None:
        self.watcher = watcher
        self.events: list[ReportAdvanced] = []
        self.hang_on_first = hang_on_first
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for event in self.watcher:
            self.events.append(event)
            if self.hang_on_first:  # still handling it when the worker dies
                await asyncio.Event().wait()

    async def until(self, predicate: Callable[[], object]) -> None:
        async with asyncio.timeout(SAFETY):
            while not predicate():
                if self.task.done():
                    self.task.result()  # raise what ended the stream
                    raise AssertionError("the stream ended")
                await asyncio.sleep(0.005)

    async def sweeps(self, count: int) -> None:
        """Wait for ``count`` more sweeps (listing passes or last-generated rounds)."""
        target = self.watcher.stats.sweeps + count
        await self.until(lambda: self.watcher.stats.sweeps >= target)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


#: The listing strategy's premise (``latest_report_*`` describe the newest report) is not
#: Trakk's: they describe the /reports/latest row, which does not move when a report
#: completes ahead of its month (trakk-public-docs-notes.md). Not run until the watcher
#: follows the documented listing (issue 17); each would wait out SAFETY.
LISTING_PREMISE = pytest.mark.xfail(
    run=False, reason="listing semantics: the watcher's listing strategy (issue 17)"
)


@pytest.mark.parametrize(
    "strategy",
    [
        "last-generated",
        pytest.param("listing", marks=LISTING_PREMISE),  # (issue 17)
        pytest.param("auto", marks=LISTING_PREMISE),  # (issue 17)
    ],
)
async def test_fifty_completions_among_300_projects_are_fifty_events(strategy: Any) -> None:
    rng = random.Random(5)
    async with served(300) as fake, client_of(fake) as client:
        watcher = client.watch_reports(strategy=strategy)
        consumer = Consumer(watcher)
        await consumer.until(lambda: watcher.stats.ready)
        chosen = rng.sample(watched_ids(fake), 50)
        expected: dict[int, int] = {}
        for i, pid in enumerate(chosen):
            if i % 2:  # half are seen pending for a while first
                number = fake.start_next_report(pid)
                await asyncio.sleep(rng.random() * 0.01)
                expected[pid] = fake.complete_report(pid, number).id
            else:
                expected[pid] = complete_new_report(fake, pid)
            await asyncio.sleep(rng.random() * 0.02)
        await consumer.until(lambda: len(consumer.events) >= 50)
        # two more full sweeps (and, for listing, its reconciliations): nothing doubles
        await consumer.sweeps(2)
        await consumer.stop()
        assert {e.project_id: e.report.id for e in consumer.events} == expected
        assert len(consumer.events) == 50
        assert not any(e.baseline for e in consumer.events)
        stats, served_stats = watcher.stats, fake.stats()
        assert served_stats.rate_limited == 0
        # every request the watcher counts reached the fake and no other did (the one out
        # when the consumer was cancelled may not have)
        pages, polls = served_stats.by_route["/projects"], served_stats.by_route[LAST_GENERATED]
        asked = stats.polls + stats.confirmations + stats.reconciliations
        assert stats.pages + asked - 1 <= pages + polls <= stats.pages + asked
        if watcher.plan is not None and watcher.plan.strategy == "listing":
            # confirmations only for hinted projects: far fewer than one per project per pass
            assert stats.confirmations < 2 * 50
            assert served_stats.by_route[LAST_GENERATED] < stats.listing_passes * 300 / 4


@LISTING_PREMISE  # (issue 17)
async def test_listing_hidden_completion_is_caught_by_reconciliation() -> None:
    """The listing shows a newer pending report while an older one completes."""
    async with served(300) as fake, client_of(fake) as client:
        pid = watched_ids(fake)[3]
        older = fake.start_next_report(pid)
        fake.set_report_status(pid, older, "running")
        fake.start_next_report(pid)  # the newest, pending: what the listing shows
        watcher = client.watch_reports(strategy="listing")
        consumer = Consumer(watcher)
        await consumer.until(lambda: watcher.stats.ready)
        before = watcher.stats.reconciliations
        report = fake.complete_report(pid, older)
        await consumer.until(lambda: consumer.events)
        await consumer.stop()
        assert [(e.project_id, e.report.id) for e in consumer.events] == [(pid, report.id)]
        assert watcher.stats.confirmations == 0  # the listing showed nothing to confirm
        assert watcher.stats.reconciliations > before
        # within the documented bound, counted in reconciliation slots: every project at
        # risk is reconciled once per ``resync_interval``
        plan = watcher.plan
        assert plan is not None
        assert plan.resync_interval is not None
        assert watcher.stats.reconciliations - before <= plan.projects


async def test_first_report_wraparound_and_project_churn() -> None:
    async with served(30) as fake, client_of(fake) as client:
        watcher = client.watch_reports(strategy="last-generated")
        consumer = Consumer(watcher)
        await consumer.until(lambda: watcher.stats.ready)
        watched = watcher.stats.watched
        # a new project joins through re-listing; its first report (404 -> report) is an event
        new = fake.add_project()
        await consumer.until(lambda: watcher.stats.watched == watched + 1)
        await consumer.sweeps(1)
        first = complete_new_report(fake, new)
        await consumer.until(lambda: len(consumer.events) == 1)
        event = consumer.events[0]
        assert (event.project_id, event.report.id) == (new, first)
        assert (event.previous_number, event.previous_report_id) == (None, None)
        # numbers wrap after 26: 26 -> 1 is still one event each
        for _ in range(25):
            fake.start_next_report(new)
            fake.complete_report(new)
        await consumer.until(lambda: len(consumer.events) == 2)
        wrap = complete_new_report(fake, new)
        await consumer.until(lambda: len(consumer.events) == 3)
        assert consumer.events[1].report.report_number == 26
        assert consumer.events[2].report.id == wrap
        assert (consumer.events[2].previous_number, consumer.events[2].report.report_number) == (
            26,
            1,
        )
        # a removed project leaves at the next listing pass, without stopping the stream
        fake.remove_project(new)
        await consumer.until(lambda: watcher.stats.watched == watched)
        other = watched_ids(fake)[0]
        done = complete_new_report(fake, other)
        await consumer.until(lambda: len(consumer.events) == 4)
        await consumer.stop()
        assert consumer.events[3].report.id == done


async def test_emit_baselines_and_explicit_ids() -> None:
    async with served(30) as fake, client_of(fake) as client:
        ids = watched_ids(fake)[:10]
        with_report = [p for p in ids if fake.world.last_generated(fake.world.projects[p])]
        watcher = client.watch_reports(ids, emit_baselines=True)
        assert watcher.estimate().projects == 10
        consumer = Consumer(watcher)
        await consumer.until(lambda: len(consumer.events) == len(with_report))
        await consumer.sweeps(1)
        await consumer.stop()
        assert sorted(e.project_id for e in consumer.events) == sorted(with_report)
        assert all(e.baseline for e in consumer.events)
        # explicit ids: no listing at all for "last-generated"
        assert "/projects" not in fake.stats().by_route


async def test_requests_are_paced_not_bursted() -> None:
    # 100 a second at the fake with a 0.1 s side window to count bursts; budget 0.5: 50/s
    window = (100, 1.0)
    async with FakeTrakk.running(
        seed=1, projects=60, agencies=1, rate_limits=[window, (100, 0.1)]
    ) as fake:
        async with client_of(fake, window) as client:
            watcher = client.watch_reports(strategy="last-generated")
            assert watcher.estimate(60).rate == pytest.approx(50.0)
            consumer = Consumer(watcher)
            await consumer.until(lambda: fake.stats().requests >= 100)
            await consumer.stop()
        stats = fake.stats()
        assert stats.rate_limited == 0
        # evenly spaced: about 5 per 0.1 s (the first page goes before pacing starts);
        # a burst would put dozens in one
        assert stats.max_in_window[0.1] <= 8
        assert stats.max_in_window[1.0] <= 50 + 2


async def test_401_ends_the_stream_403_and_500_do_not() -> None:
    async with FakeTrakk.running(seed=1, projects=40, agencies=2, rate_limits=[WINDOW]) as fake:
        ids = watched_ids(fake)[:6]
        foreign = fake.project_ids(fake.agency_id + 1)[0]  # another agency's: 403
        async with client_of(fake) as client:
            watcher = client.watch_reports([*ids, foreign])
            consumer = Consumer(watcher)
            await consumer.until(lambda: watcher.stats.ready and watcher.stats.parked == 1)
            fake.inject_fault("500", count=2, route=f"/projects/{ids[1]}/")
            done = complete_new_report(fake, ids[1])
            await consumer.until(lambda: consumer.events)
            assert consumer.events[0].report.id == done
            assert fake.stats().faults == 2  # retried (by the client or the watcher)
            fake.revoke_token(fake.token)
            with pytest.raises(AuthenticationError):
                await asyncio.wait_for(consumer.task, SAFETY)
            with pytest.raises(AuthenticationError):
                await anext(watcher)
            assert len(consumer.events) == 1


async def _restart_loses_nothing(fake: FakeTrakk, make: Callable[[], Checkpoint]) -> None:
    ids = watched_ids(fake)
    async with client_of(fake) as client:
        first = client.watch_reports(checkpoint=make(), strategy="listing")
        consumer = Consumer(first, hang_on_first=True)
        await consumer.until(lambda: first.stats.ready)
        in_flight = complete_new_report(fake, ids[0])
        await consumer.until(lambda: consumer.events)
        await consumer.stop()  # cancelled while handling it: the event was not committed
    assert [e.report.id for e in consumer.events] == [in_flight]
    while_down = {pid: complete_new_report(fake, pid) for pid in ids[5:12]}
    async with client_of(fake) as client:
        again = client.watch_reports(checkpoint=make(), strategy="listing")
        consumer = Consumer(again)
        await consumer.until(lambda: len(consumer.events) >= len(while_down) + 1)
        await consumer.sweeps(2)
        await consumer.stop()
    got = {e.project_id: e.report.id for e in consumer.events}
    assert len(got) == len(consumer.events)  # nothing twice
    assert got == {ids[0]: in_flight, **while_down}  # the in-flight one, repeated once


@LISTING_PREMISE  # (issue 17)
async def test_restart_on_sqlite_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite3"
    async with served(120) as fake:
        await _restart_loses_nothing(fake, lambda: SQLiteCheckpoint(path))


@LISTING_PREMISE  # (issue 17)
@pytest.mark.redis
async def test_restart_on_redis_checkpoint_and_two_shards() -> None:
    from redis.asyncio import Redis

    with redis_server() as url:
        redis = Redis.from_url(url)
        try:
            async with served(120) as fake:
                await _restart_loses_nothing(fake, lambda: RedisCheckpoint(redis))
                # two workers, one token, one limiter, one shared hash: each change once
                limiter = TokenBucketLimiter(windows=[WINDOW])
                async with (
                    TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as a,
                    TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as b,
                ):
                    workers = [
                        Consumer(
                            c.watch_reports(
                                checkpoint=RedisCheckpoint(redis, namespace="shards"),
                                shard=(i, 2),
                                budget=0.25,
                            )
                        )
                        for i, c in enumerate((a, b))
                    ]
                    for w in workers:
                        await w.until(lambda w=w: w.watcher.stats.ready)  # type: ignore[misc]
                    changed = {p: complete_new_report(fake, p) for p in watched_ids(fake)[:20]}
                    await workers[0].until(
                        lambda: sum(len(w.events) for w in workers) >= len(changed)
                    )
                    for w in workers:
                        await w.sweeps(1)
                        await w.stop()
                for i, w in enumerate(workers):
                    assert all(e.project_id % 2 == i for e in w.events)
                events = [e for w in workers for e in w.events]
                assert {e.project_id: e.report.id for e in events} == changed
                assert len(events) == len(changed)
                assert fake.stats().rate_limited == 0
        finally:
            await redis.aclose()
