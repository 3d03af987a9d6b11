"""The Hypothesis profile the suite runs under: deterministic in CI, no example database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from tests.conftest import HYPOTHESIS_PROFILE

ROOT = Path(__file__).resolve().parents[2]


def loaded() -> settings:
    """The profile in force (``settings.default`` is typed Optional by Hypothesis)."""
    current = settings.default
    assert current is not None
    return current


def test_the_loaded_profile_keeps_no_example_database() -> None:
    assert loaded().database is None
    assert loaded().deadline is None


def test_a_run_leaves_no_hypothesis_folder_in_the_work_tree(tmp_path: Path) -> None:
    # A fresh interpreter whose working directory is an empty folder runs a property test
    # with the suite's conftest: nothing may appear in that folder.
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "import tests.conftest\n"
        "from hypothesis import given, strategies as st\n"
        "@given(st.text())\n"
        "def check(s): assert isinstance(s, str)\n"
        "check()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert list(tmp_path.iterdir()) == []


def test_ci_selects_the_derandomized_profile() -> None:
    expected = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    assert expected == HYPOTHESIS_PROFILE
    assert loaded().derandomize is (HYPOTHESIS_PROFILE == "ci")


@pytest.mark.parametrize(("env", "derandomized"), [({"CI": "true"}, True), ({}, False)])
def test_profile_choice_in_a_fresh_interpreter(env: dict[str, str], derandomized: bool) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    code = (
        "import tests.conftest; from hypothesis import settings; "
        "print(settings.default.derandomize)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == str(derandomized)
