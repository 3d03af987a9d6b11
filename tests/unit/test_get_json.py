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
from trakk_async._protocol.core import build_url, check_api_path


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
