"""``client.reports.wait_for_completion`` over real loopback HTTP against :class:`FakeTrakk`.

Reports are moved along from the test between polls, counted at the fake; intervals are
read from an injected sleep, never measured.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from trakk_async import TrakkClient
from trakk_async._client.polling import wait_for_completion
from trakk_async._core.errors import (
    NotFoundError,
    ReportFailedError,
    TrakkError,
    WaitTimeoutError,
)
from trakk_async.ratelimit import TokenBucketLimiter
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

WINDOW = (1000, 1.0)
LATEST = "/projects/{project}/reports/latest"
LIST = "/projects/{project}/reports"
SAFETY = 30.0  # only so that a bug fails the test instead of hanging it


@asynccontextmanager
async def served() -> AsyncIterator[tuple[FakeTrakk, TrakkClient, int]]:
    """A fake, a client sharing its window, and a new project with one pending report."""
    async with FakeTrakk.running(seed=1, projects=5, agencies=1, rate_limits=[WINDOW]) as fake:
        limiter = TokenBucketLimiter(windows=[WINDOW])
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
            pid = fake.add_project()
            fake.start_next_report(pid)
            yield fake, c, pid


def polls(fake: FakeTrakk, route: str = LATEST) -> int:
    return fake.stats().by_route.get(route, 0)


async def when_polled(fake: FakeTrakk, count: int, route: str = LATEST) -> None:
    async with asyncio.timeout(SAFETY):
        while polls(fake, route) < count:  # noqa: ASYNC110 (state of the fake server)
            await asyncio.sleep(0.001)


async def test_returns_the_report_once_completed() -> None:
    async with served() as (fake, client, pid):
        task = asyncio.ensure_future(client.reports.wait_for_completion(pid, poll_interval=0.005))
        await when_polled(fake, 2)
        fake.set_report_status(pid, 1, "running")
        await when_polled(fake, 4)
        done = fake.complete_report(pid, 1)
        report = await asyncio.wait_for(task, SAFETY)
        assert (report.id, str(report.status)) == (done.id, "completed")
        # every poll went through the client's shared limiter
        used = client.rate_limit.windows[0].used
        assert used == fake.stats().requests


async def test_follows_a_report_number_through_the_list() -> None:
    async with served() as (fake, client, pid):
        second = fake.start_next_report(pid)
        task = asyncio.ensure_future(
            client.reports.wait_for_completion(pid, report_number=second, poll_interval=0.005)
        )
        await when_polled(fake, 2, LIST)
        fake.complete_report(pid, 1)  # not the one followed
        await when_polled(fake, 4, LIST)
        done = fake.complete_report(pid, second)
        report = await asyncio.wait_for(task, SAFETY)
        assert report.id == done.id
        assert polls(fake, LATEST) == 0


async def test_failed_raises_with_the_report() -> None:
    async with served() as (fake, client, pid):
        task = asyncio.ensure_future(client.reports.wait_for_completion(pid, poll_interval=0.005))
        await when_polled(fake, 2)
        failed = fake.set_report_status(pid, 1, "failed")
        with pytest.raises(ReportFailedError) as info:
            await asyncio.wait_for(task, SAFETY)
        assert info.value.report.id == failed.id
        assert isinstance(info.value, TrakkError)


async def test_timeout_raises_a_timeout_error() -> None:
    async with served() as (_, client, pid):
        with pytest.raises(WaitTimeoutError) as info:
            await client.reports.wait_for_completion(pid, timeout=0.05, poll_interval=0.005)
        assert isinstance(info.value, TimeoutError)
        assert isinstance(info.value, TrakkError)
        assert "pending" in str(info.value)


async def test_no_report_at_all_is_not_found() -> None:
    async with served() as (fake, client, _):
        empty = fake.add_project()
        with pytest.raises(NotFoundError):
            await client.reports.wait_for_completion(empty, poll_interval=0.005)


async def test_cancelling_stops_polling_at_once() -> None:
    async with served() as (fake, client, pid):
        task = asyncio.ensure_future(client.reports.wait_for_completion(pid, poll_interval=0.005))
        await when_polled(fake, 3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = fake.stats().requests
        await asyncio.sleep(0.05)  # ten intervals: no poll may follow
        assert fake.stats().requests == after


async def test_interval_follows_the_status_and_stuck_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with served() as (fake, client, pid):
        now = [0.0]
        waits: list[tuple[str, float]] = []
        steps: dict[int, Callable[[], Any]] = {
            3: lambda: fake.set_report_status(pid, 1, "running"),
            7: lambda: fake.complete_report(pid, 1),
        }

        async def sleep(seconds: float) -> None:
            status = "running" if len(waits) >= 3 else "pending"
            waits.append((status, seconds))
            now[0] += seconds
            step = steps.get(len(waits))
            if step is not None:
                step()
            await asyncio.sleep(0)

        caplog.set_level(logging.WARNING, "trakk_async")
        wait: Awaitable[Any] = wait_for_completion(
            client, pid, stuck_after=60.0, _clock=lambda: now[0], _sleep=sleep,
            _random=lambda: 0.5,
        )  # fmt: skip
        report = await asyncio.wait_for(wait, SAFETY)
        assert str(report.status) == "completed"
        pending = [s for st, s in waits if st == "pending"]
        running = [s for st, s in waits if st == "running"]
        assert pending == pytest.approx([30.0, 45.0, 67.5])  # longer while pending, growing
        assert running == pytest.approx([5.0, 7.5, 11.25, 16.875])  # shorter while running
        assert polls(fake) == len(waits) + 1
        # pending seen for 75 s by the third poll (> 60 s), running for 23.75 s at most
        assert caplog.text.count("has been pending") == 1
        assert "has been running" not in caplog.text
