"""Fixtures shared by the whole suite."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from aioresponses import aioresponses
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from tests import aioresponses_shim

aioresponses_shim.install()

# Hypothesis profiles. Neither keeps an example database (no .hypothesis/ folder appears
# in the work tree), and neither has a per-example deadline: the CI machine is shared and
# noisy, so an example's duration says nothing about its correctness.
# - "dev" (default): random examples; a failure prints the blob that reproduces it.
# - "ci" (selected when CI is set, as .ci/run does): derandomized, so every CI run draws the
#   same examples and a red build is never a roll of the dice.
# HYPOTHESIS_PROFILE=dev|ci overrides the choice.
settings.register_profile("dev", deadline=None, print_blob=True, database=None)
settings.register_profile("ci", settings.get_profile("dev"), derandomize=True)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or (
    "ci" if os.environ.get("CI") else "dev"
)
settings.load_profile(HYPOTHESIS_PROFILE)
# Hypothesis also caches constants and unicode tables in its home folder: keep those out of
# the work tree too, in a folder removed when the run ends.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="trakk-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)

#: The fake base URL of the aioresponses-level unit tests (never contacted).
BASE_URL = "https://api.trakk.test/api/v1"
TOKEN = "tk_live_SECRET_0123456789abcdef"


@pytest.fixture
def mock_api() -> Iterator[aioresponses]:
    """Intercepts every aiohttp request of the test; unmatched ones raise."""
    with aioresponses() as mocked:
        yield mocked
