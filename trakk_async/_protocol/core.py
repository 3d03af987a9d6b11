"""The Trakk protocol without I/O: arguments, URLs, responses, errors and retry policy.

Everything here is a pure function of its inputs (time and randomness are passed in), so
it is tested without a socket or an event loop. The transport and the client call it.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit

import attrs
import orjson
from yarl import URL

from trakk_async._core.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InternalServerError,
    InvalidResponseError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from trakk_async._core.model import Model
from trakk_async._protocol.schedule import Backoff

DEFAULT_BASE_URL: Final = "https://admin.trakk.ai/api/v1"
TOKEN_ENV: Final = "TRAKK_API_TOKEN"
BASE_URL_ENV: Final = "TRAKK_BASE_URL"

#: The longest body excerpt quoted in an exception.
EXCERPT_CHARS: Final = 120
MAX_PER_PAGE: Final = 100
REPORT_NUMBERS: Final = range(1, 27)

_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})


# --------------------------------------------------------------------------- arguments


def check_id(value: object, name: str = "id") -> int:
    """Return ``value`` if it is a positive int (not a bool), else raise before any request.

    A string such as ``"42/../users"`` is refused: ids become URL path segments.
    """
    if type(value) is not int or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_report_number(value: object) -> int:
    """Return ``value`` if it is a report number (an int from 1 to 26)."""
    if type(value) is not int or value not in REPORT_NUMBERS:
        raise ValueError(f"report_number must be an int from 1 to 26, got {value!r}")
    return value


def check_per_page(value: object) -> int:
    """Return ``value`` if it is a page size the API accepts (1 to 100)."""
    if type(value) is not int or not 1 <= value <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be an int from 1 to {MAX_PER_PAGE}, got {value!r}")
    return value


def check_timeout(value: object, name: str = "timeout") -> float:
    """Return ``value`` as a float if it is a positive number of seconds (not a bool).

    The one rule for the client's ``timeout`` and every call's ``timeout=`` override.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _check_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def project_list_params(
    *,
    status: str | None,
    search: str | None,
    agency_id: int | None,
    per_page: int,
) -> dict[str, str]:
    """Validate the ``/projects`` filters and return them as query parameters (no page)."""
    params: dict[str, str] = {"per_page": str(check_per_page(per_page))}
    if status is not None:
        # Any string: the API may add statuses, and the server answers 400 for a wrong one.
        params["status"] = _check_text(status, "status")
    if search is not None:
        params["search"] = _check_text(search, "search")
    if agency_id is not None:
        params["agency_id"] = str(check_id(agency_id, "agency_id"))
    return params


def normalize_base_url(url: str) -> str:
    """Validate a base URL and return it percent-encoded, without a trailing slash.

    ``https://`` is required, except for a loopback host (``127.0.0.0/8``, ``::1``,
    ``localhost``), where ``http://`` is allowed for local servers such as the fake.
    """
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"base_url must be a non-empty string, got {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"base_url must be an http(s) URL with a host, got {url!r}")
    if parts.username or parts.password:
        raise ConfigurationError("base_url must not carry credentials")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"base_url must not have a query or fragment, got {url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"refusing plain http:// for non-loopback host {parts.hostname!r}: "
            "the token would travel unencrypted; use https://"
        )
    # Percent-encoded (and IDNA for the host) once here: requests pass the URLs built from
    # it to aiohttp as already encoded.
    return str(URL(url.rstrip("/")))


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (a loopback address or ``localhost``)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def same_origin(a: str, b: str) -> bool:
    """Whether two absolute URLs share scheme, host and port."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


#: Characters a path segment keeps as they are (RFC 3986 pchar, without ``%``).
_PATH_SAFE: Final = "-._~!$&'()*+,;=:@"


def check_api_path(path: object) -> str:
    """Return ``path`` percent-encoded if it names a resource below the base URL.

    It must start with ``/``; a ``.`` or ``..`` segment (also percent-encoded), an empty
    segment, an encoded ``/`` or ``\\``, a query or fragment, or a control character
    raise ``ValueError``: the request could leave the API's base path otherwise.
    """
    if not isinstance(path, str) or not path.startswith("/") or path == "/":
        raise ValueError(f"path must start with '/' and name a resource, got {path!r}")
    if any(c in path for c in "?#\\") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise ValueError(
            f"path must not hold '?', '#', a backslash or control characters "
            f"(pass query parameters separately), got {path!r}"
        )
    segments = [unquote(segment) for segment in path[1:].removesuffix("/").split("/")]
    for segment in segments:
        if segment in ("", ".", "..") or "/" in segment or "\\" in segment:
            raise ValueError(f"path must stay below the base URL, got {path!r}")
    return "/" + "/".join(quote(segment, safe=_PATH_SAFE) for segment in segments)


def build_url(base_url: str, path: str, params: Mapping[str, str] | None = None) -> str:
    """Join ``base_url`` and ``path`` and append the query, as a plain string."""
    if not params:
        return base_url + path
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
    return f"{base_url}{path}?{query}"


# --------------------------------------------------------------------------- responses


def excerpt(body: bytes) -> str:
    """The first characters of a body, for error messages."""
    text = body[: EXCERPT_CHARS * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:EXCERPT_CHARS] + ("..." if len(text) > EXCERPT_CHARS else "")


def decode_json(status: int, body: bytes, path: str) -> Any:
    """Decode a successful response body, or raise :class:`InvalidResponseError`."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise undecodable(status, body, path) from None


def undecodable(status: int, body: bytes, path: str) -> InvalidResponseError:
    """The error for a body that is not JSON (``body`` is quoted: redact it first)."""
    detail = "empty body" if not body else "body is not valid JSON"
    return InvalidResponseError(detail, status=status, excerpt=excerpt(body), path=path)


_ERRORS_BY_STATUS: Final[dict[int, type[APIError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_for_status(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    path: str,
    *,
    now: datetime | None = None,
) -> APIError:
    """Build the typed exception for an error response (status >= 400).

    The error envelope ``{"error": {"code", "message"}}`` gives code and message; a body
    that is not an envelope (an HTML page from a proxy) is quoted as a short excerpt.
    """
    code: str | None = None
    message: str | None = None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            c, m = error.get("code"), error.get("message")
            code = c if isinstance(c, str) else None
            message = m if isinstance(m, str) else None
    if message is None:
        message = f"no error envelope in the body: {excerpt(body)!r}" if body else "empty body"
    if status == 429:
        return RateLimitError(
            message,
            code=code or "rate_limit_exceeded",
            path=path,
            retry_after=parse_retry_after(headers.get("Retry-After"), now=now),
            reset_at=parse_reset(headers.get("X-RateLimit-Reset")),
        )
    cls = _ERRORS_BY_STATUS.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIError
    return cls(message, status=status, code=code, path=path)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def parse_reset(value: str | None) -> datetime | None:
    """The moment from an ``X-RateLimit-Reset`` header (Unix seconds); None if absent."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


# --------------------------------------------------------------------------- retries


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RetryPolicy(Model):
    """When and how long to wait before retrying a GET.

    Attempt ``n`` (0-based) waits a random time between 0 and
    ``min(backoff_cap, backoff_base * 2**n)`` ("full jitter"). A 429's ``Retry-After`` is a
    floor for that wait; one longer than ``max_retry_after`` is not slept at all: the
    :class:`RateLimitError` goes to the caller to schedule.
    """

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, error: Exception, attempt: int, random: Callable[[], float]) -> float | None:
        """Seconds to wait before retry ``attempt`` (0-based) after ``error``; None: don't."""
        if attempt >= self.max_retries or not is_retryable(error):
            return None
        backoff = Backoff(self.backoff_base, self.backoff_cap).delay(attempt, random)
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            retry_after = float(error.retry_after)
            if retry_after > self.max_retry_after:
                return None
            return max(backoff, retry_after)
        return backoff


def is_retryable(error: Exception) -> bool:
    """Whether a GET that failed with ``error`` may succeed if sent again.

    Retried: connection errors and timeouts, 429, 5xx, and a 2xx body that could not be
    decoded (a truncated transfer). Never: 400, 401, 403, 404, 405, 422, or a body that
    decoded but has the wrong shape (sending again would get the same).
    """
    if isinstance(error, APIConnectionError | RateLimitError | InternalServerError):
        return True
    return isinstance(error, InvalidResponseError) and error.detail in (
        "body is not valid JSON",
        "empty body",
    )
