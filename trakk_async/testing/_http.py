"""The aiohttp.web application of the fake: routes, the request pipeline and errors.

Each request goes: count it -> injected fault? -> route known, method GET? -> token known,
address allowed? -> rate limit -> handler. Errors use Trakk's envelope
``{"error": {"code", "message"}}``; every response to a known token carries the minute
window's ``X-RateLimit-*`` headers (none for an unlimited token).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final
from urllib.parse import urlencode

import orjson
from aiohttp import web

from trakk_async.testing._content import Json
from trakk_async.testing._payloads import API_PREFIX
from trakk_async.testing._state import LISTING_CACHE, State, Token
from trakk_async.testing._variations import UNDOCUMENTED_PROJECT_STATUS
from trakk_async.testing._world import PROJECT_STATUSES, Project

_log = logging.getLogger("trakk_async.testing")
_TOKEN_KEY: Final = web.RequestKey("trakk_token", Token)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LISTING_PARAMS: Final = ("status", "search", "agency_id", "page", "per_page")
"""The query parameters of ``GET /projects``, in the reference's order."""


class ApiError(Exception):
    """Raised by a handler: becomes Trakk's error envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def json_response(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def error_response(status: int, code: str, message: str) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status)


def only_params(request: web.Request, allowed: Sequence[str]) -> Mapping[str, str]:
    """The query, or a 400 naming the unknown parameters and the allowed ones (as Trakk)."""
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise ApiError(
            400,
            "bad_request",
            f"Unknown query parameter(s): {', '.join(unknown)}. "
            f"Allowed parameters: {', '.join(allowed) or 'none'}.",
        )
    return request.query


def int_param(
    query: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    value = int(raw) if raw.strip().isascii() and raw.strip().isdigit() else None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum else f"at least {minimum}"
        raise ApiError(400, "bad_request", f"The {name} parameter must be an integer {bound}.")
    return value


class Api:
    """The routes of Trakk's API v1 over one :class:`State`."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.world = state.world
        self.payloads = state.payloads

    def build(self) -> web.Application:
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

    # -- the request pipeline -------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        state = self.state
        state.requests += 1
        state.catch_up()
        resource = request.match_info.route.resource
        template = "<unmatched>"
        if resource is not None and request.match_info.http_exception is None:
            template = resource.canonical.removeprefix(API_PREFIX)
        state.by_route[template] += 1
        fault = state.take_fault(request.path.removeprefix(API_PREFIX))
        if fault is None:
            return await self.serve(request, handler)
        return await serve_fault(
            fault.kind, fault.seconds, request, lambda: self.serve(request, handler), state.wall
        )

    async def serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer one request as Trakk would (no faults)."""
        http_exc = request.match_info.http_exception
        if isinstance(http_exc, web.HTTPMethodNotAllowed):
            response = error_response(
                405,
                "method_not_allowed",
                f"The {request.method} method is not "
                "supported for this route. Supported methods: GET.",
            )
            response.headers["Allow"] = "GET"
            return response
        if http_exc is not None:
            return error_response(404, "not_found", "The requested resource was not found.")
        token = self.state.authenticate(request.headers.get("Authorization", ""))
        if token is None:
            return error_response(401, "unauthenticated", "Unauthenticated.")
        if not token.admits(request.remote):
            return error_response(
                403, "forbidden", "This token may not be used from your IP address."
            )
        decision = token.throttle.hit()
        self.state.count_window_usage(token.throttle)
        if not decision.allowed:
            self.state.rate_limited += 1
            response = error_response(
                429,
                "rate_limit_exceeded",
                f"Too many requests. Retry after {decision.retry_after} seconds.",
            )
        else:
            request[_TOKEN_KEY] = token
            try:
                response = await handler(request)  # type: ignore[assignment]
            except ApiError as exc:
                response = error_response(exc.status, exc.code, exc.message)
            except Exception:  # as Trakk: an envelope, no internal details
                _log.exception("FakeTrakk handler failed for %s", request.path)
                response = error_response(500, "server_error", "Server Error")
        response.headers.update(decision.headers())
        return response

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _token(request: web.Request) -> Token:
        return request[_TOKEN_KEY]

    def _visible_project(self, request: web.Request) -> Project:
        only_params(request, ())
        project = self.world.projects.get(int(request.match_info["project"]))
        if project is None:
            raise ApiError(404, "not_found", "Project not found.")
        token = self._token(request)
        if token.agency_id is not None and token.agency_id != project.agency.id:
            raise ApiError(403, "forbidden", "This project belongs to another agency.")
        return project

    def _cached(self, project: Project, data: object) -> web.Response:
        stamp = self.state.cache_stamp(("project", project.id))
        return json_response({"data": data, "cache_refreshed_at": stamp})

    # -- handlers -------------------------------------------------------------------------

    async def _me(self, request: web.Request) -> web.Response:
        only_params(request, ())
        token = self._token(request)
        return json_response(
            self.payloads.me(token.id, token.name, token.agency_id, token.abilities)
        )

    async def _projects(self, request: web.Request) -> web.Response:
        query = only_params(request, LISTING_PARAMS)
        token = self._token(request)
        page = int_param(query, "page", 1, minimum=1)
        per_page = int_param(query, "per_page", 100, minimum=1, maximum=100)
        agency_id = token.agency_id
        if "agency_id" in query:
            if token.agency_id is not None:
                raise ApiError(403, "forbidden", "The agency_id filter needs a super-admin token.")
            agency_id = int_param(query, "agency_id", 0, minimum=1)
        status = query.get("status")
        known: tuple[str, ...] = PROJECT_STATUSES
        if not self.world.tidy:
            known = (*PROJECT_STATUSES, UNDOCUMENTED_PROJECT_STATUS)
        if status is not None and status not in known:
            raise ApiError(
                400, "bad_request", f"Invalid status {status!r}; one of: {', '.join(known)}."
            )
        search = query.get("search", "").strip().lower()
        matches = [
            p
            for _, p in sorted(self.world.projects.items())
            if (agency_id is None or p.agency.id == agency_id)
            and (status is None or self.payloads.project_status(p) == status)
            and (not search or search in p.name.lower() or search in p.domain.lower())
        ]
        start = (page - 1) * per_page
        items = [self.payloads.project_item(p) for p in matches[start : start + per_page]]
        api_base = f"{request.scheme}://{request.host}{API_PREFIX}"
        body = paginate(
            items, total=len(matches), page=page, per_page=per_page,
            path=f"{api_base}/projects", query=query,
        )  # fmt: skip
        body["cache_refreshed_at"] = self.state.cache_stamp(LISTING_CACHE)
        return json_response(body)

    async def _project_detail(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        return self._cached(project, self.payloads.project_detail(project))

    async def _reports(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        newest_first = sorted(
            self.world.reports(project), key=lambda r: (r.created_at, r.id), reverse=True
        )
        return self._cached(project, [self.payloads.report(r) for r in newest_first])

    async def _latest(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        report = self.world.latest_report(project)
        if report is None:
            raise ApiError(404, "not_found", "No current or upcoming report for this project.")
        return self._cached(project, self.payloads.report(report))

    async def _last_generated(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        report = self.world.last_generated(project)
        if report is None:
            raise ApiError(404, "not_found", "This project has no completed reports yet.")
        return self._cached(project, self.payloads.report(report))

    async def _content(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        raw = request.match_info["report_number"]
        number = int(raw) if raw.isascii() and raw.isdigit() else 0
        if not 1 <= number <= 26:
            raise ApiError(400, "bad_request", "report_number must be between 1 and 26.")
        report = self.world.report_by_number(project, number)
        if report is None:
            raise ApiError(404, "not_found", f"Report {number} does not exist for this project.")
        return self._cached(project, self.payloads.content(project, report))

    async def _keywords(self, request: web.Request) -> web.Response:
        project = self._visible_project(request)
        keywords = self.world.keywords(project)
        return self._cached(project, [self.payloads.keyword(project, kw) for kw in keywords])

    async def _countries(self, request: web.Request) -> web.Response:
        only_params(request, ())
        return json_response({"data": [self.payloads.country(c) for c in self.world.countries]})

    async def _country(self, request: web.Request) -> web.Response:
        return _one(request, "country", self.world.countries, self.payloads.country)

    async def _languages(self, request: web.Request) -> web.Response:
        only_params(request, ())
        return json_response({"data": [self.payloads.language(x) for x in self.world.languages]})

    async def _language(self, request: web.Request) -> web.Response:
        return _one(request, "language", self.world.languages, self.payloads.language)

    async def _users(self, request: web.Request) -> web.Response:
        only_params(request, ())
        users = self.world.visible_users(self._token(request).agency_id)
        return json_response({"data": [self.payloads.user(u) for u in users]})

    async def _user(self, request: web.Request) -> web.Response:
        only_params(request, ())
        wanted = int(request.match_info["user"])
        for user in self.world.visible_users(self._token(request).agency_id):
            if user.id == wanted:
                return json_response({"data": self.payloads.user(user)})
        raise ApiError(404, "not_found", "User not found.")


def _one(
    request: web.Request,
    name: str,
    pairs: list[tuple[int, str]],
    serialize: Callable[[tuple[int, str]], Json],
) -> web.Response:
    """``/countries/{id}`` and ``/languages/{id}``."""
    only_params(request, ())
    wanted = int(request.match_info[name])
    for pair in pairs:
        if pair[0] == wanted:
            return json_response({"data": serialize(pair)})
    raise ApiError(404, "not_found", f"{name.capitalize()} not found.")


def paginate(
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


async def serve_fault(
    fault_kind: str,
    seconds: float,
    request: web.Request,
    serve: Callable[[], Awaitable[web.StreamResponse]],
    wall: Callable[[], float],
) -> web.StreamResponse:
    """The response of an injected fault (see :meth:`FakeTrakk.inject_fault`)."""
    if fault_kind == "latency":
        await asyncio.sleep(seconds)
        return await serve()
    if fault_kind == "500":
        return error_response(500, "server_error", "Server Error")
    if fault_kind == "502":
        page = "<html><head><title>502 Bad Gateway</title></head><body><center>"
        page += "<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
        return web.Response(text=page, status=502, content_type="text/html")
    if fault_kind == "429":
        retry = max(math.ceil(seconds), 1)
        response = error_response(429, "rate_limit_exceeded", "Too Many Attempts.")
        response.headers.update(
            {
                "Retry-After": str(retry),
                "X-RateLimit-Reset": str(math.ceil(wall()) + retry),
                "X-RateLimit-Limit": "60",
                "X-RateLimit-Remaining": "0",
            }
        )
        return response
    if fault_kind == "drop":
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError
    # truncate: the real answer, its body cut in half (still a well-formed HTTP message).
    real = await serve()
    body = real.body if isinstance(real, web.Response) else b""
    raw = body if isinstance(body, bytes) else b""
    cut = web.Response(body=raw[: len(raw) // 2], status=real.status)
    cut.content_type = "application/json"
    for name, value in real.headers.items():
        if name.lower().startswith(("x-ratelimit", "retry-after")):
            cut.headers[name] = value
    return cut
