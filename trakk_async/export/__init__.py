"""Bulk export, and a sync that keeps the export fresh for a fraction of the requests.

::

    async with TrakkClient() as client:
        summary = await export_projects(client, "backup", resume=True)
        print(summary.files, "files,", summary.requests, "requests")
        synced = await sync_projects(client, "backup")   # the next night
        print(synced.changed, "projects changed,", synced.requests, "requests")

**Layout** (``DEST`` is the destination directory)::

    DEST/index.jsonl                         one JSON line per file below
    DEST/<project_id>/project.json           GET /projects/{id}
    DEST/<project_id>/keywords.json          GET /projects/{id}/keywords
    DEST/<project_id>/reports.json           GET /projects/{id}/reports (written last)
    DEST/<project_id>/content/<n>.json       GET /projects/{id}/reports/{n}/content

Each file holds the response's ``data`` member exactly as decoded (unknown fields kept),
serialized with sorted keys and 2-space indentation; the envelope (``cache_refreshed_at``)
is left out so a file changes only when its data does. An ``index.jsonl`` line is
``{"path", "project_id", "kind", "bytes", "sha256"}`` plus ``report_number``,
``report_id`` and ``status`` for content files; it lists every complete project in
``DEST``, ordered by project id. Bookkeeping files start with ``.trakk-``: the lock
(``.trakk-lock``, empty), the sync's state (``.trakk-sync.json``) and, only while a run
is under way or after one was killed, its journal and temporary files.

**What is requested.** Per project: its reports; its detail and keywords unless the
run can tell they did not change; the content of each report number that is in some
keyword's ``content_action_ids`` *and* whose newest report (the one ``/content``
serves) is ``completed``, so no request is spent on a 404. A content file already
present is kept while what it embeds is unchanged: its report's row in the reports list,
the project's domain and status, and the keywords' ids, texts and URLs (an approval
given after completion, for example, fetches that report's content again, and only it).
Without ``project_ids`` the project list pages come first (100 projects a page).

**Atomic, resumable, one run at a time.** Every file is written to a temporary file in
its directory, fsynced and renamed over the target: a crash leaves the old file or the
new one. A project being rewritten has its ``reports.json`` set aside first and
written back last, so a project directory holding it is complete, and a run that was
killed part-way is finished by the next one, which keeps every content file still valid.
Each run locks ``DEST`` (another run fails at once with :class:`DestinationBusyError`;
the operating system releases the lock when a process dies) and first removes the
temporary files of killed runs anywhere in ``DEST``. With ``resume=True`` a complete
project whose reports list is unchanged costs one request. Content files of report
numbers that no longer have content are removed.

**Sync** (:func:`sync_projects`, ``trakk sync DEST``). Brings ``DEST`` up to date from
the ``/projects`` listing, 100 projects a request; a first sync into an empty directory
is an export. A project is *new* when ``DEST`` does not hold it complete (fetched
whole), *gone* when the listing no longer shows it and ``/projects/{id}`` answers 404
or 403 (its directory is removed; a listing that fails removes nothing), and *hinted*
when its listing row (name, status, keyword count, ``latest_report_*``) changed since it
was last brought up to date: its reports list and detail are fetched, its keywords when
a report's id or status changed or the keyword count did, and the content that changed.

The listing cannot prove a project unchanged: its ``latest_report_*`` fields are the row
of ``/reports/latest`` (a completed report dated in the current month, else the
not-completed report dated earliest), so a report can complete without moving it (next
month's report completing early, a completion behind an old ``failed`` report, a report
created and completed between two syncs). So each run also *reconciles*
``ceil(reconcile_share * N)`` of the other projects: compares their reports list with
``reports.json`` (one request each) and fetches what changed. Half of those slots go to
the projects looked at least recently, the others first to projects *at risk* (their
last reports list held a not-completed report other than the listing row), so every
project is looked at within ``ceil(N / ceil(slots / 2))`` runs, at most
``ceil(2 / reconcile_share)``: 200 runs at the default 1%
(:attr:`SyncSummary.cycle_runs`). For a 10,000-project agency the default means 200
requests for an unchanged night (100 pages, 100 reconciliations; a resumed export costs
10,100), a hidden completion found within 200 nights at worst and much sooner for
projects at risk (and a completion dated in a month shows in the listing once that month
comes); ``reconcile_share=0.1`` finds every one within 20 nights for 1,100 requests a
night. ``full=True`` fetches every project's detail, keywords and reports: it also
catches what neither the listing nor the reports list shows (a changed contact e-mail,
a keyword's new URL or position).

The sync's state is ``DEST/.trakk-sync.json`` (format version, run counter, per project
the listing row, the run of its last look and its not-completed report ids), written
atomically; everything else is the files themselves, so ``DEST`` can move to another
machine and sync from there. Without a state file (a directory made by
:func:`export_projects`, or a lost state) each project's ``project.json`` gives its last
row. ``on_change`` is told of every file added, modified or removed (``trakk sync
--json`` prints them): at least once, since a killed run's changes are told again by the
next run.

**Follow** (:func:`follow_projects`, ``trakk sync DEST --follow``): one sync, then the
report watcher (at ``budget`` of the rate limit) with ``DEST`` itself as its checkpoint,
so every report that completes lands in ``DEST`` within the watcher's bound, and a
restart repeats at most the project in flight.

**Counting.** While it runs, an export or sync counts the requests the client sends
(retries included) and the 429s it gets, through :meth:`TrakkClient.add_attempt_listener`;
requests of other tasks using the same client in that time are not counted.
"""

from __future__ import annotations

from trakk_async.export._export import ExportProgress, ExportSummary, export_projects
from trakk_async.export._follow import follow_projects
from trakk_async.export._index import FileChange
from trakk_async.export._sync import SyncSummary, sync_projects

__all__ = [
    "ExportProgress",
    "ExportSummary",
    "FileChange",
    "SyncSummary",
    "export_projects",
    "follow_projects",
    "sync_projects",
]
