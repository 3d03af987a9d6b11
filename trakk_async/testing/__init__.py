"""A fake Trakk Agency API v1 server for tests, demos and users' own test suites.

``FakeTrakk`` serves a deterministic, seeded world of agencies, projects, keywords and
reports over real loopback HTTP, with Trakk's shapes, errors, caching fields and
fixed-window rate limits, plus controls to move reports along, inject faults and read
counters::

    async with FakeTrakk.running(seed=1, projects=25) as fake:
        ...  # point a client at fake.base_url with fake.token

This package needs only aiohttp, attrs and orjson; it imports nothing else of
``trakk_async``.
"""

from __future__ import annotations

from trakk_async.testing._app import FakeStats, FakeTrakk, FaultKind
from trakk_async.testing._throttle import DEFAULT_RATE_LIMITS, Decision, Throttle
from trakk_async.testing._world import FakeReport, FakeReportStatus

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "Decision",
    "FakeReport",
    "FakeReportStatus",
    "FakeStats",
    "FakeTrakk",
    "FaultKind",
    "Throttle",
]
