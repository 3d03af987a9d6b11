""":class:`FakeTrakk`: the fake Trakk server and the controls a test drives it with."""

from __future__ import annotations

import errno
import ipaddress
import random
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Any, Final, Literal

import attrs
from aiohttp import web

from trakk_async._core.timing import Clock
from trakk_async.testing._http import Api
from trakk_async.testing._payloads import API_PREFIX
from trakk_async.testing._pipeline import SITUATIONS, Situation, situations
from trakk_async.testing._state import Fault, State, Token
from trakk_async.testing._throttle import DEFAULT_RATE_LIMITS, Throttle
from trakk_async.testing._variations import Variation
from trakk_async.testing._world import (
    FakeReport,
    FakeReportStatus,
    Project,
    ReportChange,
    World,
)

FaultKind = Literal["500", "502", "drop", "truncate", "latency", "429"]
FAULT_KINDS: Final = frozenset({"500", "502", "drop", "truncate", "latency", "429"})


class PortInUseError(OSError):
    """:meth:`FakeTrakk.start` could not bind: the address is already in use."""


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
    """Trakk's Agency API v1 as its documentation defines it, over a seeded world.

    Build one and serve it with :meth:`running`, or mount :attr:`app` yourself::

        async with FakeTrakk.running(seed=1, projects=25) as fake:
            async with aiohttp.ClientSession() as session:
                headers = {"Authorization": f"Bearer {fake.token}"}
                async with session.get(f"{fake.base_url}/me", headers=headers) as resp:
                    assert (await resp.json())["agency_id"] == fake.agency_id

    The world is *realistic* by default: a few percent of its objects carry what real
    servers send and the reference allows (nulls, empty strings and lists, PHP's ``[]``,
    extra fields, undocumented enum values, integral floats, an unknown content scheme),
    by the rules of :data:`~trakk_async.testing.VARIATION_RULES`; :meth:`variations`
    lists the objects they hit. ``tidy=True`` serves the reference's exact shapes instead.
    Either way the report histories are the ones agencies see (early completions, old
    failed reports left in the pipeline); :meth:`project_ids` finds projects by situation.

    Args:
        seed: the same seed yields the same world, tokens, variations and content.
        projects: how many projects to generate (1 to 10,000 is the tested range).
        agencies: how many agencies share them; the first owns the most.
        today: the fake's "today" for ``/reports/latest`` (UTC today by default).
        rate_limits: ``(limit, seconds)`` fixed windows every new token gets; none (``()``)
            makes tokens unlimited, answered without rate-limit headers.
        tidy: serve the reference's exact shapes, without the realistic variations.
        advance_every: run the report pipeline once every this many seconds of ``clock``
            (:meth:`tick`), caught up on each request; None (default): reports move only
            through the controls.
        clock: monotonic seconds for the rate-limit windows and ``advance_every``.
        wall: Unix seconds for ``X-RateLimit-Reset`` and ``cache_refreshed_at``.
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        projects: int = 250,
        agencies: int = 3,
        today: date | None = None,
        rate_limits: Iterable[tuple[int, float]] = DEFAULT_RATE_LIMITS,
        tidy: bool = False,
        advance_every: float | None = None,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
    ) -> None:
        #: The generated data behind the API (advanced use; prefer the controls below).
        self.world = World(seed=seed, projects=projects, agencies=agencies, today=today, tidy=tidy)
        self._seed = seed
        self._default_limits = list(rate_limits)
        Throttle(self._default_limits)  # invalid windows fail here, not on the first token
        self._state = State(
            self.world, seed=seed, clock=clock, wall=wall, advance_every=advance_every
        )
        self._token_counter = 0
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        #: The first agency's id (it owns the most projects; :attr:`token` belongs to it).
        self.agency_id = self.world.agencies[0].id
        #: An agency-scoped token of the first agency.
        self.token = self.new_token(self.agency_id)
        #: A super-admin token: ``abilities ["*"]``, ``agency_id`` null.
        self.admin_token = self.new_token(None)
        #: The ``aiohttp.web.Application``; its routes live under ``/api/v1``.
        self.app = Api(self._state).build()

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
        tidy: bool = False,
        advance_every: float | None = None,
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
            tidy=tidy,
            advance_every=advance_every,
            clock=clock,
            wall=wall,
        )
        await fake.start(host=host, port=port)
        try:
            yield fake
        finally:
            await fake.close()

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving on a real socket; returns :attr:`base_url`.

        Raises :class:`PortInUseError` when ``host:port`` is taken.
        """
        if self._runner is not None:
            raise RuntimeError("FakeTrakk is already running")
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(exc.errno, f"{host}:{port} is already in use") from None
            raise
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

    # -- tokens -------------------------------------------------------------------------

    def new_token(
        self,
        agency_id: int | None = None,
        rate_limits: Iterable[tuple[int, float]] | None = None,
        *,
        allowed_ips: Iterable[str] | None = None,
    ) -> str:
        """A fresh token with its own rate-limit windows; ``agency_id=None``: super-admin.

        ``rate_limits`` defaults to the fake's; ``()`` makes the token unlimited.
        ``allowed_ips`` (addresses or CIDR ranges) restricts where the token may be used
        from; requests from elsewhere get 403, as on Trakk.
        """
        name = "Super-admin token"
        if agency_id is not None:
            name = f"{self.world.agency(agency_id).name} API token"
        self._token_counter += 1
        n = self._token_counter
        secret = random.Random(f"token:{self._seed}:{n}").getrandbits(128)
        scope = "admin" if agency_id is None else f"agency{agency_id}"
        value = f"trk_{scope}_{secret:032x}"
        self._state.tokens[value] = Token(
            value=value,
            id=n,
            name=name,
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
        return Throttle(chosen, clock=self._state.clock, wall=self._state.wall)

    def _token(self, token: str) -> Token:
        try:
            return self._state.tokens[token]
        except KeyError:
            raise LookupError("unknown token") from None  # never echo a secret

    def revoke_token(self, token: str) -> None:
        """Make ``token`` unknown: its next request gets 401."""
        self._state.tokens.pop(token, None)

    def set_rate_limits(self, token: str, rate_limits: Iterable[tuple[int, float]]) -> None:
        """Replace a token's windows (their counts start from zero), e.g. ``[(20, 1.0)]``;
        ``()`` makes it unlimited."""
        self._token(token).throttle = self._throttle(list(rate_limits))

    def rate_limits(self, token: str | None = None) -> list[tuple[int, float]]:
        """A token's ``(limit, seconds)`` windows (default :attr:`token`), shortest first;
        ``[]`` for an unlimited token. Give a client's limiter the same windows."""
        return self._token(token or self.token).throttle.limits

    # -- the world ----------------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The seed the world was generated from."""
        return self._seed

    @property
    def tidy(self) -> bool:
        """True when the fake serves the reference's exact shapes (no variations)."""
        return self.world.tidy

    @property
    def today(self) -> date:
        """The fake's "today"."""
        return self.world.today

    def set_today(self, today: date) -> None:
        """Set the fake's "today": ``/reports/latest`` (and the listing) follow the calendar
        rules for this date."""
        self.world.today = today
        self._state.forget_caches()

    def advance_today(self, days: int = 1) -> date:
        """Move "today" by ``days`` (across a month boundary, say); returns the new date."""
        self.set_today(self.world.today + timedelta(days=days))
        return self.world.today

    def project_ids(
        self,
        agency_id: int | None = None,
        *,
        all_agencies: bool = False,
        situation: Situation | None = None,
    ) -> list[int]:
        """Sorted project ids of ``agency_id`` (default: :attr:`agency_id`, :attr:`token`'s
        agency), or of every agency with ``all_agencies=True``.

        ``situation`` keeps the projects whose reports are in it today, one of
        :data:`~trakk_async.testing.SITUATIONS`, e.g. ``"stuck_failed"`` (an old failed
        report is the ``/reports/latest`` row) or ``"completed_ahead"``.
        """
        if situation is not None and situation not in SITUATIONS:
            raise ValueError(f"unknown situation {situation!r}; one of {list(SITUATIONS)}")
        wanted = agency_id if agency_id is not None else self.agency_id
        return sorted(
            pid
            for pid, p in self.world.projects.items()
            if (all_agencies or p.agency.id == wanted)
            and (situation is None or situation in situations(self.world, p))
        )

    def agency_of(self, project_id: int) -> int:
        """The id of the agency owning a project."""
        return self._project(project_id).agency.id

    def reports(self, project_id: int) -> list[FakeReport]:
        """A project's reports, oldest first (live objects: read, don't mutate)."""
        return list(self.world.reports(self._project(project_id)))

    def latest_report(self, project_id: int) -> FakeReport | None:
        """The report ``/reports/latest`` serves (and the listing row describes), or None."""
        return self.world.latest_report(self._project(project_id))

    def last_generated(self, project_id: int) -> FakeReport | None:
        """The report ``/reports/last-generated`` serves, or None."""
        return self.world.last_generated(self._project(project_id))

    def variations(self, rule: str | None = None) -> list[Variation]:
        """The objects the realistic profile varies (``[]`` when tidy), by rule and object.

        ``rule`` keeps one rule's, e.g. ``"keyword.latest_position.null"``. This serializes
        the whole world once: cheap at tens of projects, seconds at thousands.
        """
        tokens = [(t.id, t.name, t.agency_id, t.abilities) for t in self._state.tokens.values()]
        found = self._state.payloads.record(self.world.projects.values(), self.world.users, tokens)
        return [v for v in found if rule is None or v.rule == rule]

    # -- reports ------------------------------------------------------------------------

    def start_next_report(self, project_id: int) -> int:
        """Create the project's next report, pending, a month after the previous one
        (today for a project without reports).

        Returns its ``report_number``; numbers run 1-26 and start again at 1 after 26
        (the new report then replaces the old one of that number on ``/content``).
        """
        project = self._project(project_id)
        report = self.world.start_next_report(project)
        self._state.invalidate([project_id])
        return report.report_number

    def set_report_status(
        self, project_id: int, report_number: int, status: FakeReportStatus | str
    ) -> FakeReport:
        """Move the newest report with this number to ``status``."""
        project = self._project(project_id)
        report = self._report(project, report_number)
        self.world.set_status(project, report, FakeReportStatus(status))
        self._state.invalidate([project_id])
        return report

    def complete_report(self, project_id: int, report_number: int | None = None) -> FakeReport:
        """Complete a report (the newest by default) and generate its content."""
        return self._finish(project_id, report_number, FakeReportStatus.COMPLETED)

    def fail_report(self, project_id: int, report_number: int | None = None) -> FakeReport:
        """Fail a report (the newest by default). A failed report stays in the pipeline:
        while it has the earliest date of the not-completed ones, it is the
        ``/reports/latest`` row, whatever completes after it."""
        return self._finish(project_id, report_number, FakeReportStatus.FAILED)

    def _finish(
        self, project_id: int, report_number: int | None, status: FakeReportStatus
    ) -> FakeReport:
        project = self._project(project_id)
        if report_number is None:
            report = self.world.newest_report(project)
            if report is None:
                raise LookupError(f"project {project_id} has no reports")
        else:
            report = self._report(project, report_number)
        self.world.set_status(project, report, status)
        self._state.invalidate([project_id])
        return report

    def complete_next_reports(self, project_id: int, count: int = 1) -> list[FakeReport]:
        """Create the project's next ``count`` reports and complete them, as Trakk does when
        it works ahead: each is dated a month after the one before, so they complete ahead
        of their month. ``/reports/last-generated`` moves to the last of them, while the
        listing row (``/reports/latest``) stays this month's report. With ``count`` > 1,
        several reports complete between two polls."""
        if count < 1:
            raise ValueError("count must be at least 1")
        project = self._project(project_id)
        done = []
        for _ in range(count):
            report = self.world.start_next_report(project)
            self.world.set_status(project, report, FakeReportStatus.COMPLETED)
            done.append(report)
        self._state.invalidate([project_id])
        return done

    def tick(self, steps: int = 1) -> list[ReportChange]:
        """Run Trakk's report pipeline ``steps`` times: each time about one active project
        in ten moves one stage (its running report completes or fails, else its pending
        one starts, else its next report is created). Returns the changes.
        ``advance_every`` runs it by itself."""
        return self._state.tick(steps)

    def catch_up(self) -> list[ReportChange]:
        """Run the pipeline ticks ``advance_every`` owes by now (per ``clock``); returns the
        changes. Each request does this first by itself; call it to see the changes when
        no request comes (``trakk-fake --advance`` prints them)."""
        return self._state.catch_up()

    def report_changes(self) -> list[ReportChange]:
        """Every report created or moved since the fake was built (by controls or the
        pipeline), oldest first."""
        return list(self.world.changes)

    # -- projects -----------------------------------------------------------------------

    def add_project(self, agency_id: int | None = None, **fields: Any) -> int:
        """Add a project without reports (agency default: :attr:`agency_id`); returns its id.

        ``fields`` override generated ones: name, company_name, domain, status,
        keyword_count, city, contact_email, client_emails, cc_email,
        receives_monthly_reports, plan, gsc_status.
        """
        project = self.world.add_project(agency_id or self.agency_id, fields)
        self._state.invalidate([project.id])
        return project.id

    def remove_project(self, project_id: int) -> None:
        """Delete a project: it 404s from now on."""
        self._project(project_id)
        self.world.remove_project(project_id)
        self._state.invalidate([project_id])

    # -- faults and counters ------------------------------------------------------------

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
        self._state.faults.append(
            Fault(
                kind=kind,
                remaining=None if probability is not None else count,
                probability=probability,
                route=route,
                seconds=seconds,
            )
        )

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._state.faults.clear()

    def stats(self) -> FakeStats:
        """A snapshot of the request counters."""
        state = self._state
        return FakeStats(
            requests=state.requests,
            by_route=dict(state.by_route),
            rate_limited=state.rate_limited,
            faults=state.faults_sent,
            max_in_window=dict(state.max_in_window),
        )

    # -- lookups --------------------------------------------------------------------------

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
