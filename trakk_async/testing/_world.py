"""The fake's in-memory world: agencies, users, projects, keywords and reports.

Cheap project fields are built eagerly; keywords, report histories and content are
built on first access, each from its own :class:`random.Random` seeded by
``(seed, project_id, ...)``, so 10,000 projects build in well under a second and the
same seed always yields the same world, whatever order things are looked at in.
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
from trakk_async.testing._content import Json

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

    def to_json(self) -> Json:
        agency = None if self.agency is None else {"id": self.agency.id, "name": self.agency.name}
        return {"id": self.id, "name": self.name, "role": self.role, "agency": agency}


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
    """One report of a project. Mutate it through :class:`FakeTrakk`'s controls."""

    id: int
    project_id: int
    sequence: int
    report_number: int
    status: FakeReportStatus
    created_at: datetime
    generated_at: datetime | None
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

    def to_json(self) -> Json:
        """The report object as the API serves it (without the cache time)."""
        return {
            "id": self.id,
            "project_id": self.project_id,
            "report_number": self.report_number,
            "report_name": self.report_name,
            "status": str(self.status),
            "date_to_create_texts": _iso_date(self.date_to_create_texts),
            "date_to_send_to_client": _iso_date(self.date_to_send_to_client),
            "sent": self.sent,
            "approved_status": self.approved_status,
            "approved_by": None if self.approved_by is None else self.approved_by.to_json(),
            "managed_status": self.managed_status,
            "managed_by": None if self.managed_by is None else self.managed_by.to_json(),
            "pdf_link": self.pdf_link,
            "web_link": self.web_link,
        }


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


def _iso_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def iso_datetime(value: datetime) -> str:
    """Laravel's timestamp format: ``2026-03-30T12:00:00.000000Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _add_months(day: date, months: int, dom: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(dom, last))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-").replace("--", "-")


class World:
    """All data of one fake Trakk, generated from ``seed``."""

    def __init__(
        self, *, seed: int, projects: int, agencies: int, today: date | None = None
    ) -> None:
        if not 0 <= projects <= 100_000:
            raise ValueError("projects must be between 0 and 100,000")
        if agencies < 1 or agencies > len(_content.AGENCY_NAMES):
            raise ValueError(f"agencies must be between 1 and {len(_content.AGENCY_NAMES)}")
        self.seed = seed
        self.base_today = today or datetime.now(UTC).date()
        self.today = self.base_today
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
        domain = f"{_slug(company)}-{_slug(city)}.{rng.choice(_content.TLDS)}"
        status = rng.choices(PROJECT_STATUSES, _STATUS_WEIGHTS)[0]
        if history is None:
            history = 0 if status.startswith("pending") else rng.randint(1, 26)
        created = datetime.combine(
            _add_months(self.base_today, -history - 1, rng.randint(1, 28)),
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
            cc_email=f"reports@{_slug(agency.name)}.com",
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
                    url=f"https://{project.domain}/{_slug(kw)}",
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
            rng = random.Random(f"reports:{self.seed}:{project.id}")
            project.reports = []
            # The newest report is this month's or next month's; older ones monthly before.
            last_offset = rng.choice((0, 1))
            for seq in range(1, project.history + 1):
                month = last_offset - (project.history - seq)
                project.reports.append(self._make_report(project, rng, seq, month))
        return project.reports

    def _make_report(
        self, project: Project, rng: random.Random, seq: int, month_offset: int
    ) -> FakeReport:
        create = _add_months(self.base_today, month_offset, project.report_day)
        today = self.base_today
        if month_offset < 0:
            status = FakeReportStatus.FAILED if rng.random() < 0.04 else FakeReportStatus.COMPLETED
        elif month_offset == 0 and create <= today:
            status = rng.choices(list(FakeReportStatus), (15, 25, 55, 5))[0]
        else:
            status = FakeReportStatus.PENDING
        report = self._new_report(
            project,
            seq,
            created_at=datetime.combine(
                create - timedelta(days=14), time(9, rng.randint(0, 59), tzinfo=UTC)
            ),
            create=create,
        )
        self._apply_status(project, report, status, rng)
        return report

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
            generated_at=None,
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
            report.generated_at = report.generated_at or datetime.combine(
                create, time(rng.randint(1, 6), rng.randint(0, 59), tzinfo=UTC)
            )
            report.approved_status = rng.choices(("approved", "waiting", "on-hold"), (8, 1, 1))[0]
            report.approved_by = manager if report.approved_status == "approved" else None
            report.managed_status = rng.choice(("completed", "waiting-on-client"))
            report.managed_by = manager
            send = report.date_to_send_to_client
            report.sent = send is not None and send <= self.today
            slug = _slug(project.agency.name.split()[0])
            report.pdf_link = f"https://admin.trakk.ai/reports/{slug}-report-{report.id}.pdf"
            report.web_link = f"https://admin.trakk.ai/reports/view/{rng.getrandbits(48):012x}"
        else:
            report.generated_at = None
            report.sent = False
            report.pdf_link = report.web_link = None
            report.approved_status = None if status is FakeReportStatus.PENDING else "waiting"
            report.approved_by = None
            running = status is FakeReportStatus.RUNNING
            report.managed_status = "in-progress" if running else None
            report.managed_by = manager if running else None

    def content_keywords(self, project: Project, report: FakeReport) -> frozenset[int]:
        """Ids of the keywords with content in a completed report (empty otherwise)."""
        if report.status is not FakeReportStatus.COMPLETED:
            return frozenset()
        if report.with_content is None:
            rng = random.Random(f"with-content:{self.seed}:{report.id}")
            report.with_content = frozenset(
                kw.id for kw in self.keywords(project) if rng.random() < 0.85
            )
        return report.with_content

    # -- queries --------------------------------------------------------------------------

    def newest_report(self, project: Project) -> FakeReport | None:
        reports = self.reports(project)
        return max(reports, key=lambda r: (r.created_at, r.id)) if reports else None

    def report_by_number(self, project: Project, report_number: int) -> FakeReport | None:
        """The newest report with this number (numbers repeat after 26)."""
        matching = [r for r in self.reports(project) if r.report_number == report_number]
        return max(matching, key=lambda r: (r.created_at, r.id)) if matching else None

    def latest_report(self, project: Project) -> FakeReport | None:
        """``/reports/latest``: the calendar rules of the reports reference, against today."""
        reports = self.reports(project)
        this_month = [
            r
            for r in reports
            if r.status is FakeReportStatus.COMPLETED
            and r.date_to_create_texts is not None
            and (r.date_to_create_texts.year, r.date_to_create_texts.month)
            == (self.today.year, self.today.month)
        ]
        if this_month:
            return max(this_month, key=lambda r: (r.date_to_create_texts or date.min, r.id))
        pipeline = [
            r
            for r in reports
            if r.status is not FakeReportStatus.COMPLETED and r.date_to_create_texts is not None
        ]
        if pipeline:
            return min(pipeline, key=lambda r: (r.date_to_create_texts or date.max, r.id))
        return None

    def last_generated(self, project: Project) -> FakeReport | None:
        """``/reports/last-generated``: the newest completed report by creation time."""
        done = [r for r in self.reports(project) if r.status is FakeReportStatus.COMPLETED]
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

    # -- controls -------------------------------------------------------------------------

    def start_next_report(self, project: Project) -> FakeReport:
        reports = self.reports(project)
        previous = reports[-1] if reports else None
        if previous is not None and previous.date_to_create_texts is not None:
            previous_day = previous.date_to_create_texts
            create = _add_months(previous_day, 1, previous_day.day)
        else:
            create = self.today
        now = datetime.combine(self.today, time(12, tzinfo=UTC))
        created_at = max(now, previous.created_at + timedelta(seconds=1)) if previous else now
        report = self._new_report(project, len(reports) + 1, created_at=created_at, create=create)
        reports.append(report)
        return report

    def set_status(self, project: Project, report: FakeReport, status: FakeReportStatus) -> None:
        if status is FakeReportStatus.COMPLETED and report.status is not status:
            report.generated_at = datetime.combine(self.today, time(12, tzinfo=UTC))
        self._apply_status(project, report, status)

    def add_project(self, agency_id: int, fields: dict[str, Any]) -> Project:
        pid = max(self.projects, default=0) + 1
        project = self._make_project(pid, agency_id, history=0)
        project.status = "active"
        for name, value in fields.items():
            if name not in _SETTABLE:
                raise TypeError(f"add_project() got an unexpected field {name!r}")
            setattr(project, name, value)
        self.projects[pid] = project
        return project

    # -- JSON -----------------------------------------------------------------------------

    def project_item(self, project: Project, api_base: str) -> Json:
        newest = self.newest_report(project)
        return {
            "id": project.id,
            "name": project.name,
            "status": project.status,
            "keyword_count": project.keyword_count,
            "latest_report_generated_at": (
                None
                if newest is None or newest.generated_at is None
                else iso_datetime(newest.generated_at)
            ),
            "latest_report_id": None if newest is None else newest.id,
            "latest_report_number": None if newest is None else newest.report_number,
            "latest_report_status": None if newest is None else str(newest.status),
            "links": {
                "latest_report": (
                    None if newest is None else f"{api_base}/projects/{project.id}/reports/latest"
                )
            },
        }

    def project_detail(self, project: Project, api_base: str) -> Json:
        out = self.project_item(project, api_base)
        out.update(
            company_name=project.company_name,
            domain=project.domain,
            created_at=iso_datetime(project.created_at),
            country=_labelled(project.country),
            text_language=_labelled(project.text_language),
            report_language=_labelled(project.report_language),
            managing_user=project.managing_user.to_json(),
            created_by=project.created_by.to_json(),
            contact_email=project.contact_email,
            client_emails=list(project.client_emails),
            cc_email=project.cc_email,
            receives_monthly_reports=project.receives_monthly_reports,
            agency=project.agency.name,
            plan=project.plan,
            gsc_status=project.gsc_status,
        )
        return out

    def keyword_json(self, project: Project, keyword: Keyword) -> Json:
        actions = self.content_action_ids(project, keyword)
        return {
            "id": keyword.id,
            "keyword": keyword.keyword,
            "url": keyword.url,
            "create_date": keyword.create_date.isoformat(),
            "latest_position": keyword.latest_position,
            "status_200": keyword.status_200,
            "content_count": len(actions),
            "content_action_ids": actions,
        }

    def report_content(self, project: Project, report: FakeReport) -> Json:
        scheme = report.content_scheme
        keywords = self.keywords(project)
        with_content = self.content_keywords(project, report)
        siblings = [(kw.keyword, kw.url) for kw in keywords]
        items = []
        for kw in keywords:
            content: Json | list[Json] | None = None
            rendered: Json | list[Json] | None = None
            if kw.id in with_content:
                rng = random.Random(f"content:{self.seed}:{report.id}:{kw.id}")
                content, rendered = _content.keyword_content(
                    scheme,
                    rng,
                    keyword=kw.keyword,
                    company=project.company_name,
                    city=project.city,
                    trade=project.trade,
                    domain=project.domain,
                    siblings=[s for s in siblings if s[0] != kw.keyword],
                )
            items.append(
                {
                    "keyword_id": kw.id,
                    "keyword": kw.keyword,
                    "keyword_url": kw.url,
                    "has_content": content is not None,
                    "content": content,
                    "html": rendered,
                }
            )
        base = report.to_json()
        return {
            "report_number": report.report_number,
            "report_id": report.id,
            "report_name": report.report_name,
            "content_scheme": scheme,
            "content_scheme_fields": list(_content.SCHEMES[scheme][0]),
            "links": {
                "project_website": f"https://{project.domain}",
                "report_web": report.web_link,
                "report_pdf": report.pdf_link,
            },
            "project_id": project.id,
            "project_domain": project.domain,
            "project_status": project.status,
            "is_generated": report.status is FakeReportStatus.COMPLETED,
            "generation_status": str(report.status),
            "approved_status": base["approved_status"],
            "approved_by": base["approved_by"],
            "managed_status": base["managed_status"],
            "managed_by": base["managed_by"],
            "date_to_create_texts": base["date_to_create_texts"],
            "date_to_send_to_client": base["date_to_send_to_client"],
            "summary": {
                "keyword_count": len(keywords),
                "keywords_with_content": sum(1 for i in items if i["has_content"]),
            },
            "keywords": items,
        }

    def visible_users(self, agency_id: int | None) -> Iterable[User]:
        return [
            u
            for u in self.users
            if agency_id is None or u.agency is None or u.agency.id == agency_id
        ]


def _labelled(pair: tuple[int, str]) -> Json:
    return {"id": pair[0], "label": pair[1]}


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
