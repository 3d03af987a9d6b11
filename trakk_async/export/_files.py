"""The file side of ``trakk_async.export``: the layout's names, stable JSON, atomic writes.

Nothing here talks to the API; every function is synchronous and meant to run in a worker
thread (``asyncio.to_thread``) so fsync never stalls the event loop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

import orjson

#: Temporary files start with this prefix; a crash may leave them behind, never a target.
TEMP_PREFIX: Final = ".trakk-tmp-"
PROJECT_FILE: Final = "project.json"
KEYWORDS_FILE: Final = "keywords.json"
#: Written last: a project directory with ``reports.json`` is complete.
REPORTS_FILE: Final = "reports.json"
#: ``reports.json`` set aside while a project is rewritten: the record its content files
#: were fetched against, should the rewrite be interrupted (removed once it is done).
PREVIOUS_REPORTS_FILE: Final = ".trakk-previous-reports.json"
CONTENT_DIR: Final = "content"
#: One JSON line per file of every complete project (see ``_index``).
INDEX_FILE: Final = "index.jsonl"


def dump(data: Any) -> bytes:
    """The stable form of every exported file: sorted keys, 2-space indent, final newline."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def content_path(project_dir: Path, number: int) -> Path:
    """Where the content of report ``number`` of a project lives."""
    return project_dir / CONTENT_DIR / f"{number}.json"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader (or a crash) sees the old file or the new.

    The bytes go to a temporary file in the same directory, are fsynced, then renamed over
    ``path`` (atomic on POSIX and Windows); the directory is fsynced where that is possible
    so the rename itself survives a power cut. On any error the temporary file is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def write_if_changed(path: Path, data: bytes) -> bool:
    """:func:`write_atomic` unless ``path`` already holds exactly ``data``; True if written."""
    if read_bytes(path) == data:
        return False
    write_atomic(path, data)
    return True


def read_bytes(path: Path) -> bytes | None:
    """The bytes of ``path``, or None when it is missing or unreadable."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def read_json(path: Path) -> Any:
    """The decoded JSON of ``path``, or None when it is missing or unreadable."""
    data = read_bytes(path)
    return None if data is None else read_json_bytes(data)


def read_json_bytes(data: bytes) -> Any:
    """The decoded JSON of a file's bytes, or None when they are not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def remove_stale(project_dir: Path, keep_numbers: set[int]) -> None:
    """Delete the content files of report numbers no longer exported."""
    content = project_dir / CONTENT_DIR
    if not content.is_dir():
        return
    for file in content.glob("*.json"):
        if not (file.stem.isdigit() and int(file.stem) in keep_numbers):
            unlink(file)


def unlink(path: Path) -> None:
    """Remove ``path`` if it exists."""
    with contextlib.suppress(OSError):
        path.unlink()


def clean_temp_files(dest: Path) -> int:
    """Delete every temporary file anywhere under ``dest``; returns how many.

    Called under the destination's lock, when no other run can be writing one: whatever
    is left is a killed run's. That includes a set-aside ``reports.json`` next to a new
    one (the run was killed just before removing it).
    """
    removed = 0
    for root, _dirs, names in os.walk(dest):
        for name in names:
            stale = name.startswith(TEMP_PREFIX) or (
                name == PREVIOUS_REPORTS_FILE and REPORTS_FILE in names
            )
            if stale:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(root, name))
                    removed += 1
    return removed


def set_aside_reports(project_dir: Path) -> None:
    """Make a project incomplete before rewriting it: ``reports.json`` becomes
    :data:`PREVIOUS_REPORTS_FILE` (kept as it is if an interrupted rewrite left one)."""
    reports = project_dir / REPORTS_FILE
    if reports.is_file():
        os.replace(reports, project_dir / PREVIOUS_REPORTS_FILE)
        _fsync_dir(project_dir)


def project_dirs(dest: Path) -> dict[int, bool]:
    """Project id -> whether it is complete, for every project directory under ``dest``."""
    found: dict[int, bool] = {}
    with os.scandir(dest) as entries:
        for entry in entries:
            if entry.name.isdigit() and entry.is_dir():
                found[int(entry.name)] = os.path.isfile(os.path.join(entry.path, REPORTS_FILE))
    return found


def remove_project(project_dir: Path) -> None:
    """Delete a project's directory: ``reports.json`` first, so that a crash part-way
    leaves an incomplete project (which no index lists), never a complete-looking one."""
    unlink(project_dir / REPORTS_FILE)
    shutil.rmtree(project_dir, ignore_errors=True)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
