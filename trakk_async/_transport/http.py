"""The one aiohttp session layer: send a GET, return status, headers and body.

This is the only module that imports aiohttp's client. It knows nothing of Trakk's
payloads: it turns aiohttp's exceptions into trakk_async's at this boundary, keeps the
token in one header dict that no repr shows, and never follows a redirect to another host.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Final

import aiohttp
from yarl import URL

from trakk_async._core.errors import APIConnectionError, APITimeoutError, InvalidResponseError
from trakk_async._protocol.core import same_origin

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS: Final = 5


#: What came back: the status, the headers (case-insensitive) and the whole body. A plain
#: tuple: one is built per response, and a class's ``__init__`` is a Python call more.
RawResponse = tuple[int, Mapping[str, str], bytes]


@functools.lru_cache(maxsize=1024)
def _encoded_url(url: str) -> URL:
    # build_url quoted it already: skip yarl's re-normalisation. Cached, because the same
    # URLs come back (pages, /me, a project's reports) and a URL costs 200 ns to build.
    return URL(url, encoded=True)


class Transport:
    """Sends GETs on one ``aiohttp.ClientSession``, owned or borrowed.

    A session passed in is borrowed and never closed here; one created here is closed by
    :meth:`aclose`. The token lives only in ``self._headers`` (and ``self._secret``, to
    redact it from bodies quoted in exceptions), which no repr shows.
    """

    __slots__ = ("_headers", "_owns_session", "_secret", "_session", "_timeout")

    def __init__(
        self,
        token: str,
        *,
        timeout: float,
        user_agent: str,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        self._secret = token.encode()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None

    def __repr__(self) -> str:
        return f"<Transport owns_session={self._owns_session}>"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Created on first use, inside the running loop, as aiohttp wants.
            # Its default headers are ours: no per-request header merge on the hot path.
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300),
            )
        return self._session

    async def get(
        self, url: str, path: str, timeout: float | None = None, _redirects: int = 0
    ) -> RawResponse:
        """GET ``url`` and read the whole body; ``path`` is only for error messages.

        ``timeout`` (seconds) replaces the transport's own for this request. A redirect to
        the same origin is followed (at most ``_MAX_REDIRECTS`` times); one to another host
        raises instead of sending the token there.
        """
        session = self._session
        if session is None:
            session = self._get_session()
        limit = self._timeout if timeout is None else aiohttp.ClientTimeout(total=timeout)
        # A borrowed session gets our headers and timeout per request; ours has them.
        request = (
            session.get(_encoded_url(url), allow_redirects=False)
            if self._owns_session and timeout is None
            else session.get(
                _encoded_url(url),
                allow_redirects=False,
                headers=None if self._owns_session else self._headers,
                timeout=limit,
            )
        )
        try:
            async with request as resp:
                body = await resp.read()
        except TimeoutError as exc:
            raise APITimeoutError(f"GET {path} got no answer within {limit.total:g}s") from exc
        except aiohttp.ClientError as exc:
            raise APIConnectionError(
                f"GET {path} failed: {type(exc).__name__}: {_safe_reason(exc)}"
            ) from exc
        status = resp.status
        if status not in _REDIRECTS:
            return status, resp.headers, body
        location = resp.headers.get("Location")
        if not location:
            raise InvalidResponseError(
                "redirect without a Location header", status=status, path=path
            )
        target = str(resp.url.join(URL(location)))
        if not same_origin(url, target):
            # Never send the token to another host: stop here instead.
            raise InvalidResponseError(
                "the server redirected to another host; not following it with the token",
                status=status,
                path=path,
            )
        if _redirects >= _MAX_REDIRECTS:
            raise InvalidResponseError("too many redirects", path=path)
        return await self.get(target, path, timeout, _redirects + 1)

    def redact(self, body: bytes) -> bytes:
        """``body`` with the token blanked out, before any of it is quoted in an exception.

        A proxy or gateway that echoes the request (headers included) in its error page
        would otherwise put the token into an exception message.
        """
        return body.replace(self._secret, b"[token]") if self._secret in body else body

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None


def _safe_reason(exc: BaseException) -> str:
    # aiohttp's messages name host and port at most; they never carry request headers.
    return str(exc) or "no details"
