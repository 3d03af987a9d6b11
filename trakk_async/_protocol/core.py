"""The Trakk protocol without I/O: arguments, URLs, responses, errors and retry policy.

Everything here is a pure function of its inputs (time and randomness are passed in), so
it is tested without a socket or an event loop. The transport and the client call it.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlsplit

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
#: The longest error-envelope message (or other server text) kept in an exception.
MESSAGE_CHARS: Final = 1000
#: Characters read past a clip's end before redacting: more than any spelling of a token
#: (escapes escaped again included) can reach, so none is left half-cut at the clip.
_SPELLING_ROOM: Final = 4096
#: The largest id the API can have: a signed 64-bit integer (MySQL BIGINT).
MAX_ID: Final = 2**63 - 1
#: The default of ``TrakkClient(max_response_bytes=...)``. The largest real answer is a
#: content report: a few hundred keywords of ``h4_text_blocks`` (six variants of heading,
#: text and the same again as html, JSON-escaped) come to roughly 30 KB a keyword, so 1,000
#: keywords are about 30 MB; 64 MiB leaves twice that, and still stops a runaway body.
DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
MAX_PER_PAGE: Final = 100
REPORT_NUMBERS: Final = range(1, 27)

_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})
#: A DNS name or IPv4 address: letters, digits, hyphens (and underscores, which some
#: internal names use), dot-separated labels.
_LABEL: Final = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
_HOST_NAME: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")


# --------------------------------------------------------------------------- arguments


def check_id(value: object, name: str = "id") -> int:
    """Return ``value`` if it is a positive int (not a bool), else raise before any request.

    A string such as ``"42/../users"`` is refused: ids become URL path segments. So is an
    int past :data:`MAX_ID`: no Trakk id can be that large.
    """
    if type(value) is not int or not 1 <= value <= MAX_ID:
        shown = repr(value) if type(value) is not int or value.bit_length() < 100 else "a huge int"
        raise ValueError(f"{name} must be a positive int up to 2**63-1, got {shown}")
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


def check_token(token: object) -> str:
    """Return ``token`` if it can be sent as ``Authorization: Bearer <token>``.

    Refused with a :class:`ConfigurationError` that says what is wrong (never the token):
    a non-str, an empty string, whitespace anywhere (also around it: a newline read from a
    file is refused, not stripped, so no token is ever silently rewritten) and control or
    invisible characters (NUL, VT, ESC, DEL, zero-width space, ...).
    """
    if not isinstance(token, str):
        raise ConfigurationError(f"the Trakk API token must be a str, got {type(token).__name__}")
    if not token:
        raise ConfigurationError("the Trakk API token is empty")
    bad = _first_unprintable(token)
    if bad is not None:
        raise ConfigurationError(f"the Trakk API token contains {bad}")
    return token


def _first_unprintable(text: str) -> str | None:
    """Describe the first whitespace, control or invisible character of ``text``, if any."""
    for index, char in enumerate(text):
        if char.isprintable() and not char.isspace():
            continue
        kind = "whitespace" if char.isspace() else "a control or invisible character"
        if not text[:index].strip():  # only whitespace before it
            where = "at its start"
        elif not text[index + 1 :].strip():  # only whitespace after it
            where = "at its end"
        else:
            where = f"at position {index}"
        return f"{kind} (U+{ord(char):04X}) {where}"
    return None


def normalize_base_url(url: str) -> str:
    """Validate a base URL and return it percent-encoded, without a trailing slash.

    ``https://`` is required, except for a loopback host (``127.0.0.0/8``, ``::1``,
    ``localhost``), where ``http://`` is allowed for local servers such as the fake.
    Whitespace (also around it, as an env file may leave), control characters, a
    malformed host or port, credentials, a query or a fragment raise
    :class:`ConfigurationError` instead of being rewritten or sent.
    """
    if not isinstance(url, str) or not url:
        shown = repr(url) if isinstance(url, str) else type(url).__name__
        raise ConfigurationError(f"base_url must be a non-empty string, got {shown}")
    problem = _base_url_problem(url)
    if problem is None:
        # Percent-encoded (and IDNA for the host) once here: requests pass the URLs built
        # from it to aiohttp as already encoded.
        try:
            return str(URL(url.rstrip("/")))
        except (ValueError, UnicodeError) as exc:
            problem = f"is not a valid URL ({exc}): {url!r}"
    # Raised outside the except clauses: no chained ValueError.
    raise ConfigurationError(f"base_url {problem}")


def _base_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a base URL (a phrase after "base_url"), or None."""
    bad = _first_unprintable(url)
    if bad is not None:
        return f"contains {bad}: {url!r}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc}): {url!r}"
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        return f"must be an http(s) URL with a host, got {url!r}"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials"
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return f"must not have a query or fragment, got {url!r}"
    if port == 0 or parts.netloc.endswith(":"):
        return f"has an empty or zero port: {url!r}"
    if not _valid_host(host):
        return f"has an invalid host {host!r}"
    if parts.scheme == "http" and not is_loopback(host):
        return (
            f"{url!r}: refusing plain http:// for non-loopback host {host!r}: "
            "the token would travel unencrypted; use https://"
        )
    return None


def _valid_host(host: str) -> bool:
    if ":" in host:  # an IPv6 literal (urlsplit took the brackets off)
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            return False
        return True
    try:
        ascii_host = host if host.isascii() else host.encode("idna").decode()
    except UnicodeError:
        return False
    return _HOST_NAME.fullmatch(ascii_host) is not None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (a loopback address or ``localhost``)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def same_origin(a: str, b: str) -> bool:
    """Whether two absolute URLs share scheme, host and port (False if either is malformed)."""
    try:
        pa, pb = urlsplit(a), urlsplit(b)
        return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)
    except ValueError:
        return False


def redirect_target(url: str, location: str) -> str | None:
    """The absolute URL that a redirect's ``Location`` sends ``url`` to.

    None when ``Location`` is not a URL yarl can parse and join (a bad port, a broken IPv6
    literal, a host IDNA refuses ...).
    """
    try:
        return str(URL(url, encoded=True).join(URL(location)))
    except (ValueError, TypeError, UnicodeError):
        return None


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


def resolve_api_link(link: object, base_url: str) -> tuple[str, dict[str, str]]:
    """A path or link below ``base_url`` as ``(path, query)``: ``path`` as
    :func:`check_api_path` returns it, ``query`` the link's own query parameters.

    ``link`` is one of:

    * a path relative to the base URL: ``/projects/42``;
    * a path relative to the host, as the API writes a listing item's ``links``: when it
      starts with the base URL's own path and a ``/`` (``/api/v1/projects/42/reports/latest``
      with the base URL ``https://host/api/v1``), that prefix is dropped instead of
      doubled;
    * a full URL below the base URL (same scheme, host and port, below its path), such as
      a ``links.next``; its query comes back as ``query``.

    Anything else, or a path :func:`check_api_path` refuses, raises ``ValueError``.
    """
    if isinstance(link, str) and link.startswith(("http://", "https://")):
        without_query = link.split("#", 1)[0].split("?", 1)[0]
        if not without_query.startswith(base_url + "/"):
            raise ValueError(f"path {link!r} is not below the base URL {base_url}")
        query = dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))
        return check_api_path(without_query[len(base_url) :]), query
    if isinstance(link, str):
        base_path = urlsplit(base_url).path
        if base_path and link.startswith(base_path + "/"):
            link = link[len(base_path) :]
    return check_api_path(link), {}


def build_url(base_url: str, path: str, params: Mapping[str, str] | None = None) -> str:
    """Join ``base_url`` and ``path`` and append the query, as a plain string."""
    if not params:
        return base_url + path
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
    return f"{base_url}{path}?{query}"


# --------------------------------------------------------------------------- responses


#: Blanks the secrets out of a text quoted from the outside world (see _core.redact).
Redact = Callable[[str], str]


def excerpt(body: bytes, redact: Redact) -> str:
    """The first characters of a body, on one line and redacted, for error messages."""
    window = body[: (EXCERPT_CHARS + _SPELLING_ROOM) * 4]  # UTF-8: up to 4 bytes a character
    return clip(window.decode("utf-8", "replace"), EXCERPT_CHARS, redact, cut=window != body)


def clip(text: str, limit: int, redact: Redact, *, cut: bool = False) -> str:
    """``text`` on one line, redacted, at most ``limit`` characters (then ``...``).

    Only the start of ``text`` is looked at; it is redacted before the cut, with room to
    spare past it, so the cut cannot leave part of a secret behind. ``cut`` says that
    ``text`` is itself the start of something longer.
    """
    window = text[: limit + _SPELLING_ROOM]
    cut = cut or len(window) < len(text)
    words = window.split()
    line = " ".join(words)
    if cut and len(line) < limit + _SPELLING_ROOM // 2 and not window[-1:].isspace():
        # Whitespace shrank the room to spare: a spelling running past the end of the
        # window could reach the cut. A token has no whitespace, so it lies in the last word.
        line = " ".join(words[:-1])
    line = redact(line)
    return line[:limit] + ("..." if cut or len(line) > limit else "")


def decode_json(status: int, body: bytes, path: str, redact: Redact) -> Any:
    """Decode a successful response body, or raise :class:`InvalidResponseError`."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    raise undecodable(status, body, path, redact)  # outside the except: no chained body


def undecodable(status: int, body: bytes, path: str, redact: Redact) -> InvalidResponseError:
    """The error for a body that is not JSON, saying whether it was cut short.

    The retry rule (see :func:`is_retryable`): a body that is valid JSON up to where it
    stops, stopping early (an empty body, an unclosed ``{``, half a string, half a
    multi-byte character) is a truncated transfer, and sending again may get all of it.
    Anything wrong *before* the end (a UTF-8 BOM, a PHP warning in front of the JSON,
    invalid UTF-8, an HTML page, text after the document) is what the server produces
    every time: not retried.
    """
    problem = _decoding_problem(body)
    if problem is None:
        detail, truncated = "empty body" if not body.strip() else _ENDS_EARLY, True
    else:
        detail, truncated = f"body is not valid JSON: {problem}", False
    return InvalidResponseError(
        detail, status=status, excerpt=excerpt(body, redact), path=path, truncated=truncated
    )


_ENDS_EARLY: Final = "body is not valid JSON: it ends early (a truncated transfer)"


def _decoding_problem(body: bytes) -> str | None:
    """What is wrong before the end of an undecodable body; None if it only ends early."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.end < len(body) or exc.reason != "unexpected end of data":
            return f"invalid UTF-8 at byte {exc.start}"
        text = body[: exc.start].decode("utf-8")  # a character cut in half at the end
    if text.startswith("\ufeff"):
        return "it starts with a UTF-8 byte order mark"
    stripped = text.rstrip()
    if not stripped:
        return None
    try:
        orjson.loads(stripped)
    except orjson.JSONDecodeError as exc:
        # The parser stopped at the end of the input: it was still waiting for more.
        return None if exc.pos >= len(stripped) else f"{exc.msg} at character {exc.pos}"
    return None  # valid once the cut character is dropped: it was cut short


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
    redact: Redact,
    now: datetime | None = None,
) -> APIError:
    """Build the typed exception for an error response (status >= 400).

    The error envelope ``{"error": {"code", "message"}}`` gives code and message; a body
    that is not an envelope (an HTML page from a proxy) is quoted as a short excerpt. All
    of it goes through ``redact`` and is clipped (the message to 1,000 characters).
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
            code = clip(c, 100, redact) if isinstance(c, str) else None
            message = clip(m, MESSAGE_CHARS, redact) if isinstance(m, str) else None
    if message is None:
        quoted = excerpt(body, redact)
        message = f"no error envelope in the body: {quoted!r}" if body else "empty body"
    if status == 429:
        return RateLimitError(
            message,
            code=code or "rate_limit_exceeded",
            path=path,
            retry_after=rate_limit_wait(headers, now=now),
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
        when = _http_date(value)
        if when is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


#: The longest wait a 429 can mean: Trakk's longest window is an hour. A longer one comes
#: from a wrong clock or a broken header, and is cut to this.
MAX_RATE_LIMIT_WAIT: Final = 3600.0


def rate_limit_wait(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds a 429 asks the client to wait, on the server's clock; None if it does not say.

    ``Retry-After`` wins (delta-seconds, or an HTTP date); else ``X-RateLimit-Reset`` (Unix
    seconds). A date is read against the response's own ``Date`` header, the server's
    clock, so a skewed local clock changes nothing; only without ``Date`` does ``now``
    (default: this machine's clock) stand in, and then a reset more than a second in the
    past says nothing (None): that clock is wrong. The result lies in
    [0, :data:`MAX_RATE_LIMIT_WAIT`].
    """
    server_now = _http_date(headers.get("Date"))
    wait = parse_retry_after(headers.get("Retry-After"), now=server_now or now)
    if wait is None:
        reset = parse_reset(headers.get("X-RateLimit-Reset"))
        if reset is None:
            return None
        wait = (reset - (server_now or now or datetime.now(UTC))).total_seconds()
        if server_now is None and wait < -1.0:
            return None
    return min(max(0.0, wait), MAX_RATE_LIMIT_WAIT)


def _http_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


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

    Retried: connection errors and timeouts (a connection dropped mid-body included), 429,
    5xx, and a 2xx body that stops early (``InvalidResponseError.truncated``: empty, or
    valid JSON up to where it is cut off). Never: 400, 401, 403, 404, 405, 422, a body
    that can never decode (a BOM, text before or after the JSON, invalid UTF-8, HTML), a
    body that decoded to the wrong shape, or one over the size limit: the server would
    send the same again.
    """
    if isinstance(error, APIConnectionError | RateLimitError | InternalServerError):
        return True
    return isinstance(error, InvalidResponseError) and error.truncated
