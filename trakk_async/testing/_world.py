"""The fake's in-memory world: agencies, users, projects, keywords and reports.

Cheap project fields are built eagerly; keywords and report histories are built on first
access, each from its own :class:`random.Random` seeded by ``(seed, project_id, ...)``, so
10,000 projects build in well under a second and the same seed always yields the same
world, whatever order things are looked at in.

The report histories are what agencies see on Trakk: one report a month, most of them
completed; this month's report anywhere in the pipeline; in some projects next month's
report already completed ahead of its date (``/reports/last-generated`` moves, the
``/reports/latest`` row does not), and in some an old ``failed`` report left in the
pipeline (it stays the ``/reports/latest`` row, since it is the not-completed report with
the earliest date). The JSON served for all this is built in ``_payloads``.
"""

from __future__ import annotations

import calendar
import enum
import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import attrs

from trakk_async.testing import _content
from trakk_async.testing._variations import Variations

PROJECT_STATUSES: Final = (
    "active",
    "pending",
    "pending - in progress",
    "paused",
    "ended",
    "termination pending",
)
_STATUS_WEIGHTS: Final = (70, 6, 6, 8, 6, 4)
COUNTRIES: Final = (
    "Denmark", "Sweden", "Norway", "Germany", "Austria", "Switzerland", "Netherlands",
    "United Kingdom", "Finland", "France", "Spain", "Poland",
)  # fmt: skip
LANGUAGES: Final = (
    "Danish", "Swedish", "Norwegian", "German", "Dutch", "English", "Finnish", "French",
    "Spanish", "Polish",
)  # fmt: skip
PLANS: Final = ("Starter", "Growth", "Premium")
GSC_STATUSES: Final = ("connected", "not_connected", "expired")
REPORT_ID_STRIDE: Final = 1000
"""Report and keyword ids are ``project_id * 1000 + sequence``: unique without a counter."""
STUCK_FAILED_SHARE: Final = 0.15
"""Of the projects with a report before this month: those with an old failed report left
in the pipeline (about 20 of 150 projects, as agencies see on Trakk)."""
AHEAD_SHARE: Final = 0.3
"""Of the projects whose next month's report exists while this month's is completed:
those whose next report is completed ahead of its date."""


# A completed report's approval and management, as often as agencies set them.
_APPROVED: Final = ("approved",) * 16 + ("waiting",) * 2 + ("on-hold", "blocked")
_MANAGED: Final = ("completed",) * 6 + ("waiting-on-client",) * 3 + ("on-hold",)


class FakeReportStatus(enum.StrEnum):
    """A report's ``status`` (``generation_status`` on ``/content``)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@attrs.frozen
class Agency:
    """An agency: the owner of projects and of agency-scoped tokens."""

    id: int
    name: str


@attrs.frozen
class User:
    """A user; ``agency`` is ``None`` for internal Trakk staff."""

    id: int
    name: str
    role: str
    agency: Agency | None


@attrs.frozen
class Keyword:
    """One tracked keyword of a project."""

    id: int
    keyword: str
    url: str
    create_date: date
    latest_position: int
    status_200: bool


@attrs.define(kw_only=True)
class FakeReport:
    """One report of a project. Change it through :class:`FakeTrakk`'s controls.

    ``created_at`` is what the listing serves as ``latest_report_generated_at``;
    ``completed_at`` is the fake time it completed (None unless completed).
    """

    id: int
    project_id: int
    sequence: int
    report_number: int
    status: FakeReportStatus
    created_at: datetime
    completed_at: datetime | None
    date_to_create_texts: date | None
    date_to_send_to_client: date | None
    sent: bool
    approved_status: str | None
    approved_by: User | None
    managed_status: str | None
    managed_by: User | None
    pdf_link: str | None
    web_link: str | None
    #: ids of keywords with content once completed; built on first use.
    with_content: frozenset[int] | None = None

    @property
    def report_name(self) -> str:
        """The report's name, from its number (the reference's report number mapping)."""
        return _content.report_name(self.report_number)

    @property
    def content_scheme(self) -> str:
        """The content scheme of the report's number (the reference's mapping)."""
        return _content.scheme_of(self.report_number)

    @property
    def is_completed(self) -> bool:
        """True when completed (every other status counts as in the pipeline)."""
        return self.status is FakeReportStatus.COMPLETED


@attrs.frozen(kw_only=True)
class ReportChange:
    """One change of a report's status made by a control or the pipeline.

    ``before`` is None when the report was created (it starts ``pending``).
    """

    project_id: int
    report_id: int
    report_number: int
    before: FakeReportStatus | None
    after: FakeReportStatus


@attrs.define(kw_only=True)
class Project:
    """A project; ``keywords`` and ``reports`` are built on first access by the world."""

    id: int
    agency: Agency
    name: str
    company_name: str
    domain: str
    trade: str
    city: str
    status: str
    keyword_count: int
    history: int
    report_day: int
    created_at: datetime
    country: tuple[int, str]
    text_language: tuple[int, str]
    report_language: tuple[int, str]
    managing_user: User
    created_by: User
    contact_email: str
    client_emails: list[str]
    cc_email: str
    receives_monthly_reports: bool
    plan: str
    gsc_status: str
    keywords: list[Keyword] | None = None
    reports: list[FakeReport] | None = None


def add_months(day: date, months: int, dom: int) -> date:
    """``day`` moved by ``months``, on day of month ``dom`` (clamped to the month's end)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(dom, last))


def slug(text: str) -> str:
    """``"Jensen Plumbing"`` -> ``"jensen-plumbing"``."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-").replace("--", "-")


def _same_month(a: date | None, b: date) -> bool:
    return a is not None and (a.year, a.month) == (b.year, b.month)


class World:
    """All data of one fake Trakk, generated from ``seed``.

    ``tidy`` switches the realistic profile's variations off (see ``_variations``); the
    data and the report histories are the same either way.
    """

    def __init__(
        self,
        *,
        seed: int,
        projects: int,
        agencies: int,
        today: date | None = None,
        tidy: bool = False,
    ) -> None:
        if not 0 <= projects <= 100_000:
            raise ValueError("projects must be between 0 and 100,000")
        if agencies < 1 or agencies > len(_content.AGENCY_NAMES):
            raise ValueError(f"agencies must be between 1 and {len(_content.AGENCY_NAMES)}")
        self.seed = seed
        self.variations = Variations(seed, enabled=not tidy)
        self.base_today = today or datetime.now(UTC).date()
        self.today = self.base_today
        #: Every status change since the world was built, oldest first.
        self.changes: list[ReportChange] = []
        #: Bumped by every change of the data (not of ``today``): what may be cached.
        self.generation = 0
        rng = random.Random(f"world:{seed}")
        names = rng.sample(_content.AGENCY_NAMES, agencies)
        self.agencies = [Agency(i, name) for i, name in enumerate(names, start=1)]
        self.countries = list(enumerate(COUNTRIES, start=1))
        self.languages = list(enumerate(LANGUAGES, start=1))
        self.users: list[User] = []
        self._users_by_agency: dict[int, list[User]] = {}
        for agency in self.agencies:
            for role in _content.ROLES[: rng.randint(2, 4)]:
                self._add_user(rng, role, agency)
        for role in _content.INTERNAL_ROLES:
            self._add_user(rng, role, None)
        # The first agency gets three shares, every other one share: it owns the most.
        pattern = [1, 1, 1, *range(2, agencies + 1)]
        self.projects: dict[int, Project] = {}
        for pid in range(1, projects + 1):
            self.projects[pid] = self._make_project(pid, pattern[(pid - 1) % len(pattern)])
        # Even a small world shows every variation of these to the first agency's token.
        first = self.agencies[0].id
        seen: list[object] = [p.id for p in self.projects.values() if p.agency.id == first]
        self.variations.ensure("project", seen)
        self.variations.ensure("user", [u.id for u in self.visible_users(first)])
        self.variations.ensure("country", [i for i, _ in self.countries])
        self.variations.ensure("language", [i for i, _ in self.languages])

    @property
    def tidy(self) -> bool:
        """True when the variations of the realistic profile are off."""
        return not self.variations.enabled

    def _add_user(self, rng: random.Random, role: str, agency: Agency | None) -> None:
        name = f"{rng.choice(_content.FIRST_NAMES)} {rng.choice(_content.SURNAMES)}"
        user = User(len(self.users) + 1, name, role, agency)
        self.users.append(user)
        if agency is not None:
            self._users_by_agency.setdefault(agency.id, []).append(user)

    def agency(self, agency_id: int) -> Agency:
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise KeyError(f"no agency {agency_id}")

    def _make_project(self, pid: int, agency_id: int, *, history: int | None = None) -> Project:
        rng = random.Random(f"project:{self.seed}:{pid}")
        agency = self.agency(agency_id)
        trade = rng.choice(list(_content.TRADES))
        city = rng.choice(_content.CITIES)
        company = f"{rng.choice(_content.SURNAMES)} {_content.TRADES[trade][0]}"
        domain = f"{slug(company)}-{slug(city)}.{rng.choice(_content.TLDS)}"
        status = rng.choices(PROJECT_STATUSES, _STATUS_WEIGHTS)[0]
        if history is None:
            history = 0 if status.startswith("pending") else rng.randint(1, 26)
        created = datetime.combine(
            add_months(self.base_today, -history - 1, rng.randint(1, 28)),
            time(rng.randint(8, 17), rng.randint(0, 59), tzinfo=UTC),
        )
        staff = self._users_by_agency[agency.id]
        first = rng.choice(_content.FIRST_NAMES).lower()
        country = rng.choice(self.countries)
        language = rng.choice(self.languages)
        return Project(
            id=pid,
            agency=agency,
            name=f"{company} - {city}",
            company_name=company,
            domain=domain,
            trade=trade,
            city=city,
            status=status,
            keyword_count=rng.randint(5, 30),
            history=history,
            report_day=rng.randint(1, 28),
            created_at=created,
            country=country,
            text_language=language,
            report_language=rng.choice((language, self.languages[5])),
            managing_user=rng.choice(staff),
            created_by=rng.choice(staff),
            contact_email=f"info@{domain}",
            client_emails=[f"{first}@{domain}", *([f"marketing@{domain}"] * rng.randint(0, 1))],
            cc_email=f"reports@{slug(agency.name)}.com",
            receives_monthly_reports=rng.random() < 0.8,
            plan=rng.choice(PLANS),
            gsc_status=rng.choice(GSC_STATUSES),
        )

    # -- lazily built parts -------------------------------------------------------------

    def keywords(self, project: Project) -> list[Keyword]:
        """The project's keywords, built on first use."""
        if project.keywords is None:
            rng = random.Random(f"keywords:{self.seed}:{project.id}")
            phrases = _content.TRADES[project.trade][1]
            city = project.city.lower()
            candidates = [
                *(f"{p} {city}" for p in phrases),
                *phrases,
                *(f"best {p} {city}" for p in phrases),
                *(f"{p} prices" for p in phrases),
                *(f"affordable {p}" for p in phrases),
            ]
            picked = rng.sample(candidates, min(project.keyword_count, len(candidates)))
            while len(picked) < project.keyword_count:
                picked.append(f"{rng.choice(phrases)} near {city} {len(picked)}")
            project.keywords = [
                Keyword(
                    id=project.id * REPORT_ID_STRIDE + i,
                    keyword=kw,
                    url=f"https://{project.domain}/{slug(kw)}",
                    create_date=(project.created_at + timedelta(days=rng.randint(0, 20))).date(),
                    latest_position=rng.randint(1, 100),
                    status_200=rng.random() < 0.95,
                )
                for i, kw in enumerate(picked, start=1)
            ]
        return project.keywords

    def reports(self, project: Project) -> list[FakeReport]:
        """The project's reports, oldest first, built on first use."""
        if project.reports is None:
            project.reports = self._history(project)
        return project.reports

    def _history(self, project: Project) -> list[FakeReport]:
        rng = random.Random(f"reports:{self.seed}:{project.id}")
        # The newest report is this month's or next month's; older ones monthly before.
        last_offset = rng.choice((0, 1))
        today = self.base_today
        offsets = [last_offset - (project.history - seq) for seq in range(1, project.history + 1)]
        dates = [add_months(today, offset, project.report_day) for offset in offsets]
        statuses: list[FakeReportStatus] = []
        for offset, create in zip(offsets, dates, strict=True):
            if offset < 0:
                statuses.append(FakeReportStatus.COMPLETED)
            elif offset == 0 and create <= today:
                statuses.append(rng.choices(list(FakeReportStatus), (15, 25, 55, 5))[0])
            elif offset == 1 and statuses and statuses[-1] is FakeReportStatus.COMPLETED:
                # Next month's report while this month's is done: sometimes already done too.
                ahead = rng.random() < AHEAD_SHARE
                statuses.append(FakeReportStatus.COMPLETED if ahead else FakeReportStatus.PENDING)
            else:
                statuses.append(FakeReportStatus.PENDING)
        old = [i for i, offset in enumerate(offsets) if offset < 0]
        if old and rng.random() < STUCK_FAILED_SHARE:
            statuses[rng.choice(old)] = FakeReportStatus.FAILED  # left in the pipeline
        reports = []
        for seq, (create, status) in enumerate(zip(dates, statuses, strict=True), start=1):
            created_at = datetime.combine(
                create - timedelta(days=14), time(9, rng.randint(0, 59), tzinfo=UTC)
            )
            report = self._new_report(project, seq, created_at=created_at, create=create)
            self._apply_status(project, report, status, rng)
            reports.append(report)
        return reports

    def _new_report(
        self, project: Project, seq: int, *, created_at: datetime, create: date
    ) -> FakeReport:
        return FakeReport(
            id=project.id * REPORT_ID_STRIDE + seq,
            project_id=project.id,
            sequence=seq,
            report_number=(seq - 1) % 26 + 1,
            status=FakeReportStatus.PENDING,
            created_at=created_at,
            completed_at=None,
            date_to_create_texts=create,
            date_to_send_to_client=create + timedelta(days=9),
            sent=False,
            approved_status=None,
            approved_by=None,
            managed_status=None,
            managed_by=None,
            pdf_link=None,
            web_link=None,
        )

    def _apply_status(
        self,
        project: Project,
        report: FakeReport,
        status: FakeReportStatus,
        rng: random.Random | None = None,
    ) -> None:
        rng = rng or random.Random(f"status:{self.seed}:{report.id}:{status}")
        report.status = status
        manager = project.managing_user
        if status is FakeReportStatus.COMPLETED:
            create = report.date_to_create_texts or self.today
            report.completed_at = report.completed_at or datetime.combine(
                min(create, self.today), time(rng.randint(1, 6), rng.randint(0, 59), tzinfo=UTC)
            )
            report.approved_status = rng.choice(_APPROVED)
            report.approved_by = manager if report.approved_status == "approved" else None
            report.managed_status = rng.choice(_MANAGED)
            report.managed_by = manager
            send = report.date_to_send_to_client
            report.sent = send is not None and send <= self.today
            agency_slug = slug(project.agency.name.split()[0])
            report.pdf_link = f"https://admin.trakk.ai/reports/{agency_slug}-report-{report.id}.pdf"
            report.web_link = f"https://admin.trakk.ai/reports/view/{rng.getrandbits(48):012x}"
        else:
            report.completed_at = None
            report.sent = False
            report.pdf_link = report.web_link = None
            report.approved_status = None if status is FakeReportStatus.PENDING else "waiting"
            report.approved_by = None
            running = status is FakeReportStatus.RUNNING
            report.managed_status = "in-progress" if running else None
            report.managed_by = manager if running else None

    def content_keywords(self, project: Project, report: FakeReport) -> frozenset[int]:
        """Ids of the keywords with content in a completed report (empty otherwise)."""
        if not report.is_completed:
            return frozenset()
        if report.with_content is None:
            rng = random.Random(f"with-content:{self.seed}:{report.id}")
            report.with_content = frozenset(
                kw.id for kw in self.keywords(project) if rng.random() < 0.85
            )
        return report.with_content

    # -- queries --------------------------------------------------------------------------

    def newest_report(self, project: Project) -> FakeReport | None:
        """The report created last, whatever its status."""
        reports = self.reports(project)
        return max(reports, key=lambda r: (r.created_at, r.id)) if reports else None

    def report_by_number(self, project: Project, report_number: int) -> FakeReport | None:
        """The newest report with this number (numbers repeat after 26)."""
        matching = [r for r in self.reports(project) if r.report_number == report_number]
        return max(matching, key=lambda r: (r.created_at, r.id)) if matching else None

    def latest_report(self, project: Project) -> FakeReport | None:
        """``/reports/latest``: the calendar rules of the reports reference, against today.

        1. A completed report dated (``date_to_create_texts``) in the current month, the
           latest date winning; 2. else the not-completed report (any other status,
           undocumented ones included) with the earliest date, past or future; 3. else None.
        """
        reports = self.reports(project)
        this_month = [
            r for r in reports if r.is_completed and _same_month(r.date_to_create_texts, self.today)
        ]
        if this_month:
            return max(this_month, key=lambda r: (r.date_to_create_texts or date.min, r.id))
        pipeline = [r for r in reports if not r.is_completed and r.date_to_create_texts is not None]
        if pipeline:
            return min(pipeline, key=lambda r: (r.date_to_create_texts or date.max, r.id))
        return None

    def last_generated(self, project: Project) -> FakeReport | None:
        """``/reports/last-generated``: the newest completed report by creation time."""
        done = [r for r in self.reports(project) if r.is_completed]
        return max(done, key=lambda r: (r.created_at, r.id)) if done else None

    def content_action_ids(self, project: Project, keyword: Keyword) -> list[int]:
        """Report numbers whose served content has this keyword."""
        numbers = {r.report_number for r in self.reports(project)}
        out = []
        for number in sorted(numbers):
            report = self.report_by_number(project, number)
            if report is not None and keyword.id in self.content_keywords(project, report):
                out.append(number)
        return out

    def visible_users(self, agency_id: int | None) -> Iterable[User]:
        return [
            u
            for u in self.users
            if agency_id is None or u.agency is None or u.agency.id == agency_id
        ]

    # -- changes --------------------------------------------------------------------------

    def start_next_report(self, project: Project) -> FakeReport:
        """A new pending report, dated a month after the newest one (today without any)."""
        reports = self.reports(project)
        previous = reports[-1] if reports else None
        if previous is not None and previous.date_to_create_texts is not None:
            previous_day = previous.date_to_create_texts
            create = add_months(previous_day, 1, previous_day.day)
        else:
            create = self.today
        now = datetime.combine(self.today, time(12, tzinfo=UTC))
        created_at = max(now, previous.created_at + timedelta(seconds=1)) if previous else now
        report = self._new_report(project, len(reports) + 1, created_at=created_at, create=create)
        reports.append(report)
        self._log(report, None)
        return report

    def set_status(self, project: Project, report: FakeReport, status: FakeReportStatus) -> None:
        before = report.status
        self.generation += 1
        if status is FakeReportStatus.COMPLETED and before is not status:
            report.completed_at = datetime.combine(self.today, time(12, tzinfo=UTC))
        self._apply_status(project, report, status)
        if before is not status:
            self._log(report, before)

    def _log(self, report: FakeReport, before: FakeReportStatus | None) -> None:
        self.generation += 1
        self.changes.append(
            ReportChange(
                project_id=report.project_id,
                report_id=report.id,
                report_number=report.report_number,
                before=before,
                after=report.status,
            )
        )

    def add_project(self, agency_id: int, fields: dict[str, Any]) -> Project:
        pid = max(self.projects, default=0) + 1
        project = self._make_project(pid, agency_id, history=0)
        project.status = "active"
        for name, value in fields.items():
            if name not in _SETTABLE:
                raise TypeError(f"add_project() got an unexpected field {name!r}")
            setattr(project, name, value)
        self.projects[pid] = project
        self.generation += 1
        return project

    def remove_project(self, project_id: int) -> None:
        del self.projects[project_id]
        self.generation += 1


_SETTABLE: Final = frozenset(
    {
        "name",
        "company_name",
        "domain",
        "status",
        "keyword_count",
        "city",
        "contact_email",
        "client_emails",
        "cc_email",
        "receives_monthly_reports",
        "plan",
        "gsc_status",
    }
)
