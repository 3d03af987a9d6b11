"""Rate-limit scenarios in virtual time: real clients and limiters against the fake's throttle.

:class:`VirtualTime` is a clock and a sleep; :meth:`VirtualTime.run` lets the tasks run
and jumps to the next timer whenever they all wait, so an hour passes in milliseconds.
:class:`SimTrakk` is the fake server's own rate limiting (``testing._throttle.Throttle``,
which makes the headers Trakk documents) behind a simulated network on that clock, with
an aiohttp-like ``Date`` header. :meth:`SimTrakk.client` builds a real
:class:`~trakk_async.TrakkClient` whose transport is that network, so every request goes
through the client's own retry loop and limiter calls. Used by the limiter tests and by
``benchmarks/bench_limiter.py``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from email.utils import formatdate
from typing import Any

import orjson
from multidict import CIMultiDict

from trakk_async import TrakkClient
from trakk_async._core.errors import APIConnectionError, TrakkError
from trakk_async.ratelimit import RateLimiter, TokenBucketLimiter
from trakk_async.testing._throttle import Throttle

#: Unix time at virtual time 0.
EPOCH = 1_780_000_000.0


class VirtualTime:
    """A clock and a sleep; :meth:`run` advances time only when every task waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def settle(self) -> None:
        """Let every task run until all of them wait (on a timer or on each other)."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)  # asyncio's run queue (private): saves time
        for _ in range(100):
            await asyncio.sleep(0)
            if ready is not None and not ready:
                await asyncio.sleep(0)
                if not ready:
                    return

    async def run(
        self, until: float = float("inf"), *, stop: Callable[[], bool] | None = None
    ) -> None:
        """Let the tasks run, jumping to the next timer whenever they all wait, up to
        ``until`` (then the clock shows ``until``) or until ``stop()`` says so."""
        while True:
            await self.settle()
            if stop is not None and stop():
                return
            while self._timers and self._timers[0][2].done():  # cancelled sleeps
                heapq.heappop(self._timers)
            if not self._timers or self._timers[0][0] > until:
                if until != float("inf"):
                    self.now = max(self.now, until)
                return
            at, _, future = heapq.heappop(self._timers)
            self.now = max(self.now, at)
            future.set_result(None)

    async def gather(self, *aws: Awaitable[Any]) -> list[Any]:
        """Run coroutines to completion in virtual time (the clock stops when they end)."""
        tasks = [asyncio.ensure_future(a) for a in aws]
        await self.run(stop=lambda: all(t.done() for t in tasks))
        return [t.result() for t in tasks]

    def limiter(self, **options: Any) -> TokenBucketLimiter:
        return TokenBucketLimiter(clock=self.clock, wall=self.wall, sleep=self.sleep, **options)


class SimTrakk:
    """The fake's throttle, per token, behind a network of ``latency`` seconds each way.

    ``log`` keeps ``(time, token, status)`` of every request. ``clock_offset``: the
    server's clock is that many seconds ahead of ours (its ``Date`` and
    ``X-RateLimit-Reset`` say so); ``strip``: headers a proxy removes on the way back.
    """

    def __init__(
        self,
        vt: VirtualTime,
        limits: Iterable[tuple[int, float]],
        *,
        latency: float = 0.05,
        jitter: float = 0.05,
        seed: int | None = None,
        clock_offset: float = 0.0,
        strip: Iterable[str] = (),
    ) -> None:
        self.vt = vt
        self._limits = list(limits)
        self.latency, self.jitter = latency, jitter
        # TRAKK_SIM_SEED lets a loop in bash try the scenarios on other networks.
        self._rng = random.Random(
            int(os.environ.get("TRAKK_SIM_SEED", "1")) if seed is None else seed
        )
        self._throttles: dict[str, Throttle] = {}
        self.log: list[tuple[float, str, int]] = []
        self.clock_offset = clock_offset
        self.strip = {name.lower() for name in strip}

    def server_wall(self) -> float:
        return self.vt.wall() + self.clock_offset

    def set_limits(self, token: str, limits: Iterable[tuple[int, float]]) -> None:
        self._throttles[token] = Throttle(limits, clock=self.vt.clock, wall=self.server_wall)

    def _throttle(self, token: str) -> Throttle:
        if token not in self._throttles:
            self.set_limits(token, self._limits)
        return self._throttles[token]

    def hit(self, token: str) -> tuple[int, CIMultiDict[str]]:
        """One request reaching the server now."""
        decision = self._throttle(token).hit()
        status = 200 if decision.allowed else 429
        self.log.append((self.vt.now, token, status))
        headers = CIMultiDict(decision.headers())
        headers["Date"] = formatdate(self.server_wall(), usegmt=True)
        for name in self.strip:
            headers.popall(name, None)
        return status, headers

    def accepted(self, token: str, start: float = 0.0, end: float = float("inf")) -> int:
        return sum(1 for t, k, s in self.log if k == token and s == 200 and start <= t < end)

    def refused(self, token: str, start: float = 0.0, end: float = float("inf")) -> int:
        return sum(1 for t, k, s in self.log if k == token and s == 429 and start <= t < end)

    async def _wire(self) -> None:
        await self.vt.sleep(self.latency + self._rng.uniform(0.0, self.jitter))

    async def send(self, token: str) -> tuple[int, CIMultiDict[str], bytes]:
        await self._wire()
        status, headers = self.hit(token)
        await self._wire()
        body = b'{"id": 1}' if status == 200 else orjson.dumps({"error": {"code": "x"}})
        return status, headers, body

    def client(self, token: str, limiter: RateLimiter, **options: Any) -> TrakkClient:
        """A real TrakkClient for ``token`` whose transport is this simulated network."""
        client = TrakkClient(
            token,
            base_url="https://trakk.test/api/v1",
            rate_limiter=limiter,
            _sleep=self.vt.sleep,
            _random=self._rng.random,
            **options,
        )
        client._transport = _SimTransport(self, token)  # type: ignore[assignment]
        return client


class _SimTransport:
    def __init__(self, sim: SimTrakk, token: str) -> None:
        self._sim, self._token = sim, token

    async def get(
        self,
        url: str,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (the Transport's signature)
    ) -> tuple[int, Mapping[str, str], bytes]:
        return await self._sim.send(self._token)

    def redact(self, text: str) -> str:
        return text

    async def aclose(self) -> None:
        pass


async def greedy(
    client: TrakkClient, *, tasks: int, until: float, vt: VirtualTime, requests: int | None = None
) -> dict[str, int]:
    """``tasks`` tasks calling ``/me`` back to back until ``until`` (or ``requests`` done).

    Returns counts of ``ok`` calls and of ``errors`` (a call that raised).
    """
    counts = {"ok": 0, "errors": 0}
    todo = itertools.count() if requests is None else iter(range(requests))

    async def worker() -> None:
        for _ in todo:
            if vt.now >= until:
                return
            try:
                await client.get_json("/me")
                counts["ok"] += 1
            except TrakkError:
                counts["errors"] += 1

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return counts


async def other_consumer(
    sim: SimTrakk,
    token: str,
    *,
    every: float,
    burst: int,
    until: float,
    on_429: Callable[[], None] | None = None,
) -> None:
    """Another program on the token without our limiter: ``burst`` requests every
    ``every`` seconds."""
    while sim.vt.now < until:
        for _ in range(burst):
            status, _, _ = await sim.send(token)
            if status == 429 and on_429 is not None:
                on_429()
        await sim.vt.sleep(every)


__all__ = [
    "EPOCH",
    "APIConnectionError",
    "SimTrakk",
    "VirtualTime",
    "greedy",
    "other_consumer",
]
