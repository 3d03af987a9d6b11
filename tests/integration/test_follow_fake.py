"""``follow_projects`` against FakeTrakk: completions land in the directory, across restarts."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.integration.test_sync_fake import assert_same_tree
from trakk_async import RequestAttempt, TokenBucketLimiter, TrakkClient
from trakk_async.export import FileChange, export_projects, follow_projects, sync_projects
from trakk_async.export._follow import DestinationCheckpoint
from trakk_async.export._session import Session
from trakk_async.testing import FakeTrakk
from trakk_async.watch import Checkpoint, Seen

pytestmark = pytest.mark.integration

LIMITS = ((100_000, 60.0),)
CONTENT = "/content"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTrakk]:
    async with FakeTrakk.running(seed=8, projects=40, rate_limits=LIMITS) as server:
        yield server


def _client(fake: FakeTrakk) -> TrakkClient:
    limiter = TokenBucketLimiter(windows=LIMITS)
    return TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter)


def _content_path(file: str) -> str:
    """``12/content/7.json`` -> ``/projects/12/reports/7/content``."""
    pid, _, name = file.split("/")
    return f"/projects/{pid}/reports/{name.removesuffix('.json')}/content"


def _watched(fake: FakeTrakk) -> list[int]:
    return [p for p in fake.project_ids() if fake.world.projects[p].status != "ended"]


async def _follow_until(
    fake: FakeTrakk,
    dest: Path,
    done: Callable[[set[str]], bool],
    *,
    counts: Counter[str],
    stop_after_changes: int | None = None,
) -> set[str]:
    """Follow ``dest`` until the watcher runs and ``done(paths changed since the start)``,
    or cancel it after ``stop_after_changes`` changes (anywhere, the first sync included);
    returns the paths changed."""
    seen: set[str] = set()
    reached = asyncio.Event()
    watching = False
    changes = 0

    def check() -> None:
        if (watching and done(seen)) or (
            stop_after_changes is not None and changes >= stop_after_changes
        ):
            reached.set()

    def changed(change: FileChange) -> None:
        nonlocal changes
        changes += 1
        seen.add(change.path)
        check()

    def ready(_plan: object) -> None:
        nonlocal watching
        watching = True
        check()

    def heard(attempt: RequestAttempt) -> None:
        if attempt.path.endswith(CONTENT):
            counts[attempt.path] += 1

    async with _client(fake) as client:
        client.add_attempt_listener(heard)
        task = asyncio.ensure_future(
            follow_projects(client, dest, on_change=changed, on_ready=ready, commit_interval=0)
        )
        try:
            async with asyncio.timeout(120):  # a deadline for a failure, not a timing
                await reached.wait()
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    return seen


async def test_completions_land_and_the_directory_is_its_checkpoint(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    async with _client(fake) as client:
        await sync_projects(client, dest)
    watched = _watched(fake)
    landed: list[str] = []
    for pid in watched[:3]:
        for _ in range(2):  # several completions between two looks
            number = fake.start_next_report(pid)
            fake.complete_report(pid, number)
            landed.append(f"{pid}/content/{number}.json")
    counts: Counter[str] = Counter()

    await _follow_until(fake, dest, lambda seen: set(landed) <= seen, counts=counts)

    fresh = tmp_path / "fresh"
    async with _client(fake) as client:
        await export_projects(client, fresh)
    assert_same_tree(dest, fresh)
    assert all(n == 1 for n in counts.values()), counts  # each content fetched once
    assert not (dest / ".trakk-journal").exists()

    checkpoint: Checkpoint = DestinationCheckpoint.__new__(DestinationCheckpoint)
    assert isinstance(checkpoint, Checkpoint)


@pytest.mark.parametrize("seed", range(8))
async def test_a_follow_stopped_anywhere_loses_nothing_and_repeats_little(
    fake: FakeTrakk, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    dest = tmp_path / "dest"
    async with _client(fake) as client:
        await export_projects(client, dest)
    landed: set[str] = set()
    for pid in rng.sample(_watched(fake), 6):
        number = fake.start_next_report(pid)
        fake.complete_report(pid, number)
        landed.add(f"{pid}/content/{number}.json")
    counts: Counter[str] = Counter()

    first = await _follow_until(
        fake,
        dest,
        lambda seen: landed <= seen,
        counts=counts,
        stop_after_changes=rng.randint(1, 20),
    )
    rest = await _follow_until(fake, dest, lambda seen: landed <= first | seen, counts=counts)

    assert landed <= first | rest
    fresh = tmp_path / "fresh"
    async with _client(fake) as client:
        await export_projects(client, fresh)
    assert_same_tree(dest, fresh)
    # Only the new reports' content is fetched (a project whose rewrite was stopped keeps
    # the content files of its unchanged reports), each at most twice: again only if its
    # project was being rewritten at the stop.
    assert set(counts) == {_content_path(path) for path in landed}, counts
    assert max(counts.values()) <= 2, counts


async def test_the_watchers_mark_is_not_taken_for_a_project(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    # The watcher saves its mark under key 0 (-i for shard i); the directory has no
    # project 0 to bring up to date, so saving the mark sends nothing and writes nothing.
    dest = tmp_path / "dest"
    async with _client(fake) as client:
        await sync_projects(client, dest)
        sent: list[str] = []
        client.add_attempt_listener(lambda attempt: sent.append(attempt.path))
        session = await Session.open(client, dest, concurrency=1, on_change=None)
        checkpoint = DestinationCheckpoint(session, asyncio.Lock())
        await checkpoint.save({0: Seen(fake.project_ids()[0], None), -1: Seen(7, None)})
    assert sent == []
    assert session.touched == set()
    assert not (dest / "0").exists()
