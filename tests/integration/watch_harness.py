"""A report watcher against FakeTrakk over loopback HTTP, in virtual time.

One clock for everything that waits: the fake's rate-limit windows, the client's limiter,
its retry backoff and the watcher's pacing. Time moves only when one of them sleeps, so
hours of watching at Trakk's real limits (60 a minute, 1,000 an hour) take seconds.
Scheduled actions (reports completing) run when the clock passes their time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from trakk_async import TrakkClient
from trakk_async.ratelimit import TokenBucketLimiter
from trakk_async.testing import FakeTrakk
from trakk_async.watch import ReportAdvanced, ReportWatcher

#: Trakk's default limits.
TRAKK_LIMITS = [(60, 60.0), (1000, 3600.0)]
#: An unlimited window, for a side client that reads what the fake serves.
UNLIMITED = [(10**9, 1.0)]

Action = Callable[[], Awaitable[None]]


class VirtualTime:
    """A clock that moves only when something sleeps; runs due actions on the way."""

    def __init__(self) -> None:
        self.now = 0.0
        self._actions: list[tuple[float, int, Action]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    def at(self, when: float, action: Action) -> None:
        heapq.heappush(self._actions, (when, next(self._seq), action))

    @property
    def pending(self) -> int:
        return len(self._actions)

    async def sleep(self, seconds: float) -> None:
        target = self.now + max(0.0, seconds)
        while self._actions and self._actions[0][0] <= target:
            when, _, action = heapq.heappop(self._actions)
            self.now = max(self.now, when)
            await action()
        self.now = target
        await asyncio.sleep(0)


class Harness:
    """The fake, a client at Trakk's limits on the virtual clock, and a side client."""

    def __init__(self, fake: FakeTrakk, client: TrakkClient, side: TrakkClient, vt: VirtualTime):
        self.fake, self.client, self.side, self.vt = fake, client, side, vt

    def watcher(self, **kwargs: Any) -> ReportWatcher:
        return ReportWatcher(self.client, _clock=self.vt.clock, _sleep=self.vt.sleep, **kwargs)

    def live(self) -> list[int]:
        """The projects a watcher of every project follows: listed, not ended."""
        return [p for p in self.fake.project_ids() if self.fake.world.projects[p].status != "ended"]

    async def row(self, pid: int) -> tuple[Any, ...]:
        """One project's listing row as the fake serves it now: its ``latest_report_*``,
        which the project detail repeats (raw JSON, read outside the watcher's limit)."""
        data = (await self.side.get_json(f"/projects/{pid}"))["data"]
        return (data["latest_report_id"], str(data["latest_report_status"]))

    async def rows(self) -> dict[int, tuple[Any, ...]]:
        """Every project's listing row as the fake serves it now."""
        rows: dict[int, tuple[Any, ...]] = {}
        page = 1
        while True:
            body = await self.side.get_json("/projects", {"page": str(page), "per_page": "100"})
            for item in body["data"]:
                rows[item["id"]] = (item["latest_report_id"], str(item["latest_report_status"]))
            if page >= body["meta"]["last_page"]:
                return rows
            page += 1


@asynccontextmanager
async def harness(
    projects: int, *, seed: int = 1, limits: list[tuple[int, float]] | None = None
) -> AsyncIterator[Harness]:
    limits = limits or TRAKK_LIMITS
    vt = VirtualTime()
    async with FakeTrakk.running(
        seed=seed, projects=projects, agencies=1, rate_limits=limits, clock=vt.clock, wall=vt.wall
    ) as fake:
        limiter = TokenBucketLimiter(windows=limits, clock=vt.clock, wall=vt.wall, sleep=vt.sleep)
        side_token = fake.new_token(fake.agency_id, rate_limits=[])
        async with (
            TrakkClient(
                fake.token, base_url=fake.base_url, rate_limiter=limiter, _sleep=vt.sleep
            ) as client,
            TrakkClient(
                side_token,
                base_url=fake.base_url,
                rate_limiter=TokenBucketLimiter(windows=UNLIMITED),
            ) as side,
        ):
            yield Harness(fake, client, side, vt)


async def events_until(
    watcher: ReportWatcher,
    vt: VirtualTime,
    done: Callable[[list[ReportAdvanced]], bool],
    *,
    within: float,
) -> list[tuple[ReportAdvanced, float]]:
    """Events (with the virtual time each arrived) until ``done`` says so or ``within``
    virtual seconds passed."""
    got: list[tuple[ReportAdvanced, float]] = []
    deadline = vt.now + within
    while not done([e for e, _ in got]) and vt.now < deadline:
        task = asyncio.ensure_future(anext(watcher))
        while not task.done() and vt.now < deadline:
            await asyncio.wait({task}, timeout=0.01)
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            break
        got.append((task.result(), vt.now))
    return got
