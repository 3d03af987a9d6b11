"""The one aiohttp session layer: send a GET, return status, headers and body.

This is the only module that imports aiohttp's client. It knows nothing of Trakk's
payloads. At this boundary it:

- turns everything aiohttp (or yarl) can raise while sending and reading into a
  ``TrakkError``, without chaining the original: aiohttp's exceptions carry
  ``request_info``, whose headers hold the token;
- keeps the token in one header dict that no repr shows, and redacts it (with a proxy's
  password) from every text it quotes;
- reads at most ``max_response_bytes`` of a body, counted on the wire and again after
  decompression, so neither an endless body nor a compression bomb can grow memory;
- never follows a redirect to another host;
- takes a proxy from ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``NO_PROXY`` for the session it
  owns (but never ``~/.netrc`` credentials for Trakk itself: the token is the only one).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping
from typing import Any, Final, TypeAlias

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from trakk_async._core.errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    InvalidResponseError,
    ResponseTooLargeError,
    TrakkError,
)
from trakk_async._core.redact import redact
from trakk_async._protocol.core import MESSAGE_CHARS, clip, redirect_target, same_origin

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS: Final = 5
#: The most one step of inflating produces: past the body kept, memory grows by no more.
_INFLATE_PIECE: Final = 256 * 1024


#: What came back: the status, the headers (case-insensitive) and the whole body. A plain
#: tuple: one is built per response, and a class's ``__init__`` is a Python call more.
RawResponse = tuple[int, Mapping[str, str], bytes]

#: The session a user may lend the client (``TrakkClient(session=...)``): aiohttp's own
#: class, named here so that the layers above type it without importing aiohttp (the
#: import-linter contract "aiohttp-client" keeps aiohttp to this folder and the fake).
ClientSession: TypeAlias = aiohttp.ClientSession


@functools.lru_cache(maxsize=1024)
def _encoded_url(url: str) -> URL:
    # build_url quoted it already: skip yarl's re-normalisation. Cached, because the same
    # URLs come back (pages, /me, a project's reports) and building one is not free.
    return URL(url, encoded=True)


class Transport:
    """Sends GETs on one ``aiohttp.ClientSession``, owned or borrowed.

    A session passed in is borrowed and never closed here (its own proxy settings apply);
    one created here is closed by :meth:`aclose`. The token lives only in
    ``self._headers`` and ``self._options`` (and ``self._secrets``, to redact it), which
    no repr shows.

    Every request on the wire is one attempt of the client's retry loop, so the rate
    limiter books it: on its own session the transport turns off aiohttp's silent
    re-send of an idempotent request after a dropped keep-alive connection. A borrowed
    session is left as its owner configured it (aiohttp re-sends once, unbooked).
    """

    __slots__ = (
        "_headers",
        "_max_bytes",
        "_options",
        "_owns_session",
        "_secrets",
        "_session",
        "_timeout",
        "_trust_env",
    )

    def __init__(
        self,
        token: str,
        *,
        timeout: float,
        user_agent: str,
        max_response_bytes: int,
        trust_env: bool = True,
        session: ClientSession | None = None,
    ) -> None:
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            # What _Inflate can undo (aiohttp would also offer br and zstd).
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": user_agent,
        }
        self._secrets: tuple[str, ...] = (token,)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_bytes = max_response_bytes
        self._trust_env = trust_env
        #: Per request on our own session: the Authorization header, and a proxy from
        #: the environment. Settled on the first request (see _request_options).
        self._options: dict[str, Any] | None = None
        self._session = session
        self._owns_session = session is None

    def __repr__(self) -> str:
        return f"<Transport owns_session={self._owns_session}>"

    def redact(self, text: str) -> str:
        """``text`` with the token (and a proxy's password) blanked out, in any spelling.

        Applied to everything quoted from the outside world before it goes into an
        exception: a proxy or gateway may echo the request, headers included.
        """
        return redact(text, *self._secrets)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Created on first use, inside the running loop, as aiohttp wants. Its default
            # headers are ours, all but Authorization: aiohttp copies a session's default
            # headers into a proxy's, and would send the token to the proxy as its
            # Proxy-Authorization (in clear, in the CONNECT of an https request).
            # trust_env stays off: with it aiohttp would also read ~/.netrc for Trakk's
            # host and refuse to combine those credentials with our Authorization header
            # (and look the environment up again, in a thread, for every request); the
            # proxy is looked up once instead, by _request_options.
            defaults = {k: v for k, v in self._headers.items() if k != "Authorization"}
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers=defaults,
                auto_decompress=False,  # _Inflate does it, counting (see _read)
                connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300),
            )
            # aiohttp re-sends a GET once when a kept-alive connection turns out closed,
            # past the rate limiter; the client's retry loop does it instead. A private
            # attribute (aiohttp's own test client sets it too), guarded by
            # tests/unit/test_transport_resend.py.
            self._session._retry_connection = False
        return self._session

    def _request_options(self, url: str) -> dict[str, Any]:
        """What each request on our session adds: the token, and the environment's proxy.

        Every URL of this transport shares the first one's origin (redirects elsewhere are
        refused), so one proxy lookup serves them all.
        """
        headers = {"Authorization": self._headers["Authorization"]}
        options: dict[str, Any] = {"headers": headers}
        if not self._trust_env:
            return options
        try:
            proxy, proxy_auth = get_env_proxy_for_url(URL(url, encoded=True))
        except LookupError:  # no proxy for this URL, or NO_PROXY lists its host
            return options
        options["proxy"] = proxy
        if proxy_auth is not None:
            if proxy_auth.password:
                self._secrets = (*self._secrets, proxy_auth.password)
            credentials = {"Proxy-Authorization": proxy_auth.encode()}
            if url.startswith("https:"):  # in the CONNECT only, never through the tunnel
                options["proxy_headers"] = credentials
            else:  # plain http (loopback only) goes to the proxy as is
                headers.update(credentials)
        return options

    async def get(
        self, url: str, path: str, timeout: float | None = None, _redirects: int = 0
    ) -> RawResponse:
        """GET ``url`` and read the whole body; ``path`` is only for error messages.

        ``timeout`` (seconds) replaces the transport's own for this request. A redirect to
        the same origin is followed (at most ``_MAX_REDIRECTS`` times); one to another host
        raises instead of sending the token there. Every failure is a
        :class:`TrakkError`, raised with no exception chained to it.
        """
        session = self._session
        if session is None:
            session = self._get_session()
        limit = self._timeout if timeout is None else aiohttp.ClientTimeout(total=timeout)
        failure: TrakkError
        try:
            if self._owns_session:
                options = self._options
                if options is None:
                    options = self._options = self._request_options(url)
                request = (
                    session.get(_encoded_url(url), allow_redirects=False, **options)
                    if timeout is None
                    else session.get(
                        _encoded_url(url), allow_redirects=False, timeout=limit, **options
                    )
                )
            else:
                # A borrowed session gets our headers and timeout per request, may not
                # raise for an error status (we read the envelope first) and leaves the
                # decompression to _read, like ours.
                request = session.get(
                    _encoded_url(url),
                    allow_redirects=False,
                    headers=self._headers,
                    timeout=limit,
                    raise_for_status=False,
                    auto_decompress=False,
                )
            async with request as resp:
                status, headers = resp.status, resp.headers
                body = await self._read(resp, path)
        except TrakkError as error:
            failure = error
        except TimeoutError:
            failure = APITimeoutError(f"GET {path} got no answer within {limit.total:g}s")
        except aiohttp.ClientError as exc:
            failure = APIConnectionError(f"GET {path} failed: {self._describe(exc)}")
        except ValueError as exc:
            # aiohttp refused to build the request: a borrowed session adding credentials
            # of its own (auth=, or ~/.netrc with trust_env=True) to our Authorization.
            failure = ConfigurationError(f"GET {path} could not be sent: {self._describe(exc)}")
        except Exception as exc:  # the boundary: nothing else may escape
            failure = APIConnectionError(f"GET {path} failed: {self._describe(exc)}")
        else:
            if status not in _REDIRECTS:
                return status, headers, body
            return await self._follow(url, path, status, headers, timeout, _redirects)
        # Raised here, outside the except clauses, so that nothing is chained to it.
        raise failure

    async def _read(self, resp: aiohttp.ClientResponse, path: str) -> bytes:
        """The body, or :class:`ResponseTooLargeError` as soon as it passes the limit.

        Counted twice: the bytes on the wire (so a compressed stream that inflates to
        nothing cannot go on for ever) and the bytes after decompression, which is done
        here, at most the room left at a time, so a compression bomb never inflates more.
        """
        limit = self._max_bytes
        declared = resp.headers.get("Content-Length", "")
        length = int(declared) if declared.isascii() and declared.isdigit() else None
        if length is not None and length > limit:
            raise ResponseTooLargeError(limit, status=resp.status, path=path)
        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        inflate = _Inflate.for_encoding(encoding, resp.status, path)
        if inflate is None and length is not None:
            return await resp.read()  # aiohttp reads exactly Content-Length bytes
        chunks: list[bytes] = []
        wire = size = 0
        while chunk := await resp.content.readany():
            wire += len(chunk)
            if wire > limit:
                raise ResponseTooLargeError(limit, status=resp.status, path=path)
            pieces = [chunk] if inflate is None else inflate.feed(chunk, room=limit - size)
            size += sum(map(len, pieces))
            if size > limit:
                raise ResponseTooLargeError(limit, status=resp.status, path=path)
            chunks += pieces
        return b"".join(chunks)

    async def _follow(
        self,
        url: str,
        path: str,
        status: int,
        headers: Mapping[str, str],
        timeout: float | None,
        redirects: int,
    ) -> RawResponse:
        location = headers.get("Location")
        if not location:
            raise InvalidResponseError(
                "redirect without a Location header", status=status, path=path
            )
        target = redirect_target(url, location)
        if target is None:
            raise InvalidResponseError(
                "the redirect's Location header is not a valid URL", status=status, path=path
            )
        if not same_origin(url, target):
            # Never send the token to another host: stop here instead.
            raise InvalidResponseError(
                "the server redirected to another host; not following it with the token",
                status=status,
                path=path,
            )
        if redirects >= _MAX_REDIRECTS:
            raise InvalidResponseError("too many redirects", status=status, path=path)
        return await self.get(target, path, timeout, redirects + 1)

    def _describe(self, exc: BaseException) -> str:
        # aiohttp's messages may quote what it received (a header line, a URL): redacted
        # and clipped like any other text from outside.
        return f"{type(exc).__name__}: {clip(str(exc), MESSAGE_CHARS, self.redact) or 'no details'}"

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None


class _Inflate:
    """Inflates a gzip or deflate body chunk by chunk, never more than the room left.

    aiohttp's own decompression is off (``auto_decompress=False``): it gives no way to
    count the compressed bytes of a stream that inflates to nothing, nor to stop a member
    of a compression bomb before it inflates a whole buffer.
    """

    __slots__ = ("_deflate", "_gzip", "_path", "_status", "_zlib")

    def __init__(self, encoding: str, status: int, path: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._deflate = not self._gzip  # until the first byte says zlib-wrapped or raw
        self._status, self._path = status, path
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    @classmethod
    def for_encoding(cls, encoding: str, status: int, path: str) -> _Inflate | None:
        """The inflater for a ``Content-Encoding`` (None: not encoded); raises if unknown."""
        if encoding in ("", "identity"):
            return None
        if encoding in ("gzip", "x-gzip", "deflate"):
            return cls(encoding, status, path)
        raise InvalidResponseError(
            f"unsupported Content-Encoding {encoding[:40]!r} (asked for gzip or deflate)",
            status=status,
            path=path,
        )

    def feed(self, data: bytes, *, room: int) -> list[bytes]:
        """Inflate ``data`` into pieces: ``room + 1`` bytes at most (more: too large).

        Pieces, not one joined bytes: joining would hold everything twice at once.
        """
        if self._deflate and data:
            self._deflate = False
            if data[0] & 0x0F != 8:  # no zlib header: raw deflate, as some servers send
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        out: list[bytes] = []
        # Bytes after the end of a deflate stream are ignored, as aiohttp does; after the
        # end of a gzip member another member may follow.
        while data and room >= 0 and not (self._zlib.eof and not self._gzip):
            if self._zlib.eof:
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                piece = self._zlib.decompress(data, min(room + 1, _INFLATE_PIECE))
            except zlib.error:
                break  # to the raise below
            out.append(piece)
            room -= len(piece)
            data = self._zlib.unused_data if self._zlib.eof else self._zlib.unconsumed_tail
        else:
            return out
        # Raised here, outside the except: the zlib.error is not chained.
        raise InvalidResponseError(
            "the body's compressed data is corrupt", status=self._status, path=self._path
        )
