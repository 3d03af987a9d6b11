"""Handling watch events with a time limit, retries and a place for given-up events.

:meth:`ReportWatcher.handle` calls a handler per event: a call that hangs is cut off after
``timeout`` seconds, a failed call is retried with backoff, and an event whose handler
never succeeds goes to a *dead letter* (for example a :class:`DeadLetterFile`) and is
committed, so one poison event cannot hold back every other project's events.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from os import PathLike
from typing import Protocol

import orjson

from trakk_async._core.timing import Sleep
from trakk_async._protocol.schedule import WATCH_BACKOFF
from trakk_async.watch._events import ReportAdvanced

__all__ = ["DeadLetter", "DeadLetterFile", "Handler"]

logger = logging.getLogger("trakk_async")

#: What handles one event: an async callable of the event.
Handler = Callable[[ReportAdvanced], Awaitable[object]]
#: Where given-up events go: an async callable of the event and the handler's last error.
DeadLetter = Callable[[ReportAdvanced, BaseException], Awaitable[object]]


class _EventStream(Protocol):
    """What :func:`handle_events` needs of a watcher."""

    def __aiter__(self) -> AsyncIterator[ReportAdvanced]: ...

    async def commit(self) -> None: ...


class DeadLetterFile:
    """Keeps given-up events in a file, one JSON object per line, appended safely.

    Each line is ``{"event": <the event's JSON>, "error": "<type>: <message>",
    "given_up_at": "<ISO time>"}``, written with one ``write`` on a file opened for
    appending and flushed to disk (``fsync``) before the event is committed, so lines of
    several writers never interleave and a crash never leaves the event in neither place.
    """

    __slots__ = ("_path",)

    def __init__(self, path: str | PathLike[str]) -> None:
        self._path = os.fspath(path)

    def __repr__(self) -> str:
        return f"<DeadLetterFile path={self._path!r}>"

    @property
    def path(self) -> str:
        """The file's path."""
        return self._path

    async def __call__(self, event: ReportAdvanced, error: BaseException) -> None:
        """Append ``event`` with the error that made the handler give up."""
        line = {
            "event": event.to_json(),
            "error": f"{type(error).__name__}: {error}".rstrip(": "),
            "given_up_at": datetime.now(UTC).isoformat(),
        }
        await asyncio.to_thread(self._append, orjson.dumps(line) + b"\n")

    def _append(self, data: bytes) -> None:
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            written = os.write(fd, data)
            if written != len(data):  # a full disk: never leave half a line unnoticed
                raise OSError(f"only {written} of {len(data)} bytes written to {self._path}")
            os.fsync(fd)
        finally:
            os.close(fd)


async def handle_events(
    watcher: _EventStream,
    handler: Handler,
    *,
    timeout: float | None,  # noqa: ASYNC109 (a limit per call of the handler)
    attempts: int,
    dead_letter: DeadLetter | None,
    max_events: int | None,
    sleep: Sleep,
    random: Callable[[], float],
) -> int:
    """The loop behind :meth:`ReportWatcher.handle` (documented there)."""
    if type(attempts) is not int or attempts < 1:
        raise ValueError(f"attempts must be an int >= 1, got {attempts!r}")
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise ValueError(f"timeout must be > 0 or None, got {timeout!r}")
    if max_events is not None and (type(max_events) is not int or max_events < 1):
        raise ValueError(f"max_events must be an int >= 1 or None, got {max_events!r}")
    handled = 0
    async for event in watcher:
        error = await _attempt(event, handler, timeout, attempts, sleep, random)
        if error is not None:
            if dead_letter is None:
                raise error
            await dead_letter(event, error)
            logger.error(
                "report watcher: gave up on %s after %d attempts (%s); set aside",
                event,
                attempts,
                error,
            )
        handled += 1
        if max_events is not None and handled >= max_events:
            await watcher.commit()
            break
    return handled


async def _attempt(
    event: ReportAdvanced,
    handler: Handler,
    timeout: float | None,  # noqa: ASYNC109
    attempts: int,
    sleep: Sleep,
    random: Callable[[], float],
) -> Exception | None:
    """Call the handler until it succeeds (None) or ``attempts`` calls failed (the last
    error)."""
    for attempt in range(attempts):
        limit = asyncio.timeout(timeout)
        try:
            async with limit:
                await handler(event)
            return None
        except Exception as exc:
            error = exc
            if isinstance(exc, TimeoutError) and limit.expired():
                error = TimeoutError(f"the handler took longer than {timeout:g}s")
                error.__cause__ = exc
            if attempt + 1 == attempts:
                return error
            delay = WATCH_BACKOFF.delay(attempt, random)
            logger.warning(
                "report watcher: handler failed for %s (attempt %d of %d: %s); retry in %.1fs",
                event,
                attempt + 1,
                attempts,
                error,
                delay,
            )
            await sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
