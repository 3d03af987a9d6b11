"""The pytest plugin's fixtures and the ``trakk-fake`` console command."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


async def test_fake_trakk_fixture_is_running_and_generous(fake_trakk: FakeTrakk) -> None:
    assert len(fake_trakk.project_ids(all_agencies=True)) == 25
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {fake_trakk.token}"}
        for _ in range(70):  # more than Trakk's 60/minute: the fixture does not throttle
            async with session.get(f"{fake_trakk.base_url}/me", headers=headers) as resp:
                assert resp.status == 200
    assert fake_trakk.stats().rate_limited == 0


async def test_trakk_client_fixture_talks_to_the_fake(
    fake_trakk: FakeTrakk, trakk_client: Any
) -> None:
    me = await trakk_client.me()
    assert me.agency_id == fake_trakk.agency_id
    assert fake_trakk.stats().by_route == {"/me": 1}


def test_plugin_loads_in_a_users_suite_with_its_seed_option(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import aiohttp
            import pytest

            from trakk_async.testing import FakeTrakk


            @pytest.mark.asyncio
            async def test_user(fake_trakk):
                assert fake_trakk.seed == 5
                expected = FakeTrakk(seed=5, projects=25).world.projects[1].name
                headers = {"Authorization": f"Bearer {fake_trakk.token}"}
                async with aiohttp.ClientSession() as session:
                    url = f"{fake_trakk.base_url}/projects/1"
                    async with session.get(url, headers=headers) as resp:
                        assert (await resp.json())["data"]["name"] == expected
            """
        )
    )
    # Installed, the package's pytest11 entry point loads the plugin (as in a user's suite);
    # from a bare checkout it must be named with -p (naming it twice is an error).
    installed = any(
        ep.value == "trakk_async.testing.pytest_plugin"
        for ep in importlib.metadata.entry_points(group="pytest11")
    )
    plugin = [] if installed else ["-p", "trakk_async.testing.pytest_plugin"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *plugin,
         "-p", "no:cacheprovider", "--trakk-fake-seed", "5", "test_user.py"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_plugin_imports_nothing_else_of_trakk_async() -> None:
    code = (
        "import sys, trakk_async.testing.pytest_plugin, trakk_async.testing.__main__\n"
        "extra = sorted(m for m in sys.modules if m.startswith('trakk_async.')"
        " and not m.startswith('trakk_async.testing'))\n"
        "print(extra)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True
    ).stdout
    # trakk_async/__init__.py may import the SDK itself; the testing package must not.
    parent = subprocess.run(
        [sys.executable, "-c", "import sys, trakk_async; print(sorted(m for m in sys.modules"
         " if m.startswith('trakk_async.')))"],
        env=_env(), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out == parent


async def test_console_command_serves_until_interrupted() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trakk_async.testing", "--port", "0", "--projects", "3",
        "--seed", "4", env=_env(), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 30)).decode() for _ in range(4)]
        text = "".join(lines)
        url = re.search(r"http://127\.0\.0\.1:\d+/api/v1", text)
        token = re.search(r"agency token \(agency 1\): (\S+)", text)
        admin = re.search(r"super-admin token: +(\S+)", text)
        assert url is not None, text
        assert token is not None, text
        assert admin is not None, text
        async with aiohttp.ClientSession() as session:
            for value, agency in ((token[1], 1), (admin[1], None)):
                headers = {"Authorization": f"Bearer {value}"}
                async with session.get(f"{url[0]}/me", headers=headers) as resp:
                    assert (await resp.json())["agency_id"] == agency
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
