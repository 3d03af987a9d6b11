"""pytest fixtures for code that talks to Trakk: ``fake_trakk`` and ``trakk_client``.

trakk-async installs this module as a ``pytest11`` plugin. It lives outside the
``trakk_async`` package and imports nothing of it (``import trakk_async`` loads aiohttp and
the whole SDK), so a test run that does not use the fixtures does not pay for them; they
import :class:`trakk_async.testing.FakeTrakk` and the client when a test first asks.

``fake_trakk`` is a running ``FakeTrakk`` (25 projects, the realistic profile, rate limits
high enough never to bite); ``trakk_client`` is a ``TrakkClient`` for it with its agency
token, whose limiter has the fake's windows::

    import pytest

    @pytest.mark.asyncio
    async def test_lists_projects(fake_trakk, trakk_client):
        projects = [p async for p in trakk_client.projects.list()]
        assert [p.id for p in projects] == fake_trakk.project_ids()

They serve on the test's event loop, so the test is async and run by pytest-asyncio
(``@pytest.mark.asyncio``, or ``asyncio_mode = auto``) or by anyio's plugin
(``@pytest.mark.anyio``, asyncio backend). ``@pytest.mark.trakk_fake(tidy=True,
projects=100, ...)`` sets the fake's options for a test; ``--trakk-fake-seed N`` and
``--trakk-fake-tidy`` set the seed and the profile for a run.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest

#: The ``fake_trakk`` fixture's defaults (a test's ``trakk_fake`` marker overrides them).
FIXTURE_PROJECTS = 25
FIXTURE_RATE_LIMITS = ((100_000, 60.0),)
#: The client limiter's window when the fake is unlimited: one no test reaches.
UNREACHABLE_WINDOW = (10**9, 1.0)
MARKER = "trakk_fake"
_OPTIONS = frozenset(
    {"seed", "projects", "agencies", "today", "rate_limits", "tidy", "advance_every"}
)
_ASYNCIO_PLUGIN = "trakk_async.asyncio_fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("trakk_async", "fake Trakk server (trakk_async.testing)")
    group.addoption(
        "--trakk-fake-seed",
        type=int,
        default=1,
        help="seed of the fake_trakk fixture's world (default: 1)",
    )
    group.addoption(
        "--trakk-fake-tidy",
        action="store_true",
        default=False,
        help="fake_trakk serves the reference's exact shapes, not the realistic profile",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): options of the fake_trakk fixture for this test: seed, "
        "projects, agencies, today, rate_limits, tidy, advance_every",
    )
    pm = config.pluginmanager
    if pm.has_plugin("asyncio") and not pm.has_plugin(_ASYNCIO_PLUGIN):
        pm.register(_asyncio_fixtures(), _ASYNCIO_PLUGIN)


# -- what the fixtures build -----------------------------------------------------------


def _fake_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {
        "seed": request.config.getoption("--trakk-fake-seed", default=1),
        "projects": FIXTURE_PROJECTS,
        "rate_limits": FIXTURE_RATE_LIMITS,
        "tidy": bool(request.config.getoption("--trakk-fake-tidy", default=False)),
    }
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        unknown = sorted(set(marker.kwargs) - _OPTIONS)
        if marker.args or unknown:
            pytest.fail(
                f"@pytest.mark.{MARKER} takes keyword options only, among "
                f"{', '.join(sorted(_OPTIONS))}; got {marker.args or ''}{unknown or ''}",
                pytrace=False,
            )
        options.update(marker.kwargs)
    return options


async def _running_fake(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    from trakk_async.testing import FakeTrakk  # only now: the plugin must import nothing

    async with FakeTrakk.running(**_fake_options(request)) as fake:
        yield fake


async def _client_of(fake: Any) -> AsyncIterator[Any]:
    from trakk_async import TrakkClient
    from trakk_async.ratelimit import TokenBucketLimiter

    limiter = TokenBucketLimiter(windows=fake.rate_limits() or [UNREACHABLE_WINDOW])
    # Directly (trust_env=False): the fake is on this machine, whatever HTTP_PROXY says;
    # a CI runner's proxy without NO_PROXY for 127.0.0.1 would otherwise get the requests.
    async with TrakkClient(
        fake.token, base_url=fake.base_url, rate_limiter=limiter, trust_env=False
    ) as client:
        yield client


# -- one fixture per event-loop runner ----------------------------------------------------


def _asyncio_fixtures() -> ModuleType:
    """The fixtures as pytest-asyncio runs them; built once it is known to be installed
    (importing it earlier than pytest does would cost every run and upset its rewriting)."""
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def _fake_trakk_asyncio(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
        async for fake in _running_fake(request):
            yield fake

    @pytest_asyncio.fixture
    async def _trakk_client_asyncio(fake_trakk: Any) -> AsyncIterator[Any]:
        async for client in _client_of(fake_trakk):
            yield client

    module = ModuleType(_ASYNCIO_PLUGIN)
    module._fake_trakk_asyncio = _fake_trakk_asyncio  # type: ignore[attr-defined]
    module._trakk_client_asyncio = _trakk_client_asyncio  # type: ignore[attr-defined]
    return module


# anyio's plugin runs plain async fixtures for tests marked @pytest.mark.anyio.
@pytest.fixture
async def _fake_trakk_anyio(
    request: pytest.FixtureRequest, anyio_backend_name: str
) -> AsyncIterator[Any]:
    if anyio_backend_name != "asyncio":
        pytest.skip(
            f"fake_trakk serves with aiohttp, which needs asyncio, not {anyio_backend_name}"
        )
    async for fake in _running_fake(request):
        yield fake


@pytest.fixture
async def _trakk_client_anyio(fake_trakk: Any) -> AsyncIterator[Any]:
    async for client in _client_of(fake_trakk):
        yield client


def _runner(request: pytest.FixtureRequest, fixture: str) -> str:
    """The flavor of ``fixture`` the test's runner drives (``_<fixture>_asyncio`` or
    ``_<fixture>_anyio``), or a failure that says what is missing."""
    function = getattr(request, "function", None)
    inner = getattr(getattr(function, "hypothesis", None), "inner_test", function)
    if not inspect.iscoroutinefunction(inner):
        pytest.fail(
            f"{fixture} serves on the test's event loop: use it from an async test "
            "(async def, run by pytest-asyncio or anyio)",
            pytrace=False,
        )
    if "anyio_backend" in request.fixturenames:
        return f"_{fixture}_anyio"
    if request.config.pluginmanager.has_plugin(_ASYNCIO_PLUGIN):
        if request.node.get_closest_marker("asyncio") is None:
            pytest.fail(
                f"{fixture} needs an async test run by pytest-asyncio: mark it "
                "@pytest.mark.asyncio (or set asyncio_mode = auto in your pytest settings)",
                pytrace=False,
            )
        return f"_{fixture}_asyncio"
    pytest.fail(
        f"{fixture} is an async fixture and no plugin here runs async tests: "
        "pip install pytest-asyncio and mark the test @pytest.mark.asyncio, or use "
        "anyio's pytest plugin and mark it @pytest.mark.anyio",
        pytrace=False,
    )


@pytest.fixture
def fake_trakk(request: pytest.FixtureRequest) -> Any:
    """A ``trakk_async.testing.FakeTrakk`` serving on 127.0.0.1 for one async test."""
    return request.getfixturevalue(_runner(request, "fake_trakk"))


@pytest.fixture
def trakk_client(request: pytest.FixtureRequest, fake_trakk: Any) -> Any:
    """A ``trakk_async.TrakkClient`` for ``fake_trakk``: its agency token and a limiter
    with the fake's rate-limit windows (an unreachable one when the fake is unlimited)."""
    return request.getfixturevalue(_runner(request, "trakk_client"))
