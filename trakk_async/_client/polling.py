"""``wait_for_completion``: poll a project's reports until the awaited one completes.

Built on one call of the client's public API, passed in as ``list_reports``
(``client.reports.list``): one ``GET /projects/{id}/reports`` per poll, through the
client's shared rate limiter. That list shows every report with its status, so the
wait does not depend on ``/reports/latest``, whose calendar rules can surface an old
failed report for months.

**The rule.** Without ``report_number``: the reports list is read when the wait starts;
the wait returns the first report that becomes ``completed`` after that (several at one
poll: the awaited one if it is among them, else the oldest). The *awaited* report is the
one in progress (``running``; the earliest dated if several), else the next ``pending``
one by ``date_to_create_texts`` (with none of either: a report that appears); if it turns
``failed`` the wait raises :class:`ReportFailedError`. Other failed reports (an old one,
a later pending one) do not end the wait. With ``report_number``: the newest report with
that number in the list; ``completed`` returns it (at once if it already is), ``failed``
raises.

**The interval** follows the awaited report's status: short while ``running`` (5 s,
growing 1.5x per poll up to 60 s), long otherwise (30 s up to 360 s), with +-10% jitter
so many waiters do not poll in lockstep; a status change starts again from the short end.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Final

from trakk_async._core.errors import NotFoundError, ReportFailedError, WaitTimeoutError
from trakk_async._core.timing import Clock, Sleep
from trakk_async._protocol.reports import (
    FAILED,
    PENDING,
    RUNNING,
    completed_ids,
    completions_since,
    is_completed,
)
from trakk_async._protocol.schedule import GrowingInterval

if TYPE_CHECKING:
    from trakk_async._models.objects import Listing, Report

logger = logging.getLogger("trakk_async")

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


class PollSchedule(GrowingInterval):
    """The interval before the next poll, from the status just seen (pure, seeded jitter).

    ``next(status)`` returns the seconds to wait: the status's first interval when the
    status changed, else the previous interval times :data:`GROWTH`, capped at
    :data:`CAP_FACTOR` times the first; then jittered by +-:data:`JITTER`.
    """

    __slots__ = ()

    def __init__(self, poll_interval: float | None, random: Callable[[], float]) -> None:
        running = RUNNING_INTERVAL if poll_interval is None else poll_interval
        super().__init__(
            lambda status: running if status == RUNNING else running * PENDING_FACTOR,
            growth=GROWTH,
            cap_factor=CAP_FACTOR,
            jitter=JITTER,
            random=random,
        )


def awaited_report(reports: Sequence[Report]) -> Report | None:
    """The report a wait without ``report_number`` follows (see the module docstring)."""
    for status in (RUNNING, PENDING):
        # The list is newest first: among equal dates the older report goes first.
        candidates = [(i, r) for i, r in enumerate(reports) if str(r.status) == status]
        if candidates:
            return min(candidates, key=lambda ir: (_date_key(ir[1]), -ir[0]))[1]
    return None


def _date_key(report: Report) -> tuple[bool, date]:
    day = report.date_to_create_texts
    return (day is None, day or date.min)


def _numbered(reports: Sequence[Report], project_id: int, number: int) -> Report:
    """The newest report with this number, or NotFoundError."""
    for report in reports:
        if report.report_number == number:
            return report
    raise NotFoundError(
        f"report {number} not found among the project's reports",
        status=404,
        code="not_found",
        path=f"/projects/{project_id}/reports",
    )


class _NextCompletion:
    """The rule without ``report_number``: state from one poll to the next."""

    def __init__(self, reports: Sequence[Report]) -> None:
        self._take(reports)

    def _take(self, reports: Sequence[Report]) -> None:
        self.known = completed_ids(reports)
        self.listed = frozenset(r.id for r in reports)
        self.awaited = awaited_report(reports)

    def judge(self, reports: Sequence[Report]) -> Report | None:
        """The completed report to return, or None to go on; raises on a failure of
        the awaited report (with none awaited: of a report new since the last poll)."""
        done = completions_since(self.known, reports)
        if done:
            awaited_id = None if self.awaited is None else self.awaited.id
            return next((r for r in done if r.id == awaited_id), done[0])
        failed = [r for r in reports if str(r.status) == FAILED]
        if self.awaited is not None:
            failed = [r for r in failed if r.id == self.awaited.id]
        else:
            failed = [r for r in failed if r.id not in self.listed]
        if failed:
            raise ReportFailedError(failed[-1])
        self._take(reports)
        return None


async def wait_for_completion(
    list_reports: Callable[[int], Awaitable[Listing[Report]]],
    project_id: int,
    *,
    report_number: int | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 (the issue asks for a timeout argument)
    poll_interval: float | None = None,
    stuck_after: float = DEFAULT_STUCK_AFTER,
    _clock: Clock | None = None,
    _sleep: Sleep | None = None,
    _random: Callable[[], float] | None = None,
) -> Report:
    """Poll until the awaited report is ``completed`` and return it (module docstring).

    ``list_reports(project_id)`` lists the project's reports (``client.reports.list``).

    ``failed`` (of the awaited report) raises :class:`ReportFailedError`; no completion
    within ``timeout`` seconds raises :class:`WaitTimeoutError`; a project that does not
    exist (or a ``report_number`` it does not have) raises :class:`NotFoundError`. A
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
    rule: _NextCompletion | None = None
    following: Report | None = None
    status_since = started
    warned = False

    while True:
        # A request may not outlive the deadline (on the real clock only: an injected
        # clock's seconds mean nothing to the event loop). The poll at the deadline runs.
        remaining = None if deadline is None or _clock is not None else deadline - clock()
        try:
            async with asyncio.timeout(remaining if remaining and remaining > 0 else None):
                reports = (await list_reports(project_id)).items
        except TimeoutError as exc:
            if deadline is not None and clock() >= deadline:
                raise _timeout_error(project_id, report_number, timeout, following) from exc
            raise
        current: Report | None
        if report_number is not None:
            current = _numbered(reports, project_id, report_number)
            if is_completed(current):
                return current
            if str(current.status) == FAILED:
                raise ReportFailedError(current)
        elif rule is None:
            rule = _NextCompletion(reports)
            current = rule.awaited
        else:
            done = rule.judge(reports)
            if done is not None:
                return done
            current = rule.awaited
        now = clock()
        if deadline is not None and now >= deadline:
            raise _timeout_error(project_id, report_number, timeout, current)
        if (
            current is None
            or following is None
            or (current.id, str(current.status))
            != (
                following.id,
                str(following.status),
            )
        ):
            status_since, warned = now, False
        following = current
        if current is not None and not warned and now - status_since > stuck_after:
            warned = True
            logger.warning(
                "report %s (id %s) of project %d has been %s for %.0fs (date_to_create_texts %s)",
                current.report_number,
                current.id,
                project_id,
                current.status,
                now - status_since,
                current.date_to_create_texts,
            )
        delay = schedule.next(PENDING if current is None else str(current.status))
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - now))
        await sleep(delay)


def _timeout_error(
    project_id: int, number: int | None, timeout: float | None, last: Report | None
) -> WaitTimeoutError:
    what = f"report {number}" if number is not None else "no report"
    verb = "did not complete" if number is not None else "completed"
    seen = (
        f"; report {last.report_number} (id {last.id}) was {str(last.status)!r}"
        if last is not None
        else ""
    )
    return WaitTimeoutError(f"{what} of project {project_id} {verb} within {timeout:g}s{seen}")
