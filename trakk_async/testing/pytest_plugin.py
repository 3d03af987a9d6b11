"""pytest fixtures for testing code that talks to Trakk (entry point ``pytest11``).

``fake_trakk`` is a running :class:`~trakk_async.testing.FakeTrakk` (25 projects, rate
limits high enough never to bite unless a test sets its own with ``set_rate_limits``);
``trakk_client`` is a ``trakk_async.TrakkClient`` pointed at it with its agency token::

    async def test_lists_projects(fake_trakk, trakk_client):
        projects = [p async for p in trakk_client.projects.list()]
        assert [p.id for p in projects] == fake_trakk.project_ids()

The seed comes from ``--trakk-fake-seed`` (default 1). The fixtures need pytest-asyncio;
without it they are not registered. Nothing of ``trakk_async`` beyond this subpackage is
imported until ``trakk_client`` is used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from trakk_async.testing._app import FakeTrakk

#: The ``fake_trakk`` fixture's world size and limits.
FIXTURE_PROJECTS = 25
FIXTURE_RATE_LIMITS = ((100_000, 60.0),)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("trakk_async")
    group.addoption(
        "--trakk-fake-seed",
        type=int,
        default=1,
        help="seed of the fake_trakk fixture's world (default: 1)",
    )


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixtures need pytest-asyncio
    pass
else:

    @pytest_asyncio.fixture
    async def fake_trakk(request: pytest.FixtureRequest) -> AsyncIterator[FakeTrakk]:
        """A :class:`FakeTrakk` serving on 127.0.0.1 for one test."""
        # default: also works when the fixtures are imported without the plugin's option
        seed = int(request.config.getoption("--trakk-fake-seed", default=1))
        async with FakeTrakk.running(
            seed=seed, projects=FIXTURE_PROJECTS, rate_limits=FIXTURE_RATE_LIMITS
        ) as fake:
            yield fake

    @pytest_asyncio.fixture
    async def trakk_client(fake_trakk: FakeTrakk) -> AsyncIterator[Any]:
        """A ``trakk_async.TrakkClient`` for ``fake_trakk`` with its agency token."""
        from trakk_async import TrakkClient  # lazy: the plugin loads before the SDK is needed

        async with TrakkClient(token=fake_trakk.token, base_url=fake_trakk.base_url) as client:
            yield client
