"""The watcher's side of its checkpoint: retries through outages, and the in-flight mark.

A :class:`Ledger` loads and saves records through a :class:`Checkpoint`, retrying a store
that fails (with the watcher's backoff) for up to ``outage`` seconds before it gives up
with :class:`CheckpointError`. It also keeps the *mark*: under a key of its own (``0``,
or ``-i`` for shard ``i``) the project of the event handed out last, which a restarted
watcher looks at before anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from trakk_async._core.errors import CheckpointError
from trakk_async._core.timing import Clock, Sleep
from trakk_async._protocol.schedule import WATCH_BACKOFF
from trakk_async.watch._checkpoint import Checkpoint
from trakk_async.watch._state import Seen

logger = logging.getLogger("trakk_async")

T = TypeVar("T")


class Ledger:
    """A checkpoint ridden through outages, with the watcher's mark."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        outage: float,
        shard: tuple[int, int] | None,
        clock: Clock,
        sleep: Sleep,
        random: Callable[[], float],
    ) -> None:
        self._checkpoint = checkpoint
        self._outage = outage
        self._mark_key = 0 if shard is None else -shard[0]
        self._clock = clock
        self._sleep = sleep
        self._random = random
        #: The project the mark names, as stored.
        self.marked: int | None = None
        #: Failed checkpoint calls so far (each retried or ending the stream).
        self.failures = 0

    async def load(self) -> dict[int, Seen]:
        """Every project record (the mark is read into :attr:`marked`)."""
        stored = await self._retried("load", self._checkpoint.load)
        mark = stored.get(self._mark_key)
        self.marked = None if mark is None else mark.report_id
        return {pid: seen for pid, seen in stored.items() if pid > 0}

    async def save(self, records: Mapping[int, Seen]) -> None:
        """Commit these records."""
        await self._retried("save", lambda: self._checkpoint.save(records))

    async def mark(self, pid: int) -> None:
        """Name ``pid`` as the project of the event about to be handed out."""
        if pid != self.marked:
            await self.save({self._mark_key: Seen(pid, None)})
            self.marked = pid

    async def _retried(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        failing_since: float | None = None
        attempt = 0
        while True:
            try:
                result = await operation()
            except Exception as error:
                now = self._clock()
                failing_since = now if failing_since is None else failing_since
                self.failures += 1
                down = now - failing_since
                if down >= self._outage:
                    raise CheckpointError(
                        f"the checkpoint could not {what} for {down:.0f}s "
                        f"({type(error).__name__}: {error}); the watch stops, nothing "
                        "committed is lost",
                        seconds=down,
                    ) from error
                delay = min(WATCH_BACKOFF.delay(attempt, self._random), self._outage - down)
                logger.warning(
                    "report watcher: checkpoint %s failed (%s: %s); retry in %.1fs",
                    what,
                    type(error).__name__,
                    error,
                    delay,
                )
                attempt += 1
                await self._sleep(delay)
                continue
            if failing_since is not None:
                logger.warning(
                    "report watcher: checkpoint %s works again after %.1fs",
                    what,
                    self._clock() - failing_since,
                )
            return result
