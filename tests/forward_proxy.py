"""A small HTTP forward proxy on 127.0.0.1, for testing proxies from the environment.

It takes absolute-form requests (``GET http://127.0.0.1:8000/api/v1/me HTTP/1.1``), as a
client sends them to an ``http://`` proxy, records each one, and forwards it to its
target on loopback (refusing any other host: tests never leave this machine). With
``credentials`` it answers 407 to a request without the right ``Proxy-Authorization``.
One request per connection; the answer is streamed back and the connection closed. A
``CONNECT`` (how an https request starts through a proxy) is recorded in ``connects`` and
refused with 502: there is no TLS server to tunnel to, and its headers are what matter.
"""

from __future__ import annotations

import asyncio
import base64

from yarl import URL

from tests.hostile_server import RawServer

_LOOPBACK = ("127.", "localhost", "[::1]", "::1")


class ForwardProxy(RawServer):
    """Forwards requests to loopback targets; ``requests`` holds (target URL, headers)."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        super().__init__()
        self._credentials = credentials
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.connects: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        if self._credentials is None:
            return f"http://127.0.0.1:{self.port}"
        user, password = self._credentials
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    async def handle(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ")
        headers = dict(line.split(": ", 1) for line in lines if line)
        if method == "CONNECT":
            self.connects.append((target, headers))
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.requests.append((target, headers))
        url = URL(target)
        if not self._authorized(headers):
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n")
            writer.write(b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n')
            return
        if not url.is_absolute() or not str(url.host).startswith(_LOOPBACK):
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(url.host, url.port)
        forwarded = {
            k: v
            for k, v in headers.items()
            if k.lower() not in ("proxy-authorization", "connection")
        }
        forwarded["Connection"] = "close"
        lines = [f"{method} {url.raw_path_qs} {version}"]
        lines += [f"{name}: {value}" for name, value in forwarded.items()]
        upstream_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await upstream_writer.drain()
        while data := await upstream_reader.read(65536):
            writer.write(data)
            await writer.drain()
        upstream_writer.close()

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self._credentials is None:
            return True
        expected = base64.b64encode(":".join(self._credentials).encode()).decode()
        given = {k.lower(): v for k, v in headers.items()}.get("proxy-authorization")
        return given == f"Basic {expected}"
