"""``DEST/index.jsonl``: one JSON line per file of every complete project, and its upkeep.

An export rebuilds the index from the files; a sync rewrites only the lines of the
projects it touched (reading every file of 10,000 projects to hash it again would cost
more than the sync's requests). Two rules keep the two ways equal byte for byte:

* a project's lines are always computed from its files (:func:`project_entries`), in one
  order (project id, then project, keywords, reports, content by number);
* before a run writes into a project, the project's id is appended to the *journal*
  (``DEST/.trakk-journal``, fsynced); the journal is emptied only after the index has been
  written. A run killed in between leaves the ids there, and the next run recomputes
  those projects' lines, so the index never keeps a line of an older file for good.

Comparing a project's lines before and after gives the :class:`FileChange` records a sync
reports (``trakk sync --json``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, Literal

import attrs
import orjson

from trakk_async.export import _files as files

__all__ = [
    "INDEX_FILE",
    "JOURNAL_FILE",
    "FileChange",
    "Index",
    "Journal",
    "build_index",
    "project_entries",
]

INDEX_FILE: Final = files.INDEX_FILE
JOURNAL_FILE: Final = ".trakk-journal"

Change = Literal["added", "modified", "removed"]


@attrs.frozen(kw_only=True)
class FileChange:
    """One file of the destination that a run added, modified or removed.

    ``entry`` is the file's ``index.jsonl`` line as data (for a removed file: its last
    line): ``path``, ``project_id``, ``kind``, ``bytes``, ``sha256``, and for content
    ``report_number``, ``report_id`` and ``status``.
    """

    change: Change
    entry: dict[str, Any]

    @property
    def path(self) -> str:
        """The file's path below the destination, with ``/`` separators."""
        return str(self.entry["path"])

    def to_json(self) -> dict[str, Any]:
        """``{"change": ..., **entry}``: the line ``trakk sync --json`` prints."""
        return {"change": self.change, **self.entry}


def project_entries(dest: Path, pid: int) -> list[dict[str, Any]]:
    """The index entries of one project, from its files (none when it is incomplete)."""
    pdir = dest / str(pid)
    if not (pdir / files.REPORTS_FILE).is_file():
        return []
    entries = []
    for name, kind in ((files.PROJECT_FILE, "project"), (files.KEYWORDS_FILE, "keywords")):
        if (pdir / name).is_file():
            entries.append(_entry(dest, pdir / name, pid, kind))
    entries.append(_entry(dest, pdir / files.REPORTS_FILE, pid, "reports"))
    content = pdir / files.CONTENT_DIR
    found = content.glob("*.json") if content.is_dir() else iter(())
    for number, file in sorted((int(f.stem), f) for f in found if f.stem.isdigit()):
        data = file.read_bytes()
        entry = _entry(dest, file, pid, "content", data)
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            body = None
        entry["report_number"] = number
        entry["report_id"] = body.get("report_id") if isinstance(body, dict) else None
        entry["status"] = body.get("generation_status") if isinstance(body, dict) else None
        entries.append(entry)
    return entries


def _entry(
    dest: Path, file: Path, pid: int, kind: str, data: bytes | None = None
) -> dict[str, Any]:
    if data is None:
        data = file.read_bytes()
    return {
        "path": file.relative_to(dest).as_posix(),
        "project_id": pid,
        "kind": kind,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _lines(entries: Iterable[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n" for entry in entries]


def build_index(dest: Path) -> bytes:
    """The whole ``index.jsonl`` of ``dest``, computed from every complete project."""
    return Index.build(dest).to_bytes()


class Index:
    """An ``index.jsonl`` held in memory as each project's lines, updated project by project.

    Synchronous (file reads and hashing): call from a worker thread.
    """

    def __init__(self, dest: Path, lines: dict[int, list[bytes]]) -> None:
        self.dest = dest
        self._lines = lines

    @classmethod
    def load(cls, dest: Path) -> Index:
        """The index as written by the last run; rebuilt from the files when it is
        missing or unreadable."""
        raw = files.read_bytes(dest / INDEX_FILE)
        lines = None if raw is None else _group(raw)
        if lines is None:
            return cls.build(dest)
        return cls(dest, lines)

    @classmethod
    def build(cls, dest: Path) -> Index:
        """The index computed from every complete project's files."""
        ids = sorted(pid for pid, complete in files.project_dirs(dest).items() if complete)
        return cls(dest, {pid: _lines(project_entries(dest, pid)) for pid in ids})

    @property
    def project_ids(self) -> list[int]:
        """The projects the index lists."""
        return sorted(self._lines)

    def refresh(self, pid: int) -> list[FileChange]:
        """Recompute one project's lines from its files; return what changed."""
        before = self._lines.get(pid, [])
        entries = project_entries(self.dest, pid)
        after = _lines(entries)
        if after == before:
            return []
        if after:
            self._lines[pid] = after
        else:
            self._lines.pop(pid, None)
        old = {e["path"]: e for e in map(orjson.loads, before)}
        changes: list[FileChange] = []
        for entry in entries:
            previous = old.pop(entry["path"], None)
            if previous is None:
                changes.append(FileChange(change="added", entry=entry))
            elif previous != entry:
                changes.append(FileChange(change="modified", entry=entry))
        changes.extend(FileChange(change="removed", entry=e) for e in old.values())
        return changes

    def to_bytes(self) -> bytes:
        """The file's bytes: every project's lines, by project id."""
        return b"".join(line for pid in sorted(self._lines) for line in self._lines[pid])

    def write(self) -> bool:
        """Write ``index.jsonl`` if it changed; True if written."""
        return files.write_if_changed(self.dest / INDEX_FILE, self.to_bytes())


def _group(raw: bytes) -> dict[int, list[bytes]] | None:
    """An index file's lines by project id, or None if any line is not an index line."""
    grouped: dict[int, list[bytes]] = {}
    for line in raw.splitlines(keepends=True):
        try:
            pid = orjson.loads(line)["project_id"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            return None
        if type(pid) is not int or not line.endswith(b"\n"):
            return None
        grouped.setdefault(pid, []).append(line)
    return grouped


class Journal:
    """``DEST/.trakk-journal``: the projects written since the index was last written.

    Synchronous: call from a worker thread.
    """

    def __init__(self, dest: Path) -> None:
        self.path = dest / JOURNAL_FILE
        self._noted: set[int] = set()

    def read(self) -> set[int]:
        """The project ids noted (by this run or by one that was killed)."""
        raw = files.read_bytes(self.path) or b""
        return {int(line) for line in raw.split() if line.isdigit()} | self._noted

    def note(self, pid: int) -> None:
        """Record, durably, that project ``pid`` is about to be written."""
        if pid in self._noted:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            line = f"{pid}\n".encode()
            if os.write(fd, line) != len(line):
                raise OSError(f"could not append to {self.path}")
            os.fsync(fd)
        finally:
            os.close(fd)
        self._noted.add(pid)

    def clear(self) -> None:
        """Forget every id: call once the index lists every noted project as it is."""
        files.unlink(self.path)
        self._noted.clear()
