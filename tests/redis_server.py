"""Start a real ``redis-server`` on 127.0.0.1 and a free port, in a temporary directory.

Tests that use it are marked ``@pytest.mark.redis``. Without the binary they skip with a
message saying how to install it; in CI (``CI`` set, as ``.ci/run`` does, which installs it
from the OS packages) they fail instead, so a missing server never passes silently.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CI_ENV = "CI"


def redis_binary() -> str:
    """The ``redis-server`` path, or skip (fail in CI) explaining why."""
    path = shutil.which("redis-server")
    if path is not None:
        return path
    message = (
        "redis-server is not installed: install it (apt-get install -y redis-server, "
        "brew install redis) to run the Redis tests"
    )
    if os.environ.get(CI_ENV, "").lower() in ("", "0", "false"):
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(timeout: float = 10.0, port: int | None = None) -> Iterator[str]:
    """Run a throwaway redis-server (on ``port``, or a free one); yields its URL
    (``redis://127.0.0.1:PORT/0``)."""
    binary = redis_binary()
    with tempfile.TemporaryDirectory(prefix="trakk-redis-") as workdir:
        port = _free_port() if port is None else port
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                workdir,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + timeout
            while not _ping(port):
                if process.poll() is not None:
                    err = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"redis-server exited at start: {err.strip()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer on port {port}")
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stderr:
                process.stderr.close()
