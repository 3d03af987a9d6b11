"""A fake Trakk Agency API v1 server for tests, demos and users' own test suites.

``FakeTrakk`` serves a deterministic, seeded world of agencies, projects, keywords and
reports over real loopback HTTP, as Trakk's documentation defines the API: its shapes,
errors, caching fields, fixed-window rate limits and report rules, with the mess real
servers send (the realistic profile, :data:`VARIATION_RULES`; ``tidy=True`` turns it off),
plus controls to move reports along, change "today", inject faults and read counters::

    async with FakeTrakk.running(seed=1, projects=25) as fake:
        ...  # point a client at fake.base_url with fake.token

This package needs only aiohttp, attrs and orjson; of ``trakk_async`` it imports only the
``Clock`` type of the lowest layer, so the fake never runs the SDK's own code.
"""

from __future__ import annotations

from trakk_async.testing._app import FakeStats, FakeTrakk, FaultKind, PortInUseError
from trakk_async.testing._pipeline import SITUATIONS, Situation
from trakk_async.testing._throttle import DEFAULT_RATE_LIMITS, Decision, Throttle
from trakk_async.testing._variations import VARIATION_RULES, Variation, VariationRule
from trakk_async.testing._world import FakeReport, FakeReportStatus, ReportChange

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "SITUATIONS",
    "VARIATION_RULES",
    "Decision",
    "FakeReport",
    "FakeReportStatus",
    "FakeStats",
    "FakeTrakk",
    "FaultKind",
    "PortInUseError",
    "ReportChange",
    "Situation",
    "Throttle",
    "Variation",
    "VariationRule",
]
