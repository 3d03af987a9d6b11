"""What every run into a destination shares: counting its requests, running its tasks.

Both the export and the sync run many coroutines at once (projects, their requests, file
writes in threads). The rules here make a failure clean: the first error is raised as
itself, every other task is cancelled *and awaited* (none outlives the run, none leaves
an exception that nobody retrieves), and a file write in a thread is always finished or
undone before the run returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from trakk_async._client.client import RequestAttempt, TrakkClient

__all__ = ["AttemptCounter", "counting", "error_line", "in_thread", "run_all"]

T = TypeVar("T")

_CURRENT_RUN: ContextVar[AttemptCounter | None] = ContextVar("trakk_export_run", default=None)


class AttemptCounter:
    """Counts the request attempts (and 429s) of one run's own tasks.

    Registered with :meth:`TrakkClient.add_attempt_listener`; requests that other tasks
    send through the same client at the same time are not counted (the run's tasks carry
    this counter in a context variable, which tasks they create inherit).
    """

    def __init__(self) -> None:
        self.sent = 0
        self.rate_limited = 0

    def __call__(self, attempt: RequestAttempt) -> None:
        if _CURRENT_RUN.get() is not self:
            return
        self.sent += 1
        if attempt.status == 429:
            self.rate_limited += 1


@contextlib.contextmanager
def counting(client: TrakkClient) -> Iterator[AttemptCounter]:
    """Count the requests this task (and the tasks it starts) sends through ``client``."""
    counter = AttemptCounter()
    token = _CURRENT_RUN.set(counter)
    remove = client.add_attempt_listener(counter)
    try:
        yield counter
    finally:
        remove()
        _CURRENT_RUN.reset(token)


async def run_all(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run concurrently; unlike ``gather``, nothing outlives a failure or a cancellation.

    The first failure is raised as itself (the others were cancelled because of it, and
    awaited, so their own errors are retrieved and dropped).
    """
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coro) for coro in coros]
    except BaseExceptionGroup as errors:
        raise first_error(errors) from None
    return [task.result() for task in tasks]


def first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first leaf exception of a (nested) exception group."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def in_thread(func: Callable[..., T], *args: Any) -> T:
    """``asyncio.to_thread`` that, when cancelled, still waits for the thread to finish.

    A thread cannot be stopped; without this a cancelled run would return while its last
    writes still run, and whoever looks at the destination next could see their temp
    files. The thread's own outcome is then retrieved and dropped: the cancellation is
    what the caller gets (a full disk failing every writer at once must not log one
    "Task exception was never retrieved" per thread).
    """
    job = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        await asyncio.wait([job])
        if not job.cancelled():
            job.exception()  # retrieved: the cancellation wins
        raise


def error_line(error: BaseException) -> str:
    """``"NotFoundError: ..."``: an error on one line, for summaries."""
    return f"{type(error).__name__}: {error}"
