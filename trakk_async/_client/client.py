"""``TrakkClient``: configuration, lifecycle, and the request path every call goes through.

One GET = (limiter.acquire -> transport.get -> limiter.observe -> decode or error) inside
a retry loop. The resource namespaces (``client.projects`` ...) live in ``resources``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Self, TypeVar

import attrs

from trakk_async._client.resources import (
    Countries,
    Keywords,
    Languages,
    Projects,
    Reports,
    Users,
)
from trakk_async._core.errors import ConfigurationError, InvalidResponseError, TrakkError
from trakk_async._core.model import Model
from trakk_async._core.timing import Sleep
from trakk_async._models import converter as _converter
from trakk_async._models.deviations import Deviations, ResponseShapeError
from trakk_async._models.objects import Me
from trakk_async._protocol.core import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RESPONSE_BYTES,
    MESSAGE_CHARS,
    TOKEN_ENV,
    RetryPolicy,
    build_url,
    check_timeout,
    check_token,
    clip,
    decode_json,
    error_for_status,
    excerpt,
    normalize_base_url,
    resolve_api_link,
)
from trakk_async._transport import ClientSession, Transport
from trakk_async.ratelimit import RateLimiter, TokenBucketLimiter

if TYPE_CHECKING:
    from trakk_async.ratelimit import RateLimitSnapshot
    from trakk_async.watch import Checkpoint, ReportWatcher

__version__: Final = "0.1.0"

logger = logging.getLogger("trakk_async")

T = TypeVar("T")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RequestAttempt(Model):
    """One request attempt, as reported to :meth:`TrakkClient.add_attempt_listener`.

    ``attempt`` is 0 for the first try and counts retries; ``status`` is None when no
    response arrived (then ``error`` is the connection or timeout error); ``elapsed`` is in
    seconds, from sending to the response's headers and body. ``retry_in`` is the wait in
    seconds before the next attempt of this request (backoff, or a 429's ``Retry-After``),
    None when none follows: the attempt succeeded or its error is raised.
    """

    path: str
    attempt: int
    status: int | None
    error: Exception | None
    elapsed: float
    retry_in: float | None = None


class TrakkClient:
    """An async client for the Trakk Agency API v1.

    ::

        async with TrakkClient() as client:          # token from TRAKK_API_TOKEN
            me = await client.me()
            async for project in client.projects.list(status="active"):
                print(project.id, project.name)

    Args:
        token: the API token; ``TRAKK_API_TOKEN`` when not given. Without either, the
            constructor raises :class:`ConfigurationError`.
        base_url: ``TRAKK_BASE_URL`` when not given, else ``https://admin.trakk.ai/api/v1``.
            ``http://`` is refused unless the host is loopback.
        timeout: seconds one attempt of a request may take, connecting and reading (each
            retry gets the whole time again). Every endpoint method takes a ``timeout=``
            of its own that replaces this one for that call, per attempt as well:
            ``await client.reports.content(42, 15, timeout=60)``.
        max_retries: retries of a GET after a connection error, timeout, 429 or 5xx, with
            exponential backoff and full jitter (0.5 s doubling, capped at 8 s per wait;
            a 429's ``Retry-After`` is honored up to 60 s, past that the
            :class:`RateLimitError` is raised). ``0`` disables retries.
        rate_limiter: shared with other clients of the same token; a new
            :class:`TokenBucketLimiter` when not given (it learns the token's limits from
            the responses, starting from 60/minute and 1,000/hour), closed with the client.
        session: an ``aiohttp.ClientSession`` to borrow; it is never closed by the client.
            Without one the client creates (and closes) its own.
        max_response_bytes: the largest response body accepted, counted on the wire and
            again after decompression (64 MiB by default: twice a content report of 1,000
            keywords); a larger one raises :class:`ResponseTooLargeError` (not retried)
            without being read further.
        trust_env: take a proxy from ``HTTPS_PROXY`` / ``HTTP_PROXY`` (or lowercase)
            unless ``NO_PROXY`` lists the host, with the proxy's credentials from its URL
            or ``~/.netrc`` (never credentials for Trakk: the token is the only one sent
            there). ``False`` always connects directly. A borrowed ``session`` keeps its
            own setting.
        strict: raise :class:`InvalidResponseError` when a response deviates from the
            documented shapes, instead of reading the odd value as None and counting it
            in :attr:`deviations` (see "Models" in the README). For CI runs that should
            fail on schema drift.
    """

    __slots__ = (
        "_base_url",
        "_closed",
        "_deviations",
        "_limiter",
        "_listeners",
        "_own_limiter",
        "_policy",
        "_random",
        "_sleep",
        "_transport",
        "countries",
        "keywords",
        "languages",
        "projects",
        "reports",
        "users",
    )

    countries: Countries
    keywords: Keywords
    languages: Languages
    projects: Projects
    reports: Reports
    users: Users

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        rate_limiter: RateLimiter | None = None,
        session: ClientSession | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        trust_env: bool = True,
        strict: bool = False,
        _sleep: Sleep | None = None,
        _random: Callable[[], float] | None = None,
    ) -> None:
        if token is None:
            token = os.environ.get(TOKEN_ENV) or None
        if token is None:
            raise ConfigurationError(
                f"no Trakk API token: pass TrakkClient(token=...) or set {TOKEN_ENV}"
            )
        token = check_token(token)
        try:
            timeout = check_timeout(timeout)
        except ValueError as exc:
            message = str(exc)
        else:
            message = ""
        if message:
            raise ConfigurationError(message)  # outside the except: nothing chained
        if type(max_retries) is not int or max_retries < 0:
            raise ConfigurationError(f"max_retries must be an int >= 0, got {max_retries!r}")
        if type(max_response_bytes) is not int or max_response_bytes < 1:
            raise ConfigurationError(
                f"max_response_bytes must be an int >= 1, got {max_response_bytes!r}"
            )
        if type(trust_env) is not bool:
            raise ConfigurationError(f"trust_env must be True or False, got {trust_env!r}")
        if type(strict) is not bool:
            raise ConfigurationError(f"strict must be True or False, got {strict!r}")
        self._base_url = normalize_base_url(
            base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        )
        self._transport = Transport(
            token,
            timeout=timeout,
            user_agent=f"trakk-async/{__version__}",
            max_response_bytes=max_response_bytes,
            trust_env=trust_env,
            session=session,
        )
        #: The limiter this client created (and closes), None for one passed in.
        self._own_limiter = TokenBucketLimiter() if rate_limiter is None else None
        self._limiter: RateLimiter = self._own_limiter or rate_limiter  # type: ignore[assignment]
        self._policy = RetryPolicy(max_retries=max_retries)
        self._sleep: Sleep = _sleep or asyncio.sleep
        self._listeners: tuple[Callable[[RequestAttempt], None], ...] = ()
        self._random = _random or random.random
        self._closed = False
        self._deviations = Deviations(strict=strict)
        self.projects = Projects(self)
        self.reports = Reports(self)
        self.keywords = Keywords(self)
        self.countries = Countries(self)
        self.languages = Languages(self)
        self.users = Users(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<TrakkClient base_url={self._base_url!r} {state}>"

    @property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        return self._base_url

    @property
    def rate_limiter(self) -> RateLimiter:
        """The limiter every request of this client goes through."""
        return self._limiter

    @property
    def rate_limit(self) -> RateLimitSnapshot:
        """Per window: the limit, what is left and when it frees up, as seen now."""
        return self._limiter.snapshot()

    @property
    def strict(self) -> bool:
        """Whether a response that deviates from the documented shapes raises."""
        return self._deviations.strict

    @property
    def deviations(self) -> Mapping[str, int]:
        """How many deviating values this client has read, per ``"Model.field"``.

        A deviation is a value the documentation does not allow in an optional field (a
        number where a string belongs, a date that is not a date, an array element that
        is not an object ...): it was read as None (an array element: left out), and the
        first one of each field was logged at WARNING on the ``trakk_async`` logger with
        the request path and JSON path. A snapshot, empty while every response matched::

            if client.deviations:
                print(f"{sum(client.deviations.values())} odd values", dict(client.deviations))

        With ``strict=True`` each deviation raises instead, so this stays empty.
        """
        return self._deviations.counts()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def __aenter__(self) -> Self:
        self._ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client (and its session and limiter, if it created them). Idempotent."""
        self._closed = True
        await self._transport.aclose()
        if self._own_limiter is not None:
            await self._own_limiter.aclose()

    def _ensure_open(self) -> None:
        if self._closed:
            raise RuntimeError("this TrakkClient is closed; create a new one")

    def watch_reports(
        self,
        project_ids: Iterable[int] | None = None,
        *,
        checkpoint: Checkpoint | None = None,
        budget: float = 0.5,
        strategy: Literal["auto", "per-project", "listing", "last-generated"] = "auto",
        shard: tuple[int, int] | None = None,
        emit_baselines: bool = False,
        reconcile_share: float = 0.5,
        checkpoint_outage: float = 60.0,
    ) -> ReportWatcher:
        """Watch projects for completed reports: an async iterator of ``ReportAdvanced``.

        One event per report that completes, exactly once (a restart repeats at most the
        event delivered last). ``project_ids=None`` watches every project of the token
        (re-listed, so new projects join and removed ones leave); ``checkpoint``
        (``MemoryCheckpoint`` by default, ``SQLiteCheckpoint`` or ``RedisCheckpoint`` to
        survive restarts) remembers what was seen; ``budget`` is the share (0-1] of the
        limiter's longest window the watcher may spend after its first pass (which runs
        at the limiter's pace); ``strategy`` is ``"auto"`` (= ``"per-project"``), or
        ``"listing"`` with ``reconcile_share`` of its slots looking at every project in
        turn; ``shard=(k, n)`` watches the projects with ``id % n == k`` (several workers,
        one token); ``checkpoint_outage`` is how long a failing checkpoint is retried.
        ``watcher.estimate(n)`` tells the bounds before starting (see
        :mod:`trakk_async.watch`)::

            async with client.watch_reports(checkpoint=SQLiteCheckpoint("seen.db")) as w:
                async for event in w:
                    print(event.project_id, event.report.report_number)
        """
        from trakk_async.watch import ReportWatcher

        self._ensure_open()
        return ReportWatcher(
            self,
            project_ids,
            checkpoint=checkpoint,
            budget=budget,
            strategy=strategy,
            shard=shard,
            emit_baselines=emit_baselines,
            reconcile_share=reconcile_share,
            checkpoint_outage=checkpoint_outage,
            _sleep=self._sleep,
        )

    async def me(self, *, timeout: float | None = None) -> Me:
        """``GET /me``: the token's identity, agency and abilities."""
        return await self._get("/me", _converter.structure_me, timeout=timeout)

    async def _get(
        self,
        path: str,
        structure: Callable[[Any, Deviations, str], T],
        params: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> T:
        """GET ``path`` and structure the body: the request path of every call.

        One loop per request: limiter, transport, status, decode; a retryable failure
        waits (backoff, or a 429's Retry-After) and goes again. It is written out flat
        rather than as a coroutine per attempt: every request would pay for each layer.
        A body that breaks the documented contract raises :class:`InvalidResponseError`,
        whatever went wrong while reading it. ``timeout`` replaces the client's for each
        attempt of this request.
        """
        if self._closed:
            self._ensure_open()
        if timeout is not None:
            timeout = check_timeout(timeout)
        url = build_url(self._base_url, path, params) if params else self._base_url + path
        limiter, transport = self._limiter, self._transport
        attempt = 0
        while True:
            answered: int | None = None
            elapsed, sent = 0.0, False
            try:
                # Inside the retry loop: a limiter that cannot reach its store (Redis) for
                # a moment raises APIConnectionError, retried like a dropped connection.
                await limiter.acquire()
                sent, started = True, time.perf_counter()
                try:
                    status, headers, content = await transport.get(url, path, timeout)
                except BaseException:
                    limiter.observe(None, {})  # no answer (or cancelled): one per acquire
                    raise
            except TrakkError as error:
                failure: TrakkError = error
                if sent:
                    elapsed = time.perf_counter() - started
            else:
                elapsed = time.perf_counter() - started
                answered = status
                limiter.observe(status, headers)
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug("GET %s -> %d in %.1f ms", path, status, elapsed * 1e3)
                if status == 200:
                    try:
                        body = decode_json(200, content, path, transport.redact)
                    except InvalidResponseError as error:
                        failure = error  # a truncated body is retried
                    else:
                        if self._listeners:
                            self._notify(path, attempt, 200, None, elapsed, None)
                        break
                else:
                    failure = self._status_error(status, headers, content, path)
            delay = self._policy.delay(failure, attempt, self._random)
            if self._listeners and sent:  # a limiter's failure is no request on the wire
                unanswered = failure if answered is None else None
                self._notify(path, attempt, answered, unanswered, elapsed, delay)
            if delay is None:
                raise failure
            logger.debug(
                "retrying GET %s in %.2fs after %s (retry %d of %d)",
                path,
                delay,
                type(failure).__name__,
                attempt + 1,
                self._policy.max_retries,
            )
            attempt += 1
            await self._sleep(delay)
            self._ensure_open()
        try:
            return structure(body, self._deviations, path)
        except ResponseShapeError as exc:
            # It may quote a value of the body: redacted like the excerpt.
            detail = clip(str(exc), MESSAGE_CHARS, transport.redact)
        except Exception as exc:  # a body no rule foresaw must still end as a TrakkError
            detail = f"the body could not be read ({type(exc).__name__})"
        # Quoted from the bytes received: re-encoding a deeply nested body could fail.
        quoted = excerpt(content, transport.redact)
        raise InvalidResponseError(detail, status=200, excerpt=quoted, path=path)

    async def get_json(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """GET ``path`` (below the base URL) and return the decoded JSON body.

        For what the typed calls do not cover: ``await client.get_json("/projects/42")``.
        The request goes through the rate limiter and the retry policy; an error status
        raises the matching :class:`APIError`. ``path`` must start with ``/`` and stay
        below the base URL: a ``.`` or ``..`` segment (encoded or not), an empty segment,
        a query or fragment (pass ``params``) or a control character raise ``ValueError``
        before any request; other characters are percent-encoded.

        A link the API gave is followed as it is: a path that starts with the base URL's
        own path (a listing item's ``links.latest_report``, ``/api/v1/projects/42/...``
        for the base URL ``https://host/api/v1``) is taken below the base URL, not
        doubled, and a full URL below the base URL (a ``links.next``) is accepted with its
        query (``params`` win over it). A URL anywhere else raises ``ValueError``.
        """
        target, query = resolve_api_link(path, self._base_url)
        merged = {**query, **params} if params else query
        return await self._get(target, _as_is, merged or None, timeout=timeout)

    def add_attempt_listener(
        self, listener: Callable[[RequestAttempt], None]
    ) -> Callable[[], None]:
        """Call ``listener`` after every request attempt (retries included); returns a remover.

        The listener runs in the task that sent the request (so ``contextvars`` tell whose
        request it was), before the wait for a retry (``RequestAttempt.retry_in`` says how
        long it is), and must be quick and not raise. For metrics and progress::

            counts = collections.Counter()
            remove = client.add_attempt_listener(lambda a: counts.update([a.status]))
            ...
            remove()
        """
        self._listeners = (*self._listeners, listener)

        def remove() -> None:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

        return remove

    def _notify(
        self,
        path: str,
        attempt: int,
        status: int | None,
        error: Exception | None,
        elapsed: float,
        retry_in: float | None,
    ) -> None:
        event = RequestAttempt(
            path=path,
            attempt=attempt,
            status=status,
            error=error,
            elapsed=elapsed,
            retry_in=retry_in,
        )
        for listener in self._listeners:
            listener(event)

    def _status_error(
        self, status: int, headers: Mapping[str, str], body: bytes, path: str
    ) -> TrakkError:
        if status >= 400:
            return error_for_status(status, headers, body, path, redact=self._transport.redact)
        return InvalidResponseError(f"unexpected status {status}", status=status, path=path)


def _as_is(body: Any, deviations: Deviations, path: str) -> Any:
    return body
