"""``trakk watch --exec`` as a user runs it: a real process against FakeTrakk on loopback.

Each test gives the watcher a checkpoint that says its projects' last reports were older
ones (a record of an earlier version, kept only as report id and number), so the first
look at each project is an event with no timing involved; ``--rate-limit`` matches the
fake's generous window so the watch runs at full speed.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from trakk_async.testing import FakeTrakk
from trakk_async.watch import Seen, SQLiteCheckpoint

pytestmark = pytest.mark.integration

WINDOW = (100_000, 60.0)
SAFETY = 60.0  # seconds; only so that a bug fails the test instead of hanging it


async def two_events(fake: FakeTrakk, db: Path) -> dict[int, int]:
    """Two projects whose checkpoint record is their second newest completed report:
    project id -> the id of its newest one, the event the watch will deliver."""
    chosen: dict[int, int] = {}
    records: dict[int, Seen] = {}
    for pid in fake.project_ids():
        done = [r for r in fake.reports(pid) if str(r.status) == "completed"]
        if len(done) >= 2:
            chosen[pid] = done[-1].id
            records[pid] = Seen(done[-2].id, done[-2].report_number)
        if len(chosen) == 2:
            break
    async with SQLiteCheckpoint(db) as checkpoint:
        await checkpoint.save(records)
    return chosen


async def trakk(fake: FakeTrakk, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trakk_async.cli",
        "--rate-limit",
        f"{WINDOW[0]}/{WINDOW[1]:g}",
        *args,
        env={**os.environ, "TRAKK_API_TOKEN": fake.token, "TRAKK_BASE_URL": fake.base_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), SAFETY)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def script(body: str) -> str:
    """A shell command running ``body`` in Python with the event as ``event``."""
    code = f"import json, sys, time\nevent = json.load(sys.stdin)\n{body}"
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


async def committed(db: Path) -> dict[int, Seen]:
    """The projects' records (without the watcher's mark, kept under 0)."""
    async with SQLiteCheckpoint(db) as checkpoint:
        return {pid: seen for pid, seen in (await checkpoint.load()).items() if pid > 0}


@pytest.fixture
async def fake() -> Any:
    async with FakeTrakk.running(seed=2, projects=30, rate_limits=[WINDOW]) as served:
        yield served


async def test_a_hanging_command_is_stopped_retried_and_set_aside(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    db, dead, out = tmp_path / "seen.db", tmp_path / "dead.jsonl", tmp_path / "published"
    events = await two_events(fake, db)
    poison, fine = list(events)
    handler = script(
        f"if event['project_id'] == {poison}: time.sleep(600)\n"
        f"open({str(out)!r}, 'a').write(str(event['report']['id']) + '\\n')"
    )
    ids = [arg for pid in events for arg in ("--project", str(pid))]
    code, stdout, stderr = await trakk(
        fake, "watch", *ids, "--checkpoint", str(db), "--exec", handler,
        "--exec-timeout", "0.5", "--exec-retries", "1", "--dead-letter", str(dead),
        "--max-events", "2",
    )  # fmt: skip
    assert code == 0, stderr
    printed = [orjson.loads(line) for line in stdout.splitlines()]
    assert sorted((e["project_id"], e["report"]["id"]) for e in printed) == sorted(events.items())
    assert "baseline done" in stderr
    assert stderr.count("trakk: --exec ran longer than 0.5s") == 2  # two attempts, stopped
    assert f"trakk: gave up on project {poison}" in stderr
    (kept,) = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert kept["event"]["report"]["id"] == events[poison]
    assert "0.5s" in kept["error"]
    assert out.read_text().split() == [str(events[fine])]
    records = await committed(db)
    assert {pid: records[pid].report_id for pid in events} == events  # both committed


async def test_a_failing_command_without_a_dead_letter_stops_the_watch(
    fake: FakeTrakk, tmp_path: Path
) -> None:
    db, tries = tmp_path / "seen.db", tmp_path / "tries"
    events = await two_events(fake, db)
    before = await committed(db)
    handler = script(f"open({str(tries)!r}, 'a').write('x')\nsys.exit(3)")
    ids = [arg for pid in events for arg in ("--project", str(pid))]
    code, stdout, stderr = await trakk(
        fake, "watch", *ids, "--checkpoint", str(db), "--exec", handler,
        "--exec-retries", "2",
    )  # fmt: skip
    assert code == 1
    assert len(stdout.splitlines()) == 1  # the event, printed once for its three attempts
    assert tries.read_text() == "xxx"
    assert stderr.count("trakk: --exec exited with 3") == 3
    assert "not checkpointed" in stderr
    assert "--dead-letter" in stderr
    assert await committed(db) == before
