"""client.add_attempt_listener: one call per attempt, retries and failures included."""

from __future__ import annotations

import aiohttp
from aioresponses import aioresponses

from tests.unit.support import error_body, make_client, url
from trakk_async import RequestAttempt

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
