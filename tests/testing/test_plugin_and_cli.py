"""The pytest plugin's fixtures and the ``trakk-fake`` console command, as users meet them.

The plugin is tested in-process (this suite runs pytest-asyncio in auto mode) and, where a
user's setup matters, in a fresh temporary project run by a real ``python -m pytest``
subprocess with pytest's default settings.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

README = Path(__file__).parents[2] / "README.md"
PLUGIN = "_trakk_async_pytestplugin"


# -- the fixtures, in this suite --------------------------------------------------------


async def test_fake_trakk_fixture_is_running_realistic_and_generous(
    fake_trakk: FakeTrakk,
) -> None:
    assert len(fake_trakk.project_ids(all_agencies=True)) == 25
    assert not fake_trakk.tidy
    assert fake_trakk.variations("token.extra_fields")
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {fake_trakk.token}"}
        for _ in range(70):  # more than Trakk's 60/minute: the fixture does not throttle
            async with session.get(f"{fake_trakk.base_url}/me", headers=headers) as resp:
                assert resp.status == 200
    assert fake_trakk.stats().rate_limited == 0


async def test_trakk_client_is_limited_by_the_fakes_windows(
    fake_trakk: FakeTrakk, trakk_client: Any
) -> None:
    assert trakk_client.rate_limiter.windows == tuple(fake_trakk.rate_limits())
    for _ in range(70):  # Trakk's default limiter would make the 61st wait a minute
        assert (await trakk_client.me()).agency_id == fake_trakk.agency_id
    assert trakk_client.rate_limit.remaining > 0
    assert trakk_client.rate_limit.available_in == 0
    assert fake_trakk.stats().by_route == {"/me": 70}


@pytest.mark.trakk_fake(tidy=True, projects=3, seed=4, today=None)
async def test_the_marker_sets_the_fake(fake_trakk: FakeTrakk) -> None:
    assert (fake_trakk.tidy, fake_trakk.seed) == (True, 4)
    assert len(fake_trakk.project_ids(all_agencies=True)) == 3
    assert fake_trakk.variations() == []


@pytest.mark.trakk_fake(rate_limits=())
async def test_an_unlimited_fake_gets_a_client_that_never_waits(
    fake_trakk: FakeTrakk, trakk_client: Any
) -> None:
    assert fake_trakk.rate_limits() == []
    assert len(await trakk_client.countries.list()) > 0
    assert trakk_client.rate_limit.remaining > 10**6


# -- the plugin in a user's new project ---------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_pytest(
    project: Path, *args: str, tests: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest`` in ``project`` (no configuration file) on ``tests``; ``env``
    adds to the environment."""
    (project / "test_user.py").write_text(textwrap.dedent(tests))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *args],
        cwd=project, capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_the_plugin_is_installed_as_the_top_level_module() -> None:
    installed = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert installed.get("trakk_async") == PLUGIN, (
        f"the installed pytest11 entry point is {installed.get('trakk_async')!r}: "
        "reinstall the package (pip install -e .)"
    )


def test_the_readme_example_passes_in_a_new_project(tmp_path: Path) -> None:
    section = README.read_text().split("## Testing without Trakk")[1].split("\n## ")[0]
    example = next(b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "def test_" in b)
    result = run_pytest(tmp_path, tests=example)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_run_without_the_fixtures_imports_nothing_of_the_sdk(tmp_path: Path) -> None:
    tests = """
        import sys


        def test_plain():
            heavy = [m for m in sys.modules if m.split(".")[0] in ("trakk_async", "aiohttp")]
            assert heavy == []
            assert "_trakk_async_pytestplugin" in sys.modules
    """
    result = run_pytest(tmp_path, tests=tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_seed_and_tidy_options_of_a_run(tmp_path: Path) -> None:
    tests = """
        import pytest


        @pytest.mark.asyncio
        async def test_options(fake_trakk, trakk_client):
            assert (fake_trakk.seed, fake_trakk.tidy) == (5, True)
            me = await trakk_client.me()
            assert me.agency_id == fake_trakk.agency_id
    """
    result = run_pytest(tmp_path, "--trakk-fake-seed", "5", "--trakk-fake-tidy", tests=tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_client_fixture_reaches_the_fake_whatever_http_proxy_says(tmp_path: Path) -> None:
    # A CI machine with HTTP_PROXY set and no NO_PROXY for 127.0.0.1: the fixture's client
    # must still talk to the fake on this machine, not to the proxy (here: nothing listens).
    tests = """
        import pytest


        @pytest.mark.asyncio
        async def test_me(fake_trakk, trakk_client):
            assert (await trakk_client.me()).agency_id == fake_trakk.agency_id
    """
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"HTTP_PROXY": dead, "http_proxy": dead, "NO_PROXY": "", "no_proxy": ""}
    result = run_pytest(tmp_path, tests=tests, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_anyio_runs_the_fixtures_without_pytest_asyncio(tmp_path: Path) -> None:
    tests = """
        import pytest


        @pytest.mark.anyio
        async def test_with_anyio(fake_trakk, trakk_client):
            assert (await trakk_client.me()).agency_id == fake_trakk.agency_id
    """
    result = run_pytest(tmp_path, "-p", "no:asyncio", tests=tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


@pytest.mark.parametrize(
    ("args", "tests", "says"),
    [
        pytest.param(
            ("-p", "no:asyncio", "-p", "no:anyio"),
            "async def test_x(fake_trakk):\n    pass\n",
            "pip install pytest-asyncio and mark the test @pytest.mark.asyncio",
            id="no-runner",
        ),
        pytest.param(
            (),
            "async def test_x(fake_trakk):\n    pass\n",
            "mark it @pytest.mark.asyncio (or set asyncio_mode = auto",
            id="unmarked-in-strict-mode",
        ),
        pytest.param(
            (),
            "def test_x(trakk_client):\n    pass\n",
            "use it from an async test",
            id="sync-test",
        ),
        pytest.param(
            (),
            "import pytest\n\n@pytest.mark.asyncio\n@pytest.mark.trakk_fake(colour=1)\n"
            "async def test_x(fake_trakk):\n    pass\n",
            "takes keyword options only",
            id="bad-marker",
        ),
    ],
)
def test_misuse_gets_a_clear_message(
    tmp_path: Path, args: tuple[str, ...], tests: str, says: str
) -> None:
    result = run_pytest(tmp_path, *args, tests=tests)
    assert result.returncode != 0
    assert says in result.stdout, result.stdout


def test_naming_the_package_module_too_is_harmless(tmp_path: Path) -> None:
    tests = """
        import pytest


        @pytest.mark.asyncio
        async def test_named(fake_trakk):
            assert fake_trakk.seed == 2
    """
    args = ("-p", "trakk_async.testing.pytest_plugin", "--trakk-fake-seed", "2")
    result = run_pytest(tmp_path, *args, tests=tests)
    assert result.returncode == 0, result.stdout + result.stderr


# -- trakk-fake ---------------------------------------------------------------------------


@asynccontextmanager
async def trakk_fake(*args: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """``python -m trakk_async.testing ARGS`` until its banner is out: (process, banner)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trakk_async.testing", "--port", "0", "--projects", "5", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        banner = ""
        while "Press Ctrl-C" not in banner:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, banner
            banner += line.decode()
        yield proc, banner
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def get(url: str, token: str) -> tuple[int, dict[str, str], Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.json()


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, text
    return match[1]


async def test_console_command_serves_until_interrupted() -> None:
    async with trakk_fake("--seed", "4") as (proc, banner):
        url = found(r"(http://127\.0\.0\.1:\d+/api/v1)", banner)
        token = found(r"agency token \(agency 1\): (\S+)", banner)
        admin = found(r"super-admin token: +(\S+)", banner)
        assert "realistic data" in banner
        for value, agency in ((token, 1), (admin, None)):
            status, headers, me = await get(f"{url}/me", value)
            assert (status, me["agency_id"]) == (200, agency)
            assert headers["X-RateLimit-Limit"] == "60"  # Trakk's default minute window
        proc.send_signal(2)  # SIGINT
        assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_console_command_options() -> None:
    async with trakk_fake("--unlimited", "--tidy", "--today", "2026-01-31") as (_, banner):
        url, token = found(r"at (\S+)", banner), found(r"agency token \(agency 1\): (\S+)", banner)
        assert "tidy data, today 2026-01-31, rate limits unlimited" in banner
        status, headers, me = await get(f"{url}/me", token)
        assert status == 200
        assert not [h for h in headers if h.lower().startswith("x-ratelimit")]
        assert "expires_at" not in me  # tidy: the reference's fields only
    async with trakk_fake("--rate-limit", "5/60", "--rate-limit", "50/3600") as (_, banner):
        url, token = found(r"at (\S+)", banner), found(r"agency token \(agency 1\): (\S+)", banner)
        assert "rate limits 5/60s, 50/3600s" in banner
        status, headers, me = await get(f"{url}/me", token)
        assert headers["X-RateLimit-Limit"] == "5"
        assert "expires_at" in me  # realistic by default


async def test_console_command_advances_reports_and_prints_them() -> None:
    async with trakk_fake("--advance", "0.1") as (proc, banner):
        assert "Reports advance every 0.1s" in banner
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert re.search(r"project \d+: report #\d+ \(id \d+\) (created|\w+ -> \w+)", line), line


def test_a_busy_port_is_one_line_not_a_traceback() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "trakk_async.testing", "--port", str(port)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"trakk-fake: 127.0.0.1:{port} is already in use; choose another --port (0: any free port)"
    ]


@pytest.mark.parametrize("bad", [["--rate-limit", "lots"], ["--advance", "0"], ["--today", "x"]])
def test_bad_options_are_usage_errors(bad: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trakk_async.testing", *bad],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "usage: trakk-fake" in result.stderr
    assert "Traceback" not in result.stderr
