"""Developer sessions: ``nox -s tests``, ``nox -s lint typecheck``, ``nox -s bench``."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck"]

ROOT = Path(__file__).parent
BENCHMARKS = sorted(p.name for p in (ROOT / "benchmarks").glob("bench_*.py"))


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole test suite."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff (lint and formatting) and import-linter (the layers of ARCHITECTURE.md)."""
    session.install("ruff", "import-linter>=2.1")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # import-linter reads the source, it does not import it: the package need not be
    # installed, only found from the project root (the session's working directory).
    session.run("lint-imports", "--no-cache")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the benchmarks."""
    session.install("-e", ".[test,bench,redis]", "mypy", "nox")
    session.run("mypy", "--strict")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Every benchmark in benchmarks/, one after another (figures go to their README)."""
    session.install("-e", ".[test,bench,redis]")
    for name in session.posargs or BENCHMARKS:
        session.run("python", f"benchmarks/{name}")
