"""The layers of ARCHITECTURE.md hold: every import-linter contract of pyproject.toml is kept.

``lint-imports`` runs in a subprocess from the repository root, so that CI (which runs the
test suite) checks the contracts as ``nox -s lint`` does. The other tests break a contract
in a copy of the package and check that the run fails, so this check cannot pass vacuously.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: ``lint-imports`` (import-linter's console script) from this interpreter's environment,
#: without depending on where that environment puts its scripts. ``--no-cache``: nothing
#: written into the checkout, and no stale graph.
LINT_IMPORTS = (
    sys.executable,
    "-c",
    "from importlinter.cli import lint_imports_command; lint_imports_command()",
    "--no-cache",
    "--no-logo",
)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        LINT_IMPORTS, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_every_import_contract_is_kept() -> None:
    run = lint_imports(ROOT)
    assert run.returncode == 0, f"lint-imports failed:\n{run.stdout}\n{run.stderr}"
    assert "0 broken" in run.stdout, run.stdout


@pytest.mark.parametrize(
    ("module", "added", "named"),
    [
        # Under TYPE_CHECKING, as the cycle resources <-> client once was: counted too.
        (
            "_client/resources.py",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from trakk_async._client.client import TrakkClient\n",
            "No cycles are allowed in trakk_async._client",
        ),
        ("_core/timing.py", "import aiohttp\n", "trakk_async._core.timing -> aiohttp"),
        (
            "_protocol/paging.py",
            "def f() -> None:\n    import trakk_async.cli\n",
            "trakk_async._protocol.paging -> trakk_async.cli",
        ),
    ],
    ids=["cycle-under-type-checking", "aiohttp-outside-transport", "upward-inside-function"],
)
def test_a_broken_contract_fails_the_run(
    tmp_path: Path, module: str, added: str, named: str
) -> None:
    shutil.copytree(
        ROOT / "trakk_async",
        tmp_path / "trakk_async",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "trakk_async" / module
    target.write_text(target.read_text(encoding="utf-8") + "\n" + added, encoding="utf-8")

    run = lint_imports(tmp_path)

    assert run.returncode != 0, run.stdout
    assert "BROKEN" in run.stdout, run.stdout
    assert named in run.stdout, run.stdout
