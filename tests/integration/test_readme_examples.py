"""Every ```python block of README.md is a complete program that runs as written.

As a new user would take them: each block is saved as a file of its own in an empty
folder and run with ``python example.py`` (a block of pytest tests with ``python -m
pytest``) against a ``trakk-fake`` started as the README says, with ``TRAKK_BASE_URL`` and
``TRAKK_API_TOKEN`` set to what it printed; a block importing ``redis`` also gets a real
``redis-server`` (``REDIS_URL``). Every block also passes ``mypy --strict``.

A block that cannot pass a check yet is listed in :data:`PENDING` with the reason: the
check is an expected failure (strict: once it passes, the entry must go).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final, NamedTuple

import pytest

from tests.redis_server import redis_server

README: Final = Path(__file__).parents[2] / "README.md"
#: Outside the work tree (nothing is left there), one per checkout, kept between runs:
#: with it mypy takes seconds instead of half a minute.
MYPY_CACHE: Final = Path(tempfile.gettempdir()) / (
    "trakk-readme-mypy-" + hashlib.sha256(str(README.parent).encode()).hexdigest()[:12]
)
RUN_TIMEOUT: Final = 180.0


class Block(NamedTuple):
    """A ```python block: its id (the section's anchor, numbered if the section has
    several), the line where its code starts, and the code."""

    id: str
    line: int
    code: str


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    section, in_section = "top", 0
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = re.sub(r"[^a-z0-9]+", "-", line.lstrip("#").strip().lower()).strip("-")
            in_section = 0
        elif line.strip() == "```python":
            start = i + 1
            end = lines.index("```", start)
            in_section += 1
            name = section if in_section == 1 else f"{section}-{in_section}"
            blocks.append(Block(name, start + 1, "\n".join(lines[start:end]) + "\n"))
            i = end
        i += 1
    return blocks


BLOCKS: Final = readme_blocks(README.read_text(encoding="utf-8"))

#: Blocks that cannot pass a check yet: block id -> check ("runs", "mypy") -> reason.
#: ``run=False`` blocks would wait for an event the fake cannot produce yet.
PENDING: Final[dict[str, dict[str, tuple[str, bool]]]] = {}


def params(check: str) -> list[object]:
    out: list[object] = []
    for block in BLOCKS:
        pending = PENDING.get(block.id, {}).get(check)
        marks = (
            [pytest.mark.xfail(reason=pending[0], run=pending[1], strict=True)] if pending else []
        )
        out.append(pytest.param(block, id=block.id, marks=marks))
    return out


def is_test_module(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
        for node in tree.body
    )


def runs_main(tree: ast.Module) -> bool:
    """The module's last statement is ``asyncio.run(main())`` (or runs another coroutine)."""
    last = tree.body[-1] if tree.body else None
    return (
        isinstance(last, ast.Expr)
        and isinstance(last.value, ast.Call)
        and ast.unparse(last.value.func) == "asyncio.run"
    )


def test_the_readme_has_its_examples() -> None:
    assert len(BLOCKS) >= 12
    assert len({b.id for b in BLOCKS}) == len(BLOCKS)
    assert set(PENDING) <= {b.id for b in BLOCKS}, "a PENDING entry names no block"


@pytest.mark.parametrize("block", params("complete"))
def test_every_block_is_a_complete_program(block: Block) -> None:
    where = f"README.md line {block.line}"
    try:
        tree = ast.parse(block.code, filename=where)  # a top-level await fails here
    except SyntaxError as error:
        pytest.fail(f"{where}: not a program ({error.msg}, line {error.lineno})")
    assert runs_main(tree) or is_test_module(tree), (
        f"{where}: neither ends in asyncio.run(main()) nor defines pytest tests"
    )


# -- running them ------------------------------------------------------------------------


class FakeServer(NamedTuple):
    base_url: str
    token: str


def _console_script(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed next to {sys.executable}"
    return found


#: The options the README's quick start gives ``trakk-fake`` (``--port 0`` here: any free
#: port): ``--advance 1`` moves reports along, for the waiting and watching examples.
FAKE_OPTIONS: Final = ("--advance", "1")


def test_the_readme_starts_trakk_fake_as_the_test_does() -> None:
    """The quick start's ``trakk-fake`` command carries the options the examples run with."""
    text = README.read_text(encoding="utf-8")
    command = re.search(r"^trakk-fake (.*?)(?:#|$)", text, re.M)
    assert command, "the README never says how to start trakk-fake"
    options = command.group(1).split()
    assert options[:2] == ["--port", "8080"], options
    assert tuple(options[2:]) == FAKE_OPTIONS, options


def _drain(stream: IO[str]) -> None:
    """Read what the fake prints from here on (each report it moves), so that a full pipe
    never blocks its event loop."""
    for _ in stream:
        pass


@pytest.fixture
def trakk_fake() -> Iterator[FakeServer]:
    """``trakk-fake`` as the README starts it (on a free port), and what it printed."""
    process = subprocess.Popen(
        [_console_script("trakk-fake"), "--port", "0", *FAKE_OPTIONS],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed = []
        for line in process.stdout:
            printed.append(line)
            if "Press Ctrl-C" in line:
                break
        threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
        text = "".join(printed)
        url = re.search(r"(http://127\.0\.0\.1:\d+/api/v1)", text)
        token = re.search(r"agency token[^:]*:\s*(\S+)", text)
        assert url, f"no base URL in what trakk-fake printed:\n{text}"
        assert token, f"no agency token in what trakk-fake printed:\n{text}"
        yield FakeServer(url.group(1), token.group(1))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _environment(fake: FakeServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAKK_", "PYTEST_"))}
    return env | {"TRAKK_BASE_URL": fake.base_url, "TRAKK_API_TOKEN": fake.token} | extra


def _run(block: Block, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if is_test_module(ast.parse(block.code)):
        (folder / "test_example.py").write_text(block.code)
        command = [sys.executable, "-m", "pytest", "-q", "test_example.py"]
    else:
        (folder / "example.py").write_text(block.code)
        command = [sys.executable, "example.py"]
    return subprocess.run(
        command,
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


@pytest.mark.integration
@pytest.mark.parametrize("block", params("runs"))
def test_every_block_runs_against_trakk_fake(
    block: Block, trakk_fake: FakeServer, tmp_path: Path
) -> None:
    extra: dict[str, str] = {}
    with _redis_if_needed(block) as redis_url:
        if redis_url:
            extra["REDIS_URL"] = redis_url
        done = _run(block, tmp_path, _environment(trakk_fake, **extra))
    where = f"README.md line {block.line}"
    assert done.returncode == 0, f"{where} failed:\n{done.stdout}\n{done.stderr}"
    assert done.stdout.strip(), f"{where} printed nothing"
    assert trakk_fake.token not in done.stdout + done.stderr


def _redis_if_needed(block: Block) -> contextlib.AbstractContextManager[str | None]:
    """A throwaway redis-server for a block that imports redis (its URL), else nothing."""
    if re.search(r"^import redis", block.code, re.M):
        return redis_server()
    return contextlib.nullcontext()


# -- mypy --strict -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """One ``mypy --strict`` run over every block (each a module of its own): errors by id."""
    folder = tmp_path_factory.mktemp("readme-mypy")
    files = {}
    for number, block in enumerate(BLOCKS, 1):
        module = f"readme_{number:02d}"
        (folder / f"{module}.py").write_text(block.code)
        files[f"{module}.py"] = block.id
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-color-output",
            f"--cache-dir={MYPY_CACHE}",
            *sorted(files),
        ],
        cwd=folder,  # no config file there: plain --strict, as a user runs it
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    errors: dict[str, list[str]] = {block_id: [] for block_id in files.values()}
    for line in done.stdout.splitlines():
        name = line.split(":", 1)[0]
        if name in files:
            errors[files[name]].append(line)
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2: mypy itself failed
    return errors


@pytest.mark.parametrize("block", params("mypy"))
def test_every_block_passes_mypy_strict(block: Block, mypy_errors: dict[str, list[str]]) -> None:
    assert mypy_errors[block.id] == [], f"README.md line {block.line}:\n" + "\n".join(
        mypy_errors[block.id]
    )
