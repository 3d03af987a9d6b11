"""The file side of ``trakk_async.export``: stable JSON, atomic writes, the index.

Nothing here talks to the API; every function is synchronous and meant to run in a worker
thread (``asyncio.to_thread``) so fsync never stalls the event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson

#: Temporary files start with this prefix; a crash may leave them behind, never a target.
TEMP_PREFIX: Final = ".trakk-tmp-"
PROJECT_FILE: Final = "project.json"
KEYWORDS_FILE: Final = "keywords.json"
#: Written last: a project directory with ``reports.json`` is complete.
REPORTS_FILE: Final = "reports.json"
CONTENT_DIR: Final = "content"
INDEX_FILE: Final = "index.jsonl"


def dump(data: Any) -> bytes:
    """The stable form of every exported file: sorted keys, 2-space indent, final newline."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


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
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, data)
    return True


def read_json(path: Path) -> Any:
    """The decoded JSON of ``path``, or None when it is missing or unreadable."""
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def remove_stale(project_dir: Path, keep_numbers: set[int]) -> None:
    """Delete leftover temporary files and content files of numbers no longer exported."""
    for tmp in _temp_files(project_dir):
        with contextlib.suppress(OSError):
            tmp.unlink()
    content = project_dir / CONTENT_DIR
    if not content.is_dir():
        return
    for tmp in _temp_files(content):
        with contextlib.suppress(OSError):
            tmp.unlink()
    for file in content.glob("*.json"):
        if not (file.stem.isdigit() and int(file.stem) in keep_numbers):
            with contextlib.suppress(OSError):
                file.unlink()


def unlink(path: Path) -> None:
    """Remove ``path`` if it exists."""
    with contextlib.suppress(OSError):
        path.unlink()


def build_index(dest: Path) -> bytes:
    """``index.jsonl`` of every complete project under ``dest``, one line per file.

    Lines are ordered by project id, then project, keywords, reports, content by number,
    so two exports of the same data give the same index byte for byte.
    """
    lines = [orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) for entry in _index_entries(dest)]
    return b"".join(line + b"\n" for line in lines)


def _index_entries(dest: Path) -> Iterator[dict[str, Any]]:
    projects = sorted(
        int(d.name) for d in dest.iterdir() if d.name.isdigit() and (d / REPORTS_FILE).is_file()
    )
    for pid in projects:
        pdir = dest / str(pid)
        for name, kind in ((PROJECT_FILE, "project"), (KEYWORDS_FILE, "keywords")):
            if (pdir / name).is_file():
                yield _entry(dest, pdir / name, pid, kind)
        yield _entry(dest, pdir / REPORTS_FILE, pid, "reports")
        content = pdir / CONTENT_DIR
        files = content.glob("*.json") if content.is_dir() else iter(())
        numbered = sorted((int(f.stem), f) for f in files if f.stem.isdigit())
        for number, file in numbered:
            entry = _entry(dest, file, pid, "content")
            body = orjson.loads(file.read_bytes())
            entry["report_number"] = number
            entry["report_id"] = body.get("report_id") if isinstance(body, dict) else None
            entry["status"] = body.get("generation_status") if isinstance(body, dict) else None
            yield entry


def _entry(dest: Path, file: Path, pid: int, kind: str) -> dict[str, Any]:
    data = file.read_bytes()
    return {
        "path": file.relative_to(dest).as_posix(),
        "project_id": pid,
        "kind": kind,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _temp_files(directory: Path) -> Iterator[Path]:
    return (p for p in directory.iterdir() if p.name.startswith(TEMP_PREFIX))


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
