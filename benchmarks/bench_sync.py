"""Sync benchmark: requests and wall time of keeping an export directory up to date.

    python benchmarks/bench_sync.py [--projects 1000 10000] [--share 0.01]

Per agency size N (one agency, every project listed): a directory is exported once (not
measured; fsync off while it is built), then measured, each on its own client:

* ``sync`` of the unchanged agency (default reconcile share);
* ``export_projects(resume=True)`` of the same unchanged directory: today's way;
* ``sync`` after 1% of the projects completed a report (the nightly case).

Reported against the floor ``ceil(N / 100)`` (the listing alone). Goals (issue 18): the
unchanged sync within ``1.1 * floor + ceil(share * N)`` requests, and at least 50x fewer
requests than the resumed export at 10,000 projects. The fake runs in its own process
with a wide-open token (``WIDE_OPEN``: requests, not waiting, are measured); its projects
get 3 keywords each so that 10,000 projects export in minutes (the content's size does
not change what a sync requests). Wall times include this machine's disk (one fsync per
file written, two for the index and the state file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trakk_async import TokenBucketLimiter, TrakkClient
from trakk_async.export import export_projects, sync_projects
from trakk_async.export._plan import DEFAULT_RECONCILE_SHARE

sys.path.insert(0, str(Path(__file__).parent))
from _server import WIDE_OPEN

KEYWORDS_PER_PROJECT = 3


# -- the server process ---------------------------------------------------------------


async def serve(projects: int) -> None:
    """Serve a fake of ``projects`` projects; stdin: ``change FRACTION SEED`` lines."""
    from trakk_async.testing import FakeTrakk

    async with FakeTrakk.running(
        seed=11, projects=projects, agencies=1, rate_limits=[WIDE_OPEN]
    ) as fake:
        for project in fake.world.projects.values():
            project.keyword_count = KEYWORDS_PER_PROJECT
        print(json.dumps({"base_url": fake.base_url, "token": fake.token}), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            _, fraction, seed = line.split()
            rng = random.Random(int(seed))
            live = [p for p in fake.project_ids() if fake.world.projects[p].status != "ended"]
            changed = rng.sample(live, max(1, round(len(live) * float(fraction))))
            for pid in changed:
                fake.complete_report(pid, fake.start_next_report(pid))
            print(json.dumps({"changed": len(changed)}), flush=True)


@contextmanager
def server(projects: int) -> Iterator[tuple[dict[str, Any], subprocess.Popen[str]]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(projects)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline()), proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(60)


def change(proc: subprocess.Popen[str], fraction: float, seed: int) -> int:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(f"change {fraction} {seed}\n")
    proc.stdin.flush()
    return int(json.loads(proc.stdout.readline())["changed"])


# -- the measured side ----------------------------------------------------------------


def _client(info: dict[str, Any]) -> TrakkClient:
    limiter = TokenBucketLimiter(windows=[WIDE_OPEN])
    return TrakkClient(info["token"], base_url=info["base_url"], rate_limiter=limiter)


@contextmanager
def no_fsync() -> Iterator[None]:
    """For building the directory only: the measured runs fsync as users' runs do."""
    real = os.fsync
    os.fsync = lambda fd: None
    try:
        yield
    finally:
        os.fsync = real


async def measure(projects: int, share: float) -> dict[str, Any]:
    with server(projects) as (info, proc), tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "dest"
        started = time.perf_counter()
        with no_fsync():
            async with _client(info) as client:
                built = await sync_projects(client, dest)
        setup = time.perf_counter() - started
        listed = built.listed
        floor = math.ceil(listed / 100)

        async with _client(info) as client:
            unchanged = await sync_projects(client, dest, reconcile_share=share)
        async with _client(info) as client:
            resumed = await export_projects(client, dest, resume=True)
        changed_count = change(proc, 0.01, seed=projects)
        async with _client(info) as client:
            after = await sync_projects(client, dest, reconcile_share=share)
    slots = math.ceil(share * listed)
    return {
        "projects": listed,
        "setup_s": setup,
        "files": built.files,
        "floor": floor,
        "share_slots": slots,
        "goal": 1.1 * floor + slots,
        "sync_requests": unchanged.requests,
        "sync_s": unchanged.duration,
        "resume_requests": resumed.requests,
        "resume_s": resumed.duration,
        "changed_projects": changed_count,
        "changed_sync_requests": after.requests,
        "changed_sync_s": after.duration,
        "changed_hinted": after.hinted,
        "changed_changed": after.changed,
        "changed_files": after.files,
        "cycle_runs": unchanged.cycle_runs,
    }


def report(row: dict[str, Any]) -> None:
    n = row["projects"]
    print(f"\n{n:,} projects ({row['files']:,} files; built in {row['setup_s']:.0f}s)")
    print(
        f"  floor ceil(N/100) = {row['floor']}, reconcile share = {row['share_slots']} "
        f"projects a run (every project within {row['cycle_runs']} runs)"
    )
    ok = "met" if row["sync_requests"] <= row["goal"] else "MISSED"
    print(
        f"  sync, unchanged:     {row['sync_requests']:>7,} requests "
        f"{row['sync_s']:>7.2f}s   goal <= {row['goal']:.0f} ({ok})"
    )
    ratio = row["resume_requests"] / row["sync_requests"]
    print(
        f"  export resume=True:  {row['resume_requests']:>7,} requests "
        f"{row['resume_s']:>7.2f}s   {ratio:.1f}x the sync's requests"
    )
    print(
        f"  sync, {row['changed_projects']} projects changed (1%): "
        f"{row['changed_sync_requests']:,} requests {row['changed_sync_s']:.2f}s "
        f"({row['changed_hinted']} hinted, {row['changed_changed']} changed, "
        f"{row['changed_files']} files)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--share", type=float, default=DEFAULT_RECONCILE_SHARE)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    rows = [asyncio.run(measure(n, args.share)) for n in args.projects]
    for row in rows:
        report(row)
    big = max(rows, key=lambda r: r["projects"])
    ratio = big["resume_requests"] / big["sync_requests"]
    goal = "met" if ratio >= 50 else "MISSED"
    print(f"\nat {big['projects']:,} projects: {ratio:.1f}x fewer requests than resume ({goal})")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the client process: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
