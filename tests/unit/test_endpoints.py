"""Every endpoint over aioresponses: the URL, query and headers sent, and the typed result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from tests import samples
from tests.conftest import BASE_URL, TOKEN
from tests.unit.support import OpenLimiter, make_client, sent, url
from trakk_async import (
    Country,
    H4TextBlock,
    Keyword,
    Language,
    Listing,
    Me,
    Page,
    Project,
    ProjectSummary,
    Report,
    ReportContent,
    TrakkClient,
    User,
)

CACHE = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)

Call = Callable[[TrakkClient], Awaitable[Any]]

ENDPOINTS: list[tuple[str, str, str, Call, type, bool]] = [
    # id, path, sample, call, result type, cached
    ("me", "/me", "me", lambda c: c.me(), Me, False),
    ("projects.get", "/projects/42", "project_detail", lambda c: c.projects.get(42), Project, True),
    (
        "reports.list",
        "/projects/42/reports",
        "reports",
        lambda c: c.reports.list(42),
        Listing,
        True,
    ),
    (
        "reports.latest",
        "/projects/42/reports/latest",
        "report_latest",
        lambda c: c.reports.latest(42),
        Report,
        True,
    ),
    (
        "reports.last_generated",
        "/projects/42/reports/last-generated",
        "report_latest",
        lambda c: c.reports.last_generated(42),
        Report,
        True,
    ),
    (
        "reports.content",
        "/projects/42/reports/15/content",
        "content_h4_text_blocks",
        lambda c: c.reports.content(42, 15),
        ReportContent,
        True,
    ),
    (
        "keywords.list",
        "/projects/42/keywords",
        "keywords",
        lambda c: c.keywords.list(42),
        Listing,
        True,
    ),
    ("countries.list", "/countries", "countries", lambda c: c.countries.list(), Listing, False),
    ("languages.list", "/languages", "languages", lambda c: c.languages.list(), Listing, False),
    ("users.list", "/users", "users", lambda c: c.users.list(), Listing, False),
]

ITEM_TYPES = {
    "reports.list": Report,
    "keywords.list": Keyword,
    "countries.list": Country,
    "languages.list": Language,
    "users.list": User,
}


def _assert_one_get(mock: aioresponses, expected_url: str) -> dict[str, Any]:
    requests = sent(mock)
    assert len(requests) == 1
    method, request_url, kwargs = requests[0]
    assert method == "GET"
    assert request_url == URL(expected_url)
    headers = kwargs["headers"]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("trakk-async/")
    assert kwargs["allow_redirects"] is False
    return kwargs


@pytest.mark.parametrize(
    ("path", "sample", "call", "result_type", "cached"),
    [pytest.param(*e[1:], id=e[0]) for e in ENDPOINTS],
)
async def test_endpoint(
    mock_api: aioresponses,
    path: str,
    sample: str,
    call: Call,
    result_type: type,
    cached: bool,
) -> None:
    mock_api.get(url(path), payload=samples.load(sample))
    limiter = OpenLimiter()
    async with make_client(limiter=limiter) as client:
        result: Any = await call(client)
    _assert_one_get(mock_api, BASE_URL + path)
    assert result_type in type(result).__mro__
    if isinstance(result, Listing):
        item_type = next(t for i, t in ITEM_TYPES.items() if path.endswith(i.split(".")[0]))
        assert len(result) > 0
        assert all(isinstance(item, item_type) for item in result)
    if cached:
        assert result.cache_refreshed_at == CACHE
    elif not isinstance(result, Me):
        assert result.cache_refreshed_at is None
    # The request went through the limiter seam, before and after.
    assert limiter.acquired == 1
    assert limiter.observed == [200]


@pytest.mark.parametrize(
    ("path", "sample", "call", "expected"),
    [
        (
            "/countries/81",
            "countries",
            lambda c: c.countries.get(81),
            Country(id=81, label="Germany"),
        ),
        (
            "/languages/1",
            "languages",
            lambda c: c.languages.get(1),
            Language(id=1, label="English"),
        ),
        ("/users/7", "users", lambda c: c.users.get(7), None),
    ],
)
async def test_single_lookups(
    mock_api: aioresponses, path: str, sample: str, call: Call, expected: Any
) -> None:
    item = samples.load(sample)["data"][0]
    mock_api.get(url(path), payload={"data": item})
    async with make_client() as client:
        result = await call(client)
    _assert_one_get(mock_api, BASE_URL + path)
    if expected is not None:
        assert result == expected
    else:
        assert isinstance(result, User)
        assert result.id == 7
        assert result.agency is not None


async def test_projects_list_sends_filters_and_page(mock_api: aioresponses) -> None:
    params = {
        "page": "1",
        "per_page": "50",
        "status": "pending - in progress",
        "search": "a&b c",
        "agency_id": "12",
    }
    mock_api.get(url("/projects", params), payload=samples.load("projects_page"))
    async with make_client() as client:
        pager = client.projects.list(
            status="pending - in progress", search="a&b c", agency_id=12, per_page=50
        )
        projects = [p async for p in pager]
    assert [p.id for p in projects] == [42, 43, 44]
    assert all(isinstance(p, ProjectSummary) for p in projects)
    ((_, request_url, _),) = sent(mock_api)
    assert dict(request_url.query) == params
    # Spaces and '&' are escaped: the search is one parameter, not two.
    assert "a%26b" in str(request_url)


async def test_projects_list_default_params(mock_api: aioresponses) -> None:
    mock_api.get(
        url("/projects", {"page": "1", "per_page": "100"}), payload=samples.load("projects_page")
    )
    async with make_client() as client:
        pages = [page async for page in client.projects.list().pages()]
    assert len(pages) == 1
    assert isinstance(pages[0], Page)
    assert pages[0].cache_refreshed_at == CACHE
    _assert_one_get(mock_api, url("/projects", {"page": "1", "per_page": "100"}))


async def test_content_result_is_typed_by_scheme(mock_api: aioresponses) -> None:
    mock_api.get(url("/projects/42/reports/15/content"), payload=samples.content("h4_text_blocks"))
    async with make_client() as client:
        content = await client.reports.content(42, 15)
    variant = content.keywords[0].publishable()
    assert isinstance(variant, H4TextBlock)
    assert variant.h4 == "H4 1"


async def test_pager_is_lazy_until_iterated(mock_api: aioresponses) -> None:
    async with make_client() as client:
        pager = client.projects.list()
        assert sent(mock_api) == []
        assert "per_page=100" in repr(pager)
