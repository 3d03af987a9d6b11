"""Start ``_server.py`` in a subprocess and read its connection details."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def fake_server(projects: int = 300) -> Iterator[dict[str, Any]]:
    """A FakeTrakk in another process; yields the JSON line it printed."""
    script = Path(__file__).with_name("_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(projects)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake server did not start")
        yield json.loads(line)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
