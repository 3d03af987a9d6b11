"""Checkpoint stores of the report watcher: memory, SQLite (off the loop), Redis."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import fakeredis
import pytest

from trakk_async.watch._checkpoint import (
    Checkpoint,
    MemoryCheckpoint,
    RedisCheckpoint,
    Seen,
    SQLiteCheckpoint,
)


@pytest.mark.parametrize(
    "seen",
    [Seen(1081, 14), Seen.nothing(), Seen(7, None), Seen(None, 3), Seen(5, 6, frozenset({1, 5}))],
)
def test_seen_round_trips_through_its_encoding(seen: Seen) -> None:
    assert Seen.decode(seen.encode()) == seen
    assert Seen.decode(seen.encode().encode()) == seen


@pytest.mark.parametrize("bad", ["", "x:1", "1:y", "abc"])
def test_seen_decode_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        Seen.decode(bad)


async def test_memory_checkpoint_saves_and_loads() -> None:
    checkpoint = MemoryCheckpoint()
    assert isinstance(checkpoint, Checkpoint)
    assert await checkpoint.load() == {}
    await checkpoint.save({1: Seen(10, 1), 2: Seen.nothing()})
    await checkpoint.save({1: Seen(11, 2)})
    assert await checkpoint.load() == {1: Seen(11, 2), 2: Seen.nothing()}
    assert checkpoint.records == {1: Seen(11, 2), 2: Seen.nothing()}
    await checkpoint.aclose()


async def test_sqlite_checkpoint_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "watch.sqlite3"
    async with SQLiteCheckpoint(path) as checkpoint:
        assert isinstance(checkpoint, Checkpoint)
        assert await checkpoint.load() == {}
        await checkpoint.save({1: Seen(10, 1), 2: Seen.nothing()})
        await checkpoint.save({1: Seen(11, 2)})
        await checkpoint.save({})
    async with SQLiteCheckpoint(path) as reopened:
        assert await reopened.load() == {1: Seen(11, 2), 2: Seen.nothing()}


async def test_sqlite_namespaces_are_separate(tmp_path: Path) -> None:
    path = tmp_path / "watch.sqlite3"
    a, b = SQLiteCheckpoint(path, namespace="a"), SQLiteCheckpoint(path, namespace="b")
    await a.save({1: Seen(1, 1)})
    await b.save({1: Seen(2, 2)})
    assert await a.load() == {1: Seen(1, 1)}
    assert await b.load() == {1: Seen(2, 2)}
    await a.aclose()
    await b.aclose()


async def test_sqlite_runs_off_the_event_loop_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = SQLiteCheckpoint(tmp_path / "watch.sqlite3")
    threads: list[str] = []
    original = SQLiteCheckpoint._save_sync

    def spy(
        self: SQLiteCheckpoint,
        rows: list[tuple[str, int, int | None, int | None, float, str | None]],
    ) -> None:
        threads.append(threading.current_thread().name)
        original(self, rows)

    monkeypatch.setattr(SQLiteCheckpoint, "_save_sync", spy)
    await checkpoint.save({1: Seen(1, 1)})
    assert threads
    assert threads[0] != threading.current_thread().name
    assert threads[0].startswith("trakk-sqlite")
    await checkpoint.aclose()
    await checkpoint.aclose()  # idempotent
    assert not any(t.name.startswith("trakk-sqlite") for t in threading.enumerate())


async def test_sqlite_many_records_in_one_batch(tmp_path: Path) -> None:
    async with SQLiteCheckpoint(tmp_path / "big.sqlite3") as checkpoint:
        records = {pid: Seen(pid * 10, pid % 26 + 1) for pid in range(1, 10_001)}
        await checkpoint.save(records)
        assert await checkpoint.load() == records


async def test_sqlite_concurrent_saves_do_not_interleave_badly(tmp_path: Path) -> None:
    async with SQLiteCheckpoint(tmp_path / "c.sqlite3") as checkpoint:
        await asyncio.gather(*(checkpoint.save({pid: Seen(pid, 1)}) for pid in range(1, 101)))
        assert len(await checkpoint.load()) == 100


@pytest.mark.parametrize("decode_responses", [False, True])
async def test_redis_checkpoint_saves_and_loads(decode_responses: bool) -> None:
    redis = fakeredis.FakeAsyncRedis(decode_responses=decode_responses)
    checkpoint = RedisCheckpoint(redis, namespace="agency-12")
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.key == "trakk:watch:agency-12"
    assert await checkpoint.load() == {}
    await checkpoint.save({1: Seen(10, 1), 2: Seen.nothing()})
    await checkpoint.save({1: Seen(11, 2)})
    await checkpoint.save({})
    await redis.hset(checkpoint.key, "garbage", "x")  # skipped, not fatal
    assert await RedisCheckpoint(redis, namespace="agency-12").load() == {
        1: Seen(11, 2),
        2: Seen.nothing(),
    }
    await checkpoint.aclose()
    await redis.aclose()


KNOWN = {1: Seen(11, 2, frozenset({3, 11})), 2: Seen.nothing(), 3: Seen(4, 5)}


async def test_sqlite_keeps_known_ids_and_old_records(tmp_path: Path) -> None:
    async with SQLiteCheckpoint(tmp_path / "k.sqlite3") as checkpoint:
        await checkpoint.save(KNOWN)
        assert await checkpoint.load() == KNOWN


async def test_an_sqlite_file_of_an_earlier_version_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # the schema before known ids
        conn.execute(
            "CREATE TABLE trakk_watch_seen (namespace TEXT NOT NULL, project_id INTEGER NOT NULL,"
            " report_id INTEGER, report_number INTEGER, updated_at REAL NOT NULL,"
            " PRIMARY KEY (namespace, project_id))"
        )
        conn.execute("INSERT INTO trakk_watch_seen VALUES ('default', 7, 70, 3, 0.0)")
        conn.execute("INSERT INTO trakk_watch_seen VALUES ('default', 8, NULL, NULL, 0.0)")
    conn.close()
    async with SQLiteCheckpoint(path) as checkpoint:
        assert await checkpoint.load() == {7: Seen(70, 3), 8: Seen(None, None)}
        await checkpoint.save({7: Seen(71, 4, frozenset({70, 71}))})
    async with SQLiteCheckpoint(path) as reopened:
        assert await reopened.load() == {7: Seen(71, 4, frozenset({70, 71})), 8: Seen(None, None)}


async def test_redis_keeps_known_ids_and_reads_old_records() -> None:
    redis = fakeredis.FakeAsyncRedis()
    checkpoint = RedisCheckpoint(redis)
    await checkpoint.save(KNOWN)
    await redis.hset(checkpoint.key, "9", "90:1")  # written by an earlier version
    assert await checkpoint.load() == {**KNOWN, 9: Seen(90, 1)}
    await redis.aclose()
