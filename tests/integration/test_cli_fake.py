"""The ``trakk`` command against FakeTrakk: click's runner in-process, and subprocesses.

The fake runs on its own event loop in a thread, since every command runs ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pty
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from click.testing import CliRunner, Result

from trakk_async import TokenBucketLimiter, TrakkClient
from trakk_async.cli import cli
from trakk_async.cli._render import jsonable
from trakk_async.export import export_projects
from trakk_async.testing import FakeReport, FakeTrakk
from trakk_async.watch import Seen, SQLiteCheckpoint

pytestmark = pytest.mark.integration

T = TypeVar("T")
LIMITS = ((100_000, 60.0),)
ANSI = "\x1b["


class FakeInThread:
    """A FakeTrakk served from a private event loop on a daemon thread."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        settings: dict[str, Any] = {"seed": 2, "projects": 30, "rate_limits": LIMITS} | options
        self.fake = self.call(lambda: FakeTrakk(**settings))
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)

    def call(self, func: Callable[[], T]) -> T:
        """Run ``func`` on the fake's loop (its state is only touched from there)."""
        done: Future[T] = Future()

        def run() -> None:
            try:
                done.set_result(func())
            except BaseException as exc:  # handed to the caller
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return done.result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def served() -> Iterator[FakeInThread]:
    server = FakeInThread()
    yield server
    server.close()


@pytest.fixture
def fake(served: FakeInThread) -> FakeTrakk:
    return served.fake


def run(fake: FakeTrakk, *args: str, token: str | None = None, **env: str) -> Result:
    runner = CliRunner()
    environ = {"TRAKK_API_TOKEN": token or fake.token, "TRAKK_BASE_URL": fake.base_url, **env}
    return runner.invoke(cli, list(args), env=environ, catch_exceptions=False)


def lines(result: Result) -> list[Any]:
    return [orjson.loads(line) for line in result.stdout.splitlines()]


def test_me_json(fake: FakeTrakk) -> None:
    result = run(fake, "me", "--json")
    assert result.exit_code == 0, result.output
    (me,) = lines(result)
    assert me["agency_id"] == fake.agency_id
    assert me["abilities"]


def test_me_table_piped_has_no_ansi(fake: FakeTrakk) -> None:
    result = run(fake, "me")
    assert result.exit_code == 0
    assert "API token" in result.stdout
    assert ANSI not in result.output


def test_no_token_is_a_usage_error(fake: FakeTrakk) -> None:
    result = CliRunner().invoke(
        cli, ["me"], env={"TRAKK_API_TOKEN": "", "TRAKK_BASE_URL": fake.base_url}
    )
    assert result.exit_code == 2
    assert "TRAKK_API_TOKEN" in result.stderr
    assert "Traceback" not in result.output


def test_bad_token_is_one_line_without_the_token(fake: FakeTrakk) -> None:
    secret = "trk_wrong_0123456789abcdef0123456789abcdef"
    result = run(fake, "me", token=secret)
    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("trakk: error: AuthenticationError")
    assert secret not in result.output
    assert "Traceback" not in result.output


def test_token_flag_overrides_the_environment(fake: FakeTrakk) -> None:
    result = run(fake, "--token", fake.token, "me", "--json", token="trk_wrong_token_value")
    assert result.exit_code == 0
    assert lines(result)[0]["agency_id"] == fake.agency_id


def test_network_error_is_exit_1(fake: FakeTrakk) -> None:
    result = run(fake, "--base-url", "http://127.0.0.1:9/api/v1", "me")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("trakk: error: APIConnectionError")
    assert fake.token not in result.output


def test_projects_json_and_filters(fake: FakeTrakk, served: FakeInThread) -> None:
    result = run(fake, "projects", "--json")
    assert result.exit_code == 0
    assert [p["id"] for p in lines(result)] == fake.project_ids()

    active = run(fake, "projects", "--status", "active", "--json")
    assert active.exit_code == 0
    rows = lines(active)
    assert rows
    assert all(p["status"] == "active" for p in rows)
    assert len(rows) < len(fake.project_ids())

    some = rows[0]["name"].split()[0]
    found = lines(run(fake, "projects", "--search", some, "--json"))
    assert found
    assert all(some.lower() in p["name"].lower() for p in found)


def test_projects_table_piped_has_no_ansi(fake: FakeTrakk) -> None:
    result = run(fake, "projects")
    assert result.exit_code == 0
    assert ANSI not in result.output
    first = fake.project_ids()[0]
    assert any(line.split()[0] == str(first) for line in result.stdout.splitlines()[1:])


def test_bad_status_is_a_usage_or_api_error(fake: FakeTrakk) -> None:
    result = run(fake, "projects", "--status", "bogus")
    assert result.exit_code in (1, 2)
    assert "Traceback" not in result.output


def test_reports(fake: FakeTrakk, served: FakeInThread) -> None:
    pid = fake.project_ids()[0]
    expected = served.call(lambda: sorted(r.id for r in fake.reports(pid)))
    result = run(fake, "reports", str(pid), "--json")
    assert result.exit_code == 0
    assert sorted(r["id"] for r in lines(result)) == expected
    table = run(fake, "reports", str(pid))
    assert table.exit_code == 0
    assert str(expected[0]) in table.stdout


def _completed(fake: FakeTrakk, served: FakeInThread) -> tuple[int, int]:
    def find() -> tuple[int, int]:
        for pid in fake.project_ids():
            for report in fake.reports(pid):
                if str(report.status) == "completed" and report.content_scheme == "metadata":
                    newest = fake.world.report_by_number(fake.world.projects[pid], 2)
                    if newest is report or report.report_number == 19:
                        return pid, report.report_number
        raise LookupError("no completed metadata report")

    return served.call(find)


def test_content_variants_and_html(fake: FakeTrakk, served: FakeInThread) -> None:
    pid, number = _completed(fake, served)
    first = run(fake, "content", str(pid), str(number), "--json")
    assert first.exit_code == 0, first.output
    rows = lines(first)
    with_content = [r for r in rows if r["has_content"]]
    assert with_content
    assert set(with_content[0]["content"]) == {"meta_title", "meta_description"}

    second = lines(run(fake, "content", str(pid), str(number), "--json", "--variant", "2"))
    assert [r["keyword_id"] for r in second] == [r["keyword_id"] for r in rows]
    assert second[rows.index(with_content[0])]["content"] != with_content[0]["content"]

    html = lines(run(fake, "content", str(pid), str(number), "--json", "--html"))
    assert "<" in str(html[rows.index(with_content[0])]["html"])

    text = run(fake, "content", str(pid), str(number))
    assert text.exit_code == 0
    assert with_content[0]["keyword"] in text.stdout
    assert "meta_title: " in text.stdout


def test_content_usage_errors(fake: FakeTrakk, served: FakeInThread) -> None:
    pid, number = _completed(fake, served)
    assert run(fake, "content", str(pid), "27").exit_code == 2
    too_far = run(fake, "content", str(pid), str(number), "--variant", "9")
    assert too_far.exit_code == 2
    assert "variant" in too_far.stderr
    assert too_far.stdout == ""  # no partial output before the usage error
    as_json = run(fake, "content", str(pid), str(number), "--variant", "9", "--json")
    assert (as_json.exit_code, as_json.stdout) == (2, "")


def test_content_of_a_missing_report_is_exit_1(fake: FakeTrakk, served: FakeInThread) -> None:
    pid = served.call(lambda: fake.add_project())
    result = run(fake, "content", str(pid), "3")
    assert result.exit_code == 1
    assert result.stderr.startswith("trakk: error: NotFoundError")


def test_export_and_resume(fake: FakeTrakk, tmp_path: Path) -> None:
    pids = [str(p) for p in fake.project_ids()[:3]]
    args = ["export", str(tmp_path)] + [x for p in pids for x in ("--project", p)]
    result = run(fake, *args)
    assert result.exit_code == 0, result.output
    assert "exported 3 projects" in result.stdout
    assert ANSI not in result.output
    assert all((tmp_path / p / "reports.json").is_file() for p in pids)
    assert len((tmp_path / "index.jsonl").read_text().splitlines()) > 9

    again = run(fake, *args, "--resume")
    assert again.exit_code == 0
    assert "(3 unchanged)" in again.stdout
    assert "3 requests" in again.stdout


def _event_ready(fake: FakeTrakk, served: FakeInThread, db: Path) -> tuple[int, int]:
    """A checkpoint saying the project's last report is an older one: the watcher's first
    look is then an event, with no timing involved. Returns (project id, new report id)."""

    def newest_two() -> tuple[int, Any, Any]:
        for pid in fake.project_ids():
            done = [r for r in fake.reports(pid) if str(r.status) == "completed"]
            if len(done) >= 2:
                return pid, done[-2], done[-1]
        raise LookupError("no project with two completed reports")

    pid, older, newest = served.call(newest_two)

    async def save() -> None:
        async with SQLiteCheckpoint(db) as checkpoint:
            await checkpoint.save({pid: Seen(older.id, older.report_number)})

    asyncio.run(save())
    return pid, newest.id


def _checkpointed(db: Path, pid: int) -> Seen | None:
    async def load() -> Seen | None:
        async with SQLiteCheckpoint(db) as checkpoint:
            return (await checkpoint.load()).get(pid)

    return asyncio.run(load())


def test_watch_exec_failure_is_not_checkpointed(
    fake: FakeTrakk, served: FakeInThread, tmp_path: Path
) -> None:
    db = tmp_path / "seen.db"
    pid, new_id = _event_ready(fake, served, db)
    before = _checkpointed(db, pid)
    watch = ["watch", "--project", str(pid), "--checkpoint", str(db), "--max-events", "1"]

    failed = run(fake, *watch, "--exec", "cat >/dev/null; exit 3")
    assert failed.exit_code == 1
    (event,) = lines(failed)
    assert (event["project_id"], event["report"]["id"]) == (pid, new_id)
    assert "exited with 3" in failed.stderr
    assert "not checkpointed" in failed.stderr
    assert _checkpointed(db, pid) == before

    out = tmp_path / "event.json"
    ok = run(fake, *watch, "--exec", f"cat > {out}")
    assert ok.exit_code == 0, ok.output
    assert lines(ok) == [event | {"detected_at": lines(ok)[0]["detected_at"]}]
    assert orjson.loads(out.read_bytes())["report"]["id"] == new_id
    record = _checkpointed(db, pid)
    assert record is not None
    assert (record.report_id, record.report_number) == (new_id, event["report"]["report_number"])


def test_verbose_logs_requests_without_the_token(fake: FakeTrakk) -> None:
    result = run(fake, "--verbose", "me")
    assert result.exit_code == 0
    assert "GET /me -> 200" in result.stderr
    assert fake.token not in result.output


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAKK_")}
    env.update(extra)
    return env


def test_subprocess_piped_projects_have_no_ansi(fake: FakeTrakk) -> None:
    env = _subprocess_env(TRAKK_API_TOKEN=fake.token, TRAKK_BASE_URL=fake.base_url)
    done = subprocess.run(
        [sys.executable, "-m", "trakk_async.cli", "projects"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"\x1b[" not in done.stdout + done.stderr
    assert str(fake.project_ids()[0]).encode() in done.stdout


async def test_a_reader_that_leaves_early_gets_no_error_message() -> None:
    # `trakk projects --json | head -1`: the pipe closes while trakk still writes. 3,000
    # projects are about 900 KB of JSON lines, far more than a pipe buffers.
    async with FakeTrakk.running(seed=4, projects=3000, agencies=1, rate_limits=LIMITS) as big:
        env = _subprocess_env(TRAKK_API_TOKEN=big.token, TRAKK_BASE_URL=big.base_url)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "trakk_async.cli",
            "--rate-limit",
            "100000/60",
            "projects",
            "--json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert await proc.stdout.readline()  # one line, then go away like `head -1`
        proc._transport.get_pipe_transport(1).close()  # type: ignore[attr-defined]
        err = await asyncio.wait_for(proc.stderr.read(), timeout=120)
        await asyncio.wait_for(proc.wait(), timeout=120)
    assert b"BrokenPipe" not in err
    assert b"Traceback" not in err
    assert b"error" not in err.lower()


def test_subprocess_usage_error_is_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trakk_async.cli", "content", "1"],
        capture_output=True,
        env=_subprocess_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert b"Missing argument" in done.stderr


def test_demo_runs_to_completion() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trakk_async.cli", "demo"],
        capture_output=True,
        env=_subprocess_env(),
        timeout=120,
        check=False,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "\x1b[" not in out
    for expected in ("trakk me", "trakk projects", "trakk content", "keywords with content"):
        assert expected in out
    assert "exported 4 projects" in out
    assert "exported 4 projects (4 unchanged)" in out
    events = [orjson.loads(line) for line in out.splitlines() if line.startswith('{"project_id"')]
    assert len(events) == 2
    assert all(e["report"]["status"] == "completed" and not e["baseline"] for e in events)
    assert "the watcher caught 2 new reports" in out


def _export_in_process(fake: FakeTrakk, dest: Path, pids: list[int], resume: bool) -> int:
    async def go() -> int:
        limiter = TokenBucketLimiter(windows=LIMITS)
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
            summary = await export_projects(c, dest, project_ids=pids, resume=resume)
        return summary.requests

    return asyncio.run(go())


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_export_killed_hard_then_resumed(
    fake: FakeTrakk, served: FakeInThread, tmp_path: Path
) -> None:
    pids = fake.project_ids()[:8]
    fresh = tmp_path / "fresh"
    full = _export_in_process(fake, fresh, pids, resume=False)
    dest = tmp_path / "killed"
    budget = full // 2
    before = served.call(lambda: fake.stats().requests)
    env = _subprocess_env(TRAKK_API_TOKEN=fake.token, TRAKK_BASE_URL=fake.base_url)
    # The client may send `budget` requests, then waits ten minutes: it is killed there.
    # One project at a time, so the first half of the projects is complete by then (eight
    # concurrent projects could all be half done, leaving a resume nothing to skip).
    args = ["--rate-limit", f"{budget}/600", "export", str(dest), "--concurrency", "1"]
    args += [x for p in pids for x in ("--project", str(p))]
    process = subprocess.Popen(
        [sys.executable, "-m", "trakk_async.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: served.call(lambda: fake.stats().requests) - before >= budget)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    assert not (dest / "index.jsonl").exists()
    for path in dest.rglob("*.json"):  # temp files may stay after SIGKILL; targets are whole
        orjson.loads(path.read_bytes())

    resumed = _export_in_process(fake, dest, pids, resume=True)

    assert resumed < full
    tree = {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert tree == {p.relative_to(fresh): p.read_bytes() for p in fresh.rglob("*") if p.is_file()}


# -- one command per endpoint, and `trakk api` -------------------------------------------


def _sdk(fake: FakeTrakk, call: Callable[[TrakkClient], Any]) -> Any:
    """What the SDK itself returns for ``call``, as the CLI's JSON would show it."""

    async def go() -> Any:
        limiter = TokenBucketLimiter(windows=LIMITS)
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
            return await call(c)

    result = asyncio.run(go())
    items = result.items if hasattr(result, "items") else [result]
    return [jsonable(item) for item in items]


def test_project(fake: FakeTrakk) -> None:
    pid = fake.project_ids()[1]
    result = run(fake, "project", str(pid), "--json")
    assert result.exit_code == 0, result.output
    assert lines(result) == _sdk(fake, lambda c: c.projects.get(pid))
    table = run(fake, "project", str(pid))
    assert table.exit_code == 0
    assert lines(result)[0]["domain"] in table.stdout
    assert ANSI not in table.output


def test_keywords(fake: FakeTrakk) -> None:
    pid = fake.project_ids()[2]
    result = run(fake, "keywords", str(pid), "--json")
    assert result.exit_code == 0, result.output
    rows = lines(result)
    assert rows == _sdk(fake, lambda c: c.keywords.list(pid))
    table = run(fake, "keywords", str(pid))
    assert table.exit_code == 0
    first_cells = [line.split()[0] for line in table.stdout.splitlines()[1:] if line.strip()]
    assert str(rows[0]["id"]) in first_cells


@pytest.mark.parametrize("command", ["countries", "languages", "users"])
def test_reference_lists_and_one_by_id(fake: FakeTrakk, command: str) -> None:
    listed = run(fake, command, "--json")
    assert listed.exit_code == 0, listed.output
    rows = lines(listed)
    assert rows == _sdk(fake, lambda c: getattr(c, command).list())
    one = run(fake, command, str(rows[-1]["id"]), "--json")
    assert lines(one) == [rows[-1]]
    table = run(fake, command)
    assert table.exit_code == 0
    label = rows[0].get("label") or rows[0]["name"]
    assert label in table.stdout
    missing = run(fake, command, "999999")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("trakk: error: NotFoundError")


def test_reports_latest_and_last_generated(fake: FakeTrakk) -> None:
    pid = fake.project_ids()[0]
    latest = run(fake, "reports", str(pid), "--latest", "--json")
    assert latest.exit_code == 0, latest.output
    assert lines(latest) == _sdk(fake, lambda c: c.reports.latest(pid))
    last = run(fake, "reports", str(pid), "--last-generated", "--json")
    assert lines(last) == _sdk(fake, lambda c: c.reports.last_generated(pid))
    assert lines(last)[0]["status"] == "completed"


def test_api_prints_the_body_of_any_path(fake: FakeTrakk) -> None:
    pid = fake.project_ids()[0]
    keywords = run(fake, "api", f"/projects/{pid}/keywords")
    assert keywords.exit_code == 0, keywords.output
    (body,) = lines(keywords)  # one line when piped
    assert [k["id"] for k in body["data"]] == [
        k["id"] for k in _sdk(fake, lambda c: c.keywords.list(pid))
    ]
    assert "cache_refreshed_at" in body  # the whole body, not the SDK's model

    page = lines(run(fake, "api", "projects", "--param", "per_page=2", "-p", "page=2"))[0]
    assert [p["id"] for p in page["data"]] == fake.project_ids()[2:4]


def test_api_follows_a_link_the_api_gave(served: FakeInThread) -> None:
    fake = served.fake
    first = lines(run(fake, "api", "/projects", "-p", "per_page=5"))[0]
    follow = run(fake, "api", first["links"]["next"], "-p", "per_page=5")
    assert follow.exit_code == 0, follow.output
    assert [p["id"] for p in lines(follow)[0]["data"]] == fake.project_ids()[5:10]

    # A listing item's links are paths from the host, the base URL's path included
    # (trakk-public-docs-notes.md): followed below the base URL, not doubled.
    listing = lines(run(fake, "api", "/projects", "-p", "per_page=100"))[0]["data"]

    def both(pid: int) -> tuple[FakeReport | None, FakeReport | None]:
        return served.call(lambda: (fake.latest_report(pid), fake.last_generated(pid)))

    reports = {item["id"]: both(item["id"]) for item in listing}
    item = next(i for i in listing if all(reports[i["id"]]))  # a project with both reports
    latest, last = reports[item["id"]]
    assert latest is not None
    assert last is not None
    links = item["links"]
    assert links["latest_report"] == f"/api/v1/projects/{item['id']}/reports/latest"
    for link, report in ((links["latest_report"], latest), (links["last_generated_report"], last)):
        got = run(fake, "api", link)
        assert got.exit_code == 0, got.output
        assert lines(got)[0]["data"]["id"] == report.id


def test_api_errors(fake: FakeTrakk) -> None:
    missing = run(fake, "api", "/nothing/here")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("trakk: error: NotFoundError")
    elsewhere = run(fake, "api", "https://trakk.example/api/v1/me")
    assert elsewhere.exit_code == 2
    assert "not below the base URL" in elsewhere.stderr
    climbing = run(fake, "api", fake.base_url + "/projects/%2e%2e/users")
    assert climbing.exit_code == 2
    assert "below the base URL" in climbing.stderr


# -- the library's log records, each printed once ------------------------------------------


@pytest.fixture(scope="module")
def deviating() -> Iterator[tuple[FakeInThread, int]]:
    """A fake of its own with a project whose ``cc_email`` is a number: reading it logs
    the tolerant reader's one WARNING for ``Project.cc_email``."""
    server = FakeInThread(projects=3)
    pid = server.call(lambda: server.fake.add_project(cc_email=12345))
    yield server, pid
    server.close()


DEVIATION = "$.data.cc_email holds an integer where a string belongs"


class _ToStderr(logging.Handler):
    """The root handler of a program that configured logging to stderr (as basicConfig
    does), writing to whatever ``sys.stderr`` is when a record comes."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


@pytest.mark.parametrize("root_to_stderr", [False, True], ids=["pytest-root", "stderr-root"])
@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "verbose"])
def test_a_library_warning_prints_once_whoever_configured_logging(
    deviating: tuple[FakeInThread, int], verbose: list[str], root_to_stderr: bool
) -> None:
    """In-process, the root logger has pytest's capturing handlers (which took the record
    away from the command's stderr), and with ``stderr-root`` also one printing to stderr
    (which printed it a second time with ``-v``)."""
    server, pid = deviating
    root, handler = logging.getLogger(), _ToStderr()
    if root_to_stderr:
        root.addHandler(handler)
    try:
        result = run(server.fake, "project", str(pid), *verbose)
    finally:
        root.removeHandler(handler)
    assert result.exit_code == 0, result.output
    assert result.stderr.count(DEVIATION) == 1, result.stderr
    assert (f"GET /projects/{pid} -> 200" in result.stderr) == bool(verbose)  # -v: requests
    assert logging.getLogger("trakk_async").propagate  # as it was before the command


@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "verbose"])
def test_a_library_warning_prints_once_in_a_process_of_its_own(
    deviating: tuple[FakeInThread, int], verbose: list[str]
) -> None:
    server, pid = deviating
    env = {**os.environ, "TRAKK_API_TOKEN": server.fake.token}
    env["TRAKK_BASE_URL"] = server.fake.base_url
    done = subprocess.run(
        [sys.executable, "-m", "trakk_async.cli", "project", str(pid), *verbose],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(DEVIATION) == 1, done.stderr
    assert server.fake.token not in done.stdout + done.stderr


# -- global options after the command -----------------------------------------------------


def test_global_options_after_the_command(fake: FakeTrakk) -> None:
    wrong = "trk_wrong_0123456789abcdef0123456789abcdef"
    after = run(fake, "me", "--json", "--token", fake.token, token=wrong)
    assert after.exit_code == 0, after.output
    assert lines(after)[0]["agency_id"] == fake.agency_id

    # Given twice, the one after the command wins.
    assert run(fake, "--token", wrong, "me", "--token", fake.token).exit_code == 0
    assert run(fake, "--token", fake.token, "me", "--token", wrong).exit_code == 1

    verbose = run(fake, "me", "-v")
    assert verbose.exit_code == 0
    assert "GET /me -> 200" in verbose.stderr
    assert fake.token not in verbose.output


def test_export_of_one_project_is_singular(fake: FakeTrakk, tmp_path: Path) -> None:
    pid = fake.project_ids()[5]
    result = run(fake, "export", str(tmp_path), "--project", str(pid))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"exported 1 project to {tmp_path}: ")


# -- saying what a long wait is for ------------------------------------------------------


def test_a_429_wait_is_logged_with_v(fake: FakeTrakk, served: FakeInThread) -> None:
    served.call(lambda: fake.inject_fault("429", count=1, seconds=3))
    result = run(fake, "-v", "me", "--json")
    assert result.exit_code == 0, result.output
    assert "waiting 3s for the rate limit (429 on GET /me, then retry 1)" in result.stderr


def test_short_waits_are_not_told(fake: FakeTrakk, served: FakeInThread) -> None:
    served.call(lambda: fake.inject_fault("500", count=1))
    result = run(fake, "-v", "me", "--json")
    assert result.exit_code == 0, result.output
    assert "retrying GET /me" in result.stderr  # the SDK's own debug line
    assert "trakk_async.cli" not in result.stderr  # a backoff under 2 s: no wait line


def test_a_rate_limit_wait_is_logged_with_v() -> None:
    # One request per 5 s, and two pages to fetch: the second waits about 5 s.
    slow = FakeInThread(projects=150, agencies=1, rate_limits=[(1, 5.0)])
    try:
        result = run(slow.fake, "-v", "--rate-limit", "1/5", "projects", "--json")
    finally:
        slow.close()
    assert result.exit_code == 0, result.output
    assert len(lines(result)) == 150
    assert "for the rate limit (1 request per 5s)" in result.stderr


def test_a_wait_is_a_status_line_on_a_terminal(fake: FakeTrakk, served: FakeInThread) -> None:
    served.call(lambda: fake.inject_fault("429", count=1, seconds=3))
    leader, follower = pty.openpty()
    env = _subprocess_env(
        TRAKK_API_TOKEN=fake.token, TRAKK_BASE_URL=fake.base_url, TERM="xterm", COLUMNS="120"
    )
    with subprocess.Popen(
        [sys.executable, "-m", "trakk_async.cli", "me", "--json"],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
    ) as process:
        os.close(follower)
        out, _ = process.communicate(timeout=120)
        terminal = _read_all(leader)
    assert process.returncode == 0
    assert orjson.loads(out)["agency_id"] == fake.agency_id  # stdout stays clean
    assert "waiting for the rate limit (429 on GET /me, then retry 1): 3s left" in terminal


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


async def test_the_watch_says_when_watching_begins(fake: FakeTrakk, served: FakeInThread) -> None:
    pid = served.call(lambda: fake.add_project())
    served.call(lambda: fake.complete_report(pid, fake.start_next_report(pid)))
    env = _subprocess_env(TRAKK_API_TOKEN=fake.token, TRAKK_BASE_URL=fake.base_url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trakk_async.cli",
        "watch",
        "--project",
        str(pid),
        "--max-events",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    async with asyncio.timeout(120):
        first = await proc.stderr.readline()
        assert b"reading every project's current report first" in first
        ready = await proc.stderr.readline()
        assert b"baseline done for 1 project; watching for new reports" in ready
        # Only now does a new report count as an event (before, it was the baseline).
        number = served.call(lambda: fake.start_next_report(pid))
        served.call(lambda: fake.complete_report(pid, number))
        event = orjson.loads(await proc.stdout.readline())
        await proc.wait()
    assert (event["project_id"], event["report"]["report_number"]) == (pid, number)
    assert proc.returncode == 0


# -- a reader that leaves early: every command exits 0 ------------------------------------


#: Every command, as run in the pipe tests (placeholders filled in per test).
EVERY_COMMAND: dict[str, str] = {
    "me": "me",
    "projects": "projects",
    "projects --json": "projects --json",
    "project": "project {pid}",
    "reports": "reports {pid}",
    "content": "content {pid} {number}",
    "content --json": "content {pid} {number} --json",
    "keywords": "keywords {pid}",
    "countries": "countries",
    "languages": "languages --json",
    "users": "users",
    "api": "api /projects",
    "export": "export {tmp}/out --project {pid}",
    "watch": "watch --project {watched} --checkpoint {db} --max-events 1",
    "help": "--help",
    "demo": "demo --projects 1",
}
COMMAND_NAMES = list(EVERY_COMMAND)


@pytest.fixture
def commands(served: FakeInThread, tmp_path: Path) -> dict[str, list[str]]:
    """Each command's arguments. Per test: the watch's checkpoint must hold an event that
    was not delivered yet, so that the watch's first look writes it."""
    pid, number = _completed(served.fake, served)
    db = tmp_path / "seen.db"
    watched, _ = _event_ready(served.fake, served, db)
    values = {"pid": pid, "number": number, "tmp": tmp_path, "db": db, "watched": watched}
    return {name: shlex.split(line.format(**values)) for name, line in EVERY_COMMAND.items()}


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_piped_into_head_every_command_exits_0(
    fake: FakeTrakk, commands: dict[str, list[str]], name: str
) -> None:
    """``trakk ... | head -1`` through a real shell pipe."""
    env = _subprocess_env(TRAKK_API_TOKEN=fake.token, TRAKK_BASE_URL=fake.base_url)
    trakk = shlex.join([sys.executable, "-m", "trakk_async.cli", *commands[name]])
    done = subprocess.run(
        ["bash", "-c", f"{trakk} | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    assert b"rror" not in done.stderr


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_every_command_exits_0_when_its_reader_is_gone(
    fake: FakeTrakk, commands: dict[str, list[str]], name: str
) -> None:
    """The reader closed the pipe before the first write: every write is a broken pipe."""
    env = _subprocess_env(TRAKK_API_TOKEN=fake.token, TRAKK_BASE_URL=fake.base_url)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "trakk_async.cli", *commands[name]],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    assert b"rror" not in done.stderr
