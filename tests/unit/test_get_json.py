"""``client.get_json``: any path below the base URL, with the SDK's auth, limiter and retries."""

from __future__ import annotations

import pytest
from aioresponses import aioresponses
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from tests.conftest import BASE_URL, TOKEN
from tests.unit.support import error_body, make_client, request_count, sent, url
from trakk_async import NotFoundError
from trakk_async._protocol.core import build_url, check_api_path, resolve_api_link


async def test_it_returns_the_whole_body_and_sends_the_params(mock_api: aioresponses) -> None:
    body = {"data": [{"id": 1}], "meta": {"total": 1}}
    mock_api.get(url("/projects", {"status": "active", "page": "2"}), payload=body)
    async with make_client() as client:
        got = await client.get_json("/projects", {"status": "active", "page": "2"})
    assert got == body
    ((method, _, kwargs),) = sent(mock_api)
    assert method == "GET"
    assert kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"


async def test_an_error_status_raises_the_typed_error(mock_api: aioresponses) -> None:
    mock_api.get(url("/nope"), status=404, body=error_body("not_found", "Not found."))
    async with make_client() as client:
        with pytest.raises(NotFoundError):
            await client.get_json("/nope")


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "me",
        "//evil.example/x",
        "/projects/../users",
        "/projects/%2e%2E/users",
        "/projects/%2E",
        "/projects/1%2F..%2Fusers",
        "/projects//1",
        "/projects?page=2",
        "/projects#x",
        "/projects\\..\\users",
        "/me\r\nX-Evil: 1",
        "/me\x00",
        "https://evil.example/api/v1/me",
    ],
)
async def test_paths_that_could_leave_the_base_url_are_refused_before_sending(
    mock_api: aioresponses, path: str
) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="path"):
            await client.get_json(path)
    assert request_count(mock_api) == 0


@pytest.mark.parametrize(
    ("path", "sent_as"),
    [
        ("/me", "/me"),
        ("/me/", "/me"),
        ("/projects/42/reports/3/content", "/projects/42/reports/3/content"),
        ("/projects/a b", "/projects/a%20b"),
        ("/projects/a%20b", "/projects/a%20b"),
        ("/x/ü", "/x/%C3%BC"),
        ("/x/%252e%252e", "/x/%252e%252e"),
    ],
)
def test_paths_are_sent_percent_encoded(path: str, sent_as: str) -> None:
    assert check_api_path(path) == sent_as


@given(st.text(max_size=40))
def test_an_accepted_path_never_climbs(path: str) -> None:
    try:
        checked = check_api_path("/" + path)
    except ValueError:
        return
    joined = URL(BASE_URL + checked)
    assert joined.path.startswith(URL(BASE_URL).path + "/")
    assert ".." not in joined.path.split("/")
    assert joined.query_string == ""
    assert joined.host == URL(BASE_URL).host


def test_query_keys_are_encoded_too() -> None:
    built = build_url(BASE_URL, "/projects", {"a&b": "c=d"})
    assert built == BASE_URL + "/projects?a%26b=c%3Dd"


# -- links the API gave -------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "/api/v1/projects/42/reports/latest",  # a listing item's links.latest_report
        "/projects/42/reports/latest",
        BASE_URL + "/projects/42/reports/latest",
    ],
)
async def test_a_link_is_followed_below_the_base_url_not_doubled(
    mock_api: aioresponses, link: str
) -> None:
    assert URL(BASE_URL).path == "/api/v1"
    body = {"data": {"id": 7, "project_id": 42}}
    mock_api.get(url("/projects/42/reports/latest"), payload=body)
    async with make_client() as client:
        assert await client.get_json(link) == body
    ((_, sent_to, _),) = sent(mock_api)
    assert str(sent_to) == BASE_URL + "/projects/42/reports/latest"


async def test_a_full_link_keeps_its_query_and_params_win(mock_api: aioresponses) -> None:
    mock_api.get(url("/projects", {"page": "2", "per_page": "5"}), payload={"data": []})
    async with make_client() as client:
        link = BASE_URL + "/projects?page=2&per_page=100"
        assert await client.get_json(link, {"per_page": "5"}) == {"data": []}
    ((_, sent_to, _),) = sent(mock_api)
    assert URL(str(sent_to)).query == {"page": "2", "per_page": "5"}


@pytest.mark.parametrize(
    ("base_url", "link", "resolved"),
    [
        ("https://h.test/api/v1", "/api/v1/projects/3", "/projects/3"),
        ("https://h.test/api/v1", "/api/v1/api/v1/x", "/api/v1/x"),  # stripped once
        ("https://h.test/api/v1", "/api/v10/projects", "/api/v10/projects"),  # not a prefix
        ("https://h.test/api/v1", "/api/projects", "/api/projects"),
        ("https://h.test", "/api/v1/projects/3", "/api/v1/projects/3"),  # no base path
        ("https://h.test/trakk/api/v1", "/trakk/api/v1/me", "/me"),
        ("https://h.test/api/v1", "https://h.test/api/v1/me#top", "/me"),
    ],
)
def test_resolving_a_link(base_url: str, link: str, resolved: str) -> None:
    assert resolve_api_link(link, base_url) == (resolved, {})


@pytest.mark.parametrize(
    "link",
    [
        "/api/v1/../users",  # the checks hold after the base path is dropped
        "/api/v1/projects/%2e%2e/users",
        "/api/v1/",
        "/api/v1/projects?page=2",
        "https://evil.test/api/v1/me",  # another host
        "http://api.trakk.test/api/v1/me",  # another scheme
        "https://api.trakk.test:8443/api/v1/me",  # another port
        "https://api.trakk.test/api/v2/me",  # outside the base path
        "https://api.trakk.test/api/v1",
        "https://api.trakk.test/api/v1/projects/%2e%2e/users",
        "api/v1/me",
    ],
)
async def test_links_that_would_leave_the_base_url_are_refused(
    mock_api: aioresponses, link: str
) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="path"):
            await client.get_json(link)
    assert request_count(mock_api) == 0


@given(st.text(max_size=40))
def test_a_resolved_link_never_climbs(tail: str) -> None:
    for link in ("/api/v1/" + tail, BASE_URL + "/" + tail):
        try:
            path, _ = resolve_api_link(link, BASE_URL)
        except ValueError:
            continue
        joined = URL(BASE_URL + path)
        assert joined.path.startswith(URL(BASE_URL).path + "/")
        assert ".." not in joined.path.split("/")
        assert joined.host == URL(BASE_URL).host
