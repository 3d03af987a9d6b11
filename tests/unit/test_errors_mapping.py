"""Error responses become the exception of the reference's table; the token never leaks."""

from __future__ import annotations

import logging
import pickle
from datetime import UTC, datetime

import aiohttp
import pytest
from aioresponses import aioresponses

import trakk_async
from tests.conftest import TOKEN
from tests.unit.support import error_body, make_client, request_count, url
from trakk_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidResponseError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TrakkError,
    UnprocessableEntityError,
)

TABLE = [
    (400, "bad_request", BadRequestError),
    (401, "unauthenticated", AuthenticationError),
    (403, "forbidden", PermissionDeniedError),
    (404, "not_found", NotFoundError),
    (405, "method_not_allowed", MethodNotAllowedError),
    (422, "validation_error", UnprocessableEntityError),
    (429, "rate_limit_exceeded", RateLimitError),
    (500, "server_error", InternalServerError),
]

HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center>"
    b"<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>" + b" " * 2000
)


def test_the_exception_tree_is_exported() -> None:
    for _, _, cls in TABLE:
        assert issubclass(cls, APIError)
        assert getattr(trakk_async, cls.__name__) is cls
    for base in (APIError, InvalidResponseError, APIConnectionError, APITimeoutError):
        assert issubclass(base, TrakkError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APITimeoutError, TimeoutError)


@pytest.mark.parametrize(("status", "code", "cls"), TABLE, ids=[str(r[0]) for r in TABLE])
async def test_every_error_code_of_the_table(
    mock_api: aioresponses, status: int, code: str, cls: type[APIError]
) -> None:
    mock_api.get(url("/projects/42"), status=status, body=error_body(code, f"msg {code}"))
    async with make_client(max_retries=0) as client:
        with pytest.raises(cls) as info:
            await client.projects.get(42)
    error = info.value
    assert type(error) is cls
    assert (error.status, error.code, error.message) == (status, code, f"msg {code}")
    assert error.path == "/projects/42"
    assert f"HTTP {status}" in str(error)
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)
    assert request_count(mock_api) == 1


async def test_rate_limit_error_carries_retry_after_and_reset(mock_api: aioresponses) -> None:
    mock_api.get(
        url("/me"),
        status=429,
        headers={"Retry-After": "17", "X-RateLimit-Reset": "1774872000"},
        body=error_body("rate_limit_exceeded", "Too Many Attempts."),
    )
    async with make_client(max_retries=0) as client:
        with pytest.raises(RateLimitError) as info:
            await client.me()
    assert info.value.retry_after == 17.0
    assert info.value.reset_at == datetime.fromtimestamp(1774872000, UTC)
    assert "retry after 17s" in str(info.value)


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_a_proxy_error_page_is_an_internal_server_error_with_an_excerpt(
    mock_api: aioresponses, status: int
) -> None:
    mock_api.get(url("/me"), status=status, body=HTML_PAGE, content_type="text/html")
    async with make_client(max_retries=0) as client:
        with pytest.raises(InternalServerError) as info:
            await client.me()
    assert info.value.status == status
    assert info.value.code is None
    assert "502 Bad Gateway" in info.value.message
    assert len(str(info.value)) < 300


async def test_an_unknown_status_is_an_api_error(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), status=418, body=error_body("teapot", "I'm a teapot"))
    async with make_client(max_retries=0) as client:
        with pytest.raises(APIError) as info:
            await client.me()
    assert info.value.status == 418
    assert info.value.code == "teapot"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (HTML_PAGE, "not valid JSON"),
        (b'{"data": {"id": 42, "name": "Proj', "not valid JSON"),
        (b"", "empty body"),
    ],
    ids=["html", "truncated", "empty"],
)
async def test_a_200_body_that_is_not_json_is_invalid(
    mock_api: aioresponses, body: bytes, detail: str
) -> None:
    mock_api.get(url("/projects/42"), status=200, body=body)
    async with make_client(max_retries=0) as client:
        with pytest.raises(InvalidResponseError) as info:
            await client.projects.get(42)
    error = info.value
    assert error.status == 200
    assert detail in error.detail
    assert error.path == "/projects/42"
    assert error.excerpt.startswith(body[:20].decode())
    assert bool(error.excerpt) == bool(body)
    assert len(error.excerpt) <= 123
    assert "HTTP 200" in str(error)


@pytest.mark.parametrize(
    "payload",
    [
        {"data": "x"},
        {"data": {"id": "42"}},
        [1, 2],
        {"id": 42, "name": "bare, without data"},
    ],
)
async def test_a_wrong_shape_is_invalid_with_status_path_and_excerpt(
    mock_api: aioresponses, payload: object
) -> None:
    mock_api.get(url("/projects/42"), status=200, payload=payload)
    async with make_client(max_retries=0) as client:
        with pytest.raises(InvalidResponseError) as info:
            await client.projects.get(42)
    error = info.value
    assert error.status == 200
    assert error.excerpt
    assert "$" in error.detail
    assert error.path == "/projects/42"


async def test_a_wrong_shape_is_not_retried(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), status=200, payload={"id": "3"}, repeat=True)
    async with make_client(max_retries=3) as client:
        with pytest.raises(InvalidResponseError):
            await client.me()
    assert request_count(mock_api) == 1


async def test_connection_and_timeout_errors(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), exception=aiohttp.ClientConnectionError("refused"))
    mock_api.get(url("/users"), exception=TimeoutError())
    async with make_client(max_retries=0, timeout=5) as client:
        with pytest.raises(APIConnectionError) as conn:
            await client.me()
        with pytest.raises(APITimeoutError) as timeout:
            await client.users.list()
    assert "refused" in str(conn.value)
    assert "5s" in str(timeout.value)
    # aiohttp's exception is named, not chained: its request_info holds the token.
    assert "ClientConnectionError" in str(conn.value)
    assert conn.value.__cause__ is None
    assert conn.value.__context__ is None


async def test_the_token_never_leaks(
    mock_api: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trakk_async")
    mock_api.get(url("/me"), status=401, body=error_body("unauthenticated", "Unauthenticated."))
    mock_api.get(url("/users"), status=500, body=b"<html>oops</html>", repeat=True)
    mock_api.get(url("/countries"), status=200, body=b"{trunc")
    mock_api.get(url("/languages"), exception=aiohttp.ClientConnectionError("boom"))
    mock_api.get(url("/projects/42"), status=200, payload={"data": []})
    client = make_client(max_retries=2)
    errors: list[BaseException] = []
    async with client:
        for call in (
            client.me,
            client.users.list,
            client.countries.list,
            client.languages.list,
            lambda: client.projects.get(42),
        ):
            with pytest.raises(TrakkError) as info:
                await call()
            errors.append(info.value)
        assert TOKEN not in repr(client)
        assert TOKEN not in repr(client.projects)
    assert TOKEN not in repr(client)
    for error in errors:
        for text in (str(error), repr(error), repr(pickle.loads(pickle.dumps(error)))):
            assert TOKEN not in text
            assert TOKEN[8:] not in text
    assert caplog.records, "DEBUG logging of requests is expected"
    messages = [r.getMessage() for r in caplog.records]
    assert any("GET /me -> 401" in m for m in messages)
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN[8:] not in str(record.args)


def test_pickled_errors_keep_their_fields() -> None:
    error = RateLimitError("slow down", path="/me", retry_after=3.0)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is RateLimitError
    assert (clone.status, clone.code, clone.retry_after, clone.path) == (
        429,
        "rate_limit_exceeded",
        3.0,
        "/me",
    )
    invalid = InvalidResponseError("bad", status=200, excerpt="<html>", path="/me")
    assert str(pickle.loads(pickle.dumps(invalid))) == str(invalid)


@pytest.mark.parametrize(
    ("status", "cls"),
    [(200, InvalidResponseError), (403, PermissionDeniedError), (502, InternalServerError)],
)
async def test_a_body_echoing_the_token_is_redacted_in_exceptions(
    mock_api: aioresponses, status: int, cls: type[Exception]
) -> None:
    echo = f"<html><pre>GET /me\nAuthorization: Bearer {TOKEN}\n</pre></html>".encode()
    mock_api.get(url("/me"), status=status, body=echo)
    async with make_client(max_retries=0) as client:
        with pytest.raises(cls) as info:
            await client.me()
    assert "Authorization: Bearer [token]" in str(info.value)
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)


async def test_an_envelope_message_echoing_the_token_is_redacted(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), status=401, body=error_body("unauthenticated", f"bad {TOKEN}"))
    mock_api.get(url("/users"), status=200, payload={"data": {"echo": TOKEN}})
    async with make_client(max_retries=0) as client:
        with pytest.raises(AuthenticationError) as auth:
            await client.me()
        with pytest.raises(InvalidResponseError) as shape:
            await client.users.list()
    assert auth.value.message == "bad [token]"
    assert TOKEN not in str(shape.value)
    assert "[token]" in shape.value.excerpt
