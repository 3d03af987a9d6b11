"""client.add_attempt_listener: one call per attempt, retries and failures included."""

from __future__ import annotations

import aiohttp
import pytest
from aioresponses import aioresponses

from tests.unit.support import Sleeps, error_body, make_client, url
from trakk_async import NotFoundError, RequestAttempt

ME = {"id": 3, "name": "t", "agency_id": 12, "status": "active", "abilities": []}


async def test_every_attempt_is_reported_and_the_remover_stops_it(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), status=500, body=error_body("server_error", "Server Error"))
    mock_api.get(url("/me"), exception=aiohttp.ClientConnectionError("reset"))
    mock_api.get(url("/me"), payload=ME)
    mock_api.get(url("/me"), payload=ME)
    seen: list[RequestAttempt] = []
    async with make_client() as client:
        remove = client.add_attempt_listener(seen.append)
        await client.me()
        remove()
        await client.me()
    assert [(a.path, a.attempt, a.status) for a in seen] == [
        ("/me", 0, 500),
        ("/me", 1, None),
        ("/me", 2, 200),
    ]
    assert seen[1].error is not None
    assert "reset" in str(seen[1].error)
    assert all(a.elapsed >= 0 for a in seen)


async def test_retry_in_is_the_wait_before_the_next_attempt(mock_api: aioresponses) -> None:
    mock_api.get(url("/me"), status=503, body=error_body("unavailable", "Down"))
    mock_api.get(url("/me"), status=429, headers={"Retry-After": "7"}, body=b"{}")
    mock_api.get(url("/me"), payload=ME)
    mock_api.get(url("/users"), status=404, body=error_body("not_found", "Nope"))
    seen: list[RequestAttempt] = []
    heard_before_sleeping: list[float | None] = []

    class Recording(Sleeps):
        async def __call__(self, seconds: float) -> None:
            heard_before_sleeping.append(seen[-1].retry_in)
            await super().__call__(seconds)

    sleeps = Recording()
    async with make_client(sleeps=sleeps, random_value=0.5) as client:
        client.add_attempt_listener(seen.append)
        await client.me()
        with pytest.raises(NotFoundError):
            await client.users.list()
    assert [a.status for a in seen] == [503, 429, 200, 404]
    # The listener hears of each wait before it happens, with the length then slept.
    assert heard_before_sleeping == sleeps.waits
    assert [a.retry_in for a in seen[:2]] == sleeps.waits
    assert sleeps.waits[1] == 7.0
    assert seen[2].retry_in is None  # succeeded
    assert seen[3].retry_in is None  # not retried: raised
