"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aioresponses import aioresponses

from tests import aioresponses_shim

aioresponses_shim.install()

#: The fake base URL of the aioresponses-level unit tests (never contacted).
BASE_URL = "https://api.trakk.test/api/v1"
TOKEN = "tk_live_SECRET_0123456789abcdef"


@pytest.fixture
def mock_api() -> Iterator[aioresponses]:
    """Intercepts every aiohttp request of the test; unmatched ones raise."""
    with aioresponses() as mocked:
        yield mocked
