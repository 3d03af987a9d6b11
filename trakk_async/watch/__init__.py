"""Know the moment a report is ready, across every project, within a share of the rate budget.

::

    async with TrakkClient() as client:
        checkpoint = SQLiteCheckpoint("watch.sqlite3")
        async with client.watch_reports(checkpoint=checkpoint) as watcher:
            async for event in watcher:
                print(event.project_id, event.previous_number, "->", event.report.report_number)

A :class:`ReportWatcher` emits one :class:`ReportAdvanced` per change of a project's last
generated report (``/reports/last-generated``), exactly once, and remembers what it saw in
a :class:`Checkpoint` so a restarted watcher loses nothing.

**Strategies.** ``"last-generated"`` asks ``/last-generated`` for each project in turn: a
change is seen within one sweep of N requests. ``"listing"`` reads ``/projects`` (100
projects per request), treats a change of a project's ``latest_report_*`` fields as a hint,
and confirms each hint with one ``/last-generated`` request. The listing shows a project's
*newest* report, so when that one is still pending, an older report completing does not
show: such "at risk" projects (newest report not completed, or not the one last seen) are
reconciled with ``/last-generated`` on a share of the slots (``resync_share``, 20% by
default). **Documented bound:** a change the listing cannot show is caught within
``at_risk / (rate * resync_share)`` seconds, at most ``plan.resync_interval`` (every
watched project at risk); ``"auto"`` picks "listing" once it is at least 4x cheaper per
sweep and 25 or more projects are watched.

**Budget.** The watcher sends at most ``budget`` of the limiter's longest window (the
hourly one by default), one request per evenly spaced slot; every request still goes
through the client's shared limiter. :meth:`ReportWatcher.estimate` tells the sweep
interval before starting.

**How it runs.** The watcher has no background task: it works while you wait for the next
event. While your loop body runs, no request is sent and missed slots are not made up, so
hand long work to a queue. Breaking out of the loop leaves nothing running; ``async with``
(or :meth:`ReportWatcher.aclose`) marks it closed.

**Delivery.** An event's new state is committed to the checkpoint when you come back for
the next event (or call :meth:`ReportWatcher.commit`): at-least-once, so a crash repeats at
most the event you were handling. Baselines (first sightings) are committed at once.
"""

from __future__ import annotations

from trakk_async.watch._checkpoint import (
    Checkpoint,
    MemoryCheckpoint,
    RedisCheckpoint,
    Seen,
    SQLiteCheckpoint,
)
from trakk_async.watch._plan import WatchPlan
from trakk_async.watch._watcher import ReportAdvanced, ReportWatcher, WatchStats

__all__ = [
    "Checkpoint",
    "MemoryCheckpoint",
    "RedisCheckpoint",
    "ReportAdvanced",
    "ReportWatcher",
    "SQLiteCheckpoint",
    "Seen",
    "WatchPlan",
    "WatchStats",
]
