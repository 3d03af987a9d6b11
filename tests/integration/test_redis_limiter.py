"""RedisRateLimiter against a real ``redis-server``: the same rules as in memory, shared.

Every test here needs the ``redis-server`` binary (``tests/redis_server.py`` starts a
throwaway one); those marked ``redis`` fail in CI without it. The processes test runs
real client processes against the fake over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.redis_server import redis_server
from trakk_async import TrakkClient
from trakk_async._core.errors import APIConnectionError, RateLimitError
from trakk_async.ratelimit._core import Update
from trakk_async.ratelimit._log import Budget
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tk_live_SECRET_0123456789abcdef"
#: The windows of the processes test (and of benchmarks/bench_limiter.py's live rows).
WINDOWS = [(20, 1.0), (100, 5.0)]


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
async def redis_clients(redis_url: str) -> AsyncIterator[list[Any]]:
    import redis.asyncio

    clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(4)]
    yield clients
    for client in clients:
        await client.aclose()


def redis_limiter(client: Any, **options: Any) -> Any:
    from trakk_async.ratelimit import RedisRateLimiter

    return RedisRateLimiter(client, **{"token": TOKEN, **options})


# --------------------------------------------------------------------------- same rules

_UPDATES = st.builds(
    Update,
    limit=st.one_of(st.none(), st.integers(5, 40)),
    counted=st.one_of(st.none(), st.integers(0, 40)),
    opened_ago=st.sampled_from([0.0, 10.0, 30.0]),
    redate=st.booleans(),
    refused=st.booleans(),
    learn=st.one_of(st.none(), st.just(1)),
    learn_ago=st.sampled_from([5.0, 1000.0]),
    learn_in_flight=st.integers(0, 2),
    probe_passed=st.booleans(),
)


@pytest.mark.redis
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.one_of(st.just("grant"), st.just("answer alone"), _UPDATES), min_size=1, max_size=25
    )
)
def test_redis_applies_answers_and_decides_as_the_memory_budget_does(
    redis_url: str, steps: list[str | Update]
) -> None:
    """The Lua script and ``_log.Budget`` are two writings of the same operations."""
    import redis.asyncio

    async def run() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        await client.flushall()
        limiter = redis_limiter(client, windows=[(30, 60.0), (50, 3600.0)], margin=0.0)
        limiter._known = (True, False)  # as if the hour were a default: probes happen
        budget = Budget([(30, 60.0), (50, 3600.0)], margin=0.0, known=[True, False])
        now = 1000.0  # the whole sequence runs within milliseconds: one instant
        try:
            for step in steps:
                if step == "answer alone":  # the last grant went alone: its booking moves
                    step = Update(alone_granted=now)
                    limiter._alone_calls = {now: f"{limiter._id}:{limiter._calls}"}
                if isinstance(step, Update):
                    budget.apply(now, step)
                    limiter._pending.append(step)
                    values = await limiter._sync("peek", may_probe=True, reserve=0)
                else:
                    wait, probe, _ = budget.check(now)
                    values = await limiter._sync("acquire", may_probe=True, reserve=0)
                    assert values[1] == (0 if wait > 0 else 2 if probe else 1)
                    if wait <= 0:
                        budget.book(now)
                shared = [tuple(values[4 + 4 * i : 6 + 4 * i]) for i in range(2)]
                assert shared == [(log.limit, log.used) for log in budget.logs]
                assert [bool(values[7 + 4 * i]) for i in range(2)] == [
                    log.known for log in budget.logs
                ]
        finally:
            await client.aclose()

    asyncio.run(run())


# --------------------------------------------------------------------------- shared


@pytest.mark.redis
async def test_a_429_pause_and_a_corrected_limit_are_shared(redis_clients: list[Any]) -> None:
    a, b = (redis_limiter(c, per_minute=60, per_hour=1000) for c in redis_clients[:2])
    await a.acquire()
    a.observe(200, {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "10"})
    await a.aclose()
    await b.acquire()
    assert b.windows == ((30, 60.0), (1000, 3600.0))
    # The server counted 20, we booked 1: the 19 others are booked for everyone.
    assert b.snapshot().windows[0].used == 21
    b.observe(200, {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "9"})
    await a.acquire()
    a.observe(429, {"Retry-After": "20", "X-RateLimit-Limit": "30"})
    await a.aclose()
    with pytest.raises(RateLimitError) as info:
        await b.acquire(max_wait=5.0)
    assert info.value.retry_after is not None
    assert 19.0 < info.value.retry_after <= 21.5
    await b.aclose()


@pytest.mark.redis
async def test_a_learnt_hour_limit_is_logged_as_redis_applied_it(
    redis_clients: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    a = redis_limiter(redis_clients[0])  # unconfigured: the hour's 1,000 is a default
    for _ in range(5):
        await a.acquire()
        a.observe(200, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"})
    await a.acquire()
    with caplog.at_level("INFO", logger="trakk_async"):
        # The hour ran out, in a window our first request opened: its limit is learnt.
        a.observe(429, {"Retry-After": "3599"})
        await a.aclose()
    learnt = [r.getMessage() for r in caplog.records if "(learnt)" in r.getMessage()]
    assert learnt == [
        f"rate limit: the server allows {a.windows[1][0]} requests per 3600s (learnt)"
    ]
    assert a.windows[1][0] < 1000


@pytest.mark.redis
async def test_another_process_resumes_after_a_shared_pause_without_a_burst(
    redis_clients: list[Any],
) -> None:
    a, b = (redis_limiter(c, windows=[(60, 60.0)]) for c in redis_clients[:2])
    await a.acquire()
    a.observe(429, {"Retry-After": "0"})  # a pause of one second, for everyone
    await a.aclose()
    await b.acquire()  # b's first request: alone, and it learns of the pause
    b.observe(200, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "58"})
    first = asyncio.ensure_future(b.acquire())
    second = asyncio.ensure_future(b.acquire())
    await asyncio.wait_for(first, 5)
    await asyncio.sleep(0.2)
    assert not second.done()  # it waits for the answer to the first after the pause
    b.observe(200, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "57"})
    await asyncio.wait_for(second, 2)
    await b.aclose()


@pytest.mark.redis
async def test_keys_name_a_hash_of_the_token_and_expire(redis_clients: list[Any]) -> None:
    limiter = redis_limiter(redis_clients[0])
    await limiter.acquire()
    limiter.observe(200, {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "19"})
    await limiter.acquire()
    limiter.observe(429, {"Retry-After": "1", "X-RateLimit-Limit": "20"})
    await limiter.aclose()
    client = redis_clients[0]
    keys = [k.decode() for k in await client.keys("*")]
    assert len(keys) == 6  # pause, limits, and a log and its total per window
    for key in keys:
        assert TOKEN not in key
        assert "SECRET" not in key
        assert await client.pttl(key) > 0


# --------------------------------------------------------------------------- outages


async def test_an_unreachable_redis_is_a_clear_error_not_a_hang() -> None:
    import redis.asyncio

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = redis.asyncio.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    limiter = redis_limiter(client, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(APIConnectionError, match="rate limiter's Redis did not answer"):
        await limiter.acquire()
    assert time.monotonic() - started < 3.0
    await client.aclose()


@pytest.mark.redis
async def test_a_redis_outage_of_three_seconds_costs_no_request() -> None:
    import redis.asyncio

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    up = threading.Event()

    def start_redis_late() -> None:
        time.sleep(3.0)
        with redis_server(port=port):
            up.set()
            while up.is_set():
                time.sleep(0.05)

    thread = threading.Thread(target=start_redis_late, daemon=True)
    thread.start()
    client = redis.asyncio.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    try:
        async with FakeTrakk.running(seed=1, projects=5, rate_limits=WINDOWS) as fake:
            limiter = redis_limiter(client, windows=WINDOWS)
            async with TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter) as c:
                me = await c.me()  # Redis answers after 3 s: the call waits, then succeeds
            await limiter.aclose()
        assert me.id >= 1
        assert up.is_set()
    finally:
        up.clear()
        thread.join(10)
        await client.aclose()


# --------------------------------------------------------------------------- processes

CHILD = """
import asyncio, json, sys, time
import redis.asyncio
from trakk_async import TrakkClient
from trakk_async.ratelimit import RedisRateLimiter

async def main(redis_url, base_url, token, duration, close):
    client = redis.asyncio.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(client, token=token, windows=[(20, 1.0), (100, 5.0)])
    attempts = []
    async with TrakkClient(token, base_url=base_url, rate_limiter=limiter) as trakk:
        trakk.add_attempt_listener(lambda a: attempts.append((a.status, time.time())))
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        deadline = time.monotonic() + duration

        async def worker():
            while time.monotonic() < deadline:
                await trakk.get_json("/me")

        await asyncio.gather(*(worker() for _ in range(16)))
    if close == "close":
        await limiter.aclose()
    else:  # leave an observation unsent: shutdown must still be clean
        limiter.observe(429, {"Retry-After": "1"})
    await client.aclose()
    print(json.dumps(attempts))

asyncio.run(main(*sys.argv[1:4], float(sys.argv[4]), sys.argv[5]))
"""


async def run_processes(
    redis_url: str, base_url: str, token: str, duration: float, closes: list[str]
) -> tuple[float, list[tuple[int, bytes, bytes]]]:
    """Client processes started together (once all are ready) for ``duration`` seconds:
    (start time, per process: exit code, stdout's last line, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            redis_url,
            base_url,
            token,
            str(duration),
            close,
            env=env,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for close in closes
    ]
    for child in children:
        assert child.stdout is not None
        assert (await child.stdout.readline()).strip() == b"ready"
    start = time.time()
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        await child.stdin.drain()
    results = []
    for child in children:
        out, err = await child.communicate()
        results.append((child.returncode or 0, out.strip().splitlines()[-1] if out else b"", err))
    return start, results


@pytest.mark.redis
async def test_four_processes_share_one_budget_without_a_429(redis_url: str) -> None:
    duration = 10.0
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=WINDOWS) as fake:
        start, results = await run_processes(
            redis_url, fake.base_url, fake.token, duration, ["close", "leave"] * 2
        )
        stats = fake.stats()
    for code, _, err in results:
        assert code == 0, err.decode()
        assert b"Traceback" not in err, err.decode()  # a clean shutdown, aclose or not
    attempts = [tuple(a) for _, out, _ in results for a in json.loads(out)]
    assert [status for status, _ in attempts].count(429) == 0
    assert stats.rate_limited == 0
    assert stats.requests == len(attempts)  # every request on the wire was booked
    # The most the windows allow in the run: 100 per 5 s, back to back.
    answered = [t for status, t in attempts if status == 200 and start <= t < start + duration]
    assert len(answered) >= 0.95 * 100 * duration / 5.0
