"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aioresponses import aioresponses
from hypothesis import settings

from tests import aioresponses_shim

aioresponses_shim.install()

# The CI machine is shared and noisy: an example's duration says nothing about its
# correctness, so no per-example deadline (a failure still prints its reproduction blob).
settings.register_profile("trakk", deadline=None, print_blob=True)
settings.load_profile("trakk")

#: The fake base URL of the aioresponses-level unit tests (never contacted).
BASE_URL = "https://api.trakk.test/api/v1"
TOKEN = "tk_live_SECRET_0123456789abcdef"


@pytest.fixture
def mock_api() -> Iterator[aioresponses]:
    """Intercepts every aiohttp request of the test; unmatched ones raise."""
    with aioresponses() as mocked:
        yield mocked
