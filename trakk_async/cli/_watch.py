"""``trakk watch``'s delivery: print each event, run ``--exec`` per event with a time limit
and retries, and set aside (``--dead-letter``) the events whose command never succeeds.

Built on :meth:`ReportWatcher.handle`, the library's own handler loop, so the CLI and a
program using the watcher get the same timeout, retry and dead-letter behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import click

from trakk_async.cli._render import event_json, json_line
from trakk_async.watch import DeadLetterFile, ReportAdvanced, ReportWatcher

#: Seconds a command gets after SIGTERM (when it ran out of time) before SIGKILL.
KILL_GRACE: Final = 5.0


class ExecFailed(Exception):
    """The ``--exec`` command failed for an event (after which the watch retries it)."""

    def __init__(self, event: ReportAdvanced, reason: str) -> None:
        super().__init__(reason)
        self.event = event
        self.reason = reason


async def deliver(
    watcher: ReportWatcher,
    *,
    command: str | None,
    timeout: float,  # noqa: ASYNC109 (the --exec-timeout of one run of the command)
    retries: int,
    dead_letter: Path | None,
    max_events: int | None,
) -> int:
    """Print (and hand to ``command``) each event until the stream ends or ``max_events``
    were handled; the exit code of the watch."""
    try:
        await watcher.handle(
            _handler(command, timeout),
            timeout=None if command is None else timeout + 2 * KILL_GRACE,
            attempts=1 if command is None else retries + 1,
            dead_letter=None if dead_letter is None else _set_aside(dead_letter),
            max_events=max_events,
        )
    except ExecFailed as failure:
        click.echo(
            f"trakk: error: --exec {failure.reason} for {failure.event} "
            f"({retries + 1} attempts); event not checkpointed (with --dead-letter FILE "
            "such events are set aside and the watch goes on)",
            err=True,
        )
        return 1
    return 0


def _handler(command: str | None, timeout: float) -> Callable[[ReportAdvanced], Awaitable[None]]:
    """Print each event once as a JSON line; with a command, run it (once per attempt)."""
    printed: list[ReportAdvanced] = []

    async def handle(event: ReportAdvanced) -> None:
        line = json_line(event_json(event))
        if not printed or printed[-1] is not event:
            click.echo(line)
            printed[:] = [event]
        if command is None:
            return
        status = await run_command(command, line, timeout)
        if status == 0:
            return
        reason = (
            f"ran longer than {timeout:g}s and was stopped"
            if status is None
            else f"exited with {status}"
        )
        click.echo(f"trakk: --exec {reason} for {event}", err=True)
        raise ExecFailed(event, reason)

    return handle


def _set_aside(path: Path) -> Callable[[ReportAdvanced, BaseException], Awaitable[None]]:
    dead = DeadLetterFile(path)

    async def set_aside(event: ReportAdvanced, error: BaseException) -> None:
        await dead(event, error)
        click.echo(f"trakk: gave up on {event} ({error}); kept in {path}", err=True)

    return set_aside


async def run_command(command: str, line: str, timeout: float) -> int | None:  # noqa: ASYNC109
    """Run ``command`` through the shell with ``line`` on its stdin: its exit status, or
    None when it ran longer than ``timeout`` seconds (its process group is then stopped,
    so a child it started does not live on)."""
    process = await asyncio.create_subprocess_shell(
        command, stdin=asyncio.subprocess.PIPE, start_new_session=True
    )
    try:
        async with asyncio.timeout(timeout):
            await process.communicate((line + "\n").encode())
    except TimeoutError:
        await _stop(process)
        return None
    except BaseException:
        await _stop(process)
        raise
    return process.returncode if process.returncode is not None else 1


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the command's process group, then SIGKILL if it is still there."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.wait()), KILL_GRACE)
            return
