"""Start ``_server.py`` in a subprocess and read its connection details."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def cpus() -> list[int]:
    """The CPUs this process may run on, sorted."""
    return sorted(os.sched_getaffinity(0))


def pin_to(cpu: int | None) -> None:
    """Run this process on ``cpu`` only (None: leave it free)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def server_cpu() -> int | None:
    """Where the server runs when the client and the server each get a core of their own:
    the last CPU (the client takes the first); None on a single CPU."""
    available = cpus()
    return available[-1] if len(available) >= 2 else None


@contextlib.contextmanager
def fake_server(
    projects: int = 300, *, pinned: bool = False, tidy: bool = False
) -> Iterator[dict[str, Any]]:
    """A FakeTrakk in another process; yields the JSON line it printed.

    ``tidy``: the reference's exact shapes instead of the realistic default world (whose
    few percent of odd values send those objects through the tolerant second reading).

    ``pinned``: the server runs on the last CPU, so that a client pinned to the first
    one (``pin_to(cpus()[0])``) never shares a core with it: less noise in CPU figures.
    """
    script = Path(__file__).with_name("_server.py")
    cpu = server_cpu() if pinned else None
    proc = subprocess.Popen(
        [sys.executable, str(script), str(projects), *(["--tidy"] if tidy else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=None if cpu is None else (lambda: pin_to(cpu)),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake server did not start")
        info = json.loads(line)
        info["server_cpu"] = cpu
        yield info
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
