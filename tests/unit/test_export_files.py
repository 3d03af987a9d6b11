"""The pure parts of the export: stable JSON, atomic writes, the index, choosing content."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from trakk_async import InvalidResponseError, RequestAttempt, TrakkClient
from trakk_async.export import _files as files
from trakk_async.export._index import build_index
from trakk_async.export._project import ReportRef, content_numbers, fingerprint
from trakk_async.export._runtime import AttemptCounter, counting


def test_dump_is_stable_and_sorted() -> None:
    assert files.dump({"b": 1, "a": [1, {"d": None, "c": "é"}]}) == files.dump(
        {"a": [1, {"c": "é", "d": None}], "b": 1}
    )
    text = files.dump({"b": 1, "a": 2}).decode()
    assert text == '{\n  "a": 2,\n  "b": 1\n}\n'


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "x.json"
    files.write_atomic(target, b"one")
    files.write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]


def test_failed_write_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "x.json"
    files.write_atomic(target, b"old")

    def boom(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="No space"):
        files.write_atomic(target, b"new, longer content")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_write_if_changed(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    assert files.write_if_changed(target, b"a") is True
    before = target.stat().st_mtime_ns
    assert files.write_if_changed(target, b"a") is False
    assert target.stat().st_mtime_ns == before
    assert files.write_if_changed(target, b"b") is True


def test_read_json_missing_or_broken(tmp_path: Path) -> None:
    assert files.read_json(tmp_path / "none.json") is None
    (tmp_path / "bad.json").write_bytes(b'{"a": ')
    assert files.read_json(tmp_path / "bad.json") is None


def _project(root: Path, pid: int, numbers: list[int], *, complete: bool = True) -> None:
    pdir = root / str(pid)
    files.write_atomic(pdir / files.PROJECT_FILE, files.dump({"id": pid}))
    files.write_atomic(pdir / files.KEYWORDS_FILE, files.dump([]))
    for n in numbers:
        body = {"report_id": pid * 100 + n, "generation_status": "completed"}
        files.write_atomic(pdir / "content" / f"{n}.json", files.dump(body))
    if complete:
        files.write_atomic(pdir / files.REPORTS_FILE, files.dump([]))


def test_index_orders_and_skips_incomplete_projects(tmp_path: Path) -> None:
    _project(tmp_path, 10, [10, 2])
    _project(tmp_path, 9, [1])
    _project(tmp_path, 11, [3], complete=False)
    (tmp_path / "notes").mkdir()

    entries = [orjson.loads(line) for line in build_index(tmp_path).splitlines()]

    assert [e["path"] for e in entries] == [
        "9/project.json",
        "9/keywords.json",
        "9/reports.json",
        "9/content/1.json",
        "10/project.json",
        "10/keywords.json",
        "10/reports.json",
        "10/content/2.json",
        "10/content/10.json",
    ]
    last = entries[-1]
    assert (last["kind"], last["report_number"], last["report_id"]) == ("content", 10, 1010)
    assert last["bytes"] == (tmp_path / "10/content/10.json").stat().st_size
    assert build_index(tmp_path) == build_index(tmp_path)


def test_remove_stale(tmp_path: Path) -> None:
    _project(tmp_path, 1, [1, 2, 3])
    files.remove_stale(tmp_path / "1", {1, 3})
    assert sorted(p.name for p in (tmp_path / "1" / "content").iterdir()) == ["1.json", "3.json"]


def test_temp_files_are_cleaned_everywhere(tmp_path: Path) -> None:
    _project(tmp_path, 1, [1])
    strays = [
        tmp_path / f"{files.TEMP_PREFIX}index",  # a kill while index.jsonl was written
        tmp_path / "1" / f"{files.TEMP_PREFIX}a",
        tmp_path / "1" / "content" / f"{files.TEMP_PREFIX}b",
    ]
    for stray in strays:
        stray.write_bytes(b"half")
    keep = tmp_path / "1" / "content" / "1.json"

    assert files.clean_temp_files(tmp_path) == len(strays)

    assert not any(stray.exists() for stray in strays)
    assert keep.exists()


def test_remove_project_takes_reports_first(tmp_path: Path) -> None:
    _project(tmp_path, 4, [1, 2])
    files.remove_project(tmp_path / "4")
    assert not (tmp_path / "4").exists()
    assert files.project_dirs(tmp_path) == {}


def _report(rid: int, number: int, status: str) -> ReportRef:
    return ReportRef(rid, number, status)


def test_content_numbers_need_keywords_and_a_completed_newest_report() -> None:
    reports = [  # newest first
        _report(30, 1, "pending"),  # number 1 started again: /content serves this one
        _report(26, 26, "completed"),
        _report(5, 5, "completed"),
        _report(4, 4, "failed"),
        _report(1, 1, "completed"),
    ]
    keywords = [{"content_action_ids": [1, 4, 26]}, {"content_action_ids": [26, 7]}, {}]
    assert content_numbers(keywords, reports) == {26: _report(26, 26, "completed")}


def test_fingerprint_ignores_order() -> None:
    a = [_report(1, 1, "completed"), _report(2, 2, "pending")]
    assert fingerprint(a) == fingerprint(a[::-1])
    assert fingerprint(a) != fingerprint([_report(2, 2, "running"), a[0]])


def test_report_ref_needs_its_identity() -> None:
    assert ReportRef.of({"id": 3, "report_number": 2, "status": "odd"}, "p") == _report(3, 2, "odd")
    with pytest.raises(InvalidResponseError, match="'id'"):
        ReportRef.of({"id": "3", "report_number": 2}, "p")
    with pytest.raises(InvalidResponseError, match="report_number"):
        ReportRef.of({"id": 3}, "p")


def _attempt(status: int | None) -> RequestAttempt:
    return RequestAttempt(path="/me", attempt=0, status=status, error=None, elapsed=0.0)


async def test_attempt_counter_counts_only_its_own_runs_requests() -> None:
    client = TrakkClient("t0ken", base_url="https://api.trakk.test/api/v1")
    outsider = AttemptCounter()
    outsider(_attempt(200))  # not inside a run: not counted
    with counting(client) as counter:
        for status in (200, 429, None, 500):
            counter(_attempt(status))
    counter(_attempt(200))  # after the run
    assert (counter.sent, counter.rate_limited) == (4, 1)
    assert outsider.sent == 0
    await client.aclose()
