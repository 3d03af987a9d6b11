"""Throughput of TrakkClient against a hand-written aiohttp + orjson loop, same server.

The fake Trakk server runs in its own process on 127.0.0.1 (wide-open rate limits). For
``/me``, a 100-project page and a 200-keyword ``h4_text_blocks`` content payload, at
concurrency 1, 8 and 64, both clients send the same number of requests in *pairs* of
rounds (raw then SDK, SDK then raw, alternately), so both sides of a pair see the same
machine. The ratio printed is the median of the pairs' SDK/raw request rates.

This machine is shared: the same code measures up to 20 % apart in two fresh processes.
So the rounds run in several fresh client processes (``--processes``, 3 by default), each
on a token of its own, and the table pools their pairs; ``per process`` gives the range of
the processes' own medians. With two or more CPUs the server runs on the last one and the
clients on the first, so neither steals the other's core.

Printed per row: the best request rate of each side, the median ratio, and the median
client CPU microseconds per request (process time of the client process only). The SDK's
limiter is a ``TokenBucketLimiter`` with a window nobody reaches, so its bookkeeping is
still measured. Run::

    python benchmarks/bench_throughput.py [--processes N] [--requests N] [--only /me]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).parent))

from _server import WIDE_OPEN
from _spawn import cpus, fake_server, pin_to

from trakk_async import TokenBucketLimiter, TrakkClient
from trakk_async._models import converter as _converter

Call = Callable[[], Awaitable[object]]

CONCURRENCY = (1, 8, 64)
#: Pairs of rounds per endpoint and concurrency, in each process.
PAIRS = {"/me": 5, "100-project page": 5, "200-keyword content": 3}


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


async def measure(info: dict[str, Any], token: str, requests: int, only: str | None) -> None:
    """One client process: print one JSON line per pair of rounds."""
    base = info["base_url"]
    pid, number = info["content_project"], info["content_report"]
    # The hand-written client has its own token (same agency): on the SDK's token the
    # limiter would see its requests as another consumer's and book them.
    headers = {"Authorization": f"Bearer {info['raw_token']}"}
    async with (
        aiohttp.ClientSession(
            headers=headers, connector=aiohttp.TCPConnector(limit=100)
        ) as session,
        TrakkClient(
            token, base_url=base, rate_limiter=TokenBucketLimiter(windows=[WIDE_OPEN])
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

        cases: list[tuple[str, Call, Call, int]] = [
            ("/me", raw("/me"), client.me, requests),
            ("100-project page", raw("/projects", page_params), sdk_page, requests // 4),
            (
                "200-keyword content",
                raw(f"/projects/{pid}/reports/{number}/content"),
                lambda: client.reports.content(pid, number),
                max(requests // 20, 50),
            ),
        ]
        content = await client.reports.content(pid, number)
        assert len(content.keywords) == 200, "the fake's content project changed"
        for name, raw_call, sdk_call, n in cases:
            if only is not None and name != only:
                continue
            for concurrency in CONCURRENCY:
                await run_round(sdk_call, n // 4, concurrency)  # warm both up
                await run_round(raw_call, n // 4, concurrency)
                for i in range(PAIRS[name]):
                    if i % 2:
                        s = await run_round(sdk_call, n, concurrency)
                        r = await run_round(raw_call, n, concurrency)
                    else:
                        r = await run_round(raw_call, n, concurrency)
                        s = await run_round(sdk_call, n, concurrency)
                    row = {"case": name, "conc": concurrency, "raw": r, "sdk": s}
                    print(json.dumps(row), flush=True)


def report(rows: list[dict[str, Any]], processes: int) -> None:
    """Print the pooled table."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row["case"], row["conc"]].append(row)
    print(
        f"{'endpoint':20} {'conc':>4} {'raw req/s':>9} {'sdk req/s':>9} {'ratio':>6} "
        f"{'per process':>11} {'raw cpu us':>10} {'sdk cpu us':>10} {'+us/req':>7}"
    )
    for (name, concurrency), group in groups.items():
        ratios = [g["sdk"][0] / g["raw"][0] for g in group]
        per_process = [
            statistics.median(g["sdk"][0] / g["raw"][0] for g in group if g["process"] == process)
            for process in range(processes)
        ]
        raw_cpu = statistics.median(g["raw"][1] for g in group)
        sdk_cpu = statistics.median(g["sdk"][1] for g in group)
        print(
            f"{name:20} {concurrency:4} {max(g['raw'][0] for g in group):9.0f} "
            f"{max(g['sdk'][0] for g in group):9.0f} {statistics.median(ratios):6.2f} "
            f"{min(per_process):5.2f}-{max(per_process):4.2f} {raw_cpu:10.0f} "
            f"{sdk_cpu:10.0f} {sdk_cpu - raw_cpu:7.1f}"
        )


def main() -> None:
    """Start the server, run the client processes, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="per /me round")
    parser.add_argument("--only", choices=list(PAIRS), help="one endpoint only")
    parser.add_argument(
        "--tidy",
        action="store_true",
        help="the fake's exact shapes (default: its realistic world, as Trakk serves)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.processes <= 8:
        parser.error("--processes: 1 to 8 (the server hands out 8 tokens)")
    if args.child:
        info = json.loads(args.child)
        if info["server_cpu"] is not None:
            pin_to(cpus()[0])
        asyncio.run(measure(info, info["sdk_token"], args.requests, args.only))
        return
    with fake_server(pinned=True, tidy=args.tidy) as info:
        where = (
            "shared CPUs"
            if info["server_cpu"] is None
            else f"server on CPU {info['server_cpu']}, clients on CPU {cpus()[0]}"
        )
        print(
            f"{args.processes} client processes; per process and row {PAIRS['/me']} pairs "
            f"of rounds ({PAIRS['200-keyword content']} for content); {args.requests} "
            f"requests per /me round; {where}; "
            f"{'tidy' if args.tidy else 'realistic'} world"
        )
        rows: list[dict[str, Any]] = []
        for process in range(args.processes):
            child_info = {**info, "sdk_token": info["more_tokens"][process]}
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    json.dumps(child_info),
                    "--requests",
                    str(args.requests),
                    *(["--only", args.only] if args.only else []),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rows.extend({**json.loads(line), "process": process} for line in out.splitlines())
    report(rows, args.processes)


if __name__ == "__main__":
    main()
