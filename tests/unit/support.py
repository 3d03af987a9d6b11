"""Helpers shared by the aioresponses-level unit tests of the client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aioresponses import aioresponses
from yarl import URL

from tests.conftest import BASE_URL, TOKEN
from trakk_async import TrakkClient
from trakk_async.ratelimit import RateLimitSnapshot


class OpenLimiter:
    """A rate limiter that never waits and records what it saw (the client's one seam)."""

    def __init__(self) -> None:
        self.acquired = 0
        self.observed: list[int | None] = []

    async def acquire(self, *, max_wait: float | None = None) -> None:
        self.acquired += 1

    def observe(self, status: int | None, headers: Mapping[str, str]) -> None:
        self.observed.append(status)

    def snapshot(self) -> RateLimitSnapshot:
        return RateLimitSnapshot(windows=())


class Sleeps:
    """An injected ``_sleep`` that records each wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_client(
    *,
    max_retries: int = 3,
    sleeps: Sleeps | None = None,
    random_value: float = 1.0,
    limiter: OpenLimiter | None = None,
    **kwargs: Any,
) -> TrakkClient:
    """A client on the unit tests' fake base URL that never really sleeps."""
    return TrakkClient(
        TOKEN,
        base_url=BASE_URL,
        max_retries=max_retries,
        rate_limiter=limiter or OpenLimiter(),
        _sleep=sleeps or Sleeps(),
        _random=lambda: random_value,
        **kwargs,
    )


def url(path: str, params: Mapping[str, str] | None = None) -> str:
    """The absolute URL of ``path`` as aioresponses matches it."""
    return str(URL(BASE_URL + path).with_query(params or {}))


def json_body(payload: Any) -> bytes:
    return orjson.dumps(payload)


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


def sent(mock: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    """Every request the client sent, in order: method, URL and the call's kwargs."""
    out: list[tuple[str, URL, dict[str, Any]]] = []
    for (method, request_url), calls in mock.requests.items():
        for call in calls:
            out.append((method, request_url, dict(call.kwargs)))
    return out


def request_count(mock: aioresponses) -> int:
    return sum(len(calls) for calls in mock.requests.values())


__all__ = [
    "OpenLimiter",
    "Sleeps",
    "error_body",
    "json_body",
    "make_client",
    "request_count",
    "sent",
    "url",
]
