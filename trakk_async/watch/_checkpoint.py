"""Where a report watcher remembers what it has seen and delivered, per project.

A checkpoint maps project ids to :class:`Seen` records. The watcher loads it once when it
starts and saves one project's record at a time as it becomes final: a baseline when it is
fetched, an event's state once the consumer has taken the event and come back for the next
one. Records written by earlier versions (without ``known``) load and are upgraded in
place on their next save. Three stores ship:
:class:`MemoryCheckpoint` (a dict), :class:`SQLiteCheckpoint` (a file, through stdlib
``sqlite3`` on a dedicated thread so the event loop never blocks) and
:class:`RedisCheckpoint` (a Redis hash, for workers on several machines).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from os import PathLike
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from trakk_async.watch._state import Seen, decode_ids, encode_ids

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Checkpoint", "MemoryCheckpoint", "RedisCheckpoint", "SQLiteCheckpoint", "Seen"]

T = TypeVar("T")


@runtime_checkable
class Checkpoint(Protocol):
    """What a report watcher needs of a store: load everything once, save batches.

    Implementations must make :meth:`save` durable before it returns (the watcher treats a
    saved record as committed) and must not block the event loop. A store that raises is
    retried with backoff for the watcher's ``checkpoint_outage`` seconds; records must be
    kept as given (``known`` included) for the delivery guarantee to hold. Keys are
    project ids, except the watcher's own *mark* under ``0`` (``-i`` for shard ``i``):
    the project of the event it handed out last, looked at first after a restart.
    """

    async def load(self) -> Mapping[int, Seen]:
        """Every record stored, by project id."""
        ...

    async def save(self, records: Mapping[int, Seen]) -> None:
        """Insert or replace these records."""
        ...

    async def aclose(self) -> None:
        """Release the store's resources (a file, a thread). Idempotent."""
        ...


class MemoryCheckpoint:
    """A checkpoint in a dict: the default, lost when the process ends.

    Pass the same instance to a new watcher in the same process to resume where the last
    one stopped. :attr:`records` is a read-only view for tests and inspection.
    """

    __slots__ = ("_records",)

    def __init__(self, records: Mapping[int, Seen] | None = None) -> None:
        self._records: dict[int, Seen] = dict(records or {})

    def __repr__(self) -> str:
        return f"<MemoryCheckpoint projects={len(self._records)}>"

    @property
    def records(self) -> Mapping[int, Seen]:
        """A copy of every record."""
        return dict(self._records)

    async def load(self) -> Mapping[int, Seen]:
        """Every record stored, by project id."""
        return dict(self._records)

    async def save(self, records: Mapping[int, Seen]) -> None:
        """Insert or replace these records."""
        self._records.update(records)

    async def aclose(self) -> None:
        """Nothing to release."""


class SQLiteCheckpoint:
    """A checkpoint in an SQLite file, safe across restarts of the process.

    ::

        checkpoint = SQLiteCheckpoint("watch.sqlite3")
        async for event in client.watch_reports(checkpoint=checkpoint):
            ...

    All sqlite3 calls run on one dedicated thread (sqlite3 connections belong to the thread
    that made them), so the event loop never waits on the disk. Several watchers may share
    one file under different ``namespace`` values. Use as an async context manager or call
    :meth:`aclose` when done; the watcher never closes a checkpoint it was given.
    """

    __slots__ = ("_conn", "_executor", "_lock", "_namespace", "_path")

    def __init__(self, path: str | PathLike[str], *, namespace: str = "default") -> None:
        self._path = str(path)
        self._namespace = namespace
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<SQLiteCheckpoint path={self._path!r} namespace={self._namespace!r}>"

    async def __aenter__(self) -> SQLiteCheckpoint:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _run(self, func: Callable[[], T]) -> T:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="trakk-sqlite")
            executor = self._executor
        return await asyncio.get_running_loop().run_in_executor(executor, func)

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS trakk_watch_seen ("
                " namespace TEXT NOT NULL,"
                " project_id INTEGER NOT NULL,"
                " report_id INTEGER,"
                " report_number INTEGER,"
                " updated_at REAL NOT NULL,"
                " known TEXT,"
                " PRIMARY KEY (namespace, project_id))"
            )
            columns = {row[1] for row in conn.execute("PRAGMA table_info(trakk_watch_seen)")}
            if "known" not in columns:  # a file of an earlier version: upgraded in place
                conn.execute("ALTER TABLE trakk_watch_seen ADD COLUMN known TEXT")
            conn.commit()
            self._conn = conn
        return self._conn

    def _load_sync(self) -> dict[int, Seen]:
        rows = self._connect().execute(
            "SELECT project_id, report_id, report_number, known FROM trakk_watch_seen"
            " WHERE namespace = ?",
            (self._namespace,),
        )
        records: dict[int, Seen] = {}
        for pid, rid, num, known in rows:
            with contextlib.suppress(ValueError, TypeError):
                records[int(pid)] = Seen(rid, num, None if known is None else decode_ids(known))
        return records

    def _save_sync(
        self, rows: list[tuple[str, int, int | None, int | None, float, str | None]]
    ) -> None:
        conn = self._connect()
        with conn:
            conn.executemany(
                "INSERT INTO trakk_watch_seen"
                " (namespace, project_id, report_id, report_number, updated_at, known)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (namespace, project_id) DO UPDATE SET"
                " report_id = excluded.report_id, report_number = excluded.report_number,"
                " updated_at = excluded.updated_at, known = excluded.known",
                rows,
            )

    async def load(self) -> Mapping[int, Seen]:
        """Every record of this namespace, by project id."""
        return await self._run(self._load_sync)

    async def save(self, records: Mapping[int, Seen]) -> None:
        """Insert or replace these records in one transaction."""
        if not records:
            return
        now = time.time()
        rows = [
            (
                self._namespace,
                pid,
                seen.report_id,
                seen.report_number,
                now,
                None if seen.known is None else encode_ids(seen.known),
            )
            for pid, seen in records.items()
        ]
        await self._run(functools.partial(self._save_sync, rows))

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def aclose(self) -> None:
        """Close the connection and stop the thread. Idempotent."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        with contextlib.suppress(RuntimeError):
            await loop.run_in_executor(executor, self._close_sync)
        await asyncio.to_thread(executor.shutdown, True)


class RedisCheckpoint:
    """A checkpoint in one Redis hash, shared by workers on several machines.

    ``redis`` is your ``redis.asyncio.Redis`` client (the ``trakk_async[redis]`` extra);
    it is never closed here. Records live in the hash ``{prefix}:{namespace}``, one field
    per project. Sharded workers (``shard=(i, n)``) can share one namespace: each writes
    only its own projects.
    """

    __slots__ = ("_key", "_redis")

    def __init__(
        self, redis: Redis, *, namespace: str = "default", prefix: str = "trakk:watch"
    ) -> None:
        self._redis = redis
        self._key = f"{prefix}:{namespace}"

    def __repr__(self) -> str:
        return f"<RedisCheckpoint key={self._key!r}>"

    @property
    def key(self) -> str:
        """The Redis key of the hash."""
        return self._key

    async def load(self) -> Mapping[int, Seen]:
        """Every record of the hash, by project id (malformed fields are skipped)."""
        raw: Mapping[Any, Any] = await self._redis.hgetall(self._key)
        records: dict[int, Seen] = {}
        for field, value in raw.items():
            with contextlib.suppress(ValueError, UnicodeDecodeError, AttributeError):
                records[int(field)] = Seen.decode(value)
        return records

    async def save(self, records: Mapping[int, Seen]) -> None:
        """Insert or replace these records with one ``HSET``."""
        if not records:
            return
        mapping = {str(pid): seen.encode() for pid, seen in records.items()}
        await self._redis.hset(self._key, mapping=mapping)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        """Nothing to release: the Redis client belongs to the caller."""
