"""A FakeTrakk in its own process for the benchmarks (so the server's CPU is not ours).

Started by the benchmarks as ``python benchmarks/_server.py [projects] [--tidy]``: it prints one
JSON line (base_url, token, raw_token, more_tokens, content_project, content_report) and
serves until its stdin closes. Rate limits are wide open; one project has 200 keywords and a completed
``h4_text_blocks`` report (report 15).
"""

from __future__ import annotations

import asyncio
import json
import sys

from trakk_async.testing import FakeTrakk

H4_REPORT = 15

#: The rate-limit window of the server and of the benchmarks' client limiters: a limit
#: nobody reaches, in a one-second window on both sides. (Windows of different lengths on
#: the two sides would make the limiter mirror the server's larger count as foreign usage,
#: and a long window would make its log hold every request of the run; Trakk's own
#: windows hold at most 1,000 entries.)
WIDE_OPEN = (10**9, 1.0)


async def main(projects: int, tidy: bool) -> None:
    """Serve until stdin closes."""
    async with FakeTrakk.running(
        seed=7, projects=projects, agencies=1, rate_limits=[WIDE_OPEN], tidy=tidy
    ) as fake:
        pid = fake.add_project(keyword_count=200)
        while True:
            number = fake.start_next_report(pid)
            fake.complete_report(pid, number)
            if number == H4_REPORT:
                break
        print(
            json.dumps(
                {
                    "base_url": fake.base_url,
                    "token": fake.token,
                    # Same agency, its own rate-limit windows: a hand-written client on
                    # the SDK's token would count as foreign usage the limiter mirrors.
                    "raw_token": fake.new_token(fake.agency_id, [WIDE_OPEN]),
                    # One more token per client process of a benchmark: a fresh limiter
                    # on a token the server saw busy a moment ago would book that usage.
                    "more_tokens": [fake.new_token(fake.agency_id, [WIDE_OPEN]) for _ in range(8)],
                    "content_project": pid,
                    "content_report": H4_REPORT,
                }
            ),
            flush=True,
        )
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if a != "--tidy"]
    asyncio.run(main(int(numbers[0]) if numbers else 300, "--tidy" in sys.argv[1:]))
