"""Tells us when the aioresponses shim (tests/aioresponses_shim.py) can go."""

from __future__ import annotations

import pytest
from aiohttp import ClientSession
from aioresponses import aioresponses
from aioresponses.core import RequestMatch
from yarl import URL

from tests import aioresponses_shim


def test_upstream_aioresponses_still_needs_the_shim() -> None:
    """Fails once aioresponses builds responses aiohttp accepts: then delete the shim."""
    match = RequestMatch("https://example.test/x")
    with pytest.raises(TypeError, match="stream_writer"):
        match._build_response(
            URL("https://example.test/x"),
            response_class=aioresponses_shim.UPSTREAM_CLIENT_RESPONSE,
        )


async def test_shimmed_aioresponses_serves_a_response() -> None:
    with aioresponses() as mocked:
        mocked.get("https://example.test/x", payload={"ok": True}, status=201)
        async with ClientSession() as session, session.get("https://example.test/x") as r:
            assert r.status == 201
            assert await r.json() == {"ok": True}
