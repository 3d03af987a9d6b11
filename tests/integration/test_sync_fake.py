"""trakk_async.export.sync_projects against FakeTrakk over loopback.

The yardstick is always a fresh export of the same server: after a sync (and, where the
listing cannot show a change, a full cycle of reconciliations or ``full=True``) the
destination holds the same bytes.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from trakk_async import (
    DestinationBusyError,
    InternalServerError,
    RequestAttempt,
    TokenBucketLimiter,
    TrakkClient,
)
from trakk_async.export import FileChange, SyncSummary, export_projects, sync_projects
from trakk_async.export import _files as files
from trakk_async.export._index import INDEX_FILE, JOURNAL_FILE, build_index
from trakk_async.export._lock import LOCK_FILE
from trakk_async.export._state import STATE_FILE
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

LIMITS = ((100_000, 60.0),)
CONTENT_ROUTE = "/projects/{project}/reports/{report_number}/content"
#: Files of a destination that are not part of the export's layout.
BOOKKEEPING = {LOCK_FILE, STATE_FILE}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTrakk]:
    async with FakeTrakk.running(seed=4, projects=50, rate_limits=LIMITS) as server:
        yield server


def _client(fake: FakeTrakk, **kwargs: Any) -> TrakkClient:
    limiter = TokenBucketLimiter(windows=LIMITS)
    return TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter, **kwargs)


def tree(root: Path) -> dict[str, bytes]:
    """The export's files under ``root`` (the lock and the sync's state file left out)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name not in BOOKKEEPING
    }


async def assert_converges(fake: FakeTrakk, killed: Path, runs: int) -> None:
    """A directory whose sync was killed, then run again, shows no trace of the kill (every
    file whole, the index true to the files, no journal left) and becomes a fresh export
    within one reconciliation cycle (``runs`` more syncs). The run again may reconcile
    other projects than an uninterrupted run would (the projects the kill left complete
    without a state record are looked at first), so the cycle, not one run, is the
    yardstick."""
    _assert_no_trace(killed)
    for _ in range(runs):
        await _sync(fake, killed, reconcile_share=0.2)
    assert_same_tree(killed, await _fresh(fake, killed.parent / "fresh"))


def _assert_no_trace(dest: Path) -> None:
    assert (dest / INDEX_FILE).read_bytes() == build_index(dest)
    assert not (dest / JOURNAL_FILE).exists()
    for path in dest.rglob("*.json"):
        orjson.loads(path.read_bytes())


def assert_same_tree(got: Path, expected: Path) -> None:
    a, b = tree(got), tree(expected)
    assert sorted(set(a) ^ set(b)) == []
    assert sorted(path for path in a if a[path] != b[path]) == []


async def _sync(fake: FakeTrakk, dest: Path, **kwargs: Any) -> SyncSummary:
    async with _client(fake) as client:
        return await sync_projects(client, dest, **kwargs)


async def _fresh(fake: FakeTrakk, dest: Path) -> Path:
    async with _client(fake) as client:
        await export_projects(client, dest)
    return dest


def _statuses(fake: FakeTrakk, pid: int) -> list[str]:
    return [str(r.status) for r in fake.reports(pid)]


def _pending_number(fake: FakeTrakk, pid: int) -> int | None:
    newest: dict[int, Any] = {}
    for report in fake.reports(pid):  # oldest first: the last of a number is served
        newest[report.report_number] = report
    waiting = [n for n, r in newest.items() if str(r.status) in ("pending", "running")]
    return waiting[0] if waiting else None


def add_keyword(fake: FakeTrakk, pid: int) -> None:
    """A new keyword: the listing's keyword_count shows it."""
    project = fake.world.projects[pid]
    keywords = fake.world.keywords(project)
    template = keywords[0]
    keywords.append(attrs.evolve(template, id=template.id + 900, keyword=f"new {template.keyword}"))
    project.keyword_count = len(keywords)


def edit_keyword_silently(fake: FakeTrakk, pid: int) -> None:
    """A keyword's URL changes: nothing in the listing or the reports shows it."""
    keywords = fake.world.keywords(fake.world.projects[pid])
    keywords[0] = attrs.evolve(keywords[0], url=keywords[0].url + "-moved")


async def listing_row(fake: FakeTrakk, pid: int) -> dict[str, Any]:
    """The project's item in ``/projects``, as the sync reads it."""
    async with _client(fake) as client:
        async for project in client.projects.list():
            if project.id == pid:
                return attrs.asdict(project)
    raise LookupError(pid)


def two_pending_reports(fake: FakeTrakk, pid: int) -> tuple[int, int]:
    """Two new pending reports: one of them can complete without moving the row."""
    return fake.start_next_report(pid), fake.start_next_report(pid)


async def hide_a_completion(
    fake: FakeTrakk, pid: int, pending: tuple[int, int] | None = None
) -> int:
    """Complete a report without changing the project's listing row; returns its number."""
    first, second = pending or two_pending_reports(fake, pid)
    for number in (second, first):
        before = await listing_row(fake, pid)
        fake.complete_report(pid, number)
        if await listing_row(fake, pid) == before:
            return number
        fake.set_report_status(pid, number, "pending")
    raise AssertionError(f"no completion of project {pid} leaves its row alone")


async def random_changes(fake: FakeTrakk, rng: random.Random, count: int) -> list[str]:
    """Changes of every kind a sync must follow, drawn at random; returns what was done."""
    done: list[str] = []
    kinds = ["complete", "early", "hidden", "fail", "add", "remove", "keyword", "several"]
    for _ in range(count):
        pids = fake.project_ids()
        pid = rng.choice(pids)
        kind = rng.choice(kinds)
        if kind == "complete":  # an existing report completes: hinted or not, as it falls
            number = _pending_number(fake, pid)
            if number is None:
                number = fake.start_next_report(pid)
            fake.complete_report(pid, number)
        elif kind == "hidden":
            await hide_a_completion(fake, pid)
        elif kind == "early":  # a new report created and completed at once
            fake.complete_report(pid, fake.start_next_report(pid))
        elif kind == "several":  # several completions between two syncs
            for _ in range(rng.randint(2, 3)):
                fake.complete_report(pid, fake.start_next_report(pid))
        elif kind == "fail":
            fake.set_report_status(pid, fake.start_next_report(pid), "failed")
        elif kind == "add":
            pid = fake.add_project(name=f"Project {rng.random():.6f}")
            if rng.random() < 0.5:
                fake.complete_report(pid, fake.start_next_report(pid))
        elif kind == "remove":
            fake.remove_project(pid)
        else:
            add_keyword(fake, pid)
        done.append(f"{kind} {pid}")
    return done


async def test_a_first_sync_is_an_export(fake: FakeTrakk, tmp_path: Path) -> None:
    changes: list[FileChange] = []
    summary = await _sync(fake, tmp_path / "sync", on_change=changes.append)
    before = fake.stats().requests
    fresh = await _fresh(fake, tmp_path / "fresh")
    export_requests = fake.stats().requests - before

    assert_same_tree(tmp_path / "sync", fresh)
    listed = len(fake.project_ids())
    assert (summary.listed, summary.new, summary.changed) == (listed, listed, listed)
    assert summary.requests == export_requests
    index = [orjson.loads(line) for line in (tmp_path / "sync/index.jsonl").read_bytes().split()]
    got = sorted((c.to_json() for c in changes), key=lambda e: e["path"])
    assert got == sorted(({"change": "added", **e} for e in index), key=lambda e: e["path"])
    assert summary.files == len(changes)
    assert not (tmp_path / "sync" / JOURNAL_FILE).exists()


async def test_an_unchanged_sync_costs_the_listing_and_the_share(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    await _sync(fake, dest)
    before_tree, before = tree(dest), fake.stats().by_route
    summary = await _sync(fake, dest, reconcile_share=0.05)

    listed = len(fake.project_ids())
    spent = {k: v - before.get(k, 0) for k, v in fake.stats().by_route.items()}
    spent = {k: v for k, v in spent.items() if v}
    slots = -(-listed * 5 // 100)
    assert spent == {"/projects": -(-listed // 100), "/projects/{project}/reports": slots}
    assert summary.requests == sum(spent.values())
    assert (summary.changed, summary.files, summary.reconciled, summary.hinted) == (0, 0, slots, 0)
    assert tree(dest) == before_tree


async def test_an_export_directory_syncs_without_refetching(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    """No state file yet: each project's project.json is its baseline row."""
    dest = await _fresh(fake, tmp_path / "dest")
    summary = await _sync(fake, dest)
    assert (summary.hinted, summary.new, summary.changed) == (0, 0, 0)
    assert summary.requests == -(-summary.listed // 100) + -(-summary.listed // 100)


async def test_changes_of_every_kind_then_a_cycle_equals_a_fresh_export(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    await _sync(fake, dest)
    rng = random.Random(7)
    done = await random_changes(fake, rng, 40)
    fake.set_today(_next_month(fake.today))  # every row dated this month moves
    changes: list[FileChange] = []
    first = await _sync(fake, dest, reconcile_share=0.1, on_change=changes.append)
    assert first.hinted > 0, done
    assert first.removed == sum(1 for d in done if d.startswith("remove"))
    for _ in range(first.cycle_runs):
        await _sync(fake, dest, reconcile_share=0.1, on_change=changes.append)

    assert_same_tree(dest, await _fresh(fake, tmp_path / "fresh"))
    assert {c.path for c in changes} <= set(tree(dest)) | {
        c.path for c in changes if c.change == "removed"
    }


async def test_a_completion_the_listing_hides_is_found_within_the_cycle(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    pids = fake.project_ids()[:3]
    pending = {pid: two_pending_reports(fake, pid) for pid in pids}
    await _sync(fake, dest)
    hidden = {pid: await hide_a_completion(fake, pid, pending[pid]) for pid in pids}
    found: dict[int, int] = {}
    runs = 0
    while len(found) < len(hidden):
        changes: list[FileChange] = []
        summary = await _sync(fake, dest, reconcile_share=0.1, on_change=changes.append)
        runs += 1
        assert summary.hinted == 0  # the listing shows nothing
        for change in changes:
            pid = change.entry["project_id"]
            if change.entry.get("report_number") == hidden.get(pid):
                found.setdefault(pid, runs)
        assert runs <= summary.cycle_runs, (found, hidden)
    assert_same_tree(dest, await _fresh(fake, tmp_path / "fresh"))


async def test_full_picks_up_what_nothing_shows(fake: FakeTrakk, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    await _sync(fake, dest)
    pids = fake.project_ids()
    with_content = next(p for p in pids if "completed" in _statuses(fake, p))
    edit_keyword_silently(fake, with_content)  # every content file embeds the keyword URLs
    fake.world.projects[pids[1]].contact_email = "moved@example.com"
    summary = await _sync(fake, dest, full=True)

    assert summary.reconciled == summary.listed
    assert summary.changed >= 2
    assert_same_tree(dest, await _fresh(fake, tmp_path / "fresh"))


async def test_month_boundary_moves_rows_without_refetching_content(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    await _sync(fake, dest)
    before = fake.stats().by_route.get(CONTENT_ROUTE, 0)
    fake.set_today(_next_month(fake.today))
    await _sync(fake, dest, reconcile_share=1)
    assert fake.stats().by_route.get(CONTENT_ROUTE, 0) == before  # no report completed
    assert_same_tree(dest, await _fresh(fake, tmp_path / "fresh"))


async def test_no_request_for_content_that_does_not_exist(fake: FakeTrakk, tmp_path: Path) -> None:
    statuses: list[int | None] = []

    def heard(attempt: RequestAttempt) -> None:
        if attempt.path.endswith("/content"):
            statuses.append(attempt.status)

    dest = tmp_path / "dest"
    rng = random.Random(3)
    async with _client(fake) as client:
        client.add_attempt_listener(heard)
        await sync_projects(client, dest)
        for _ in range(4):
            await random_changes(fake, rng, 15)
            await sync_projects(client, dest, reconcile_share=0.3)
        await sync_projects(client, dest, full=True)
    assert statuses
    assert set(statuses) == {200}


async def test_projects_gone_or_out_of_sight_are_removed(fake: FakeTrakk, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    await _sync(fake, dest)
    gone = fake.project_ids()[0]
    fake.remove_project(gone)  # 404 now
    # Exported by id with an admin token, not visible to the agency's token (403).
    other = fake.project_ids(fake.world.agencies[1].id)[0]
    async with TrakkClient(fake.admin_token, base_url=fake.base_url) as admin:
        await export_projects(admin, dest, project_ids=[other], resume=True)
    assert (dest / str(other) / "reports.json").exists()
    changes: list[FileChange] = []

    summary = await _sync(fake, dest, on_change=changes.append)

    assert summary.removed == 2
    assert not (dest / str(gone)).exists()
    assert not (dest / str(other)).exists()
    assert {c.change for c in changes} == {"removed"}
    assert {c.entry["project_id"] for c in changes} == {gone, other}
    assert_same_tree(dest, await _fresh(fake, tmp_path / "fresh"))


async def test_a_failed_listing_removes_nothing(fake: FakeTrakk, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    await _sync(fake, dest)
    before = tree(dest)
    fake.remove_project(fake.project_ids()[0])
    fake.inject_fault("500", count=50, route="/projects")
    with pytest.raises(InternalServerError):
        async with _client(fake, max_retries=1, _sleep=_no_wait) as client:
            await sync_projects(client, dest)
    fake.clear_faults()
    assert tree(dest) == before


async def _no_wait(_: float) -> None:
    await asyncio.sleep(0)


async def test_two_runs_at_once_one_is_refused(fake: FakeTrakk, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    await _sync(fake, dest)
    await random_changes(fake, random.Random(1), 10)
    outcomes = await asyncio.gather(
        _sync(fake, dest, reconcile_share=0.5),
        _sync(fake, dest),
        _fresh(fake, dest),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, DestinationBusyError)]
    assert len(refused) == 2, outcomes
    assert str(dest) in str(refused[0])
    await _sync(fake, dest, full=True)
    assert_same_tree(dest, await _fresh(fake, tmp_path / "fresh"))


async def _changed_twice(
    fake: FakeTrakk, tmp_path: Path, rng: random.Random
) -> tuple[Path, SyncSummary]:
    """A synced directory and random changes on the server; returns a copy of the
    directory to kill a sync in, and the summary of the sync of another copy without
    interruption (how many requests it takes, the cycle)."""
    base = tmp_path / "base"
    await _sync(fake, base)
    await random_changes(fake, rng, 25)
    uninterrupted, killed = tmp_path / "uninterrupted", tmp_path / "killed"
    shutil.copytree(base, uninterrupted)
    shutil.copytree(base, killed)
    return killed, await _sync(fake, uninterrupted, reconcile_share=0.2)


@pytest.mark.parametrize("seed", range(6))
async def test_a_sync_cancelled_anywhere_converges(
    fake: FakeTrakk, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    killed, expected = await _changed_twice(fake, tmp_path, rng)

    stop_at = rng.randint(1, max(1, expected.requests - 1))

    class Stop(Exception):
        pass

    def stop(progress: Any) -> None:
        if progress.requests >= stop_at:
            raise Stop

    with pytest.raises(Stop):
        await _sync(fake, killed, reconcile_share=0.2, progress=stop)
    assert not any(p.name.startswith(files.TEMP_PREFIX) for p in killed.rglob("*"))
    await _sync(fake, killed, reconcile_share=0.2)

    await assert_converges(fake, killed, expected.cycle_runs)


_CHILD = """
import asyncio, sys
from pathlib import Path
from trakk_async import TokenBucketLimiter, TrakkClient
from trakk_async.export import sync_projects

async def main() -> None:
    limiter = TokenBucketLimiter(windows=[(100_000, 60.0)])
    async with TrakkClient(sys.argv[1], base_url=sys.argv[2], rate_limiter=limiter) as client:
        await sync_projects(client, Path(sys.argv[3]), reconcile_share=0.2, concurrency=4)

asyncio.run(main())
"""


@pytest.mark.parametrize("seed", range(4))
async def test_a_sync_killed_hard_converges(fake: FakeTrakk, tmp_path: Path, seed: int) -> None:
    rng = random.Random(100 + seed)
    killed, expected = await _changed_twice(fake, tmp_path, rng)

    # Kill the child (SIGKILL: no cleanup at all) once the fake has answered a random
    # number of its requests.
    target = fake.stats().requests + rng.randint(1, max(1, expected.requests - 1))
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, fake.token, fake.base_url, str(killed)
    )
    # The fake's counter has no event to wait on: poll it (this does not time anything).
    while child.returncode is None and fake.stats().requests < target:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    if child.returncode is None:
        os.kill(child.pid, signal.SIGKILL)
    await child.wait()
    await _sync(fake, killed, reconcile_share=0.2)

    await assert_converges(fake, killed, expected.cycle_runs)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)
