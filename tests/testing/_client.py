"""A tiny HTTP client for the fake's tests: every request's status, headers and body."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.testing import _schema as s
from trakk_async.testing import FakeTrakk


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """A tiny client: GET a path with a token and return status, headers and body."""

    def __init__(self, fake: FakeTrakk, session: aiohttp.ClientSession) -> None:
        self.fake, self.session = fake, session

    async def get(
        self, path: str, /, token: str | None = None, method: str = "GET", **params: Any
    ) -> Response:
        headers = {"Authorization": f"Bearer {token or self.fake.token}"}
        url = path if path.startswith("http") else self.fake.base_url + path
        async with self.session.request(method, url, headers=headers, params=params) as resp:
            return Response(resp.status, dict(resp.headers), await resp.read())

    async def ok(self, path: str, token: str | None = None, /, **params: Any) -> Any:
        resp = await self.get(path, token, **params)
        assert resp.status == 200, (path, resp.status, resp.body[:300])
        return resp.json

    async def error(self, expected: int, code: str, path: str, /, **kw: Any) -> Response:
        resp = await self.get(path, **kw)
        assert resp.status == expected, (path, resp.status, resp.body[:300])
        s.check(resp.json, s.ERROR)
        assert resp.json["error"]["code"] == code
        assert resp.headers["Content-Type"].startswith("application/json")
        return resp
