"""Bulk export: every project's data and generated content on disk, resumable.

::

    async with TrakkClient() as client:
        summary = await export_projects(client, "backup", resume=True)
        print(summary.files, "files,", summary.requests, "requests")

**Layout** (``DEST`` is the destination directory)::

    DEST/index.jsonl                         one JSON line per file below (rebuilt each run)
    DEST/<project_id>/project.json           GET /projects/{id}
    DEST/<project_id>/keywords.json          GET /projects/{id}/keywords
    DEST/<project_id>/reports.json           GET /projects/{id}/reports (written last)
    DEST/<project_id>/content/<n>.json       GET /projects/{id}/reports/{n}/content

Each file holds the response's ``data`` member exactly as decoded (unknown fields kept),
serialized with sorted keys and 2-space indentation; the envelope (``cache_refreshed_at``)
is left out so a file changes only when its data does. An ``index.jsonl`` line is
``{"path", "project_id", "kind", "bytes", "sha256"}`` plus ``report_number``,
``report_id`` and ``status`` for content files; it lists every complete project in
``DEST``, ordered by project id.

**What is requested.** Per project: its reports, its detail, its keywords, and the content
of each report number that is in some keyword's ``content_action_ids`` *and* whose newest
report (the one ``/content`` serves) is ``completed``, so no request is spent on a 404.
Without ``project_ids`` the project list pages come first (100 projects a page).

**Atomic and resumable.** Every file is written to a temporary file in its directory,
fsynced and renamed over the target: a crash leaves the old file or the new one.
``reports.json`` is written last, so a project directory holding it is complete. With
``resume=True`` a complete project whose reports (id and status of each) are unchanged
costs one request (its reports list); a changed or unfinished project is fetched again
except the content files whose report id and status still match. Content files of report
numbers that no longer have content are removed.

**Counting.** While it runs, the export counts the requests the client sends (retries
included) and the 429s it gets by wrapping the client's rate limiter; requests of other
tasks using the same client in that time are counted too.
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
