"""``client.reports.wait_for_completion`` over real loopback HTTP against :class:`FakeTrakk`.

Reports are moved along by a scripted sleep between polls (what happens after poll n),
counted at the fake; intervals are read from the injected sleep, never measured.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
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
from trakk_async._models.objects import Report
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


def polls(fake: FakeTrakk, route: str = LIST) -> int:
    return fake.stats().by_route.get(route, 0)


class Script:
    """A sleep that runs ``steps[n]`` after poll ``n`` and records every wait."""

    def __init__(self, steps: dict[int, Callable[[], Any]]) -> None:
        self.steps = steps
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        step = self.steps.get(len(self.waits))
        if step is not None:
            step()
        await asyncio.sleep(0)


async def wait(client: TrakkClient, pid: int, script: Script, **kwargs: Any) -> Report:
    return await asyncio.wait_for(
        wait_for_completion(
            client.reports.list,
            pid,
            _clock=script.clock,
            _sleep=script.sleep,
            _random=lambda: 0.5,
            **kwargs,
        ),
        SAFETY,
    )


async def test_returns_the_next_report_to_complete() -> None:
    async with served() as (fake, client, pid):
        script = Script(
            {
                2: lambda: fake.set_report_status(pid, 1, "running"),
                4: lambda: fake.complete_report(pid, 1),
            }
        )
        report = await wait(client, pid, script)
        assert (report.report_number, str(report.status)) == (1, "completed")
        assert polls(fake) == 5
        assert polls(fake, LATEST) == 0
        # every poll went through the client's shared limiter
        assert client.rate_limit.windows[0].used == fake.stats().requests


async def test_an_old_failed_report_does_not_end_the_wait() -> None:
    """/reports/latest would show the old failed report for good (the earliest not
    completed); the wait follows the one being generated."""
    async with served() as (fake, client, pid):
        fake.set_report_status(pid, 1, "failed")
        second = fake.start_next_report(pid)
        script = Script(
            {
                1: lambda: fake.set_report_status(pid, second, "running"),
                3: lambda: fake.complete_report(pid, second),
            }
        )
        report = await wait(client, pid, script)
        assert report.report_number == second
        assert str(report.status) == "completed"


async def test_a_report_completed_before_the_wait_is_not_the_one_awaited() -> None:
    async with served() as (fake, client, pid):
        fake.complete_report(pid, 1)
        script = Script({2: lambda: fake.complete_report(pid, fake.start_next_report(pid))})
        report = await wait(client, pid, script)
        assert report.report_number == 2


async def test_a_failure_of_the_awaited_report_raises_with_the_report() -> None:
    async with served() as (fake, client, pid):
        script = Script(
            {
                1: lambda: fake.set_report_status(pid, 1, "running"),
                2: lambda: fake.set_report_status(pid, 1, "failed"),
            }
        )
        with pytest.raises(ReportFailedError) as info:
            await wait(client, pid, script)
        assert info.value.report.report_number == 1
        assert isinstance(info.value, TrakkError)


async def test_a_later_pending_report_failing_does_not_end_the_wait() -> None:
    async with served() as (fake, client, pid):
        later = fake.start_next_report(pid)  # the awaited one is report 1 (earlier date)
        script = Script(
            {
                1: lambda: fake.set_report_status(pid, later, "failed"),
                3: lambda: fake.complete_report(pid, 1),
            }
        )
        report = await wait(client, pid, script)
        assert report.report_number == 1


async def test_follows_a_report_number_through_the_list() -> None:
    async with served() as (fake, client, pid):
        second = fake.start_next_report(pid)
        script = Script(
            {
                1: lambda: fake.complete_report(pid, 1),  # not the one followed
                3: lambda: fake.complete_report(pid, second),
            }
        )
        report = await wait(client, pid, script, report_number=second)
        assert report.report_number == second
        assert polls(fake) == 4
        # a number already completed returns at once
        again = await wait(client, pid, Script({}), report_number=1)
        assert again.report_number == 1


async def test_timeout_raises_a_timeout_error() -> None:
    async with served() as (_, client, pid):
        script = Script({})
        with pytest.raises(WaitTimeoutError) as info:
            await wait(client, pid, script, timeout=100.0)
        assert isinstance(info.value, TimeoutError)
        assert isinstance(info.value, TrakkError)
        assert "pending" in str(info.value)
        assert script.now == pytest.approx(100.0)  # the last wait is cut to the deadline


async def test_unknown_project_or_number_is_not_found_a_project_without_reports_waits() -> None:
    async with served() as (fake, client, pid):
        with pytest.raises(NotFoundError):
            await wait(client, 999_999, Script({}))
        with pytest.raises(NotFoundError):
            await wait(client, pid, Script({}), report_number=9)
        empty = fake.add_project()
        script = Script(
            {2: lambda: fake.start_next_report(empty), 4: lambda: fake.complete_report(empty)}
        )
        report = await wait(client, empty, script)
        assert report.report_number == 1


async def test_cancelling_stops_polling_at_once() -> None:
    async with served() as (fake, client, pid):
        task = asyncio.ensure_future(client.reports.wait_for_completion(pid, poll_interval=0.005))
        async with asyncio.timeout(SAFETY):
            while polls(fake) < 3:  # noqa: ASYNC110 (state of the fake server)
                await asyncio.sleep(0.001)
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
        script = Script(
            {
                3: lambda: fake.set_report_status(pid, 1, "running"),
                7: lambda: fake.complete_report(pid, 1),
            }
        )
        caplog.set_level(logging.WARNING, "trakk_async")
        report = await wait(client, pid, script, stuck_after=60.0)
        assert str(report.status) == "completed"
        assert script.waits[:3] == pytest.approx([30.0, 45.0, 67.5])  # pending: long, growing
        assert script.waits[3:] == pytest.approx([5.0, 7.5, 11.25, 16.875])  # running: short
        assert polls(fake) == len(script.waits) + 1
        # pending seen for 75 s by the third poll (> 60 s), running for 23.75 s at most
        assert caplog.text.count("has been pending") == 1
        assert "has been running" not in caplog.text
