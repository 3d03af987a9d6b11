"""The aiohttp.web application of the fake, and :class:`FakeTrakk`, its test controls."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any, Final, Literal
from urllib.parse import urlencode

import attrs
import orjson
from aiohttp import web

from trakk_async.testing._content import Json
from trakk_async.testing._throttle import DEFAULT_RATE_LIMITS, Clock, Decision, Throttle
from trakk_async.testing._world import (
    PROJECT_STATUSES,
    FakeReport,
    FakeReportStatus,
    Project,
    World,
    iso_datetime,
)

_log = logging.getLogger(__name__)
API_PREFIX: Final = "/api/v1"
FaultKind = Literal["500", "502", "drop", "truncate", "latency", "429"]
FAULT_KINDS: Final = frozenset({"500", "502", "drop", "truncate", "latency", "429"})
_CACHE_TTL: Final = 3600.0
_TOKEN_KEY: Final = web.RequestKey("trakk_token", object)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json({"error": {"code": code, "message": message}}, status)


@attrs.define(kw_only=True)
class _Token:
    value: str
    id: int
    name: str
    agency_id: int | None
    throttle: Throttle
    allowed_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None

    def admits(self, remote: str | None) -> bool:
        if self.allowed_ips is None:
            return True
        try:
            address = ipaddress.ip_address(remote or "")
        except ValueError:
            return False
        return any(address in network for network in self.allowed_ips)

    @property
    def abilities(self) -> list[str]:
        return ["*"] if self.agency_id is None else ["projects:read", "reports:read"]


@attrs.define(kw_only=True)
class _Fault:
    kind: str
    remaining: int | None
    probability: float | None
    route: str | None
    seconds: float


@attrs.frozen(kw_only=True)
class FakeStats:
    """Counters of a :class:`FakeTrakk` since it was created (a snapshot).

    Attributes:
        requests: every request that reached the app, faults and errors included.
        by_route: route template after ``/api/v1`` (``"/projects/{project}"``) -> requests;
            requests that matched no route count under ``"<unmatched>"``.
        rate_limited: 429 responses sent by the throttle (injected ``"429"`` faults excluded).
        faults: faults injected into responses.
        max_in_window: window seconds -> the most requests one token had inside one window.
    """

    requests: int
    by_route: dict[str, int]
    rate_limited: int
    faults: int
    max_in_window: dict[float, int]


class FakeTrakk:
    """A faithful Trakk Agency API v1 over an in-memory, seeded world.

    Build one and serve it with :meth:`running`, or mount :attr:`app` yourself::

        async with FakeTrakk.running(seed=1, projects=25) as fake:
            async with aiohttp.ClientSession() as session:
                headers = {"Authorization": f"Bearer {fake.token}"}
                async with session.get(f"{fake.base_url}/me", headers=headers) as resp:
                    assert (await resp.json())["agency_id"] == fake.agency_id

    Args:
        seed: the same seed yields the same world, tokens and content.
        projects: how many projects to generate (1 to 10,000 is the tested range).
        agencies: how many agencies share them; the first owns the most.
        today: the fake's "today" for ``/reports/latest`` (UTC today by default).
        rate_limits: ``(limit, seconds)`` fixed windows every new token gets; none (``()``)
            makes tokens unlimited, answered without rate-limit headers.
        clock: monotonic seconds for the rate-limit windows.
        wall: Unix seconds for ``X-RateLimit-Reset``.
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        projects: int = 250,
        agencies: int = 3,
        today: date | None = None,
        rate_limits: Iterable[tuple[int, float]] = DEFAULT_RATE_LIMITS,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
    ) -> None:
        #: The generated data behind the API (advanced use; prefer the controls below).
        self.world = World(seed=seed, projects=projects, agencies=agencies, today=today)
        self._seed = seed
        self._default_limits = list(rate_limits)
        self._clock, self._wall = clock, wall
        self._tokens: dict[str, _Token] = {}
        self._token_counter = 0
        self._faults: list[_Fault] = []
        self._fault_rng = random.Random(f"faults:{seed}")
        self._requests = 0
        self._by_route: Counter[str] = Counter()
        self._rate_limited = 0
        self._faults_sent = 0
        self._max_in_window: dict[float, int] = {}
        self._cache: dict[object, datetime] = {}
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        #: The first agency's id (it owns the most projects; :attr:`token` belongs to it).
        self.agency_id = self.world.agencies[0].id
        #: An agency-scoped token of the first agency.
        self.token = self.new_token(self.agency_id)
        #: A super-admin token: ``abilities ["*"]``, ``agency_id`` null.
        self.admin_token = self.new_token(None)
        #: The ``aiohttp.web.Application``; its routes live under ``/api/v1``.
        self.app = self._build_app()

    # -- serving ------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 1,
        projects: int = 250,
        agencies: int = 3,
        today: date | None = None,
        rate_limits: Iterable[tuple[int, float]] = DEFAULT_RATE_LIMITS,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
    ) -> AsyncIterator[FakeTrakk]:
        """Serve a new fake on ``host:port`` (``0``: a free port) for the ``async with`` body."""
        fake = cls(
            seed=seed,
            projects=projects,
            agencies=agencies,
            today=today,
            rate_limits=rate_limits,
            clock=clock,
            wall=wall,
        )
        await fake.start(host=host, port=port)
        try:
            yield fake
        finally:
            await fake.close()

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving on a real socket; returns :attr:`base_url`."""
        if self._runner is not None:
            raise RuntimeError("FakeTrakk is already running")
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        sockname = runner.addresses[0]
        bound_host = f"[{sockname[0]}]" if ":" in sockname[0] else sockname[0]
        self._base_url = f"http://{bound_host}:{sockname[1]}{API_PREFIX}"
        return self._base_url

    async def close(self) -> None:
        """Stop serving (idempotent)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v1`` while running."""
        if self._base_url is None:
            raise RuntimeError("FakeTrakk is not running; use FakeTrakk.running() or start()")
        return self._base_url

    # -- controls -----------------------------------------------------------------------

    def new_token(
        self,
        agency_id: int | None = None,
        rate_limits: Iterable[tuple[int, float]] | None = None,
        *,
        allowed_ips: Iterable[str] | None = None,
    ) -> str:
        """A fresh token with its own rate-limit windows; ``agency_id=None``: super-admin.

        ``allowed_ips`` (addresses or CIDR ranges) restricts where the token may be used
        from; requests from elsewhere get 403, as on Trakk.
        """
        if agency_id is not None:
            agency = self.world.agency(agency_id)
        self._token_counter += 1
        n = self._token_counter
        secret = random.Random(f"token:{self._seed}:{n}").getrandbits(128)
        scope = "admin" if agency_id is None else f"agency{agency_id}"
        value = f"trk_{scope}_{secret:032x}"
        self._tokens[value] = _Token(
            value=value,
            id=n,
            name="Super-admin token" if agency_id is None else f"{agency.name} API token",
            agency_id=agency_id,
            throttle=self._throttle(rate_limits),
            allowed_ips=(
                None
                if allowed_ips is None
                else tuple(ipaddress.ip_network(ip, strict=False) for ip in allowed_ips)
            ),
        )
        return value

    def _throttle(self, limits: Iterable[tuple[int, float]] | None) -> Throttle:
        chosen = self._default_limits if limits is None else limits
        return Throttle(chosen, clock=self._clock, wall=self._wall)

    def revoke_token(self, token: str) -> None:
        """Make ``token`` unknown: its next request gets 401."""
        self._tokens.pop(token, None)

    def set_rate_limits(self, token: str, rate_limits: Iterable[tuple[int, float]]) -> None:
        """Replace a token's windows (their counts start from zero), e.g. ``[(20, 1.0)]``."""
        self._tokens[token].throttle = self._throttle(list(rate_limits))

    def set_today(self, today: date) -> None:
        """Set the fake's "today" (used by ``/reports/latest``)."""
        self.world.today = today
        self._cache.clear()

    @property
    def seed(self) -> int:
        """The seed the world was generated from."""
        return self._seed

    @property
    def today(self) -> date:
        """The fake's "today"."""
        return self.world.today

    def project_ids(self, agency_id: int | None = None, *, all_agencies: bool = False) -> list[int]:
        """Sorted project ids of ``agency_id`` (default: :attr:`agency_id`, :attr:`token`'s
        agency), or of every agency with ``all_agencies=True``."""
        wanted = agency_id if agency_id is not None else self.agency_id
        return sorted(
            pid for pid, p in self.world.projects.items() if all_agencies or p.agency.id == wanted
        )

    def agency_of(self, project_id: int) -> int:
        """The id of the agency owning a project."""
        return self._project(project_id).agency.id

    def reports(self, project_id: int) -> list[FakeReport]:
        """A project's reports, oldest first (live objects: read, don't mutate)."""
        return list(self.world.reports(self._project(project_id)))

    def start_next_report(self, project_id: int) -> int:
        """Create the project's next report, pending, a month after the previous one.

        Returns its ``report_number``; numbers run 1-26 and start again at 1 after 26
        (the new report then replaces the old one of that number on ``/content``).
        """
        project = self._project(project_id)
        report = self.world.start_next_report(project)
        self._invalidate(project_id)
        return report.report_number

    def set_report_status(
        self, project_id: int, report_number: int, status: FakeReportStatus | str
    ) -> FakeReport:
        """Move the newest report with this number to ``status``."""
        project = self._project(project_id)
        report = self._report(project, report_number)
        self.world.set_status(project, report, FakeReportStatus(status))
        self._invalidate(project_id)
        return report

    def complete_report(self, project_id: int, report_number: int | None = None) -> FakeReport:
        """Complete a report (the newest by default) and generate its content."""
        project = self._project(project_id)
        if report_number is None:
            report = self.world.newest_report(project)
            if report is None:
                raise LookupError(f"project {project_id} has no reports")
        else:
            report = self._report(project, report_number)
        self.world.set_status(project, report, FakeReportStatus.COMPLETED)
        self._invalidate(project_id)
        return report

    def add_project(self, agency_id: int | None = None, **fields: Any) -> int:
        """Add a project without reports (agency default: :attr:`agency_id`); returns its id.

        ``fields`` override generated ones: name, company_name, domain, status,
        keyword_count, city, contact_email, client_emails, cc_email,
        receives_monthly_reports, plan, gsc_status.
        """
        project = self.world.add_project(agency_id or self.agency_id, fields)
        self._invalidate(project.id)
        return project.id

    def remove_project(self, project_id: int) -> None:
        """Delete a project: it 404s from now on."""
        self._project(project_id)
        del self.world.projects[project_id]
        self._invalidate(project_id)

    def inject_fault(
        self,
        kind: FaultKind | str,
        *,
        count: int = 1,
        probability: float | None = None,
        route: str | None = None,
        seconds: float = 0.0,
    ) -> None:
        """Fail the next ``count`` requests, or each with ``probability`` until cleared.

        Kinds: ``"500"`` (JSON error envelope), ``"502"`` (an HTML page), ``"drop"``
        (the connection closes without a response), ``"truncate"`` (the real response with
        its JSON cut in half), ``"latency"`` (answer normally after ``seconds``), ``"429"``
        (a rate-limit error with ``Retry-After`` of ``seconds``, at least 1). ``route``
        limits the fault to paths starting with it after ``/api/v1``, e.g. ``"/projects"``.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(FAULT_KINDS)}")
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if probability is None and count < 1:
            raise ValueError("count must be at least 1")
        self._faults.append(
            _Fault(
                kind=kind,
                remaining=None if probability is not None else count,
                probability=probability,
                route=route,
                seconds=seconds,
            )
        )

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    def stats(self) -> FakeStats:
        """A snapshot of the request counters."""
        return FakeStats(
            requests=self._requests,
            by_route=dict(self._by_route),
            rate_limited=self._rate_limited,
            faults=self._faults_sent,
            max_in_window=dict(self._max_in_window),
        )

    def _project(self, project_id: int) -> Project:
        try:
            return self.world.projects[project_id]
        except KeyError:
            raise LookupError(f"no project {project_id}") from None

    def _report(self, project: Project, report_number: int) -> FakeReport:
        report = self.world.report_by_number(project, report_number)
        if report is None:
            raise LookupError(f"project {project.id} has no report {report_number}")
        return report

    def _invalidate(self, project_id: int) -> None:
        self._cache.pop(("project", project_id), None)
        self._cache.pop("projects", None)

    def _cache_stamp(self, key: object) -> str:
        now = datetime.now(UTC)
        stamp = self._cache.get(key)
        if stamp is None or (now - stamp).total_seconds() >= _CACHE_TTL:
            self._cache[key] = stamp = now
        return iso_datetime(stamp)

    # -- HTTP ---------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        routes: list[tuple[str, Handler]] = [
            ("/me", self._me),
            ("/projects", self._projects),
            ("/projects/{project:\\d+}", self._project_detail),
            ("/projects/{project:\\d+}/reports", self._reports),
            ("/projects/{project:\\d+}/reports/latest", self._latest),
            ("/projects/{project:\\d+}/reports/last-generated", self._last_generated),
            ("/projects/{project:\\d+}/reports/{report_number}/content", self._content),
            ("/projects/{project:\\d+}/keywords", self._keywords),
            ("/countries", self._countries),
            ("/countries/{country:\\d+}", self._country),
            ("/languages", self._languages),
            ("/languages/{language:\\d+}", self._language),
            ("/users", self._users),
            ("/users/{user:\\d+}", self._user),
        ]
        for path, handler in routes:
            app.router.add_get(API_PREFIX + path, handler, allow_head=False)
        return app

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.route is not None and not path.startswith(fault.route):
                continue
            if fault.probability is not None:
                if self._fault_rng.random() >= fault.probability:
                    continue
            elif fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            self._faults_sent += 1
            return fault
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self._requests += 1
        resource = request.match_info.route.resource
        template = "<unmatched>"
        if resource is not None and request.match_info.http_exception is None:
            template = resource.canonical.removeprefix(API_PREFIX)
        self._by_route[template] += 1
        path = request.path.removeprefix(API_PREFIX)
        fault = self._take_fault(path)
        if fault is None:
            return await self._serve(request, handler)
        if fault.kind == "latency":
            await asyncio.sleep(fault.seconds)
            return await self._serve(request, handler)
        if fault.kind == "500":
            return _error(500, "server_error", "Server Error")
        if fault.kind == "502":
            page = "<html><head><title>502 Bad Gateway</title></head><body><center>"
            page += "<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
            return web.Response(text=page, status=502, content_type="text/html")
        if fault.kind == "429":
            retry = max(math.ceil(fault.seconds), 1)
            response = _error(429, "rate_limit_exceeded", "Too Many Attempts.")
            response.headers.update(
                {
                    "Retry-After": str(retry),
                    "X-RateLimit-Reset": str(math.ceil(self._wall()) + retry),
                    "X-RateLimit-Limit": "60",
                    "X-RateLimit-Remaining": "0",
                }
            )
            return response
        if fault.kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        # truncate: the real answer, its body cut in half (still a well-formed HTTP message).
        real = await self._serve(request, handler)
        body = real.body if isinstance(real, web.Response) else b""
        raw = body if isinstance(body, bytes) else b""
        cut = web.Response(body=raw[: len(raw) // 2], status=real.status)
        cut.content_type = "application/json"
        for name, value in real.headers.items():
            if name.lower().startswith(("x-ratelimit", "retry-after")):
                cut.headers[name] = value
        return cut

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        http_exc = request.match_info.http_exception
        if isinstance(http_exc, web.HTTPMethodNotAllowed):
            response = _error(
                405,
                "method_not_allowed",
                f"The {request.method} method is not "
                "supported for this route. Supported methods: GET.",
            )
            response.headers["Allow"] = "GET"
            return response
        if http_exc is not None:
            return _error(404, "not_found", "The requested resource was not found.")
        token = self._authenticate(request)
        if token is None:
            return _error(401, "unauthenticated", "Unauthenticated.")
        if not token.admits(request.remote):
            return _error(403, "forbidden", "This token may not be used from your IP address.")
        decision = token.throttle.hit()
        for seconds, count in token.throttle.max_in_window.items():
            if count > self._max_in_window.get(seconds, 0):
                self._max_in_window[seconds] = count
        if not decision.allowed:
            self._rate_limited += 1
            response = _error(
                429,
                "rate_limit_exceeded",
                f"Too many requests. Retry after {decision.retry_after} seconds.",
            )
        else:
            request[_TOKEN_KEY] = token
            try:
                response = await handler(request)  # type: ignore[assignment]
            except _ApiError as exc:
                response = _error(exc.status, exc.code, exc.message)
            except Exception:  # as Trakk: an envelope, no internal details
                _log.exception("FakeTrakk handler failed for %s", request.path)
                response = _error(500, "server_error", "Server Error")
        response.headers.update(_rate_headers(decision))
        return response

    def _authenticate(self, request: web.Request) -> _Token | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        return self._tokens.get(value.strip())

    # -- handlers -----------------------------------------------------------------------

    @staticmethod
    def _token(request: web.Request) -> _Token:
        token = request[_TOKEN_KEY]
        assert isinstance(token, _Token)
        return token

    @staticmethod
    def _api_base(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}{API_PREFIX}"

    def _visible_project(self, request: web.Request) -> Project:
        _only_params(request, ())
        project = self.world.projects.get(int(request.match_info["project"]))
        if project is None:
            raise _ApiError(404, "not_found", "Project not found.")
        token = self._token(request)
        if token.agency_id is not None and token.agency_id != project.agency.id:
            raise _ApiError(403, "forbidden", "This project belongs to another agency.")
        return project

    def _cached(self, project: Project | None, data: object) -> web.Response:
        key = "projects" if project is None else ("project", project.id)
        return _json({"data": data, "cache_refreshed_at": self._cache_stamp(key)})

    async def _me(self, request: web.Request) -> web.Response:
        _only_params(request, ())
        token = self._token(request)
        return _json(
            {
                "id": token.id,
                "name": token.name,
                "agency_id": token.agency_id,
                "status": "active",
                "abilities": token.abilities,
            }
        )

    async def _projects(self, request: web.Request) -> web.Response:
        query = _only_params(request, ("status", "search", "agency_id", "page", "per_page"))
        token = self._token(request)
        page = _int_param(query, "page", 1, minimum=1)
        per_page = _int_param(query, "per_page", 100, minimum=1, maximum=100)
        agency_id = token.agency_id
        if "agency_id" in query:
            if token.agency_id is not None:
                raise _ApiError(403, "forbidden", "The agency_id filter needs a super-admin token.")
            agency_id = _int_param(query, "agency_id", 0, minimum=1)
        status = query.get("status")
        if status is not None and status not in PROJECT_STATUSES:
            raise _ApiError(400, "bad_request", f"Invalid status {status!r}.")
        search = query.get("search", "").strip().lower()
        matches = [
            p
            for pid, p in sorted(self.world.projects.items())
            if (agency_id is None or p.agency.id == agency_id)
            and (status is None or p.status == status)
            and (not search or search in p.name.lower() or search in p.domain.lower())
        ]
        api_base = self._api_base(request)
        start = (page - 1) * per_page
        items = [self.world.project_item(p, api_base) for p in matches[start : start + per_page]]
        body = _paginate(
            items, total=len(matches), page=page, per_page=per_page,
            path=f"{api_base}/projects", query=query,
        )  # fmt: skip
        body["cache_refreshed_at"] = self._cache_stamp("projects")
        return _json(body)

    async def _project_detail(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        return self._cached(project, self.world.project_detail(project, self._api_base(request)))

    async def _reports(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        reports = sorted(self.world.reports(project), key=lambda r: (r.created_at, r.id))
        return self._cached(project, [r.to_json() for r in reversed(reports)])

    async def _latest(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        report = self.world.latest_report(project)
        if report is None:
            raise _ApiError(404, "not_found", "No current or upcoming report for this project.")
        return self._cached(project, report.to_json())

    async def _last_generated(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        report = self.world.last_generated(project)
        if report is None:
            raise _ApiError(404, "not_found", "This project has no completed reports yet.")
        return self._cached(project, report.to_json())

    async def _content(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        raw = request.match_info["report_number"]
        number = int(raw) if raw.isdigit() else 0
        if not 1 <= number <= 26:
            raise _ApiError(400, "bad_request", "report_number must be between 1 and 26.")
        report = self.world.report_by_number(project, number)
        if report is None:
            raise _ApiError(404, "not_found", f"Report {number} does not exist for this project.")
        return self._cached(project, self.world.report_content(project, report))

    async def _keywords(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        data = [self.world.keyword_json(project, kw) for kw in self.world.keywords(project)]
        return self._cached(project, data)

    async def _countries(self, request: web.Request) -> web.Response:
        _only_params(request, ())
        return _json({"data": [{"id": i, "label": label} for i, label in self.world.countries]})

    async def _country(self, request: web.Request) -> web.Response:
        return _labelled_one(request, self.world.countries, "country")

    async def _languages(self, request: web.Request) -> web.Response:
        _only_params(request, ())
        return _json({"data": [{"id": i, "label": label} for i, label in self.world.languages]})

    async def _language(self, request: web.Request) -> web.Response:
        return _labelled_one(request, self.world.languages, "language")

    async def _users(self, request: web.Request) -> web.Response:
        _only_params(request, ())
        users = self.world.visible_users(self._token(request).agency_id)
        return _json({"data": [u.to_json() for u in users]})

    async def _user(self, request: web.Request) -> web.Response:
        _only_params(request, ())
        wanted = int(request.match_info["user"])
        for user in self.world.visible_users(self._token(request).agency_id):
            if user.id == wanted:
                return _json({"data": user.to_json()})
        raise _ApiError(404, "not_found", "User not found.")


def _rate_headers(decision: Decision) -> dict[str, str]:
    return decision.headers()


def _only_params(request: web.Request, allowed: Iterable[str]) -> Mapping[str, str]:
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise _ApiError(400, "bad_request", f"Unknown query parameter(s): {', '.join(unknown)}.")
    return request.query


def _int_param(
    query: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    value = int(raw) if raw.strip().isdigit() else None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum else f"at least {minimum}"
        raise _ApiError(400, "bad_request", f"The {name} parameter must be an integer {bound}.")
    return value


def _labelled_one(request: web.Request, pairs: list[tuple[int, str]], name: str) -> web.Response:
    _only_params(request, ())
    wanted = int(request.match_info[name])
    for i, label in pairs:
        if i == wanted:
            return _json({"data": {"id": i, "label": label}})
    raise _ApiError(404, "not_found", f"{name.capitalize()} not found.")


def _paginate(
    items: list[Json], *, total: int, page: int, per_page: int, path: str, query: Mapping[str, str]
) -> Json:
    """Laravel's ``{data, links, meta}`` of a resource collection (with the query string)."""
    last_page = max(1, math.ceil(total / per_page))
    kept = [(k, v) for k, v in query.items() if k != "page"]

    def url(n: int) -> str:
        return f"{path}?{urlencode([*kept, ('page', str(n))])}"

    def maybe(n: int) -> str | None:
        return url(n) if 1 <= n <= last_page else None

    start = (page - 1) * per_page
    count = len(items)
    page_links: list[Json] = [
        {"url": maybe(page - 1), "label": "&laquo; Previous", "active": False}
    ]
    for n in _page_window(page, last_page):
        if n is None:
            page_links.append({"url": None, "label": "...", "active": False})
        else:
            page_links.append({"url": url(n), "label": str(n), "active": n == page})
    page_links.append({"url": maybe(page + 1), "label": "Next &raquo;", "active": False})
    return {
        "data": items,
        "links": {
            "first": url(1),
            "last": url(last_page),
            "prev": maybe(page - 1),
            "next": maybe(page + 1),
        },
        "meta": {
            "current_page": page,
            "from": start + 1 if count else None,
            "last_page": last_page,
            "links": page_links,
            "path": path,
            "per_page": per_page,
            "to": start + count if count else None,
            "total": total,
        },
    }


def _page_window(page: int, last_page: int, on_each_side: int = 3) -> list[int | None]:
    """Laravel's UrlWindow: all pages when few, else both ends plus a slider with gaps."""
    if last_page <= on_each_side * 2 + 8:
        return list(range(1, last_page + 1))
    shown = {1, 2, last_page - 1, last_page}
    shown.update(range(max(1, page - on_each_side), min(last_page, page + on_each_side) + 1))
    out: list[int | None] = []
    previous = 0
    for n in sorted(shown):
        if n - previous > 1:
            out.append(None)
        out.append(n)
        previous = n
    return out
