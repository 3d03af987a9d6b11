"""What a long ``trakk`` command is doing: its waits, the export's progress, the watch's start.

A command that waits looks hung: for 50 s after a 429, for minutes when the hourly budget
is spent. :class:`WaitStatus` notices every wait longer than two seconds, through the
client's public API only (the limiter snapshot ``client.rate_limit``, polled, and
``RequestAttempt.retry_in`` from an attempt listener), and tells it to its sinks: a
status line on a terminal (:class:`StatusLine`), a log line with ``-v``
(:class:`LogLine`), or a note inside the export's progress bar (:class:`BarNote`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol, TypeVar

import attrs
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.spinner import Spinner

from trakk_async._client.client import RequestAttempt, TrakkClient
from trakk_async._core.timing import Clock, Sleep
from trakk_async.cli._render import duration, plural
from trakk_async.export import ExportProgress, ExportSummary, SyncSummary, export_projects
from trakk_async.export._export import ProgressCallback
from trakk_async.ratelimit import RateLimitSnapshot
from trakk_async.watch import ReportWatcher

logger = logging.getLogger("trakk_async.cli")

_Summary = TypeVar("_Summary", ExportSummary, SyncSummary)


#: Waits up to this long (seconds) pass without a word.
SHOW_AFTER: Final = 2.0
#: How often the limiter is looked at, and a status line's countdown redrawn.
TICK: Final = 0.5


@attrs.frozen
class Wait:
    """A wait in progress: ``what`` it waits for, and when it ends (on the status clock)."""

    what: str
    ends_at: float

    def left(self, now: float) -> float:
        """Seconds left at ``now``."""
        return max(0.0, self.ends_at - now)

    def countdown(self, now: float) -> str:
        """The time left for people, rounded up (a wait never shows ``0s`` left)."""
        return duration(math.ceil(self.left(now)))


class WaitSink(Protocol):
    """Where :class:`WaitStatus` tells the current wait (``None``: no wait worth showing).

    ``replaceable``: a live line of its own, which must step aside while another live
    display (the export's progress bar) holds the terminal.
    """

    replaceable: bool

    def show(self, wait: Wait | None, now: float) -> None: ...


class StatusLine:
    """A spinner line on a terminal, redrawn with the time left, gone when the wait ends."""

    replaceable = True

    def __init__(self, console: Console) -> None:
        self._console = console
        self._live: Live | None = None

    def show(self, wait: Wait | None, now: float) -> None:
        if wait is None:
            if self._live is not None:
                self._live.stop()
                self._live = None
            return
        line = Spinner("dots", f"waiting for {wait.what}: {wait.countdown(now)} left")
        if self._live is None:
            # stdout is only routed above the line when it is the same terminal: piped
            # output must reach its pipe, not the terminal.
            self._live = Live(
                line,
                console=self._console,
                transient=True,
                refresh_per_second=4,
                redirect_stdout=sys.stdout.isatty(),
                redirect_stderr=False,
            )
            self._live.start()
        else:
            self._live.update(line)


class LogLine:
    """One INFO record on logger ``trakk_async.cli`` per wait, when it begins (``-v``)."""

    replaceable = False

    def __init__(self) -> None:
        self._last: Wait | None = None

    def show(self, wait: Wait | None, now: float) -> None:
        if wait is not None and not _same(wait, self._last):
            logger.info("waiting %s for %s", wait.countdown(now), wait.what)
        self._last = wait


class BarNote:
    """The wait as a note in a column of a progress bar (which owns the terminal line)."""

    replaceable = False

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar, self._task = bar, task

    def show(self, wait: Wait | None, now: float) -> None:
        note = "" if wait is None else f"waiting for {wait.what}: {wait.countdown(now)} left"
        self._bar.update(self._task, note=note)


def _same(a: Wait, b: Wait | None) -> bool:
    # The same wait seen again: its end moved by less than the polling could explain.
    return b is not None and a.what == b.what and abs(a.ends_at - b.ends_at) < 1.0


def limiter_wait(snap: RateLimitSnapshot, now: float) -> Wait | None:
    """The wait the limiter imposes on the queued requests, if any request waits."""
    if snap.waiting <= 0:
        return None
    if snap.paused_for > 0 and snap.paused_for >= snap.available_in:
        return Wait("the rate limit (paused after a 429)", now + snap.paused_for)
    if snap.available_in <= 0:
        return None
    spent = [w for w in snap.windows if w.remaining <= 0]
    window = max(spent, key=lambda w: w.resets_in) if spent else snap.tightest
    if window is None:
        return Wait("the rate limit", now + snap.available_in)
    return Wait(
        f"the rate limit ({plural(window.limit, 'request')} per {_period(window.seconds)})",
        now + snap.available_in,
    )


def retry_wait(attempt: RequestAttempt, now: float) -> Wait | None:
    """The backoff (or Retry-After) before the next attempt of a failed request."""
    if attempt.retry_in is None or attempt.retry_in <= 0:
        return None
    number = attempt.attempt + 1
    if attempt.status == 429:
        what = f"the rate limit (429 on GET {attempt.path}, then retry {number})"
    else:
        cause = f"HTTP {attempt.status}" if attempt.status else type(attempt.error).__name__
        what = f"retry {number} of GET {attempt.path} (after {cause})"
    return Wait(what, now + attempt.retry_in)


def _period(seconds: float) -> str:
    names = {60.0: "minute", 3600.0: "hour", 86400.0: "day"}
    return names.get(seconds) or duration(seconds)


class WaitStatus:
    """Watches a client's waits while a command runs; ``async with`` starts and stops it.

    ``sinks`` empty: nothing to do (output piped and no ``-v``). A wait is shown when it
    has more than ``show_after`` seconds left at first sight, then until it ends; of two
    waits at once (the limiter's and a retry's) the longer one.
    """

    def __init__(
        self,
        client: TrakkClient,
        sinks: Sequence[WaitSink] = (),
        *,
        show_after: float = SHOW_AFTER,
        tick: float = TICK,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._sinks = list(sinks)
        self._show_after, self._tick = show_after, tick
        self._clock, self._sleep = clock, sleep
        self._retry: Wait | None = None
        self._shown: Wait | None = None
        self._task: asyncio.Task[None] | None = None
        self._remove: Callable[[], None] | None = None

    async def __aenter__(self) -> WaitStatus:
        if self._sinks:
            self._remove = self._client.add_attempt_listener(self._heard)
            self._task = asyncio.ensure_future(self._run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._remove is not None:
            self._remove()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._shown = None
        self._tell(None)

    @contextlib.contextmanager
    def displaying(self, sink: WaitSink) -> Iterator[None]:
        """Show waits in ``sink`` instead of a status line while another display is up.

        Two live displays cannot share a terminal line: the export's progress bar takes
        the waits into a column of its own. A log sink (``-v``) keeps logging.
        """
        before = self._sinks
        kept = [s for s in before if not s.replaceable]
        if len(kept) == len(before):
            yield
            return
        self._tell(None)
        self._sinks = [*kept, sink]
        try:
            yield
        finally:
            self._tell(None)
            self._sinks = before

    def check(self) -> None:
        """Look once: tell the sinks about the current wait (the ticker calls this)."""
        now = self._clock()
        if self._retry is not None and self._retry.ends_at <= now:
            self._retry = None
        candidates = [w for w in (limiter_wait(self._client.rate_limit, now), self._retry) if w]
        wait = max(candidates, key=lambda w: w.ends_at, default=None)
        if wait is not None and wait.left(now) <= 0:
            wait = None
        if wait is not None and not (_same(wait, self._shown) or wait.left(now) > self._show_after):
            wait = None  # short: let it pass silently
        self._shown = wait
        self._tell(wait, now)

    def _heard(self, attempt: RequestAttempt) -> None:
        wait = retry_wait(attempt, self._clock())
        if wait is not None:
            self._retry = wait
            self.check()

    def _tell(self, wait: Wait | None, now: float | None = None) -> None:
        at = self._clock() if now is None else now
        for sink in self._sinks:
            sink.show(wait, at)

    async def _run(self) -> None:
        while True:
            self.check()
            await self._sleep(self._tick)


async def export_with_progress(
    client: TrakkClient,
    dest: Path,
    *,
    project_ids: Sequence[int] | None,
    resume: bool,
    concurrency: int,
    console: Console,
    waits: WaitStatus | None = None,
) -> ExportSummary:
    """Run an export, with a live bar on ``console`` when it is a terminal."""
    return await with_progress(
        client,
        console,
        "export",
        lambda progress: export_projects(
            client,
            dest,
            project_ids=project_ids,
            resume=resume,
            concurrency=concurrency,
            progress=progress,
        ),
        waits=waits,
    )


async def with_progress(
    client: TrakkClient,
    console: Console,
    label: str,
    work: Callable[[ProgressCallback | None], Awaitable[_Summary]],
    *,
    waits: WaitStatus | None = None,
) -> _Summary:
    """Run an export or a sync (``work(progress)``), with a live bar on ``console`` when
    it is a terminal.

    The bar shows projects, requests, the budget left, the ETA and, from ``waits``, what
    the run waits for when it waits long.
    """
    if not console.is_terminal:
        return await work(None)
    bar = Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        TextColumn("{task.fields[projects]} projects"),
        TextColumn("{task.fields[requests]} requests"),
        TextColumn("budget left {task.fields[budget]}"),
        TextColumn("ETA {task.fields[eta]}"),
        TextColumn("[yellow]{task.fields[note]}[/]"),
        console=console,
        transient=False,
    )
    task: TaskID = bar.add_task(
        label, total=None, projects="-", requests="-", budget="-", eta="-", note=""
    )

    def update(p: ExportProgress) -> None:
        snap = client.rate_limit
        total = "?" if p.projects_total is None else str(p.projects_total)
        bar.update(
            task,
            total=p.requests_expected or None,
            completed=p.requests,
            projects=f"{p.projects_done}/{total}",
            requests=f"{p.requests}/~{p.requests_expected}",
            budget=str(snap.remaining),
            eta=duration(snap.eta(p.requests_left)),
        )

    shown_in_bar = (
        waits.displaying(BarNote(bar, task)) if waits is not None else contextlib.nullcontext()
    )
    with bar, shown_in_bar:
        summary = await work(update)
        bar.update(task, total=summary.requests or 1, completed=summary.requests, eta="0s")
    return summary


async def announce_when_ready(
    watcher: ReportWatcher,
    say: Callable[[str], None],
    *,
    tick: float = TICK,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Say that the watch starts with a baseline, then when the baseline is done.

    Until then the watcher emits nothing (first sightings are the baseline, not events),
    which on a large agency takes a while. Runs until cancelled or the baseline is done.
    """
    say("trakk: watch: reading every project's current report first (the baseline)")
    while not watcher.stats.ready:
        await sleep(tick)
    stats = watcher.stats
    say(
        f"trakk: watch: baseline done for {plural(stats.watched, 'project')}; "
        "watching for new reports"
    )
