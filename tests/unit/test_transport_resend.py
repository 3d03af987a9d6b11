"""Every request on the wire is one attempt of the client: aiohttp's silent re-send is off.

aiohttp re-sends an idempotent request once when a kept-alive connection turns out to be
closed (``ClientSession._retry_connection``, a private attribute). That re-send bypasses
the rate limiter and the attempt counts, so the transport turns it off on the sessions it
owns. These tests fail when aiohttp renames or drops the attribute: then find its new
form in aiohttp's ``client.py`` and update ``_transport/http.py``.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator

import aiohttp
import pytest

from trakk_async._core.errors import APIConnectionError
from trakk_async._transport.http import Transport

OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
    b"Connection: keep-alive\r\n\r\n{}"
)


class DroppingServer:
    """Answers the first request of each connection, then closes it at the next one
    without answering (a keep-alive connection the server dropped). Counts requests."""

    def __init__(self) -> None:
        self.requests = 0
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered = False
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    return
                self.requests += 1
                if answered:
                    return  # close without an answer
                writer.write(OK)
                await writer.drain()
                answered = True
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/v1/me"

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def dropping() -> AsyncIterator[tuple[DroppingServer, str]]:
    server = DroppingServer()
    url = await server.start()
    yield server, url
    await server.close()


def test_aiohttp_still_has_the_resend_switch() -> None:
    # ClientSession warns about attributes it does not know (DeprecationWarning).
    assert "_retry_connection" in aiohttp.ClientSession.ATTRS


async def test_the_transports_own_session_never_resends(
    dropping: tuple[DroppingServer, str],
) -> None:
    server, url = dropping
    transport = Transport("tok", timeout=5.0, user_agent="test", max_response_bytes=1 << 20)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an unknown attribute would warn here
            status, _, _ = await transport.get(url, "/me")
        assert status == 200
        with pytest.raises(APIConnectionError):
            await transport.get(url, "/me")  # the kept-alive connection is dropped
    finally:
        await transport.aclose()
    assert server.requests == 2  # one per attempt: the drop is the client's to retry


async def test_a_plain_aiohttp_session_resends_which_is_what_we_turn_off(
    dropping: tuple[DroppingServer, str],
) -> None:
    # The control: without the switch aiohttp sends the dropped request again by itself,
    # on a new connection, and the caller never learns that two went out.
    server, url = dropping
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.get(url) as response:
                assert response.status == 200
    assert server.requests == 3


async def test_a_borrowed_session_is_left_as_its_owner_set_it(
    dropping: tuple[DroppingServer, str],
) -> None:
    _, url = dropping
    async with aiohttp.ClientSession() as session:
        transport = Transport(
            "tok", timeout=5.0, user_agent="test", max_response_bytes=1 << 20, session=session
        )
        status, _, _ = await transport.get(url, "/me")
        assert status == 200
        assert session._retry_connection is True
        await transport.aclose()
        assert not session.closed
