"""index.jsonl kept per project (equal to a rebuild), the journal, the lock, clean failures."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from trakk_async import DestinationBusyError, TrakkError
from trakk_async._models.envelope import response_data
from trakk_async.export import _files as files
from trakk_async.export._index import INDEX_FILE, Index, Journal, build_index
from trakk_async.export._lock import LOCK_FILE, locked
from trakk_async.export._runtime import in_thread, run_all


def _content(root: Path, pid: int, number: int, report_id: int) -> None:
    body = {"report_id": report_id, "generation_status": "completed", "n": number}
    files.write_atomic(files.content_path(root / str(pid), number), files.dump(body))


def _project(root: Path, pid: int, numbers: list[int]) -> None:
    pdir = root / str(pid)
    files.write_atomic(pdir / files.PROJECT_FILE, files.dump({"id": pid}))
    files.write_atomic(pdir / files.KEYWORDS_FILE, files.dump([]))
    for number in numbers:
        _content(root, pid, number, pid * 100 + number)
    files.write_atomic(pdir / files.REPORTS_FILE, files.dump([]))


def test_a_project_refreshed_in_the_index_equals_a_rebuild(tmp_path: Path) -> None:
    for pid in (3, 1, 2):
        _project(tmp_path, pid, [1, 2])
    index = Index.build(tmp_path)
    assert index.to_bytes() == build_index(tmp_path)
    assert index.write() is True
    assert index.write() is False

    _content(tmp_path, 2, 2, 299)  # modified
    _content(tmp_path, 2, 5, 205)  # added
    files.unlink(files.content_path(tmp_path / "2", 1))  # removed
    changes = Index.load(tmp_path).refresh(2)
    assert [(c.change, c.path) for c in changes] == [
        ("modified", "2/content/2.json"),
        ("added", "2/content/5.json"),
        ("removed", "2/content/1.json"),
    ]
    assert changes[1].to_json()["report_id"] == 205
    assert changes[1].to_json()["change"] == "added"

    index = Index.load(tmp_path)
    index.refresh(2)
    files.remove_project(tmp_path / "3")
    removed = index.refresh(3)
    assert {c.change for c in removed} == {"removed"}
    assert len(removed) == 5
    _project(tmp_path, 4, [7])
    assert {c.change for c in index.refresh(4)} == {"added"}
    assert index.refresh(4) == []
    assert index.to_bytes() == build_index(tmp_path)
    assert index.project_ids == [1, 2, 4]


def test_an_unreadable_index_is_rebuilt(tmp_path: Path) -> None:
    _project(tmp_path, 1, [1])
    (tmp_path / INDEX_FILE).write_bytes(b'{"path": "1/project.json"}\n{"proj')
    assert Index.load(tmp_path).to_bytes() == build_index(tmp_path)
    (tmp_path / INDEX_FILE).write_bytes(b'{"project_id": "1"}\n')
    assert Index.load(tmp_path).to_bytes() == build_index(tmp_path)


def test_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    assert journal.read() == set()
    journal.note(5)
    journal.note(5)
    journal.note(12)
    assert (tmp_path / ".trakk-journal").read_bytes() == b"5\n12\n"
    assert Journal(tmp_path).read() == {5, 12}  # what a killed run left
    journal.clear()
    assert journal.read() == set()
    assert not (tmp_path / ".trakk-journal").exists()


def test_a_second_run_into_a_locked_destination_is_refused(tmp_path: Path) -> None:
    with (
        locked(tmp_path / "dest"),
        pytest.raises(DestinationBusyError, match="another export or sync") as caught,
        locked(tmp_path / "dest"),
    ):
        pass
    assert isinstance(caught.value, TrakkError)
    with locked(tmp_path / "dest"):  # released
        pass
    assert (tmp_path / "dest" / LOCK_FILE).exists()


def test_the_lock_of_another_process_and_of_a_killed_one(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from trakk_async.export._lock import locked\n"
            "with locked(pathlib.Path(sys.argv[1])):\n"
            "    print('held', flush=True); sys.stdin.read()",
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        with pytest.raises(DestinationBusyError), locked(tmp_path):
            pass
    finally:
        holder.kill()  # SIGKILL: no cleanup runs in the holder
        holder.wait()
    with locked(tmp_path):  # the operating system released it
        pass


def test_response_data_is_the_one_reading_of_the_envelope() -> None:
    assert response_data({"data": [1], "cache_refreshed_at": "x"}) == [1]
    assert response_data({"data": {"a": 1}}, bare=True) == {"a": 1}
    bare = {"content_scheme": "metadata", "cache_refreshed_at": "2026-01-01T00:00:00Z"}
    assert response_data(bare, bare=True) == {"content_scheme": "metadata"}
    assert response_data(bare) is None
    assert response_data([1, 2]) is None
    assert response_data("x", bare=True) is None


async def test_a_failure_in_many_threads_leaves_nothing_unretrieved() -> None:
    """A full disk fails every writer at once: the run raises the first error, and no
    task or thread outcome is left for the loop to log as never retrieved."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))

    def full_disk(delay: float) -> None:
        time.sleep(delay)
        raise OSError(28, "No space left on device")

    async def writer(delay: float) -> None:
        await in_thread(full_disk, delay)

    with pytest.raises(OSError, match="No space left"):
        await run_all([writer(0.01 * i) for i in range(8)])
    # run_all returned after every thread had finished (in_thread waits for them).
    gc.collect()
    await asyncio.sleep(0)
    assert reported == []


async def test_a_cancelled_thread_is_awaited_and_its_error_dropped() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    finished: list[bool] = []

    def slow_then_fail() -> None:
        time.sleep(0.1)
        finished.append(True)
        raise OSError(28, "No space left on device")

    task = asyncio.ensure_future(in_thread(slow_then_fail))
    await asyncio.sleep(0)  # the thread is started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == [True]  # the thread had finished before the cancellation returned
    gc.collect()
    await asyncio.sleep(0)
    assert reported == []


def test_small_file_helpers(tmp_path: Path) -> None:
    assert files.read_bytes(tmp_path / "missing") is None
    os.mkdir(tmp_path / "12")
    assert files.project_dirs(tmp_path) == {12: False}
