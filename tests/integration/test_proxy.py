"""Proxies from the environment: honoured by default, NO_PROXY and trust_env=False obeyed.

A real forward proxy on loopback (``tests/forward_proxy.py``) in front of the fake. The
target is the fake's ``http://127.0.0.1`` URL: the SDK allows plain http only on
loopback, and a loopback proxy can only forward to loopback. (For https the same proxy
lookup applies and aiohttp tunnels with CONNECT; that needs a certificate the client
trusts, so it is not tested here.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner

from tests.forward_proxy import ForwardProxy
from tests.leaks import leaked_from
from trakk_async import APIConnectionError, Me, TokenBucketLimiter, TrakkClient
from trakk_async.cli import cli
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

T = TypeVar("T")
WIDE_OPEN = [(100_000, 60.0)]
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy and no ~/.netrc of the machine running the tests leaks into them."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    empty = tmp_path / "empty-netrc"
    empty.write_text("")
    monkeypatch.setenv("NETRC", str(empty))


@pytest.fixture
async def fake() -> AsyncIterator[FakeTrakk]:
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=WIDE_OPEN) as server:
        yield server


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy() as server:
        yield server


def client_for(fake: FakeTrakk, **kwargs: Any) -> TrakkClient:
    return TrakkClient(
        fake.token,
        base_url=fake.base_url,
        rate_limiter=TokenBucketLimiter(windows=WIDE_OPEN),
        **kwargs,
    )


async def me_through(fake: FakeTrakk, **kwargs: Any) -> Me:
    async with client_for(fake, **kwargs) as client:
        return await client.me()


async def test_http_proxy_from_the_environment_is_used(
    fake: FakeTrakk, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    me = await me_through(fake)
    assert me.agency_id == fake.agency_id
    ((target, headers),) = proxy.requests
    assert target == f"{fake.base_url}/me"  # absolute-form: a request for the proxy
    assert headers["Authorization"] == f"Bearer {fake.token}"


async def test_the_proxy_is_never_given_the_token_as_its_own_credentials(
    fake: FakeTrakk, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiohttp copies a session's default headers into the proxy's and turns an
    # Authorization among them into Proxy-Authorization.
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    await me_through(fake)
    ((_, headers),) = proxy.requests
    assert "Proxy-Authorization" not in headers


async def test_an_https_connect_carries_no_token(
    proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CONNECT goes to the proxy in clear: it must hold nothing of ours but the host.
    # (The proxy refuses to tunnel, so 127.0.0.1:9 is never contacted.)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    token = "tk_live_connect_0123456789abcdef"
    async with TrakkClient(token, base_url="https://127.0.0.1:9/api/v1", max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.me()
    ((target, headers),) = proxy.connects
    assert target == "127.0.0.1:9"
    assert leaked_from(headers, token) == []
    assert leaked_from(info.value, token) == []
    assert proxy.requests == []


async def test_lowercase_http_proxy_is_used_too(
    fake: FakeTrakk, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", proxy.url)
    await me_through(fake)
    assert len(proxy.requests) == 1


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*", ".0.0.1"])
async def test_no_proxy_is_obeyed(
    fake: FakeTrakk, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    me = await me_through(fake)
    assert me.agency_id == fake.agency_id
    assert proxy.requests == []


async def test_trust_env_false_connects_directly(
    fake: FakeTrakk, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    await me_through(fake, trust_env=False)
    assert proxy.requests == []


async def test_proxy_credentials_from_its_url_are_sent_and_kept_secret(
    fake: FakeTrakk, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ForwardProxy(credentials=("proxyuser", "pr0xy-s3cret")) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        me = await me_through(fake)
        assert me.agency_id == fake.agency_id
        ((_, headers),) = proxy.requests
        assert headers["Proxy-Authorization"].startswith("Basic ")
        # A wrong password: the proxy's 407 is an error that shows neither secret.
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("pr0xy-s3cret", "wrong-s3cret"))
        async with client_for(fake, max_retries=0) as client:
            with pytest.raises(Exception) as info:
                await client.me()
    assert leaked_from(info.value, "wrong-s3cret") == []
    assert leaked_from(info.value, fake.token) == []


async def test_a_dead_proxy_is_a_connection_error(
    fake: FakeTrakk, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ForwardProxy() as proxy:
        dead = proxy.url
    monkeypatch.setenv("HTTP_PROXY", dead.replace("http://", "http://user:dead-s3cret@"))
    async with client_for(fake, max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.me()
    assert leaked_from(info.value, "dead-s3cret") == []


async def test_a_netrc_entry_for_trakk_neither_breaks_nor_replaces_the_token(
    fake: FakeTrakk, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # With aiohttp's trust_env=True, a ~/.netrc entry for the API's host (or a default
    # one) makes every request fail: aiohttp will not combine it with our Authorization.
    netrc = tmp_path / "netrc"
    netrc.write_text(
        "machine 127.0.0.1 login alice password wonderland\ndefault login x password y\n"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    me = await me_through(fake)
    assert me.agency_id == fake.agency_id
    ((_, headers),) = proxy.requests
    assert headers["Authorization"] == f"Bearer {fake.token}"


# ------------------------------------------------------------------------------ CLI


class LoopThread:
    """An event loop on a daemon thread: the servers of a test that runs ``trakk``."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run_coroutine_threadsafe(work(), self.loop).result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def servers() -> Iterator[tuple[FakeTrakk, ForwardProxy]]:
    thread = LoopThread()
    fake = FakeTrakk(seed=1, projects=5, rate_limits=WIDE_OPEN)
    proxy = ForwardProxy()

    async def start() -> None:
        await fake.start()
        await proxy.__aenter__()

    async def stop() -> None:
        await proxy.__aexit__(None, None, None)
        await fake.close()

    thread.run(start)
    yield fake, proxy
    thread.run(stop)
    thread.close()


@pytest.mark.parametrize(
    ("args", "env", "proxied"),
    [
        ((), {}, True),
        (("--no-env-proxy",), {}, False),
        ((), {"TRAKK_NO_ENV_PROXY": "1"}, False),
        ((), {"NO_PROXY": "127.0.0.1"}, False),
    ],
)
def test_the_cli_honours_the_proxy_unless_told_not_to(
    servers: tuple[FakeTrakk, ForwardProxy],
    args: tuple[str, ...],
    env: dict[str, str],
    proxied: bool,
) -> None:
    fake, proxy = servers
    environ = {
        "TRAKK_API_TOKEN": fake.token,
        "TRAKK_BASE_URL": fake.base_url,
        "HTTP_PROXY": proxy.url,
        **env,
    }
    result = CliRunner().invoke(cli, [*args, "me", "--json"], env=environ, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(proxy.requests) == (1 if proxied else 0)
