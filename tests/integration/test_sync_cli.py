"""``trakk sync`` and the directory's reliability as users meet it: real processes against
FakeTrakk (served by the test's own event loop over loopback)."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from tests.integration.test_sync_fake import assert_same_tree
from trakk_async import TokenBucketLimiter, TrakkClient
from trakk_async.export import _files as files
from trakk_async.export import export_projects
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

LIMITS = ((100_000, 60.0),)
#: The command, told the fake's limits.
TRAKK = (sys.executable, "-m", "trakk_async.cli", "--rate-limit", "100000/60")


def _env(fake: FakeTrakk) -> dict[str, str]:
    return {
        **os.environ,
        "TRAKK_API_TOKEN": fake.token,
        "TRAKK_BASE_URL": fake.base_url,
        "COLUMNS": "200",
    }


@pytest.fixture
async def fake() -> AsyncIterator[FakeTrakk]:
    async with FakeTrakk.running(seed=6, projects=30, rate_limits=LIMITS) as server:
        yield server


async def trakk(
    fake: FakeTrakk, *args: str, limit_file_size: int | None = None
) -> tuple[int, str, str]:
    """Run ``trakk ARGS`` in a subprocess; returns (exit code, stdout, stderr)."""

    def file_size_limit() -> None:  # a "full disk": writes past the limit fail (EFBIG)
        if limit_file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    process = await asyncio.create_subprocess_exec(
        *TRAKK,
        *args,
        env=_env(fake),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=file_size_limit,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _fresh(fake: FakeTrakk, dest: Path) -> Path:
    limiter = TokenBucketLimiter(windows=LIMITS)
    async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as client:
        await export_projects(client, dest)
    return dest


async def test_sync_json_lines_and_summary(fake: FakeTrakk, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    code, out, err = await trakk(fake, "sync", str(dest), "--json")
    assert code == 0, err
    lines = [orjson.loads(line) for line in out.splitlines()]
    index = [orjson.loads(line) for line in (dest / "index.jsonl").read_bytes().splitlines()]
    assert sorted(line["path"] for line in lines) == sorted(e["path"] for e in index)
    assert {line["change"] for line in lines} == {"added"}
    assert err.startswith("synced ")
    assert f"{len(lines)} files changed" in err

    pid = fake.project_ids()[0]
    number = fake.start_next_report(pid)
    fake.complete_report(pid, number)
    code, out, err = await trakk(fake, "sync", str(dest), "--json")
    assert code == 0, err
    changed = {orjson.loads(line)["path"]: orjson.loads(line)["change"] for line in out.split()}
    assert changed[f"{pid}/reports.json"] == "modified"
    assert changed[f"{pid}/content/{number}.json"] in ("added", "modified")

    code, out, err = await trakk(fake, "sync", str(dest))
    assert (code, err) == (0, "")
    assert out.startswith("synced ")
    assert " 0 changed," in out
    assert fake.token not in out + err


async def test_two_runs_at_once_one_is_told_and_the_other_completes(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    results = await asyncio.gather(
        trakk(fake, "sync", str(dest)),
        trakk(fake, "export", str(dest)),
        trakk(fake, "sync", str(dest)),
    )
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1, 1], results
    for code, _, err in results:
        if code == 1:
            assert err.count("\n") == 1
            assert "another export or sync is running" in err
            assert "Traceback" not in err
    assert_same_tree(dest, await _fresh(fake, tmp_path / "fresh"))


async def test_a_full_disk_is_one_line_and_the_next_run_repairs(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    for command in ("export", "sync"):
        code, _, err = await trakk(fake, command, str(dest), limit_file_size=20_000)
        assert code == 1
        assert err.splitlines() == [err.strip()], err  # one line
        assert err.startswith("trakk: error: OSError: [Errno 27] File too large")
        assert "never retrieved" not in err
    for path in dest.rglob("*"):
        assert not path.name.startswith(files.TEMP_PREFIX)

    code, _, err = await trakk(fake, "sync", str(dest))
    assert code == 0, err
    assert_same_tree(dest, await _fresh(fake, tmp_path / "fresh"))


async def test_a_killed_index_write_leaves_nothing_behind(fake: FakeTrakk, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    assert (await trakk(fake, "sync", str(dest)))[0] == 0
    stray = dest / f"{files.TEMP_PREFIX}index-half"  # where a kill during the index leaves one
    stray.write_bytes(b'{"path": "1/proj')
    code, _, err = await trakk(fake, "sync", str(dest))
    assert code == 0, err
    assert not stray.exists()
    assert_same_tree(dest, await _fresh(fake, tmp_path / "fresh"))


async def test_follow_lands_a_completion_then_stops_on_ctrl_c(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    process = await asyncio.create_subprocess_exec(
        *TRAKK,
        "sync",
        str(dest),
        "--follow",
        "--json",
        env=_env(fake),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = process.stdout, process.stderr
    assert stdout is not None
    assert stderr is not None
    paths: asyncio.Queue[str] = asyncio.Queue()

    async def read_stdout() -> None:  # drained all along: a full pipe would stall the child
        async for line in stdout:
            await paths.put(orjson.loads(line)["path"])

    reader = asyncio.ensure_future(read_stdout())
    try:
        while b"following" not in await asyncio.wait_for(stderr.readline(), 60):
            pass
        pid = next(p for p in fake.project_ids() if fake.world.projects[p].status == "active")
        number = fake.start_next_report(pid)
        fake.complete_report(pid, number)
        wanted = f"{pid}/content/{number}.json"
        while await asyncio.wait_for(paths.get(), 60) != wanted:
            pass
    finally:
        reader.cancel()
        process.send_signal(signal.SIGINT)
        code = await process.wait()
    assert code == 130
    assert_same_tree(dest, await _fresh(fake, tmp_path / "fresh"))
