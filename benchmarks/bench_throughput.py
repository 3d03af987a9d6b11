"""Throughput of TrakkClient against a hand-written aiohttp + orjson loop, same server.

The fake Trakk server runs in its own process on 127.0.0.1 (wide-open rate limits). For
``/me``, a 100-project page and a 200-keyword ``h4_text_blocks`` content payload, at
concurrency 1, 8 and 64, both clients send the same number of requests, interleaved
(raw, SDK, raw, SDK, ...), and the best round of each is kept. Printed: requests per
second, client CPU microseconds per request (process time of this process only), and the
SDK/raw ratio. The SDK's limiter is a ``TokenBucketLimiter`` with a window so wide it never
waits, so its bookkeeping is still measured. Run::

    python benchmarks/bench_throughput.py [requests-per-round]
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).parent))

from _server import WIDE_OPEN
from _spawn import fake_server

from trakk_async import TokenBucketLimiter, TrakkClient, _converter

Call = Callable[[], Awaitable[object]]


async def run_round(call: Call, total: int, concurrency: int) -> tuple[float, float]:
    """(requests per second, client CPU microseconds per request) for one round."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return total / wall, cpu / total * 1e6


async def main(total: int) -> None:
    """Run every endpoint and concurrency, print one table."""
    with fake_server() as info:
        base, token = info["base_url"], info["token"]
        pid, number = info["content_project"], info["content_report"]
        # The hand-written client has its own token (same agency): on the SDK's token the
        # limiter would see its requests as another consumer's and book them.
        headers = {"Authorization": f"Bearer {info['raw_token']}"}
        async with (
            aiohttp.ClientSession(
                headers=headers, connector=aiohttp.TCPConnector(limit=100)
            ) as session,
            TrakkClient(
                token,
                base_url=base,
                rate_limiter=TokenBucketLimiter(windows=[WIDE_OPEN]),
            ) as client,
        ):

            def raw(path: str, params: dict[str, str] | None = None) -> Call:
                url = base + path

                async def call() -> Any:
                    async with session.get(url, params=params) as resp:
                        resp.raise_for_status()
                        return orjson.loads(await resp.read())

                return call

            page_params = {"page": "1", "per_page": "100"}

            async def sdk_page() -> object:
                return await client._get("/projects", _converter.structure_page, page_params)

            cases: list[tuple[str, Call, Call]] = [
                ("/me", raw("/me"), client.me),
                ("100-project page", raw("/projects", page_params), sdk_page),
                (
                    "200-keyword content",
                    raw(f"/projects/{pid}/reports/{number}/content"),
                    lambda: client.reports.content(pid, number),
                ),
            ]
            content = await client.reports.content(pid, number)
            print(
                f"content payload: {len(content.keywords)} keywords, scheme "
                f"{content.content_scheme}; {total} requests per round, best of 3 rounds"
            )
            print(
                f"{'endpoint':20} {'conc':>4} {'raw req/s':>10} {'sdk req/s':>10} "
                f"{'ratio':>6} {'raw cpu us':>10} {'sdk cpu us':>10} {'+us/req':>8}"
            )
            for name, raw_call, sdk_call in cases:
                for concurrency in (1, 8, 64):
                    n = total if name == "/me" else max(total // 4, 100)
                    best_raw = best_sdk = (0.0, 0.0)
                    for _ in range(3):
                        r = await run_round(raw_call, n, concurrency)
                        s = await run_round(sdk_call, n, concurrency)
                        best_raw = max(best_raw, r)
                        best_sdk = max(best_sdk, s)
                    print(
                        f"{name:20} {concurrency:4} {best_raw[0]:10.0f} {best_sdk[0]:10.0f} "
                        f"{best_sdk[0] / best_raw[0]:6.2f} {best_raw[1]:10.0f} "
                        f"{best_sdk[1]:10.0f} {best_sdk[1] - best_raw[1]:8.0f}"
                    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
