"""``DEST/.trakk-sync.json``: what a sync remembers between runs, inside the directory.

Everything else a sync needs is the mirror itself (a project's files are its record), so
the directory can be copied to another machine and synced from there. The file is small
(about 150 bytes a project) and written atomically; a missing, unreadable or newer-format
file is not an error: the sync starts over from the mirror (see :meth:`SyncState.load`).

Format 1::

    {"format": 1, "run": 12,
     "projects": {"42": [ROW, 11, [1081]], ...}}

per project: its listing row when it was last brought up to date (``name``, ``status``,
``keyword_count`` and the four ``latest_report_*`` fields, as JSON values), the run that
last looked at its reports list (the rotation of reconciliations: oldest first), and the
ids of its reports that were not completed then (a project with such a report other than
its listing row may hide a completion: it is reconciled sooner).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from trakk_async._models.objects import ProjectSummary
from trakk_async.export import _files as files

__all__ = ["FORMAT", "STATE_FILE", "ProjectState", "SyncState", "row_of"]

logger = logging.getLogger("trakk_async")

STATE_FILE: Final = ".trakk-sync.json"
FORMAT: Final = 1

#: A project's listing fields, as JSON values (see :func:`row_of`).
Row = tuple[Any, ...]


def row_of(project: ProjectSummary) -> Row:
    """The listing fields a sync compares between runs, as JSON values.

    A project's detail (``/projects/{id}``, its ``project.json``) repeats these fields, so
    a change of any of them means its ``project.json`` is out of date, and a change of
    the ``latest_report_*`` row may mean a report completed.
    """
    values = [
        project.name,
        project.status,
        project.keyword_count,
        project.latest_report_id,
        project.latest_report_number,
        project.latest_report_status,
        project.latest_report_generated_at,
    ]
    return tuple(orjson.loads(orjson.dumps(values)))  # enums, datetimes -> JSON values


@attrs.frozen
class ProjectState:
    """A sync's record of one project (see the module docstring)."""

    row: Row | None
    verified: int
    open: frozenset[int] = frozenset()


@attrs.define
class SyncState:
    """The run counter and the per-project records."""

    run: int = 0
    projects: dict[int, ProjectState] = attrs.Factory(dict)

    @classmethod
    def load(cls, dest: Path) -> SyncState:
        """The state of ``dest``; an empty one when there is none or it cannot be read."""
        raw = files.read_json(dest / STATE_FILE)
        if raw is None:
            return cls()
        try:
            return cls._decode(raw)
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            logger.warning(
                "sync: %s is unreadable (%s); starting over from the files",
                dest / STATE_FILE,
                error,
            )
            return cls()

    @classmethod
    def _decode(cls, raw: Any) -> SyncState:
        if raw.get("format") != FORMAT:
            raise ValueError(f"format {raw.get('format')!r}, this version reads {FORMAT}")
        projects: dict[int, ProjectState] = {}
        for key, (row, verified, open_ids) in raw["projects"].items():
            if type(verified) is not int or not all(type(i) is int for i in open_ids):
                raise ValueError(f"project {key}: not a sync record")
            projects[int(key)] = ProjectState(
                None if row is None else tuple(row), verified, frozenset(open_ids)
            )
        run = raw["run"]
        if type(run) is not int:
            raise ValueError("run is not an int")
        return cls(run, projects)

    def to_bytes(self) -> bytes:
        """The file's bytes (compact, projects by id)."""
        return orjson.dumps(
            {
                "format": FORMAT,
                "run": self.run,
                "projects": {
                    str(pid): [
                        None if s.row is None else list(s.row),
                        s.verified,
                        sorted(s.open),
                    ]
                    for pid, s in sorted(self.projects.items())
                },
            }
        )

    def save(self, dest: Path) -> None:
        """Write the file atomically (synchronous: call from a worker thread)."""
        files.write_atomic(dest / STATE_FILE, self.to_bytes())
