"""trakk_async.export against FakeTrakk over loopback: layout, request economy, resume, faults."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from trakk_async import AuthenticationError, TokenBucketLimiter, TrakkClient
from trakk_async.export import ExportProgress, ExportSummary, export_projects
from trakk_async.export import _files as files
from trakk_async.export._index import JOURNAL_FILE
from trakk_async.export._lock import LOCK_FILE
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

LIMITS = ((100_000, 60.0),)
CONTENT_ROUTE = "/projects/{project}/reports/{report_number}/content"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTrakk]:
    async with FakeTrakk.running(seed=3, projects=30, rate_limits=LIMITS) as server:
        yield server


def _client(fake: FakeTrakk, **kwargs: Any) -> TrakkClient:
    return TrakkClient(
        fake.token,
        base_url=fake.base_url,
        rate_limiter=TokenBucketLimiter(windows=LIMITS),
        **kwargs,
    )


async def _fast_sleep(_: float) -> None:
    await asyncio.sleep(0)


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but the (empty) lock file every run creates."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != LOCK_FILE
    }


def _expected_files(fake: FakeTrakk, pids: list[int]) -> set[str]:
    """The layout computed from the fake's world, independently of the exporter."""
    out = {"index.jsonl"}
    for pid in pids:
        out |= {f"{pid}/project.json", f"{pid}/keywords.json", f"{pid}/reports.json"}
        newest: dict[int, Any] = {}
        for report in fake.reports(pid):  # oldest first: the last one of a number wins
            newest[report.report_number] = report
        for number, report in newest.items():
            if str(report.status) == "completed":
                project = fake.world.projects[pid]
                if fake.world.content_keywords(project, report):
                    out.add(f"{pid}/content/{number}.json")
    return out


async def _export(fake: FakeTrakk, dest: Path, **kwargs: Any) -> ExportSummary:
    async with _client(fake) as client:
        return await export_projects(client, dest, **kwargs)


async def test_layout_index_and_no_wasted_request(fake: FakeTrakk, tmp_path: Path) -> None:
    pids = fake.project_ids()
    summary = await _export(fake, tmp_path)

    tree = _tree(tmp_path)
    assert set(tree) == _expected_files(fake, pids)
    stats = fake.stats()
    assert stats.by_route.get("<unmatched>", 0) == 0
    content_files = [p for p in tree if "/content/" in p]
    # Exactly what the layout needs: one page, three per project, one per content file.
    assert stats.by_route == {
        "/projects": 1,
        "/projects/{project}": len(pids),
        "/projects/{project}/keywords": len(pids),
        "/projects/{project}/reports": len(pids),
        CONTENT_ROUTE: len(content_files),
    }
    assert summary.requests == stats.requests == 1 + 3 * len(pids) + len(content_files)
    assert (summary.projects, summary.skipped, summary.failed) == (len(pids), 0, {})
    assert (summary.rate_limited, summary.retries) == (0, 0)
    assert summary.files == len(tree)
    assert summary.bytes == sum(len(b) for b in tree.values())

    index = [orjson.loads(line) for line in tree["index.jsonl"].splitlines()]
    assert [e["path"] for e in index] == sorted(
        (p for p in tree if p != "index.jsonl"),
        key=lambda p: (int(p.split("/")[0]), "content" in p, _kind_order(p)),
    )
    for entry in index:
        assert entry["bytes"] == len(tree[entry["path"]])
        if entry["kind"] == "content":
            body = orjson.loads(tree[entry["path"]])
            assert entry["report_id"] == body["report_id"]
            assert entry["status"] == body["generation_status"] == "completed"
            assert entry["report_number"] == body["report_number"]

    # The files hold the API's data: the project detail is the data member, sorted keys.
    pid = pids[0]
    async with _client(fake) as client:
        raw = await client.get_json(f"/projects/{pid}")
    assert tree[f"{pid}/project.json"] == files.dump(raw["data"])
    assert b"cache_refreshed_at" not in tree[f"{pid}/project.json"]


def _kind_order(path: str) -> tuple[int, int]:
    name = path.rsplit("/", 1)[1]
    order = {"project.json": 0, "keywords.json": 1, "reports.json": 2}
    if name in order:
        return (order[name], 0)
    return (3, int(name.removesuffix(".json")))


async def test_token_never_written(fake: FakeTrakk, tmp_path: Path) -> None:
    await _export(fake, tmp_path, project_ids=fake.project_ids()[:5])
    secret = fake.token.encode()
    assert all(secret not in data for data in _tree(tmp_path).values())


async def test_resume_unchanged_costs_one_request_per_project(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    pids = fake.project_ids()[:8]
    await _export(fake, tmp_path, project_ids=pids)
    before_tree = _tree(tmp_path)
    before = fake.stats().requests

    summary = await _export(fake, tmp_path, project_ids=pids, resume=True)

    assert fake.stats().requests - before == len(pids) == summary.requests
    assert (summary.skipped, summary.files) == (len(pids), 0)
    assert _tree(tmp_path) == before_tree


async def test_resume_refetches_a_changed_project_only(fake: FakeTrakk, tmp_path: Path) -> None:
    pids = fake.project_ids()[:8]
    await _export(fake, tmp_path, project_ids=pids)
    changed = pids[2]
    number = fake.start_next_report(changed)
    fake.complete_report(changed, number)
    before = fake.stats().by_route

    summary = await _export(fake, tmp_path, project_ids=pids, resume=True)

    after = fake.stats().by_route
    spent = {route: after.get(route, 0) - before.get(route, 0) for route in after}
    assert spent["/projects/{project}/reports"] == len(pids)
    assert spent["/projects/{project}"] == 1
    assert spent["/projects/{project}/keywords"] == 1
    # Only the new report's content: the others of that project still match id and status.
    assert spent[CONTENT_ROUTE] == 1
    assert summary.skipped == len(pids) - 1
    fresh = tmp_path.parent / "fresh"
    await _export(fake, fresh, project_ids=pids)
    assert _tree(tmp_path) == _tree(fresh)
    body = orjson.loads((tmp_path / str(changed) / "content" / f"{number}.json").read_bytes())
    assert body["generation_status"] == "completed"


async def test_killed_midway_then_resumed_is_identical_and_cheaper(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    pids = fake.project_ids()[:10]
    fresh = tmp_path / "fresh"
    full = await _export(fake, fresh, project_ids=pids)

    class Killed(Exception):
        pass

    def kill_after_half(p: ExportProgress) -> None:
        if p.requests >= full.requests // 2:
            raise Killed

    dest = tmp_path / "resumed"
    with pytest.raises(Killed):
        await _export(fake, dest, project_ids=pids, concurrency=4, progress=kill_after_half)
    assert not (dest / "index.jsonl").exists()
    _assert_no_partial_files(dest)

    resumed = await _export(fake, dest, project_ids=pids, resume=True)

    assert _tree(dest) == _tree(fresh)
    assert resumed.requests < full.requests


def _assert_no_partial_files(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file() and path.name not in (LOCK_FILE, JOURNAL_FILE):
            assert not path.name.startswith(files.TEMP_PREFIX), path
            # every file present is whole JSON (the index: whole JSON lines)
            chunks = (
                path.read_bytes().splitlines() if path.suffix == ".jsonl" else [path.read_bytes()]
            )
            for chunk in chunks:
                orjson.loads(chunk)


async def test_crash_inside_a_write_leaves_no_partial_file(
    fake: FakeTrakk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = fake.project_ids()[:6]
    fresh = tmp_path / "fresh"
    await _export(fake, fresh, project_ids=pids)
    calls = 0
    real_fsync: Callable[[int], None] = os.fsync

    def failing_fsync(fd: int) -> None:
        nonlocal calls
        if stat.S_ISREG(os.fstat(fd).st_mode):
            calls += 1
        if calls == 25 and stat.S_ISREG(
            os.fstat(fd).st_mode
        ):  # the bytes are in the temporary file, the rename has not happened
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    dest = tmp_path / "crashed"
    with pytest.raises(OSError, match="No space left"):
        await _export(fake, dest, project_ids=pids, concurrency=2)
    _assert_no_partial_files(dest)
    monkeypatch.setattr(os, "fsync", real_fsync)

    await _export(fake, dest, project_ids=pids, resume=True)
    assert _tree(dest) == _tree(fresh)


async def test_stale_temp_file_of_a_hard_kill_is_removed(fake: FakeTrakk, tmp_path: Path) -> None:
    pid = fake.project_ids()[0]
    await _export(fake, tmp_path, project_ids=[pid])
    (tmp_path / str(pid) / "reports.json").unlink()  # the kill hit before the last write
    stray = tmp_path / str(pid) / "content" / f"{files.TEMP_PREFIX}abc"
    stray.write_bytes(b'{"half": ')

    await _export(fake, tmp_path, project_ids=[pid], resume=True)

    assert not stray.exists()
    _assert_no_partial_files(tmp_path)


async def test_faults_give_the_same_files(tmp_path: Path) -> None:
    async with FakeTrakk.running(seed=5, projects=90, rate_limits=LIMITS) as fake:
        pids = fake.project_ids()[:50]
        assert len(pids) == 50
        clean = tmp_path / "clean"
        async with _client(fake) as client:
            needed = await export_projects(client, clean, project_ids=pids)
        fake.inject_fault("429", count=5, seconds=1)
        fake.inject_fault("500", probability=0.05)
        fake.inject_fault("drop", probability=0.02)
        faulty = tmp_path / "faulty"
        # Retries wait no time here (the 429 still pauses the limiter for real).
        async with _client(fake, max_retries=8, _sleep=_fast_sleep) as client:
            summary = await export_projects(client, faulty, project_ids=pids)
        assert fake.stats().faults > 0
    assert summary.failed == {}
    assert summary.rate_limited >= 5
    assert summary.retries >= summary.rate_limited
    # aiohttp may resend a request on a dropped keep-alive connection by itself, so the
    # fake's fault count is not the retry count; what the layout needs is still exact:
    assert summary.requests - summary.retries == needed.requests
    assert _tree(faulty) == _tree(clean)


async def test_a_failing_project_is_reported_and_the_rest_exported(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    pids = fake.project_ids()[:4]
    fake.remove_project(pids[1])

    summary = await _export(fake, tmp_path, project_ids=pids)

    assert list(summary.failed) == [pids[1]]
    assert summary.failed[pids[1]].startswith("NotFoundError: ")
    assert summary.projects == 3
    assert not (tmp_path / str(pids[1])).exists()


async def test_progress_reaches_the_totals(fake: FakeTrakk, tmp_path: Path) -> None:
    seen: list[ExportProgress] = []
    summary = await _export(
        fake, tmp_path, project_ids=fake.project_ids()[:5], progress=seen.append
    )
    last = seen[-1]
    assert (last.projects_total, last.projects_done) == (5, 5)
    assert last.requests == last.requests_expected == summary.requests
    assert [p.requests for p in seen] == sorted(p.requests for p in seen)


async def test_bad_arguments_raise_before_any_request(fake: FakeTrakk, tmp_path: Path) -> None:
    async with _client(fake) as client:
        with pytest.raises(ValueError, match="concurrency"):
            await export_projects(client, tmp_path, concurrency=0)
        with pytest.raises(ValueError, match="project_ids"):
            await export_projects(client, tmp_path, project_ids=[0])
    assert fake.stats().requests == 0


async def test_a_revoked_token_stops_the_export(fake: FakeTrakk, tmp_path: Path) -> None:
    pids = fake.project_ids()[:6]
    async with _client(fake) as client:
        fake.revoke_token(fake.token)
        with pytest.raises(AuthenticationError):
            await export_projects(client, tmp_path, project_ids=pids)
