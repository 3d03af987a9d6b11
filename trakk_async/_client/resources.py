"""The resource namespaces of :class:`TrakkClient`, grouped as the reference groups them.

Path parameters are positional and validated before any request; query parameters are
keyword-only. Every call takes ``timeout=`` (seconds per attempt), which replaces the
client's ``timeout`` for that call: ``await client.reports.content(42, 15, timeout=60)``.
"""

from __future__ import annotations

from functools import partial

from trakk_async._client.pager import ProjectPager
from trakk_async._client.polling import DEFAULT_STUCK_AFTER, wait_for_completion
from trakk_async._client.requester import Requester
from trakk_async._models import converter as _converter
from trakk_async._models.objects import (
    Country,
    Keyword,
    Language,
    Listing,
    Page,
    Project,
    Report,
    ReportContent,
    User,
)
from trakk_async._protocol.core import (
    check_id,
    check_report_number,
    check_timeout,
    project_list_params,
)


class _Resource:
    __slots__ = ("_client",)

    def __init__(self, client: Requester) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class Projects(_Resource):
    """``/projects``: the token's projects."""

    __slots__ = ()

    def list(
        self,
        *,
        status: str | None = None,
        search: str | None = None,
        agency_id: int | None = None,
        per_page: int = 100,
        timeout: float | None = None,
    ) -> ProjectPager:
        """Every project on every page, lazily: ``async for p in client.projects.list():``.

        ``status`` filters by project status, ``search`` by partial name or domain,
        ``agency_id`` by agency (super-admin tokens only); ``timeout`` applies to each
        page's request. Use ``.pages()`` on the result for whole pages with their
        ``meta``. Bad arguments raise here, before any request.
        """
        params = project_list_params(
            status=status, search=search, agency_id=agency_id, per_page=per_page
        )
        if timeout is not None:
            timeout = check_timeout(timeout)
        client = self._client
        client._ensure_open()

        async def fetch(page: int) -> Page:
            return await client._get(
                "/projects",
                _converter.structure_page,
                {**params, "page": str(page)},
                timeout=timeout,
            )

        return ProjectPager(fetch, per_page)

    async def get(self, project_id: int, *, timeout: float | None = None) -> Project:
        """``GET /projects/{id}``: one project in detail."""
        path = f"/projects/{check_id(project_id, 'project_id')}"
        return await self._client._get(
            path, partial(_converter.structure_single, cls=Project), timeout=timeout
        )


class Reports(_Resource):
    """``/projects/{id}/reports...``: a project's reports and their content."""

    __slots__ = ()

    async def list(self, project_id: int, *, timeout: float | None = None) -> Listing[Report]:
        """All reports of a project, newest first."""
        path = f"/projects/{check_id(project_id, 'project_id')}/reports"
        return await self._client._get(
            path, partial(_converter.structure_listing, cls=Report), timeout=timeout
        )

    async def latest(self, project_id: int, *, timeout: float | None = None) -> Report:
        """The current or upcoming report (may not be completed: check ``status``).

        Raises :class:`NotFoundError` when the project has no reports.
        """
        path = f"/projects/{check_id(project_id, 'project_id')}/reports/latest"
        return await self._client._get(
            path, partial(_converter.structure_single, cls=Report), timeout=timeout
        )

    async def last_generated(self, project_id: int, *, timeout: float | None = None) -> Report:
        """The most recent completed report: safe to publish.

        Raises :class:`NotFoundError` when the project has no completed report yet.
        """
        path = f"/projects/{check_id(project_id, 'project_id')}/reports/last-generated"
        return await self._client._get(
            path, partial(_converter.structure_single, cls=Report), timeout=timeout
        )

    async def content(
        self, project_id: int, report_number: int, *, timeout: float | None = None
    ) -> ReportContent:
        """The generated content of report ``report_number`` (1-26) of a project.

        Raises :class:`NotFoundError` when that report does not exist.
        """
        pid = check_id(project_id, "project_id")
        number = check_report_number(report_number)
        path = f"/projects/{pid}/reports/{number}/content"
        return await self._client._get(path, _converter.structure_report_content, timeout=timeout)

    async def wait_for_completion(
        self,
        project_id: int,
        *,
        report_number: int | None = None,
        timeout: float | None = None,
        poll_interval: float | None = None,
        stuck_after: float = DEFAULT_STUCK_AFTER,
    ) -> Report:
        """Poll the project's reports list until the awaited report completes; return it.

        Without ``report_number``: the next report to complete from now (the one in
        progress, else the next pending one by date, or any other that completes first);
        an old failed report does not end the wait, a failure of the awaited report
        raises :class:`ReportFailedError`. With ``report_number``: the newest report with
        that number (returned at once if it is completed already). One request per poll,
        through the client's rate limiter; the interval follows the status (shorter while
        ``running``, longer while ``pending``, growing with jitter to a cap;
        ``poll_interval`` sets the running interval).

        Raises :class:`ReportFailedError` (carrying the report) when the awaited report
        fails, :class:`WaitTimeoutError` (also a ``TimeoutError``) after ``timeout``
        seconds, and :class:`NotFoundError` for an unknown project or report number. A
        report stuck in one status longer than ``stuck_after`` seconds is logged at
        WARNING. Cancelling stops at once::

            report = await client.reports.wait_for_completion(42, timeout=3600)
        """
        check_id(project_id, "project_id")
        if report_number is not None:
            check_report_number(report_number)
        return await wait_for_completion(
            self.list,
            project_id,
            report_number=report_number,
            timeout=timeout,
            poll_interval=poll_interval,
            stuck_after=stuck_after,
            _sleep=self._client._sleep,
        )


class Keywords(_Resource):
    """``/projects/{id}/keywords``: a project's active keywords."""

    __slots__ = ()

    async def list(self, project_id: int, *, timeout: float | None = None) -> Listing[Keyword]:
        """All active keywords of a project, with the report numbers that have content."""
        path = f"/projects/{check_id(project_id, 'project_id')}/keywords"
        return await self._client._get(
            path, partial(_converter.structure_listing, cls=Keyword), timeout=timeout
        )


class Countries(_Resource):
    """``/countries``: the countries used in project metadata."""

    __slots__ = ()

    async def list(self, *, timeout: float | None = None) -> Listing[Country]:
        """All countries."""
        return await self._client._get(
            "/countries", partial(_converter.structure_listing, cls=Country), timeout=timeout
        )

    async def get(self, country_id: int, *, timeout: float | None = None) -> Country:
        """One country by id."""
        path = f"/countries/{check_id(country_id, 'country_id')}"
        return await self._client._get(
            path, partial(_converter.structure_single, cls=Country), timeout=timeout
        )


class Languages(_Resource):
    """``/languages``: the languages used in project metadata."""

    __slots__ = ()

    async def list(self, *, timeout: float | None = None) -> Listing[Language]:
        """All languages."""
        return await self._client._get(
            "/languages", partial(_converter.structure_listing, cls=Language), timeout=timeout
        )

    async def get(self, language_id: int, *, timeout: float | None = None) -> Language:
        """One language by id."""
        path = f"/languages/{check_id(language_id, 'language_id')}"
        return await self._client._get(
            path, partial(_converter.structure_single, cls=Language), timeout=timeout
        )


class Users(_Resource):
    """``/users``: the users visible to the token (its agency and Trakk's staff)."""

    __slots__ = ()

    async def list(self, *, timeout: float | None = None) -> Listing[User]:
        """All visible users."""
        return await self._client._get(
            "/users", partial(_converter.structure_listing, cls=User), timeout=timeout
        )

    async def get(self, user_id: int, *, timeout: float | None = None) -> User:
        """One user by id."""
        path = f"/users/{check_id(user_id, 'user_id')}"
        return await self._client._get(
            path, partial(_converter.structure_single, cls=User), timeout=timeout
        )
