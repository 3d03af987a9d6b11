"""A raw HTTP/1.1 server on 127.0.0.1 that answers with whatever bytes a test scripts.

aiohttp.web (and the fake) only send well-formed HTTP; these tests need the malformed
heads, endless bodies and compression bombs a hostile server or a broken proxy sends.
Every connection reads one request head and hands the writer to the test's ``reply``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

Reply = Callable[[asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """An asyncio server on 127.0.0.1: one request head per connection, to :meth:`handle`.

    The connection is closed when ``handle`` returns; ``hung_up`` is set once the client
    closed one first. Used as ``async with``.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.hung_up = asyncio.Event()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def handle(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        """Answer the request whose head (up to the blank line) is ``head``."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self._host, 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:  # answers still running (Server.close leaves them)
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self.handle(await reader.readuntil(b"\r\n\r\n"), writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.hung_up.set()
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class HostileServer(RawServer):
    """Serves ``reply`` to every request; ``heads`` holds each request head received."""

    def __init__(self, reply: Reply, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self._reply = reply
        self.heads: list[bytes] = []

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}/api/v1"

    async def handle(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        self.heads.append(head)
        await self._reply(writer)


def fixed(raw: bytes) -> Reply:
    """A reply that sends ``raw`` and closes."""

    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()

    return reply


def endless(head: bytes, chunk: bytes, *, most: int) -> Reply:
    """A reply that sends ``head`` then ``chunk`` again and again (``most`` times at most)."""

    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(head)
        for _ in range(most):
            writer.write(chunk)
            await writer.drain()

    return reply
