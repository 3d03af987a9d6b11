"""A hostile server on loopback: malformed heads, endless bodies, compression bombs.

Real sockets and aiohttp's real parser and decompressor (aioresponses would skip both),
against the raw server of ``tests/hostile_server.py``.
"""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import aiohttp
import orjson
import pytest

from tests.hostile_server import HostileServer, Reply, endless, fixed
from tests.leaks import capture_all_logs, leaked_from
from tests.samples import load
from tests.unit.support import OpenLimiter, Sleeps
from trakk_async import (
    APIConnectionError,
    InvalidResponseError,
    Me,
    NotFoundError,
    ResponseTooLargeError,
    TrakkClient,
    TrakkError,
)
from trakk_async._protocol.core import DEFAULT_MAX_RESPONSE_BYTES

pytestmark = pytest.mark.integration

TOKEN: Final = "tk_live_hostile_0123456789abcdef"
ME: Final = orjson.dumps(load("me"))
MIB: Final = 1024 * 1024
#: The bounded time any test here may take to fail: a hang fails instead of waiting for
#: the client's timeout (which is longer, so a stuck read cannot pass by timing out).
PATIENCE: Final = 20.0


def head(status: str = "200 OK", **headers: str | int) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def client_for(server: HostileServer, **kwargs: Any) -> TrakkClient:
    kwargs.setdefault("max_retries", 2)
    return TrakkClient(
        TOKEN,
        base_url=server.base_url,
        rate_limiter=OpenLimiter(),
        timeout=60,
        trust_env=False,
        _sleep=Sleeps(),
        **kwargs,
    )


async def fail_with(
    server: HostileServer, call: Callable[[TrakkClient], Awaitable[Any]], **kwargs: Any
) -> TrakkError:
    async with client_for(server, **kwargs) as client:
        try:
            await asyncio.wait_for(call(client), PATIENCE)
        except TrakkError as error:
            return error
    raise AssertionError("no error")


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Reply], Awaitable[HostileServer]]]:
    servers: list[HostileServer] = []

    async def start(reply: Reply) -> HostileServer:
        server = HostileServer(reply)
        await server.__aenter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.__aexit__(None, None, None)


# ------------------------------------------------------------- nothing leaks, all typed


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nX-Echo: Bearer " + TOKEN.encode() + b"\r\nBroken header\r\n\r\n",
        b"HTTP/1.1 2OO OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + TOKEN.encode(),
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!",
        b"<html>Bearer " + TOKEN.encode() + b"</html>",
    ],
    ids=["bad-length", "bad-header", "bad-status", "bad-chunk", "bad-gzip", "no-http"],
)
async def test_a_malformed_response_is_a_typed_error_holding_no_token(
    serve: Callable[[Reply], Awaitable[HostileServer]], raw: bytes
) -> None:
    # aiohttp raises ClientResponseError for most of these, whose request_info holds our
    # headers (the token among them).
    server = await serve(fixed(raw))
    with capture_all_logs() as logs:  # aiohttp's loggers included, at DEBUG
        error = await fail_with(server, lambda c: c.me(), max_retries=1)
    assert [text for text in logs.texts if TOKEN in text] == []
    assert isinstance(error, APIConnectionError | InvalidResponseError)
    assert error.__cause__ is None
    assert error.__context__ is None
    assert leaked_from(error, TOKEN) == []
    assert b"Bearer " + TOKEN.encode() in server.heads[0]  # it was sent, and is not kept


async def test_a_borrowed_session_raising_for_status_still_gives_the_typed_error(
    serve: Callable[[Reply], Awaitable[HostileServer]],
) -> None:
    envelope = orjson.dumps({"error": {"code": "not_found", "message": "No such project."}})
    server = await serve(fixed(head("404 Not Found", Content_Length=len(envelope)) + envelope))
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        error = await fail_with(server, lambda c: c.projects.get(7), session=session)
    assert isinstance(error, NotFoundError)
    assert (error.code, error.message) == ("not_found", "No such project.")
    assert error.__cause__ is None
    assert error.__context__ is None
    assert leaked_from(error, TOKEN) == []


async def test_an_unparseable_redirect_location_is_a_typed_error(
    serve: Callable[[Reply], Awaitable[HostileServer]],
) -> None:
    server = await serve(fixed(head("302 Found", Location="http://[::1", Content_Length=0)))
    error = await fail_with(server, lambda c: c.me())
    assert isinstance(error, InvalidResponseError)
    assert "Location" in error.detail
    assert len(server.heads) == 1  # not retried: the server would say the same


# ------------------------------------------------------------------ the size limit


def test_the_default_limit_is_the_documented_64_mib() -> None:
    assert DEFAULT_MAX_RESPONSE_BYTES == 64 * MIB
    client = TrakkClient(TOKEN)
    assert client._transport._max_bytes == 64 * MIB


async def test_a_content_length_over_the_limit_is_refused_before_reading(
    serve: Callable[[Reply], Awaitable[HostileServer]],
) -> None:
    # The head promises a terabyte and the body never comes: only the header can end it.
    server = await serve(endless(head(Content_Length=10**12), b"", most=0))
    error = await fail_with(server, lambda c: c.me(), max_response_bytes=MIB)
    assert isinstance(error, ResponseTooLargeError)
    assert error.limit == MIB
    assert "1,048,576 bytes" in str(error)
    assert len(server.heads) == 1  # not retried


async def test_an_endless_body_stops_at_the_limit(
    serve: Callable[[Reply], Awaitable[HostileServer]],
) -> None:
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    server = await serve(endless(head(Transfer_Encoding="chunked"), framed, most=64 * 1024))
    error = await fail_with(server, lambda c: c.me(), max_response_bytes=2 * MIB)
    assert isinstance(error, ResponseTooLargeError)
    assert len(server.heads) == 1
    await asyncio.wait_for(server.hung_up.wait(), PATIENCE)  # the client closed on it


def chunked(*parts: bytes) -> bytes:
    """``parts`` in chunked transfer coding, with the closing zero-size chunk."""
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"


@pytest.mark.parametrize("framing", ["length", "chunked", "gzip"])
@pytest.mark.parametrize("size", [4096, 4097])
async def test_a_body_at_the_limit_is_read_one_byte_more_is_not(
    serve: Callable[[Reply], Awaitable[HostileServer]], framing: str, size: int
) -> None:
    body = ME + b" " * (size - len(ME))
    if framing == "length":
        raw = head(Content_Length=len(body)) + body
    elif framing == "chunked":
        raw = head(Transfer_Encoding="chunked") + chunked(body[:1000], body[1000:])
    else:
        packed = gzip.compress(body)
        raw = head(Content_Encoding="gzip", Content_Length=len(packed)) + packed
    server = await serve(fixed(raw))
    async with client_for(server, max_response_bytes=4096) as client:
        if size == 4096:
            assert isinstance(await client.me(), Me)
        else:
            with pytest.raises(ResponseTooLargeError):
                await client.me()
    assert len(server.heads) == 1


@pytest.mark.parametrize(
    "encoding",
    ["gzip", "x-gzip", "gzip-members", "deflate", "raw-deflate", "identity", "GZIP "],
)
async def test_compressed_bodies_are_inflated(
    serve: Callable[[Reply], Awaitable[HostileServer]], encoding: str
) -> None:
    if encoding in ("gzip", "x-gzip", "GZIP "):
        packed = gzip.compress(ME)
    elif encoding == "gzip-members":
        packed, encoding = gzip.compress(ME[:20]) + gzip.compress(ME[20:]), "gzip"
    elif encoding == "deflate":
        packed = zlib.compress(ME)
    elif encoding == "raw-deflate":
        squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        packed, encoding = squeeze.compress(ME) + squeeze.flush(), "deflate"
    else:
        packed = ME
    raw = head(Content_Encoding=encoding, Transfer_Encoding="chunked")
    server = await serve(fixed(raw + chunked(packed[:7], packed[7:])))
    async with client_for(server) as client:
        assert isinstance(await client.me(), Me)
    assert b"accept-encoding: gzip, deflate" in server.heads[0].lower()


@pytest.mark.parametrize(("encoding", "body"), [("br", b"\x1b\x00"), ("gzip", b"not gzip")])
async def test_an_unknown_encoding_or_corrupt_data_is_invalid_and_not_retried(
    serve: Callable[[Reply], Awaitable[HostileServer]], encoding: str, body: bytes
) -> None:
    server = await serve(fixed(head(Content_Encoding=encoding, Content_Length=len(body)) + body))
    error = await fail_with(server, lambda c: c.me())
    assert isinstance(error, InvalidResponseError)
    assert error.__context__ is None
    assert len(server.heads) == 1


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """1 MiB of gzip that inflates to 1 GiB: 16 gzip members of 64 MiB of zeros each."""
    member = gzip.compress(b"\0" * (64 * MIB), compresslevel=6)
    return member * 16


async def test_a_compression_bomb_is_stopped_after_decompression_with_bounded_memory(
    serve: Callable[[Reply], Awaitable[HostileServer]], gzip_bomb: bytes
) -> None:
    assert len(gzip_bomb) < 2 * MIB  # small on the wire, far under the limit there
    raw = head(Content_Encoding="gzip", Content_Length=len(gzip_bomb)) + gzip_bomb
    server = await serve(fixed(raw))
    tracemalloc.start()
    try:
        error = await fail_with(server, lambda c: c.me(), max_response_bytes=4 * MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(error, ResponseTooLargeError)
    assert peak < 8 * MIB  # the 4 MiB kept and one piece in hand, not the gigabyte
    assert len(server.heads) == 1


async def test_compressed_bytes_on_the_wire_count_against_the_limit(
    serve: Callable[[Reply], Awaitable[HostileServer]],
) -> None:
    # Deflate that keeps coming and inflates to nothing: empty stored blocks (what a sync
    # flush writes: no data, byte-aligned), 64 KiB of them per chunk. Only the bytes on
    # the wire can end it.
    squeeze = zlib.compressobj()
    start = squeeze.compress(b"{") + squeeze.flush(zlib.Z_SYNC_FLUSH)
    empty = b"\x00\x00\x00\xff\xff" * (65536 // 5)
    assert zlib.decompressobj().decompress(start + empty) == b"{"
    framed = [f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (start, empty)]
    reply = endless(
        head(Transfer_Encoding="chunked", Content_Encoding="deflate") + framed[0],
        framed[1],
        most=16 * 1024,
    )
    server = await serve(reply)
    error = await fail_with(server, lambda c: c.me(), max_response_bytes=MIB)
    assert isinstance(error, ResponseTooLargeError)
