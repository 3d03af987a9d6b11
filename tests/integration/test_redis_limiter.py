"""The limiters over real loopback HTTP against Laravel fixed windows, and through Redis.

Two servers: :class:`FakeTrakk` behind real :class:`TrakkClient` s, and a minimal
Laravel-window server (below, in its own thread and event loop) used through the client's
seam (``acquire`` -> GET -> ``observe``, a 429 retried through the limiter up to three
times) where a test must tell our 429s from another consumer's. Windows open at the
first request and a spent one answers 429 with ``Retry-After`` / ``X-RateLimit-Reset``.
Assertions are counts on the server side (429s sent, most requests inside one window),
never durations. Tests needing a real ``redis-server`` are marked ``redis``.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.redis_server import redis_server
from trakk_async import TrakkClient
from trakk_async._core.errors import APIConnectionError, RateLimitError
from trakk_async.ratelimit import RateLimiter, TokenBucketLimiter
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tk_live_SECRET_0123456789abcdef"
WINDOWS = [(20, 0.5), (100, 2.5)]


class LaravelServer:
    """``GET /api/v1/me`` behind Laravel fixed windows, per token, in a background thread."""

    def __init__(self, windows: list[tuple[int, float]]) -> None:
        self.windows = windows
        self._opened: list[float | None] = [None] * len(windows)
        self._hits = [0] * len(windows)
        self.accepted = 0
        self.refused = 0
        #: 429s sent to requests with ``X-Consumer: other`` (not ours)
        self.refused_other = 0
        #: window seconds -> the most requests accepted inside one window
        self.max_in_window: dict[float, int] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def set_windows(self, windows: list[tuple[int, float]]) -> None:
        self._loop.call_soon_threadsafe(self._reset, windows)

    def _reset(self, windows: list[tuple[int, float]]) -> None:
        self.windows = windows
        self._opened = [None] * len(windows)
        self._hits = [0] * len(windows)

    def _hit(self) -> dict[str, str]:
        now = time.monotonic()
        for i, (_, seconds) in enumerate(self.windows):
            opened = self._opened[i]
            if opened is not None and now >= opened + seconds:
                self._opened[i], self._hits[i] = None, 0
        spent = [i for i, (limit, _) in enumerate(self.windows) if self._hits[i] >= limit]
        if spent:
            self.refused += 1
            i = max(spent, key=lambda k: (self._opened[k] or now) + self.windows[k][1])
            reset_in = (self._opened[i] or now) + self.windows[i][1] - now
            return {
                "status": "429",
                "X-RateLimit-Limit": str(self.windows[i][0]),
                "X-RateLimit-Remaining": "0",
                "Retry-After": str(max(1, math.ceil(reset_in))),
                "X-RateLimit-Reset": str(math.ceil(time.time() + reset_in)),
            }
        self.accepted += 1
        for i, (_, seconds) in enumerate(self.windows):
            if self._opened[i] is None:
                self._opened[i] = now
            self._hits[i] += 1
            self.max_in_window[seconds] = max(self.max_in_window.get(seconds, 0), self._hits[i])
        left = min(range(len(self.windows)), key=lambda k: self.windows[k][0] - self._hits[k])
        return {
            "status": "200",
            "X-RateLimit-Limit": str(self.windows[left][0]),
            "X-RateLimit-Remaining": str(self.windows[left][0] - self._hits[left]),
        }

    async def _me(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": {"code": "unauthenticated"}}, status=401)
        headers = self._hit()
        status = int(headers.pop("status"))
        if status == 429 and request.headers.get("X-Consumer") == "other":
            self.refused_other += 1
        body = {"id": 1, "name": "t"} if status == 200 else {"error": {"code": "x"}}
        return web.json_response(body, status=status, headers=headers)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/api/v1/me", self._me)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/me"

    def __enter__(self) -> LaravelServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()


async def get(session: aiohttp.ClientSession, limiter: RateLimiter, url: str) -> int:
    """One GET through the seam, 429s retried through the limiter; returns the 429s seen."""
    seen = 0
    for _ in range(4):
        await limiter.acquire()
        async with session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            await resp.read()
            limiter.observe(resp.status, resp.headers)
            if resp.status == 200:
                return seen
            assert resp.status == 429
            seen += 1
    raise AssertionError("still 429 after 3 retries")


async def run_load(limiter: RateLimiter, url: str, requests: int, tasks: int) -> int:
    """``requests`` GETs by ``tasks`` concurrent tasks; returns the 429s they saw."""
    todo = iter(range(requests))
    seen = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal seen
        for _ in todo:
            refused = await get(session, limiter, url)
            seen += refused

    connector = aiohttp.TCPConnector(limit=tasks)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(tasks)))
    return seen


@pytest.fixture
def server() -> Iterator[LaravelServer]:
    with LaravelServer(WINDOWS) as srv:
        yield srv


# --------------------------------------------------------------------------- in-process


async def test_a_second_consumer_slows_us_down_without_failures(server: LaravelServer) -> None:
    limiter = TokenBucketLimiter(windows=WINDOWS)
    stop = asyncio.Event()
    foreign = 0

    async def other_tool() -> None:
        # Another program on the same token, without our limiter: 4 requests every 0.5 s.
        nonlocal foreign
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Consumer": "other"}
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                for _ in range(4):
                    async with session.get(server.url, headers=headers) as resp:
                        foreign += resp.status == 200
                await asyncio.sleep(0.5)

    other = asyncio.ensure_future(other_tool())
    try:
        seen = await run_load(limiter, server.url, 150, 64)  # every request succeeds
    finally:
        stop.set()
        await other
    assert server.accepted == 150 + foreign
    assert server.refused - server.refused_other == seen
    print(f"ours: 429 x {seen}; the other tool: {foreign} ok, 429 x {server.refused_other}")
    # The limiter booked what the server counted beyond our requests: 429s stay rare.
    assert seen <= 20


# --------------------------------------------------------------------------- TrakkClient


async def client_load(clients: list[TrakkClient], requests: int, tasks: int) -> None:
    todo = iter(range(requests))

    async def worker(client: TrakkClient) -> None:
        for _ in todo:
            await client.get_json("/me")

    await asyncio.gather(*(worker(clients[k % len(clients)]) for k in range(tasks)))


async def test_trakk_clients_sharing_a_limiter_draw_no_429_from_the_fake() -> None:
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=WINDOWS) as fake:
        limiter = TokenBucketLimiter(windows=WINDOWS)
        async with (
            TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as a,
            TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as b,
        ):
            await client_load([a, b], 300, 64)
            snap = a.rate_limit
        stats = fake.stats()
    assert stats.requests == 300
    assert stats.rate_limited == 0
    assert stats.max_in_window[0.5] <= 20
    assert stats.max_in_window[2.5] <= 100
    assert [(w.limit, w.seconds) for w in snap.windows] == WINDOWS


async def test_a_token_with_a_lower_limit_finishes_without_an_error() -> None:
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=WINDOWS) as fake:
        fake.set_rate_limits(fake.token, [(10, 0.5), (60, 2.5)])
        limiter = TokenBucketLimiter(windows=WINDOWS)
        async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
            await client_load([c], 120, 64)
        stats = fake.stats()
    assert limiter.windows[0] == (10, 0.5)
    assert stats.requests - stats.rate_limited == 120
    assert stats.rate_limited <= 20  # only the first burst, before any answer came back


# --------------------------------------------------------------------------- Redis


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
async def redis_clients(redis_url: str) -> AsyncIterator[list[object]]:
    import redis.asyncio

    clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(4)]
    yield list(clients)
    for client in clients:
        await client.aclose()


def redis_limiter(client: object, **kwargs: object) -> RateLimiter:
    from trakk_async.ratelimit import RedisRateLimiter

    options: dict[str, object] = {"token": TOKEN, "windows": WINDOWS, **kwargs}
    return RedisRateLimiter(client, **options)  # type: ignore[arg-type]


@pytest.mark.redis
async def test_four_limiters_share_one_budget_through_redis(
    server: LaravelServer, redis_clients: list[object]
) -> None:
    limiters = [redis_limiter(c) for c in redis_clients]
    seen = await asyncio.gather(*(run_load(lim, server.url, 75, 16) for lim in limiters))
    assert seen == [0, 0, 0, 0]
    assert server.accepted == 300
    assert server.refused == 0
    assert server.max_in_window[0.5] <= 20
    assert server.max_in_window[2.5] <= 100


CHILD = """
import asyncio, sys
import redis.asyncio
from trakk_async import TrakkClient
from trakk_async.ratelimit import RedisRateLimiter
from tests.integration.test_redis_limiter import client_load, WINDOWS

async def main(redis_url, base_url, token, requests):
    client = redis.asyncio.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(client, token=token, windows=WINDOWS)
    async with TrakkClient(token, base_url=base_url, rate_limiter=limiter) as trakk:
        await client_load([trakk], requests, 16)
    await limiter.aclose()
    await client.aclose()

redis_url, base_url, token, requests = sys.argv[1:]
asyncio.run(main(redis_url, base_url, token, int(requests)))
"""


@pytest.mark.redis
async def test_four_processes_share_one_budget_through_redis(redis_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=WINDOWS) as fake:
        args = [redis_url, fake.base_url, fake.token, "75"]
        children = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", CHILD, *args, env=env, cwd=ROOT
            )
            for _ in range(4)
        ]
        codes = [await child.wait() for child in children]
        stats = fake.stats()
    assert codes == [0, 0, 0, 0]
    assert stats.requests == 300
    assert stats.rate_limited == 0
    assert stats.max_in_window[0.5] <= 20
    assert stats.max_in_window[2.5] <= 100


@pytest.mark.redis
async def test_a_429_pause_and_a_corrected_limit_are_shared(
    redis_clients: list[object],
) -> None:
    from trakk_async.ratelimit import RedisRateLimiter

    a, b = (redis_limiter(c, windows=[(60, 60.0), (1000, 3600.0)]) for c in redis_clients[:2])
    assert isinstance(a, RedisRateLimiter)
    assert isinstance(b, RedisRateLimiter)
    await b.acquire()
    a.observe(200, {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "10"})
    await a.aclose()
    await b.acquire()
    assert b.windows == ((30, 60.0), (1000, 3600.0))
    # The server counted 20, we booked 1: the 19 others are booked in Redis for everyone.
    assert b.snapshot().windows[0].used == 21
    a.observe(429, {"Retry-After": "20", "X-RateLimit-Limit": "30"})
    await a.aclose()
    with pytest.raises(RateLimitError) as info:
        await b.acquire(max_wait=5.0)
    assert info.value.retry_after is not None
    assert 19.0 < info.value.retry_after <= 21.0


@pytest.mark.redis
async def test_another_process_resumes_after_a_shared_pause_without_a_burst(
    redis_clients: list[object],
) -> None:
    a, b = (redis_limiter(c, windows=[(60, 60.0)]) for c in redis_clients[:2])
    a.observe(429, {"Retry-After": "0"})  # a pause of one second, for everyone
    await a.aclose()  # type: ignore[attr-defined]
    first = asyncio.ensure_future(b.acquire())
    second = asyncio.ensure_future(b.acquire())
    await asyncio.wait_for(first, 5)
    await asyncio.sleep(0.2)
    assert not second.done()  # it waits for the answer to the first request
    assert b.snapshot().windows[0].used == 1
    b.observe(200, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"})
    await asyncio.wait_for(second, 2)
    await b.aclose()  # type: ignore[attr-defined]


@pytest.mark.redis
async def test_keys_name_a_hash_of_the_token_and_expire(
    redis_clients: list[object],
) -> None:
    limiter = redis_limiter(redis_clients[0])
    await limiter.acquire()
    limiter.observe(429, {"Retry-After": "1", "X-RateLimit-Limit": "20"})
    await limiter.aclose()  # type: ignore[attr-defined]
    client = redis_clients[0]
    keys = [k.decode() for k in await client.keys("*")]  # type: ignore[attr-defined]
    assert len(keys) == 4  # pause, limits, two windows
    for key in keys:
        assert TOKEN not in key
        assert "SECRET" not in key
        assert await client.pttl(key) > 0  # type: ignore[attr-defined]


async def test_an_unreachable_redis_is_a_clear_error_not_a_hang() -> None:
    import redis.asyncio

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = redis.asyncio.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    limiter = redis_limiter(client, timeout=2.0)
    with pytest.raises(APIConnectionError, match="rate limiter's Redis did not answer"):
        await limiter.acquire()
    await client.aclose()
