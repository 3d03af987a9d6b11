"""Know when a report completes, in every project, within a share of the rate budget.

::

    async with TrakkClient() as client:
        checkpoint = SQLiteCheckpoint("watch.sqlite3")
        async with client.watch_reports(checkpoint=checkpoint) as watcher:
            async for event in watcher:
                print(event.project_id, event.previous_number, "->", event.report.report_number)

A :class:`ReportWatcher` emits one :class:`ReportAdvanced` per report that completes,
exactly once (at least once across crashes, see *Delivery*), and remembers what it has
seen in a :class:`Checkpoint` so a restarted watcher loses nothing.

**What Trakk says, and what the watcher relies on.**

* ``GET /projects/{id}/reports`` lists every report of a project with its status, newest
  first. It is the exact source: a *completion* is a report that is ``completed`` in that
  list and was not completed (or not listed) at the previous look. One look is one
  request and finds every completion since the last one, in any order (an older report
  completing after a newer one too).
* The ``latest_report_*`` fields of ``/projects`` are the row of ``/reports/latest``: a
  completed report dated (``date_to_create_texts``) in the current month, else the
  not-completed report with the earliest date. A completion changes that row only when
  the report is the row or becomes it. It does not when next month's report completes
  early while this month's completed report is the row, when a report completes behind
  an old ``failed`` one (which stays the row), when last month's overdue report completes,
  or when a report is created and completed between two passes. **The listing therefore
  proves no project unchanged**: every project is looked at within the bound below,
  whatever its row says.

**Strategies.** ``"per-project"`` (what ``"auto"`` picks; ``"last-generated"`` is its
earlier name) looks at one project per slot, the one whose last look is oldest, plus one
``/projects`` pass per sweep to follow which projects exist (when it watches every
project of the token). ``"listing"`` spends ``1 - reconcile_share`` of the slots on
``/projects`` passes (100 projects a request): a project whose row changed since the last
pass, or shows a completed report the watcher does not know, is a *hint* and is looked
at in the next such slot; the other ``reconcile_share`` (0.5) of the slots look at every
project in turn, oldest look first.

**Bounds.** With ``r`` the watcher's rate (``budget`` of the limiter's longest window:
0.5 of 1,000 an hour is one request every 7.2 s), ``N`` watched projects, ``P`` pages of
``/projects`` and ``s`` the reconcile share, while the server answers (a project set
aside after a 403 or 404 excepted) and the consumer keeps asking for events:

* ``"per-project"``: every completion is delivered within ``(N + P) / r + 1 / r`` seconds
  (``N / r + 1 / r`` with explicit ``project_ids``, which are not listed).
* ``"listing"``: every completion within ``N / (r * s) + 1 / r``; one that changes the
  project's row within ``P / (r * (1 - s)) + 1 / (r * (1 - s))``, plus a slot per
  confirmation waiting ahead of it (a month boundary moves many rows at once).

``"auto"`` picks ``"per-project"``: at a given budget it has the shortest bound for
*every* completion, and ``"listing"`` cannot match it (it must look at every project
too, from a smaller share of the same budget). ``"listing"`` is the choice when most
completions (those the listing shows) should be seen within minutes and a longer bound
for the rest is acceptable. At ``budget=0.5`` of the default 1,000 requests an hour (500
an hour either way; the first pass at the limiter's pace takes 1 min, 1 h and 10 h):

=========  =========================  ===================================
projects   "per-project": every one   "listing": shown in the listing / every one
=========  =========================  ===================================
100        12 min                     29 s / 24 min
1,000      2.0 h                      2.6 min / 4.0 h
10,000     20 h                       24 min / 40 h
=========  =========================  ===================================

:meth:`ReportWatcher.estimate` and :attr:`ReportWatcher.plan` give these numbers for any
size and budget (:class:`WatchPlan`).

**A defined start.** The first pass lists ``/projects`` (when the watcher lists) and
looks at every project without a checkpoint record, at the rate limiter's full pace (not
the budget's), committing each project's baseline as it is fetched. Then
:attr:`ReportWatcher.ready` turns True, an INFO line is logged and
:meth:`ReportWatcher.start` returns. Guarantee: every report that completes after its
project's baseline is delivered, also across a restart during the first pass (projects
baselined before the stop keep their baseline, the others get theirs after the
restart). A report completed before its project's baseline is part of the baseline, not
an event; ``emit_baselines=True`` delivers each project's newest completed report as a
``baseline=True`` event instead. The first pass counts in the limiter's windows like any
request: one that used most of the hourly limit (1,000 projects and more at the default
limits) leaves the watcher, and every other user of the token, waiting for that window,
so the bounds above hold from one window (an hour) after the first pass.

**Delivery.** One event per completed report, oldest first when one look finds several;
``previous_*`` chain through them. An event's state is committed when you come back for
the next event (or call :meth:`ReportWatcher.commit`), and the next event is handed out
only after that commit succeeded. The checkpoint also keeps a *mark*, the project of the
event handed out last, and a restarted watcher looks at that project before anything
else. So a crash or a stop delivers again **at most one event, the one delivered last**,
and it comes first (without the mark, an event left in flight by one stop could still be
waiting for its project's turn when a second stop left another one in flight). A
failing checkpoint store is retried with backoff for ``checkpoint_outage`` seconds (60),
then the stream ends with :class:`CheckpointError`.
:meth:`ReportWatcher.handle` calls a handler per event with a timeout, retries and a
dead letter (:class:`DeadLetterFile`) for events it gives up on.

**How it runs.** The watcher has no background task: it works while you wait for the
next event. While your loop body runs no request is sent and missed slots are not made
up, so hand long work to a queue. Breaking out of the loop leaves nothing running;
``async with`` (or :meth:`ReportWatcher.aclose`) closes it. A 401 ends the stream; a 403
or 404 on one project sets it aside for the length of the limiter's longest window.
"""

from __future__ import annotations

from trakk_async.watch._checkpoint import (
    Checkpoint,
    MemoryCheckpoint,
    RedisCheckpoint,
    SQLiteCheckpoint,
)
from trakk_async.watch._events import ReportAdvanced, WatchStats
from trakk_async.watch._handling import DeadLetter, DeadLetterFile, Handler
from trakk_async.watch._plan import WatchPlan
from trakk_async.watch._state import Seen
from trakk_async.watch._watcher import ReportWatcher

__all__ = [
    "Checkpoint",
    "DeadLetter",
    "DeadLetterFile",
    "Handler",
    "MemoryCheckpoint",
    "RedisCheckpoint",
    "ReportAdvanced",
    "ReportWatcher",
    "SQLiteCheckpoint",
    "Seen",
    "WatchPlan",
    "WatchStats",
]
