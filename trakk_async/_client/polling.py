"""``wait_for_completion``: poll one report until it is completed, failed, or out of time.

Built on the client's public API only. Every poll goes through the client's shared rate
limiter. The interval follows the status: short while ``running`` (5 s, growing 1.5x per
poll up to 60 s), long while ``pending`` (30 s up to 360 s), with +-10% jitter so many
waiters do not poll in lockstep; a status change starts again from the short end.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from trakk_async._core.errors import NotFoundError, ReportFailedError, WaitTimeoutError

if TYPE_CHECKING:
    from trakk_async._client.client import TrakkClient
    from trakk_async._models.objects import Report

logger = logging.getLogger("trakk_async")

Sleep = Callable[[float], Awaitable[None]]

#: First interval while running, in seconds (``poll_interval`` replaces it).
RUNNING_INTERVAL: Final = 5.0
#: The first interval while pending (or any other status) is this many running intervals.
PENDING_FACTOR: Final = 6.0
#: Intervals grow by this factor per poll that sees the same status ...
GROWTH: Final = 1.5
#: ... up to this many times their first value.
CAP_FACTOR: Final = 12.0
#: Relative jitter applied to every interval.
JITTER: Final = 0.1
#: A report in one status for longer than this (seconds) is logged as stuck, once.
DEFAULT_STUCK_AFTER: Final = 3600.0


class PollSchedule:
    """The interval before the next poll, from the status just seen (pure, seeded jitter).

    ``next(status)`` returns the seconds to wait: the status's first interval when the
    status changed, else the previous interval times :data:`GROWTH`, capped at
    :data:`CAP_FACTOR` times the first; then jittered by +-:data:`JITTER`.
    """

    __slots__ = ("_current", "_random", "_running", "_status")

    def __init__(self, poll_interval: float | None, random: Callable[[], float]) -> None:
        self._running = RUNNING_INTERVAL if poll_interval is None else poll_interval
        self._random = random
        self._status: str | None = None
        self._current = 0.0

    def first(self, status: str) -> float:
        """The first interval for ``status``: short while running, longer otherwise."""
        return self._running if status == "running" else self._running * PENDING_FACTOR

    def next(self, status: str) -> float:
        """Seconds to wait after a poll that saw ``status``."""
        first = self.first(status)
        if status != self._status:
            self._status = status
            self._current = first
        else:
            self._current = min(first * CAP_FACTOR, self._current * GROWTH)
        return self._current * (1 - JITTER + 2 * JITTER * self._random())


def _status(report: Report) -> str:
    return str(report.status)


async def _find(
    client: TrakkClient, project_id: int, *, number: int | None, rid: int | None
) -> Report:
    """The newest report of a project with this number (or id), from the reports list."""
    for report in await client.reports.list(project_id):
        if (number is not None and report.report_number == number) or report.id == rid:
            return report
    what = f"report {number}" if number is not None else f"report id {rid}"
    raise NotFoundError(
        f"{what} not found among the project's reports",
        status=404,
        code="not_found",
        path=f"/projects/{project_id}/reports",
    )


async def wait_for_completion(
    client: TrakkClient,
    project_id: int,
    *,
    report_number: int | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 (the issue asks for a timeout argument)
    poll_interval: float | None = None,
    stuck_after: float = DEFAULT_STUCK_AFTER,
    _clock: Callable[[], float] | None = None,
    _sleep: Sleep | None = None,
    _random: Callable[[], float] | None = None,
) -> Report:
    """Poll until a report is ``completed`` and return it.

    Without ``report_number`` it follows ``/reports/latest`` (if that moves on to another
    report, the one it was following is looked up in the reports list); with it, the newest
    report with that number in the reports list. ``failed`` raises
    :class:`ReportFailedError`; no completion within ``timeout`` seconds raises
    :class:`WaitTimeoutError`; a 404 (no report at all) raises :class:`NotFoundError`. A
    report that stays in one status longer than ``stuck_after`` seconds is logged at
    WARNING once (logger ``"trakk_async"``). Cancelling the awaiting task stops at once.
    """
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be > 0 or None, got {timeout!r}")
    if poll_interval is not None and not poll_interval > 0:
        raise ValueError(f"poll_interval must be > 0 or None, got {poll_interval!r}")
    clock = _clock or time.monotonic
    sleep: Sleep = _sleep or asyncio.sleep
    schedule = PollSchedule(poll_interval, _random or random.random)
    started = clock()
    deadline = None if timeout is None else started + timeout
    following: Report | None = None
    status_since = started
    warned = False

    async def poll() -> Report:
        nonlocal following
        if report_number is not None:
            return await _find(client, project_id, number=report_number, rid=None)
        latest = await client.reports.latest(project_id)
        if following is not None and latest.id != following.id:
            # /latest moved on (e.g. the report we followed completed outside the current
            # month): ask the list how the one we followed ended.
            try:
                return await _find(client, project_id, number=None, rid=following.id)
            except NotFoundError:
                return latest
        return latest

    while True:
        # A request may not outlive the deadline (on the real clock only: an injected
        # clock's seconds mean nothing to the event loop). The poll at the deadline runs.
        remaining = None if deadline is None or _clock is not None else deadline - clock()
        try:
            async with asyncio.timeout(remaining if remaining and remaining > 0 else None):
                report = await poll()
        except TimeoutError as exc:
            if deadline is not None and clock() >= deadline:
                raise _timeout_error(project_id, report_number, timeout, following) from exc
            raise
        status = _status(report)
        if status == "completed":
            return report
        if status == "failed":
            raise ReportFailedError(report)
        now = clock()
        if deadline is not None and now >= deadline:
            raise _timeout_error(project_id, report_number, timeout, report)
        if following is None or report.id != following.id or _status(following) != status:
            status_since, warned = now, False
        following = report
        if not warned and now - status_since > stuck_after:
            warned = True
            logger.warning(
                "report %s (id %s) of project %d has been %s for %.0fs (date_to_create_texts %s)",
                report.report_number,
                report.id,
                project_id,
                status,
                now - status_since,
                getattr(report, "date_to_create_texts", None),
            )
        delay = schedule.next(status)
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - now))
        await sleep(delay)


def _timeout_error(
    project_id: int, number: int | None, timeout: float | None, last: Report | None
) -> WaitTimeoutError:
    what = f"report {number}" if number is not None else "the latest report"
    seen = f"; last status {_status(last)!r}" if last is not None else ""
    return WaitTimeoutError(
        f"{what} of project {project_id} did not complete within {timeout:g}s{seen}"
    )
