"""Iterating 10,000 projects: wall time against fetching the pages by hand, and peak memory.

The fake server (own process, wide-open limits) holds 10,000 projects. Side by side in
one run: ``async for p in client.projects.list()`` (typed, prefetching the next page)
against a hand-written loop that requests ``?page=N&per_page=100`` back to back with
aiohttp + orjson (dicts only). Peak traced memory (tracemalloc) of the SDK iteration is
measured over the first 1,000 and over all 10,000 projects: it must not grow with the
number of pages (at most two pages are held). Run::

    python benchmarks/bench_pagination.py
"""

from __future__ import annotations

import asyncio
import sys
import time
import tracemalloc
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).parent))

from _server import WIDE_OPEN
from _spawn import fake_server

from trakk_async import TokenBucketLimiter, TrakkClient

PROJECTS = 10_000


async def by_hand(session: aiohttp.ClientSession, base: str) -> int:
    """Fetch every page back to back; returns the number of projects seen."""
    seen = 0
    page = 1
    while True:
        params = {"page": str(page), "per_page": "100"}
        async with session.get(f"{base}/projects", params=params) as resp:
            body = orjson.loads(await resp.read())
        seen += len(body["data"])
        if body["links"]["next"] is None:
            return seen
        page += 1


async def with_sdk(client: TrakkClient, limit: int | None = None) -> int:
    """Iterate with the SDK (stopping after ``limit`` projects when given)."""
    seen = 0
    async for _project in client.projects.list():
        seen += 1
        if limit is not None and seen >= limit:
            break
    return seen


async def main() -> None:
    """Print wall times, their ratio, and peak memory for 1,000 vs 10,000 projects."""
    with fake_server(PROJECTS) as info:
        base, token = info["base_url"], info["token"]
        # The hand-written client has its own token (same agency): on the SDK's token the
        # limiter would see its requests as another consumer's and book them.
        headers = {"Authorization": f"Bearer {info['raw_token']}"}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            TrakkClient(
                token, base_url=base, rate_limiter=TokenBucketLimiter(windows=[WIDE_OPEN])
            ) as client,
        ):
            await by_hand(session, base)  # warm the server's caches
            hand_times, sdk_times = [], []
            for _ in range(3):
                start = time.perf_counter()
                n_hand = await by_hand(session, base)
                hand_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                n_sdk = await with_sdk(client)
                sdk_times.append(time.perf_counter() - start)
            hand, sdk = min(hand_times), min(sdk_times)
            print(f"projects: by hand {n_hand}, SDK {n_sdk}")
            print(f"by hand (aiohttp + orjson, dicts): {hand:.3f} s")
            print(f"SDK async for (typed, prefetch):   {sdk:.3f} s   ratio {sdk / hand:.2f}")
            peaks = {}
            for limit in (1_000, PROJECTS):
                tracemalloc.start()
                await with_sdk(client, limit)
                peaks[limit] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            for limit, peak in peaks.items():
                print(f"peak traced memory over {limit:>6} projects: {peak / 1024:8.0f} KiB")
            print(f"peak ratio 10,000 / 1,000 projects: {peaks[PROJECTS] / peaks[1_000]:.2f}")
            # The iterator remembers every id it yielded (so a project that shifts to the
            # next page is not yielded twice): that set grows with projects, not pages.
            tracemalloc.start()
            ids = {1_000_000 + i for i in range(PROJECTS - 1_000)}
            id_set = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            del ids
            growth = peaks[PROJECTS] - peaks[1_000]
            print(
                f"growth {growth / 1024:.0f} KiB, of which the set of 9,000 more ids "
                f"{id_set / 1024:.0f} KiB; the rest (pages held) "
                f"{(growth - id_set) / 1024:.0f} KiB"
            )


if __name__ == "__main__":
    asyncio.run(main())
