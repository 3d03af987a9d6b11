"""What a waiting ``trakk`` command says: which wait, how long, to which sink (no server)."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any, cast

import pytest
from aioresponses import aioresponses
from rich.console import Console
from rich.progress import Progress, TextColumn

from tests.unit.support import OpenLimiter, Sleeps, error_body, make_client, url
from trakk_async import APIConnectionError, RequestAttempt
from trakk_async.cli._feedback import (
    BarNote,
    LogLine,
    StatusLine,
    Wait,
    WaitStatus,
    announce_when_ready,
    limiter_wait,
    retry_wait,
)
from trakk_async.ratelimit import RateLimitSnapshot, WindowSnapshot
from trakk_async.watch import ReportWatcher

ME = {"id": 3, "name": "t", "agency_id": 12, "status": "active", "abilities": []}


def window(limit: int, seconds: float, remaining: int, resets_in: float) -> WindowSnapshot:
    used = limit - remaining
    return WindowSnapshot(
        limit=limit, seconds=seconds, used=used, remaining=remaining, resets_in=resets_in
    )


def snapshot(**kwargs: Any) -> RateLimitSnapshot:
    windows = (window(60, 60.0, 0, 45.0), window(1000, 3600.0, 900, 3000.0))
    return RateLimitSnapshot(**({"windows": windows} | kwargs))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ScriptedLimiter(OpenLimiter):
    """An open limiter whose snapshot says whatever the test sets."""

    def __init__(self) -> None:
        super().__init__()
        self.snap = RateLimitSnapshot(windows=())

    def snapshot(self) -> RateLimitSnapshot:
        return self.snap


class Shown:
    """A sink that records what it was told."""

    replaceable = False

    def __init__(self) -> None:
        self.waits: list[Wait | None] = []

    def show(self, wait: Wait | None, now: float) -> None:
        self.waits.append(wait)

    def last(self) -> Wait | None:
        """The wait told last (a method: mypy would keep an attribute narrowed)."""
        return self.waits[-1] if self.waits else None


# -- what a wait is ---------------------------------------------------------------------


def test_no_one_waiting_is_no_wait() -> None:
    assert limiter_wait(snapshot(waiting=0, available_in=45.0), 0.0) is None
    assert limiter_wait(snapshot(waiting=2, available_in=0.0), 0.0) is None


def test_a_spent_window_names_itself_and_its_end() -> None:
    wait = limiter_wait(snapshot(waiting=1, available_in=45.0), 10.0)
    assert wait == Wait("the rate limit (60 requests per minute)", 55.0)


def test_the_hour_is_named_when_the_hour_is_spent() -> None:
    windows = (window(60, 60.0, 30, 10.0), window(1000, 3600.0, 0, 1800.0))
    wait = limiter_wait(snapshot(windows=windows, waiting=3, available_in=1800.0), 0.0)
    assert wait is not None
    assert wait.what == "the rate limit (1,000 requests per hour)"
    assert wait.countdown(0.0) == "30m00s"


def test_a_pause_after_a_429_says_so() -> None:
    wait = limiter_wait(snapshot(waiting=1, paused_for=50.0, available_in=50.0), 0.0)
    assert wait == Wait("the rate limit (paused after a 429)", 50.0)


def _attempt(status: int | None, retry_in: float | None, error: Exception | None = None) -> Any:
    return RequestAttempt(
        path="/me", attempt=0, status=status, error=error, elapsed=0.1, retry_in=retry_in
    )


def test_retry_waits() -> None:
    assert retry_wait(_attempt(200, None), 0.0) is None
    assert retry_wait(_attempt(503, 4.0), 1.0) == Wait("retry 1 of GET /me (after HTTP 503)", 5.0)
    down = retry_wait(_attempt(None, 3.0, APIConnectionError("refused")), 0.0)
    assert down == Wait("retry 1 of GET /me (after APIConnectionError)", 3.0)
    limited = retry_wait(_attempt(429, 45.0), 0.0)
    assert limited == Wait("the rate limit (429 on GET /me, then retry 1)", 45.0)


def test_the_countdown_rounds_up() -> None:
    wait = Wait("x", 10.0)
    assert [wait.countdown(t) for t in (0.0, 9.6, 10.0, 11.0)] == ["10s", "1s", "0s", "0s"]


# -- when a wait is told ------------------------------------------------------------------


async def test_long_waits_are_told_until_they_end_and_short_ones_never() -> None:
    limiter, clock, sink = ScriptedLimiter(), Clock(), Shown()
    async with make_client(limiter=limiter) as client:
        status = WaitStatus(client, [sink], clock=clock)
        limiter.snap = snapshot(waiting=1, available_in=1.5)
        status.check()
        assert sink.last() is None  # 1.5 s: not worth a word

        limiter.snap = snapshot(waiting=1, available_in=45.0)
        status.check()
        assert sink.last() == Wait("the rate limit (60 requests per minute)", 145.0)

        clock.now = 144.0  # 1 s left: still the same wait, still shown
        limiter.snap = snapshot(waiting=1, available_in=1.0)
        status.check()
        assert sink.last() == Wait("the rate limit (60 requests per minute)", 145.0)

        clock.now = 145.0
        limiter.snap = snapshot(waiting=0, available_in=0.0)
        status.check()
        assert sink.last() is None


async def test_of_two_waits_the_longer_is_told() -> None:
    limiter, clock, sink = ScriptedLimiter(), Clock(), Shown()
    async with make_client(limiter=limiter) as client:
        status = WaitStatus(client, [sink], clock=clock)
        limiter.snap = snapshot(waiting=1, available_in=10.0)
        status._heard(_attempt(429, 30.0))
        assert sink.last() == Wait("the rate limit (429 on GET /me, then retry 1)", 130.0)
        clock.now = 131.0  # the retry wait is over; the limiter's ended too
        limiter.snap = snapshot(waiting=0)
        status.check()
        assert sink.last() is None


async def test_a_retry_wait_is_told_while_the_client_sleeps_it(mock_api: aioresponses) -> None:
    """End to end through the public hooks: the attempt listener tells the wait at once."""
    mock_api.get(url("/me"), status=503, body=error_body("unavailable", "Down"))
    mock_api.get(url("/me"), payload=ME)
    sink = Shown()
    told_while_sleeping: list[Wait | None] = []

    class Recording(Sleeps):
        async def __call__(self, seconds: float) -> None:
            told_while_sleeping.append(sink.last())
            await super().__call__(seconds)

    sleeps = Recording()
    # random_value=1.0: the first backoff is its full 0.5 s; shown from 0.1 s on.
    async with (
        make_client(sleeps=sleeps, random_value=1.0) as client,
        WaitStatus(client, [sink], show_after=0.1, tick=3600),
    ):
        await client.me()
    assert sleeps.waits == [0.5]
    assert told_while_sleeping[0] is not None
    assert told_while_sleeping[0].what == "retry 1 of GET /me (after HTTP 503)"
    assert sink.last() is None  # cleared when the command is done


async def test_without_sinks_nothing_is_registered_or_started() -> None:
    async with make_client() as client:
        status = WaitStatus(client, [])
        async with status:
            assert status._task is None
            assert client._listeners == ()


async def test_the_ticker_looks_at_the_limiter_every_tick() -> None:
    limiter, sink = ScriptedLimiter(), Shown()
    limiter.snap = snapshot(waiting=1, available_in=45.0)
    ticks = 0
    enough = asyncio.Event()

    async def sleep(_: float) -> None:
        nonlocal ticks
        ticks += 1
        if ticks == 3:
            enough.set()
        await asyncio.sleep(0)

    async with make_client(limiter=limiter) as client:
        async with WaitStatus(client, [sink], sleep=sleep):
            await enough.wait()
        assert [w.what if w else None for w in sink.waits[:3]] == [
            "the rate limit (60 requests per minute)"
        ] * 3


# -- the sinks ----------------------------------------------------------------------------


def test_log_line_logs_each_wait_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trakk_async.cli")
    sink = LogLine()
    wait = Wait("the rate limit (60 requests per minute)", 145.0)
    sink.show(wait, 100.0)
    sink.show(Wait(wait.what, 145.2), 100.5)  # the same wait, seen again
    sink.show(None, 146.0)
    sink.show(Wait(wait.what, 200.0), 150.0)  # a new one
    assert [r.getMessage() for r in caplog.records] == [
        "waiting 45s for the rate limit (60 requests per minute)",
        "waiting 50s for the rate limit (60 requests per minute)",
    ]


def is_live(sink: StatusLine) -> bool:
    return sink._live is not None


def test_status_line_shows_the_countdown_and_goes_away() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    sink = StatusLine(console)
    sink.show(Wait("the rate limit (60 requests per minute)", 145.0), 100.0)
    sink.show(Wait("the rate limit (60 requests per minute)", 145.0), 101.0)
    assert is_live(sink)
    sink.show(None, 146.0)
    assert not is_live(sink)
    assert "waiting for the rate limit (60 requests per minute): 44s left" in out.getvalue()


async def test_a_progress_bar_takes_the_status_line_over_and_gives_it_back() -> None:
    class ShownLive(Shown):
        replaceable = True

    limiter, status_line, log = ScriptedLimiter(), ShownLive(), LogLine()
    bar = Progress(TextColumn("{task.fields[note]}"), console=Console(file=io.StringIO()))
    task = bar.add_task("x", note="")
    async with make_client(limiter=limiter) as client:
        status = WaitStatus(client, [status_line, log])
        limiter.snap = snapshot(waiting=1, available_in=45.0)
        with status.displaying(BarNote(bar, task)):
            status.check()
            assert bar.tasks[0].fields["note"] == (
                "waiting for the rate limit (60 requests per minute): 45s left"
            )
            assert status_line.last() is None  # told to step aside, never shown meanwhile
        assert status._sinks == [status_line, log]
        status.check()
        assert status_line.last() is not None


async def test_the_watch_says_when_its_baseline_is_done() -> None:
    class Stats:
        ready = False
        watched = 3

    class Watcher:
        stats = Stats()

    said: list[str] = []
    looks = 0

    async def sleep(_: float) -> None:
        nonlocal looks
        looks += 1
        assert len(said) == 1  # the start, and nothing more until ready
        if looks == 3:
            Watcher.stats.ready = True

    await announce_when_ready(cast(ReportWatcher, Watcher()), said.append, sleep=sleep)
    assert said == [
        "trakk: watch: reading every project's current report first (the baseline)",
        "trakk: watch: baseline done for 3 projects; watching for new reports",
    ]
    assert looks == 3
