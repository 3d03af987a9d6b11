"""``trakk demo``: a short tour of the SDK against an embedded fake Trakk server.

No token and no network: :class:`~trakk_async.testing.FakeTrakk` serves a seeded world on
127.0.0.1 with small rate-limit windows (so the export's progress bar has something to
show and still ends in seconds), and the client's limiter is given the same windows.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import attrs
from rich.console import Console
from rich.rule import Rule

from trakk_async._client.client import TrakkClient
from trakk_async._models.objects import KeywordContent, ReportContent
from trakk_async.cli._feedback import WaitSink, WaitStatus, export_with_progress
from trakk_async.cli._render import (
    event_json,
    json_line,
    plural,
    render_content,
    render_me,
    render_projects,
    summary_line,
)
from trakk_async.export._files import INDEX_FILE
from trakk_async.ratelimit import TokenBucketLimiter
from trakk_async.testing import FakeTrakk
from trakk_async.watch import ReportAdvanced

#: The fake's windows, and the client limiter's: 40 a second, 600 in ten seconds.
DEMO_LIMITS: Final = ((40, 1.0), (600, 10.0))
#: How long the tour waits for the watcher at most (it needs well under a second).
WATCH_TIMEOUT: Final = 20.0


async def run_demo(
    console: Console,
    *,
    export_count: int = 4,
    seed: int = 7,
    wait_sinks: Sequence[WaitSink] = (),
) -> None:
    """Run the tour, printing to ``console``; waits longer than 2 s go to ``wait_sinks``."""
    async with FakeTrakk.running(seed=seed, projects=30, rate_limits=DEMO_LIMITS) as fake:
        limiter = TokenBucketLimiter(windows=DEMO_LIMITS)
        async with (
            # Directly: the fake is on this machine, whatever HTTP_PROXY says.
            TrakkClient(
                fake.token, base_url=fake.base_url, rate_limiter=limiter, trust_env=False
            ) as c,
            WaitStatus(c, wait_sinks) as waits,
        ):
            console.print(f"Fake Trakk serving at {fake.base_url} (seed {seed})\n")

            console.print(Rule("trakk me"))
            render_me(console, await c.me())

            console.print(Rule("trakk projects"))
            projects = [p async for p in c.projects.list()]
            render_projects(console, projects[:10])
            console.print(f"... {plural(len(projects), 'project')} in all\n")

            done = [p for p in projects if p.latest_report_status == "completed"]
            if done:
                pick = done[0]
                report = await c.reports.last_generated(pick.id)
                console.print(Rule(f"trakk content {pick.id} {report.report_number}"))
                content = await c.reports.content(pick.id, report.report_number)
                shown = [k for k in content.keywords if k.has_content][:2]
                render_content(console, _with_keywords(content, shown))
                console.print(f"... {plural(len(content.keywords), 'keyword')} in this report\n")

            ids = [p.id for p in projects[:export_count]]
            console.print(Rule(f"trakk export DEST --project {' --project '.join(map(str, ids))}"))
            with tempfile.TemporaryDirectory(prefix="trakk-demo-") as tmp:
                dest = Path(tmp)
                summary = await export_with_progress(
                    c,
                    dest,
                    project_ids=ids,
                    resume=False,
                    concurrency=8,
                    console=console,
                    waits=waits,
                )
                console.print(summary_line(summary), markup=False)
                lines = (dest / INDEX_FILE).read_text().splitlines()
                console.print(f"{INDEX_FILE}: {plural(len(lines), 'file')}, e.g.")
                for line in lines[:4]:
                    console.print(f"  {line}", markup=False)
                resumed = await export_with_progress(
                    c,
                    dest,
                    project_ids=ids,
                    resume=True,
                    concurrency=8,
                    console=console,
                    waits=waits,
                )
                console.print(f"resumed: {summary_line(resumed)}\n", markup=False)

            watched = ids[:2]
            console.print(Rule("trakk watch " + " ".join(f"--project {p}" for p in watched)))
            events = await _watch_two(c, fake, watched, console)
            console.print(f"the watcher caught {plural(len(events), 'new report')}\n")
            console.print("Done. Point the same commands at Trakk with --token or TRAKK_API_TOKEN.")


async def _watch_two(
    client: TrakkClient, fake: FakeTrakk, watched: list[int], console: Console
) -> list[ReportAdvanced]:
    """Watch two projects while the fake completes a new report in each."""
    events: list[ReportAdvanced] = []
    async with client.watch_reports(watched, budget=0.5, strategy="last-generated") as watcher:

        async def consume() -> None:
            async for event in watcher:
                events.append(event)
                console.print(json_line(event_json(event)), markup=False)
                if len(events) == len(watched):
                    return

        async def produce() -> None:
            # First sightings are baselines, not events; the watcher has no ready event.
            while not watcher.stats.ready:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            for pid in watched:
                number = fake.start_next_report(pid)
                fake.complete_report(pid, number)
                console.print(f"[dim](the fake completes report #{number} of project {pid})[/]")
                await asyncio.sleep(0.3)

        async with asyncio.timeout(WATCH_TIMEOUT):
            await asyncio.gather(consume(), produce())
    return events


def _with_keywords(content: ReportContent, keywords: list[KeywordContent]) -> ReportContent:
    return attrs.evolve(content, keywords=tuple(keywords))
