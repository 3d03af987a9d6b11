"""``timeout=`` on every endpoint call: validated before any request, sent per attempt."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from tests import samples
from tests.unit.support import make_client, request_count, sent, url
from trakk_async import APITimeoutError, TrakkClient
from trakk_async._client import resources

Call = Callable[[TrakkClient, float | None], Awaitable[Any]]

#: Every endpoint call, with the path it requests and a sample body.
CALLS: list[tuple[str, str, str, Call]] = [
    ("me", "/me", "me", lambda c, t: c.me(timeout=t)),
    ("get_json", "/me", "me", lambda c, t: c.get_json("/me", timeout=t)),
    ("projects.get", "/projects/42", "project_detail", lambda c, t: c.projects.get(42, timeout=t)),
    ("reports.list", "/projects/42/reports", "reports", lambda c, t: c.reports.list(42, timeout=t)),
    (
        "reports.latest",
        "/projects/42/reports/latest",
        "report_latest",
        lambda c, t: c.reports.latest(42, timeout=t),
    ),
    (
        "reports.last_generated",
        "/projects/42/reports/last-generated",
        "report_latest",
        lambda c, t: c.reports.last_generated(42, timeout=t),
    ),
    (
        "reports.content",
        "/projects/42/reports/15/content",
        "content_h4_text_blocks",
        lambda c, t: c.reports.content(42, 15, timeout=t),
    ),
    (
        "keywords.list",
        "/projects/42/keywords",
        "keywords",
        lambda c, t: c.keywords.list(42, timeout=t),
    ),
    ("countries.list", "/countries", "countries", lambda c, t: c.countries.list(timeout=t)),
    ("languages.list", "/languages", "languages", lambda c, t: c.languages.list(timeout=t)),
    ("users.list", "/users", "users", lambda c, t: c.users.list(timeout=t)),
    ("countries.get", "/countries/1", "countries[0]", lambda c, t: c.countries.get(1, timeout=t)),
    ("languages.get", "/languages/1", "languages[0]", lambda c, t: c.languages.get(1, timeout=t)),
    ("users.get", "/users/1", "users[0]", lambda c, t: c.users.get(1, timeout=t)),
]


def _body(sample: str) -> Any:
    """The sample's body; ``name[0]``: the first item of a listing, as a single object."""
    if sample.endswith("[0]"):
        return {"data": samples.load(sample.removesuffix("[0]"))["data"][0]}
    return samples.load(sample)


@pytest.mark.parametrize(("path", "sample", "call"), [pytest.param(*c[1:], id=c[0]) for c in CALLS])
async def test_the_override_is_sent_with_the_request(
    mock_api: aioresponses, path: str, sample: str, call: Call
) -> None:
    mock_api.get(url(path), payload=_body(sample), repeat=True)
    async with make_client(timeout=30) as client:
        await call(client, 4.5)
        await call(client, None)
    (_, _, overridden), (_, _, default) = sent(mock_api)
    assert overridden["timeout"] == aiohttp.ClientTimeout(total=4.5)
    # Without an override the client's own session timeout applies (nothing per request).
    assert "timeout" not in default


async def test_the_pager_sends_it_with_every_page(mock_api: aioresponses) -> None:
    page = samples.load("projects_page")
    second = {**page, "data": [], "links": {**page["links"], "next": None}}
    first = {**page, "links": {**page["links"], "next": "?page=2"}, "meta": None}
    mock_api.get(url("/projects", {"per_page": "100", "page": "1"}), payload=first)
    mock_api.get(url("/projects", {"per_page": "100", "page": "2"}), payload=second)
    async with make_client() as client:
        projects = [p async for p in client.projects.list(timeout=2)]
    assert projects
    timeouts = [kwargs["timeout"] for _, _, kwargs in sent(mock_api)]
    assert timeouts == [aiohttp.ClientTimeout(total=2.0)] * 2


@pytest.mark.parametrize(("path", "sample", "call"), [pytest.param(*c[1:], id=c[0]) for c in CALLS])
@pytest.mark.parametrize("bad", [0, -1, float("nan"), True, "5"])
async def test_a_bad_override_fails_before_any_request(
    mock_api: aioresponses, path: str, sample: str, call: Call, bad: Any
) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            await call(client, bad)
    assert request_count(mock_api) == 0


async def test_a_bad_pager_override_fails_when_the_pager_is_made() -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="timeout"):
            client.projects.list(timeout=0)


async def test_it_bounds_each_attempt_and_names_itself(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), exception=TimeoutError(), repeat=True)
    async with make_client(max_retries=2, timeout=30) as client:
        with pytest.raises(APITimeoutError, match=r"within 0\.25s"):
            await client.me(timeout=0.25)
    assert [kwargs["timeout"].total for _, _, kwargs in sent(mock_api)] == [0.25] * 3


def _endpoint_methods() -> list[tuple[str, Callable[..., Any]]]:
    methods: list[tuple[str, Callable[..., Any]]] = [
        ("TrakkClient.me", TrakkClient.me),
        ("TrakkClient.get_json", TrakkClient.get_json),
    ]
    for cls in (
        resources.Projects,
        resources.Reports,
        resources.Keywords,
        resources.Countries,
        resources.Languages,
        resources.Users,
    ):
        for name, method in vars(cls).items():
            if not name.startswith("_") and callable(method) and name != "wait_for_completion":
                methods.append((f"{cls.__name__}.{name}", method))
    return methods


@pytest.mark.parametrize(("name", "method"), _endpoint_methods())
def test_every_endpoint_method_takes_a_keyword_only_timeout(
    name: str, method: Callable[..., Any]
) -> None:
    parameter = inspect.signature(method).parameters.get("timeout")
    assert parameter is not None, f"{name} has no timeout="
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is None
