"""The token stays secret on every error path: generated tokens, answers and failures.

A hostile or broken server (or a proxy) echoes the token back in any spelling, in the
body, the error envelope, the headers; aiohttp raises exceptions whose ``request_info``
holds the ``Authorization`` header. Whatever happens, nothing reachable from the raised
exception, the attempt listener's errors or any log record holds the token.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import aiohttp
import orjson
import pytest
from aioresponses import aioresponses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from tests.conftest import BASE_URL
from tests.leaks import capture_all_logs, leaked_from, leaks, spelled, tokens
from tests.samples import load
from tests.unit.support import OpenLimiter, Sleeps, url
from trakk_async import RequestAttempt, TrakkClient, TrakkError

ECHO_STATUSES = [200, 201, 204, 400, 401, 403, 404, 405, 418, 422, 429, 500, 502, 503, 504]


def request_info(token: str) -> aiohttp.RequestInfo:
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": f"Bearer {token}"}))
    return aiohttp.RequestInfo(URL(url("/me")), "GET", headers, URL(url("/me")))


def transport_failure(kind: str, token: str, echo: str) -> BaseException:
    """An exception as aiohttp (or the event loop) raises it, the token inside."""
    if kind == "response-error":  # a malformed response head, or raise_for_status
        return aiohttp.ClientResponseError(
            request_info(token),
            (),
            status=400,
            message=f"Invalid header value: Bearer {echo}",
            headers=CIMultiDict({"X-Echo": echo}),
        )
    if kind == "payload":
        return aiohttp.ClientPayloadError(f"Response payload is not completed: {echo}")
    if kind == "disconnected":
        return aiohttp.ServerDisconnectedError(f"Bearer {echo}")
    if kind == "invalid-url":
        return aiohttp.InvalidURL(f"https://api.trakk.test/?token={echo}")
    if kind == "os":
        return aiohttp.ClientOSError(104, f"reset: {echo}")
    if kind == "timeout":
        return TimeoutError(echo)
    if kind == "value":
        return ValueError(f"Cannot combine AUTHORIZATION header: Bearer {token}")
    return RuntimeError(f"Bearer {echo}")


FAILURES = ["response-error", "payload", "disconnected", "invalid-url", "os", "timeout", "value"]
FAILURES += ["runtime"]


def echo_body(kind: str, token: str, echo: str) -> bytes:
    """A body that quotes the token: ``echo`` is already spelled, ``token`` is raw."""
    if kind == "envelope-message":
        return orjson.dumps({"error": {"code": "unauthenticated", "message": f"bad {token}"}})
    if kind == "envelope-code":
        return orjson.dumps({"error": {"code": token, "message": "no"}})
    if kind == "html":
        return f"<html><pre>GET /me\nAuthorization: Bearer {echo}\n</pre></html>".encode()
    if kind == "truncated":
        return f'{{"data": {{"name": "{echo}", "id": '.encode()
    if kind == "php":
        return f"<b>Warning</b>: token {echo} in /app/Auth.php\n{{}}".encode()
    if kind == "long":  # the echo straddles where the excerpt is cut
        return b" " * 100 + f"x{echo}".encode() + b"y" * 300
    return f"Bearer {echo}".encode()


BODIES = ["envelope-message", "envelope-code", "html", "truncated", "php", "long", "plain"]


def wrong_shape(token: str, echo: str) -> bytes:
    """A 200 report whose fields hold the token (the converter quotes bad values)."""
    report = copy.deepcopy(load("report_latest"))
    report["data"]["date_to_create_texts"] = token
    report["data"]["status"] = {"nested": echo}
    report["cache_refreshed_at"] = echo
    return orjson.dumps(report)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    token = draw(tokens)
    echo = draw(spelled(token))
    kind = draw(st.sampled_from(["status", "failure", "redirect", "shape", "too-large"]))
    scenario: dict[str, Any] = {"token": token, "echo": echo, "kind": kind}
    if kind == "status":
        scenario["status"] = draw(st.sampled_from(ECHO_STATUSES) | st.integers(100, 599))
        scenario["body"] = echo_body(draw(st.sampled_from(BODIES)), token, echo)
        scenario["headers"] = {
            "X-Echo": f"Bearer {echo}",
            "Retry-After": draw(st.sampled_from([echo, "1", "Wed, 21 Oct 2015 07:28:00 GMT"])),
            "X-RateLimit-Remaining": echo,
            "X-RateLimit-Reset": echo,
        }
    elif kind == "failure":
        scenario["failure"] = draw(st.sampled_from(FAILURES))
    elif kind == "redirect":
        scenario["status"] = draw(st.sampled_from([301, 302, 303, 307, 308]))
        scenario["location"] = draw(
            st.sampled_from(
                [
                    f"{BASE_URL}/me?token={echo}",  # same host: followed, then fails
                    f"https://evil.example/?token={echo}",
                    f"http://[{echo}",
                    echo,
                ]
            )
        )
    return scenario


async def provoke(scenario: dict[str, Any]) -> tuple[BaseException, list[RequestAttempt]]:
    token, echo, kind = scenario["token"], scenario["echo"], scenario["kind"]
    attempts: list[RequestAttempt] = []
    with aioresponses() as mock:
        if kind == "status":
            mock.get(
                url("/me"),
                status=scenario["status"],
                body=scenario["body"],
                headers=scenario["headers"],
                repeat=True,
            )
        elif kind == "failure":
            mock.get(
                url("/me"),
                exception=transport_failure(scenario["failure"], token, echo),
                repeat=True,
            )
        elif kind == "redirect":
            headers = {"Location": scenario["location"]}
            mock.get(url("/me"), status=scenario["status"], headers=headers, repeat=True)
        elif kind == "shape":
            mock.get(url("/projects/1/reports/latest"), status=200, body=wrong_shape(token, echo))
        else:
            mock.get(url("/me"), status=200, body=f'{{"x": "{echo}"}}'.encode() * 50)
        client = TrakkClient(
            token,
            base_url=BASE_URL,
            max_retries=1,
            rate_limiter=OpenLimiter(),
            max_response_bytes=256,
            _sleep=Sleeps(),
            _random=lambda: 1.0,
        )
        client.add_attempt_listener(attempts.append)
        async with client:
            try:
                if kind == "shape":
                    await client.reports.latest(1)
                else:
                    await client.me()
            except TrakkError as error:
                return error, attempts
            except Exception as error:  # not a TrakkError: the test reports it below
                return error, attempts
    raise AssertionError(f"no error raised for {scenario}")


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_no_error_path_leaks_the_token(scenario: dict[str, Any]) -> None:
    token = scenario["token"]
    with capture_all_logs() as logs:
        error, attempts = asyncio.run(provoke(scenario))
    assert isinstance(error, TrakkError), f"{type(error).__name__} escaped: {error!r}"
    assert leaked_from(error, token) == []
    assert error.__cause__ is None
    assert error.__context__ is None
    for attempt in attempts:
        assert leaked_from(attempt, token) == []
    assert [text for text in logs.texts if leaks(text, token)] == []


@pytest.mark.parametrize("kind", FAILURES)
def test_aiohttp_exceptions_are_named_not_chained(kind: str) -> None:
    token = "tk_live_chain_0123456789"
    scenario = {"token": token, "echo": token, "kind": "failure", "failure": kind}
    error, _ = asyncio.run(provoke(scenario))
    assert isinstance(error, TrakkError)
    assert error.__cause__ is None
    assert error.__context__ is None
    assert not error.__suppress_context__  # nothing hidden: there is nothing
    assert token not in repr(error)
    assert token not in str(error)
