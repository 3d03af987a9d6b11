"""Trakk's report pipeline moving by itself, and the situations a project's reports are in.

One :func:`tick` gives each active project a :data:`TICK_SHARE` chance (at least one
project moves) to move one stage along, as Trakk's workers do: its running report
completes (or, now and then, fails), else its pending report with the earliest date
starts running, else its next report is created (pending, dated a month after the
previous one, so a busy project completes reports ahead of their month). A report in
progress is thus done within a few dozen ticks. Each tick draws from its own
``Random(seed, step)``: the same seed and the same controls give the same changes.
Failed reports are left where they are, as on Trakk.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Final, Literal, get_args

from trakk_async.testing._world import (
    FakeReport,
    FakeReportStatus,
    Project,
    ReportChange,
    World,
)

TICK_SHARE: Final = 0.1
"""The chance of each active project to move one stage in a tick."""
FAILURE_RATE: Final = 0.08
"""The share of running reports that fail instead of completing."""

Situation = Literal[
    "no_reports",
    "no_latest",
    "latest_pending",
    "latest_running",
    "latest_failed",
    "stuck_failed",
    "latest_completed",
    "completed_ahead",
]
SITUATIONS: Final[tuple[Situation, ...]] = get_args(Situation)
"""What :meth:`FakeTrakk.project_ids` can select projects by:

* ``no_reports``: the project has no report at all.
* ``no_latest``: ``/reports/latest`` is a 404 (no report, or all completed before this
  month); the listing's ``latest_report_*`` are null.
* ``latest_pending`` / ``latest_running`` / ``latest_failed`` / ``latest_completed``: the
  status of the ``/reports/latest`` row (the listing row).
* ``stuck_failed``: a failed report dated before the current month is left in the
  pipeline: it is the row whenever no report of the current month is completed, whatever
  completes after it (with ``latest_failed``: it is the row today).
* ``completed_ahead``: ``/reports/last-generated`` is a report dated after the current
  month, completed ahead of its date: it is not the listing row.
"""


def _date(report: FakeReport) -> tuple[date, int]:
    return (report.date_to_create_texts or date.max, report.id)


def tick(world: World, step: int) -> list[ReportChange]:
    """Move some active projects one stage along; returns the changes, oldest first."""
    rng = random.Random(f"tick:{world.seed}:{step}")
    active = [p for _, p in sorted(world.projects.items()) if p.status == "active"]
    if not active:
        return []
    moving = [p for p in active if rng.random() < TICK_SHARE] or [rng.choice(active)]
    before = len(world.changes)
    for project in moving:
        _advance(world, project, rng)
    return world.changes[before:]


def _advance(world: World, project: Project, rng: random.Random) -> None:
    reports = world.reports(project)
    running = [r for r in reports if r.status is FakeReportStatus.RUNNING]
    if running:
        outcome = (
            FakeReportStatus.FAILED if rng.random() < FAILURE_RATE else FakeReportStatus.COMPLETED
        )
        world.set_status(project, min(running, key=_date), outcome)
        return
    pending = [r for r in reports if r.status is FakeReportStatus.PENDING]
    if pending:
        world.set_status(project, min(pending, key=_date), FakeReportStatus.RUNNING)
        return
    world.start_next_report(project)


def situations(world: World, project: Project) -> frozenset[Situation]:
    """The :data:`SITUATIONS` a project's reports are in today."""
    found: set[Situation] = set()
    if not world.reports(project):
        found.add("no_reports")
    row = world.latest_report(project)
    if row is None:
        found.add("no_latest")
    else:
        found.add(f"latest_{row.status}")  # type: ignore[arg-type]
    month_start = world.today.replace(day=1)
    if any(
        r.status is FakeReportStatus.FAILED
        and r.date_to_create_texts is not None
        and r.date_to_create_texts < month_start
        for r in world.reports(project)
    ):
        found.add("stuck_failed")
    last = world.last_generated(project)
    if last is not None and last is not row:
        created = last.date_to_create_texts
        if created is not None and (created.year, created.month) > (
            world.today.year,
            world.today.month,
        ):
            found.add("completed_ahead")
    return frozenset(found)
