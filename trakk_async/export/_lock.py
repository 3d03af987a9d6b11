"""One run at a time per destination: an advisory lock on ``DEST/.trakk-lock``.

Two exports (or syncs) writing one directory at once would remove each other's temporary
files and could leave a project without its ``reports.json`` while both report success.
Every run holds an exclusive, non-blocking lock on a file in the directory for as long as
it runs; a second run fails at once with :class:`DestinationBusyError`. The lock belongs
to the open file, so the operating system drops it when the process ends, even after
``kill -9``: a crashed run never blocks the next one. The lock file itself stays (it is
empty); deleting it could let a third run lock a new file while the second still holds
the old one.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from trakk_async._core.errors import DestinationBusyError

__all__ = ["LOCK_FILE", "locked"]

LOCK_FILE: Final = ".trakk-lock"


@contextlib.contextmanager
def locked(dest: Path) -> Iterator[None]:
    """Create ``dest`` if needed and hold its lock for the ``with`` body.

    Raises :class:`DestinationBusyError` when another process (or another run in this
    one) holds it.
    """
    dest.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            raise DestinationBusyError(str(dest))
        yield
    finally:
        os.close(fd)  # releases the lock


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
