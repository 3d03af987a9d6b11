"""The exception tree of trakk_async.

Every exception the SDK raises on purpose derives from :class:`TrakkError`::

    TrakkError
    ├── APIError                    the server answered with an error status
    │   ├── BadRequestError             400 bad_request
    │   ├── AuthenticationError         401 unauthenticated
    │   ├── PermissionDeniedError       403 forbidden
    │   ├── NotFoundError               404 not_found
    │   ├── MethodNotAllowedError       405 method_not_allowed
    │   ├── UnprocessableEntityError    422 validation_error
    │   ├── RateLimitError              429 rate_limit_exceeded (also raised by the limiter)
    │   └── InternalServerError         5xx
    ├── InvalidResponseError        the body is not what the reference promises
    │   └── ResponseTooLargeError       ... because it is larger than max_response_bytes
    ├── ConfigurationError          the client cannot be built as asked (also a ValueError)
    ├── APIConnectionError          the request never got an answer
    │   └── APITimeoutError             ... because it timed out (also a TimeoutError)
    ├── WaitTimeoutError            a wait for a report ran out of time (also a TimeoutError)
    ├── ReportFailedError           a report that was waited for ended as ``failed``
    ├── CheckpointError             a report watcher's checkpoint store stayed unavailable
    └── DestinationBusyError        another export or sync is writing the same directory

Nothing reachable from these exceptions holds the API token: messages are built only
from the status, the error envelope's code and message, the request path and a short body
excerpt, each redacted (the token in any escaped form, see ``_core.redact``) before it is
stored; no exception of aiohttp (whose ``request_info`` holds the request's headers) is
chained as ``__cause__`` or ``__context__``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CheckpointError",
    "ConfigurationError",
    "DestinationBusyError",
    "InternalServerError",
    "InvalidResponseError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReportFailedError",
    "ResponseTooLargeError",
    "TrakkError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
]


class TrakkError(Exception):
    """Base class of every error raised by trakk_async."""


class ConfigurationError(TrakkError, ValueError):
    """The client cannot be built as asked: no token, or a base URL that is not allowed."""


class APIError(TrakkError):
    """The Trakk API answered with an error status.

    ``status`` is the HTTP status, ``code`` the error envelope's ``code`` (for example
    ``"not_found"``) and ``message`` its human-readable message. ``path`` is the request
    path (without host or query), when known.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.path = path
        super().__init__(message)

    def __str__(self) -> str:
        where = f" on GET {self.path}" if self.path else ""
        code = f" {self.code}" if self.code else ""
        return f"HTTP {self.status}{code}{where}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, path={self.path!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[TrakkError], message: str, state: dict[str, Any]) -> TrakkError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class BadRequestError(APIError):
    """400 ``bad_request``: unknown parameter, out-of-range value or invalid input."""


class AuthenticationError(APIError):
    """401 ``unauthenticated``: the token is missing, invalid or revoked."""


class PermissionDeniedError(APIError):
    """403 ``forbidden``: another agency's resource, an IP not whitelisted, or missing scope."""


class NotFoundError(APIError):
    """404 ``not_found``: the resource does not exist (or has no reports yet)."""


class MethodNotAllowedError(APIError):
    """405 ``method_not_allowed``: the API is read-only; only GET is allowed."""


class UnprocessableEntityError(APIError):
    """422 ``validation_error``: input validation failed."""


class RateLimitError(APIError):
    """429 ``rate_limit_exceeded``, or a wait the rate limiter would not make.

    ``retry_after`` is the number of seconds to wait before the next request (from the
    ``Retry-After`` header, or the limiter's own estimate); ``reset_at`` is the moment the
    exhausted window resets (from ``X-RateLimit-Reset``), when known.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        code: str | None = "rate_limit_exceeded",
        path: str | None = None,
        retry_after: float | None = None,
        reset_at: datetime | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, path=path)
        self.retry_after = retry_after
        self.reset_at = reset_at

    def __str__(self) -> str:
        base = super().__str__()
        if self.retry_after is not None:
            base += f" (retry after {self.retry_after:g}s)"
        return base


class InternalServerError(APIError):
    """A 5xx answer: the server failed (``server_error``) or a proxy in front of it did."""


class InvalidResponseError(TrakkError):
    """The server's answer is not what the reference promises.

    For example an HTML page from a proxy, truncated JSON, or JSON of the wrong shape.
    ``status`` is the HTTP status, ``excerpt`` the first characters of the body (redacted),
    ``detail`` says what was wrong, and ``truncated`` is True when the body only stopped
    early (an empty or cut-off transfer, which the client retries) rather than being wrong.
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        excerpt: str = "",
        path: str | None = None,
        truncated: bool = False,
    ) -> None:
        self.detail = detail
        self.status = status
        self.excerpt = excerpt
        self.path = path
        self.truncated = truncated
        super().__init__(detail)

    def __str__(self) -> str:
        where = f" on GET {self.path}" if self.path else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        excerpt = f"; body starts: {self.excerpt!r}" if self.excerpt else ""
        return f"invalid response{where}{status}: {self.detail}{excerpt}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.detail, dict(self.__dict__)))


class ResponseTooLargeError(InvalidResponseError):
    """The response body is larger than the client's ``max_response_bytes``.

    Raised as soon as the ``Content-Length`` header, the bytes received or the bytes after
    decompression pass ``limit``; the rest of the body is never read. Not retried.
    """

    def __init__(self, limit: int, *, status: int | None = None, path: str | None = None) -> None:
        super().__init__(
            f"the body is larger than max_response_bytes ({limit:,} bytes)",
            status=status,
            path=path,
        )
        self.limit = limit


class APIConnectionError(TrakkError):
    """The request got no answer: connection refused or dropped, DNS failure, TLS error."""


class APITimeoutError(APIConnectionError, TimeoutError):
    """The request got no answer within the client's timeout."""


class WaitTimeoutError(TrakkError, TimeoutError):
    """Waiting for a report to complete took longer than the given timeout."""


class ReportFailedError(TrakkError):
    """A report that was being waited for ended with status ``failed``.

    ``report`` is the failed :class:`~trakk_async.Report`.
    """

    def __init__(self, report: Any) -> None:
        self.report = report
        number = getattr(report, "report_number", "?")
        project = getattr(report, "project_id", "?")
        super().__init__(f"report {number} of project {project} failed")


class CheckpointError(TrakkError):
    """A report watcher's checkpoint store kept failing for longer than the watcher
    rides out (``checkpoint_outage`` seconds), so the stream of events ends.

    Nothing committed before is lost: a watcher started again on the same checkpoint
    delivers again at most the event delivered last. The store's own last exception is
    the ``__cause__``; ``seconds`` is how long the store had been failing.
    """

    def __init__(self, message: str, *, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_checkpoint, (str(self), self.seconds))


def _rebuild_checkpoint(message: str, seconds: float) -> CheckpointError:
    return CheckpointError(message, seconds=seconds)


class DestinationBusyError(TrakkError):
    """Another export or sync is writing the same destination directory right now.

    Every run into a directory holds a lock on it (``DEST/.trakk-lock``) for as long as
    it runs; the operating system releases it when that process ends, however it ends.
    Nothing was written by the run that raised this. ``dest`` is the directory.
    """

    def __init__(self, dest: str) -> None:
        self.dest = dest
        super().__init__(f"another export or sync is running in {dest}; try again when it ends")

    def __reduce__(self) -> tuple[Any, ...]:
        return (DestinationBusyError, (self.dest,))
