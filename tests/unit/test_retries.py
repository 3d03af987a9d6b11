"""Retries: which failures are retried, how long the client waits, and when it gives up."""

from __future__ import annotations

import aiohttp
import pytest
from aioresponses import aioresponses

from tests.unit.support import OpenLimiter, Sleeps, error_body, make_client, request_count, url
from trakk_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InternalServerError,
    InvalidResponseError,
    Me,
    RateLimitError,
)

ME = {"id": 3, "name": "t", "agency_id": 12, "status": "active", "abilities": []}


def fail_then_succeed(mock: aioresponses, failures: int, **failure: object) -> None:
    for _ in range(failures):
        mock.get(url("/me"), **failure)
    mock.get(url("/me"), payload=ME)


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "body": error_body("server_error", "Server Error")},
        {"status": 502, "body": b"<html>Bad Gateway</html>"},
        {"status": 503, "body": b""},
        {"status": 429, "body": error_body("rate_limit_exceeded", "Too Many Attempts.")},
        {"exception": aiohttp.ClientConnectionError("reset by peer")},
        {"exception": aiohttp.ServerDisconnectedError()},
        {"exception": TimeoutError()},
        {"status": 200, "body": b'{"id": 3, "na'},
        {"status": 200, "body": b'{"id": 3, "name": "J\xc3'},
        {"status": 200, "body": b'{\n  "id": 3,\n  '},
        {"status": 200, "body": b""},
        {"exception": aiohttp.ClientPayloadError("Response payload is not completed")},
    ],
    ids=[
        "500",
        "502",
        "503",
        "429",
        "conn",
        "disconnect",
        "timeout",
        "truncated",
        "cut-in-a-character",
        "cut-after-whitespace",
        "empty",
        "payload-cut",
    ],
)
async def test_transient_failures_are_retried_with_backoff(
    mock_api: aioresponses, failure: dict[str, object]
) -> None:
    fail_then_succeed(mock_api, 3, **failure)
    sleeps = Sleeps()
    async with make_client(max_retries=3, sleeps=sleeps, random_value=1.0) as client:
        me = await client.me()
    assert isinstance(me, Me)
    assert request_count(mock_api) == 4
    assert sleeps.waits == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "bad_request"),
        (401, "unauthenticated"),
        (403, "forbidden"),
        (404, "not_found"),
        (405, "method_not_allowed"),
        (422, "validation_error"),
    ],
)
async def test_client_errors_are_never_retried(
    mock_api: aioresponses, status: int, code: str
) -> None:
    mock_api.get(url("/me"), status=status, body=error_body(code, "no"), repeat=True)
    sleeps = Sleeps()
    async with make_client(max_retries=5, sleeps=sleeps) as client:
        with pytest.raises(APIError) as info:
            await client.me()
    assert info.value.status == status
    assert request_count(mock_api) == 1
    assert sleeps.waits == []


async def test_giving_up_after_max_retries(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), status=503, body=b"", repeat=True)
    sleeps = Sleeps()
    async with make_client(max_retries=2, sleeps=sleeps) as client:
        with pytest.raises(InternalServerError):
            await client.me()
    assert request_count(mock_api) == 3
    assert len(sleeps.waits) == 2


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 503, "body": b""},
        {"status": 429, "body": b""},
        {"exception": aiohttp.ClientConnectionError("refused")},
        {"exception": TimeoutError()},
    ],
    ids=["503", "429", "conn", "timeout"],
)
async def test_max_retries_zero_disables_retries(
    mock_api: aioresponses, failure: dict[str, object]
) -> None:
    fail_then_succeed(mock_api, 1, **failure)
    sleeps = Sleeps()
    async with make_client(max_retries=0, sleeps=sleeps) as client:
        with pytest.raises((APIError, APIConnectionError)):
            await client.me()
    assert request_count(mock_api) == 1
    assert sleeps.waits == []


async def test_timeouts_raise_api_timeout_error_after_retries(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), exception=TimeoutError(), repeat=True)
    sleeps = Sleeps()
    async with make_client(max_retries=1, sleeps=sleeps) as client:
        with pytest.raises(APITimeoutError):
            await client.me()
    assert request_count(mock_api) == 2


async def test_full_jitter_and_the_backoff_cap(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), status=500, body=b"", repeat=True)
    full, quarter = Sleeps(), Sleeps()
    async with make_client(max_retries=7, sleeps=full, random_value=1.0) as client:
        with pytest.raises(InternalServerError):
            await client.me()
    async with make_client(max_retries=3, sleeps=quarter, random_value=0.25) as client:
        with pytest.raises(InternalServerError):
            await client.me()
    assert full.waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert quarter.waits == [0.125, 0.25, 0.5]


@pytest.mark.parametrize(("retry_after", "wait"), [("7", 7.0), ("0", 0.5), ("60", 60.0)])
async def test_retry_after_is_honored(
    mock_api: aioresponses, retry_after: str, wait: float
) -> None:
    fail_then_succeed(
        mock_api,
        1,
        status=429,
        headers={"Retry-After": retry_after},
        body=error_body("rate_limit_exceeded", "Too Many Attempts."),
    )
    sleeps = Sleeps()
    async with make_client(sleeps=sleeps, random_value=1.0) as client:
        assert isinstance(await client.me(), Me)
    assert sleeps.waits == [wait]


async def test_retry_after_as_an_http_date_is_honored(mock_api: aioresponses) -> None:
    fail_then_succeed(
        mock_api,
        1,
        status=429,
        headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},  # in the past: no floor
        body=b"",
    )
    sleeps = Sleeps()
    async with make_client(sleeps=sleeps, random_value=0.5) as client:
        await client.me()
    assert sleeps.waits == [0.25]


@pytest.mark.parametrize("retry_after", ["61", "3600"])
async def test_past_the_cap_the_rate_limit_error_goes_to_the_caller(
    mock_api: aioresponses, retry_after: str
) -> None:
    fail_then_succeed(
        mock_api,
        1,
        status=429,
        headers={"Retry-After": retry_after},
        body=error_body("rate_limit_exceeded", "Too Many Attempts."),
    )
    sleeps = Sleeps()
    async with make_client(sleeps=sleeps) as client:
        with pytest.raises(RateLimitError) as info:
            await client.me()
    assert info.value.retry_after == float(retry_after)
    assert sleeps.waits == []
    assert request_count(mock_api) == 1


async def test_closing_the_client_during_a_backoff_stops_the_retries(
    mock_api: aioresponses,
) -> None:
    mock_api.get(url("/me"), status=503, body=b"", repeat=True)
    client = make_client()

    class ClosingSleep(Sleeps):
        async def __call__(self, seconds: float) -> None:
            await super().__call__(seconds)
            await client.aclose()

    client._sleep = ClosingSleep()
    with pytest.raises(RuntimeError, match="closed"):
        await client.me()
    assert request_count(mock_api) == 1


async def test_every_attempt_passes_the_limiter_seam(mock_api: aioresponses) -> None:
    from tests.unit.support import OpenLimiter

    fail_then_succeed(mock_api, 2, status=429, body=b"")
    limiter = OpenLimiter()
    async with make_client(limiter=limiter) as client:
        await client.me()
    assert limiter.acquired == 3
    assert limiter.observed == [429, 429, 200]


class FastPathLimiter(OpenLimiter):
    """A limiter with the optional synchronous ``try_acquire`` fast path."""

    def __init__(self, grants: list[bool]) -> None:
        super().__init__()
        self.grants = grants
        self.tried = 0

    def try_acquire(self) -> bool:
        self.tried += 1
        return self.grants.pop(0)


async def test_the_client_uses_try_acquire_first_and_awaits_acquire_only_when_refused(
    mock_api: aioresponses,
) -> None:
    # First attempt: the fast path grants; the retry after a 503: refused, so acquire().
    fail_then_succeed(mock_api, 1, status=503, body=b"")
    limiter = FastPathLimiter([True, False])
    async with make_client(limiter=limiter) as client:
        assert isinstance(await client.me(), Me)
    assert (limiter.tried, limiter.acquired) == (2, 1)
    assert limiter.observed == [503, 200]


async def test_a_limiter_without_try_acquire_is_awaited_every_time(
    mock_api: aioresponses,
) -> None:
    fail_then_succeed(mock_api, 2, status=503, body=b"")
    limiter = OpenLimiter()
    async with make_client(limiter=limiter) as client:
        await client.me()
    assert limiter.acquired == 3


ME_JSON = b'{"data": {"id": 3, "name": "t", "agency_id": 12, "status": "active", "abilities": []}}'


@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbf" + ME_JSON,
        b"<br />\n<b>Warning</b>: Undefined variable $x in /app/Api.php on line 12<br />\n"
        + ME_JSON,
        b"Deprecated: strlen(): Passing null is deprecated\n" + ME_JSON,
        ME_JSON[:-3] + b"\xff\xfe" + ME_JSON[-3:],
        ME_JSON + b"\n<!-- served in 0.2s -->",
        b"<html><body>Maintenance</body></html>",
        b'{"data": {"id": 3, "name": "t\x01"}}',
    ],
    ids=[
        "bom",
        "php-warning",
        "php-deprecated",
        "invalid-utf8",
        "trailing-garbage",
        "html",
        "ctrl",
    ],
)
async def test_a_body_that_can_never_decode_is_not_retried(
    mock_api: aioresponses, body: bytes
) -> None:
    mock_api.get(url("/me"), status=200, body=body, repeat=True)
    sleeps = Sleeps()
    async with make_client(max_retries=3, sleeps=sleeps) as client:
        with pytest.raises(InvalidResponseError) as info:
            await client.me()
    assert request_count(mock_api) == 1
    assert sleeps.waits == []
    assert not info.value.truncated
    assert "not valid JSON" in info.value.detail


async def test_a_truncated_body_that_stays_truncated_is_raised_as_truncated(
    mock_api: aioresponses,
) -> None:
    mock_api.get(url("/me"), status=200, body=ME_JSON[:40], repeat=True)
    async with make_client(max_retries=2) as client:
        with pytest.raises(InvalidResponseError) as info:
            await client.me()
    assert request_count(mock_api) == 3
    assert info.value.truncated
    assert "ends early" in info.value.detail
