"""Every endpoint of the fake Trakk, walked through the client over loopback HTTP.

The default world carries what real servers send (nulls, ``[]`` for ``{}``, extra fields,
unknown enum values, an unknown content scheme): every call returns, with no deviation
counted (so strict mode passes as well). The tidy world sends exactly the documented
shapes: in strict mode nothing raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from trakk_async import (
    Listing,
    NotFoundError,
    Project,
    Report,
    ReportContent,
    TrakkClient,
)
from trakk_async.ratelimit import TokenBucketLimiter
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

WIDE_OPEN = [(100_000, 60.0)]


async def _walk(client: TrakkClient, projects: int) -> dict[str, int]:
    """Call every endpoint; how many objects of each kind came back."""
    seen: dict[str, int] = {}

    def count(kind: str, n: int = 1) -> None:
        seen[kind] = seen.get(kind, 0) + n

    me = await client.me()
    count("me", me.id > 0)
    for listing, get in (
        (await client.countries.list(), client.countries.get),
        (await client.languages.list(), client.languages.get),
        (await client.users.list(), client.users.get),
    ):
        assert isinstance(listing, Listing)
        count(type(listing[0]).__name__, len(listing))
        assert await get(listing[0].id) == listing[0]
    summaries = [p async for p in client.projects.list()]
    count("ProjectSummary", len(summaries))
    for summary in summaries[:projects]:
        project = await client.projects.get(summary.id)
        assert isinstance(project, Project)
        assert project.id == summary.id
        reports = await client.reports.list(summary.id)
        count("Report", len(reports))
        count("Keyword", len(await client.keywords.list(summary.id)))
        for call in (client.reports.latest, client.reports.last_generated):
            try:
                assert isinstance(await call(summary.id), Report)
            except NotFoundError:
                count("404")
        for number in sorted({r.report_number for r in reports if r.is_completed}):
            content = await client.reports.content(summary.id, number)
            assert isinstance(content, ReportContent)
            count("KeywordContent", len(content.keywords))
    return seen


def _client(fake: FakeTrakk, **kwargs: Any) -> TrakkClient:
    limiter = TokenBucketLimiter(windows=WIDE_OPEN)
    return TrakkClient(fake.token, base_url=fake.base_url, rate_limiter=limiter, **kwargs)


def _every_kind(seen: Mapping[str, int]) -> None:
    for kind in ("ProjectSummary", "Report", "Keyword", "KeywordContent", "User", "Country"):
        assert seen.get(kind), f"the walk met no {kind}: {seen}"


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
async def test_the_realistic_world(strict: bool) -> None:
    # Its mess (nulls, [] for {}, 10.0, unknown fields, values and scheme) is what the
    # documentation allows: read without a deviation, so strict mode passes too.
    async with FakeTrakk.running(seed=5, projects=40, rate_limits=WIDE_OPEN) as fake:
        rules = {v.rule for v in fake.variations()}
        client = _client(fake, strict=strict)
        async with client:
            seen = await _walk(client, projects=40)
        assert client.deviations == {}
    _every_kind(seen)
    assert {"keyword.latest_position.null", "project.cc_email.null"} <= rules


async def test_the_tidy_world_in_strict_mode() -> None:
    async with FakeTrakk.running(seed=5, projects=40, rate_limits=WIDE_OPEN, tidy=True) as fake:
        assert fake.variations() == []
        client = _client(fake, strict=True)
        async with client:
            seen = await _walk(client, projects=40)
    _every_kind(seen)
