"""The JSON of every endpoint, built from the world, varied by the realistic profile.

Every object is serialized by exactly one method here, wherever it is served (a user
embedded in a report looks like the same user on ``/users``; a report's fields on
``/content`` are its fields on ``/reports``; a listing row has the status ``/reports/latest``
serves), so a variation shows the same way on every endpoint.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Final

from trakk_async.testing import _content
from trakk_async.testing._content import Json
from trakk_async.testing._variations import UNKNOWN_SCHEME, Variation
from trakk_async.testing._world import FakeReport, Keyword, Project, User, World

API_PREFIX: Final = "/api/v1"


def iso_datetime(value: datetime) -> str:
    """Laravel's timestamp format: ``2026-03-30T12:00:00.000000Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


class Payloads:
    """Serializes one world; ``record()`` lists the variations of what it serialized."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._recorded: dict[tuple[str, object], Variation] | None = None
        # Listing items by project, valid for one (generation, today): paging thousands of
        # projects again costs no calendar rules, no serializing.
        self._items: dict[int, tuple[tuple[int, date], Json]] = {}

    def _vary(
        self,
        kind: str,
        key: int | str,
        obj: Json,
        project_id: int | None = None,
        *,
        only: str | None = None,
    ) -> Json:
        applied = self.world.variations.apply(kind, key, obj, only=only)
        for rule in applied:
            self._record(rule, kind, key, project_id)
        return obj

    def _record(self, rule: str, kind: str, key: int | str, project_id: int | None) -> None:
        if self._recorded is not None:
            self._recorded[(rule, key)] = Variation(
                rule=rule, kind=kind, object_id=key, project_id=project_id
            )

    # -- small objects ------------------------------------------------------------------

    def user(self, user: User | None) -> Json | None:
        """A user object (``/users`` and wherever one is embedded)."""
        if user is None:
            return None
        agency = None if user.agency is None else {"id": user.agency.id, "name": user.agency.name}
        obj = {"id": user.id, "name": user.name, "role": user.role, "agency": agency}
        return self._vary("user", user.id, obj)

    def country(self, pair: tuple[int, str]) -> Json:
        return self._vary("country", pair[0], {"id": pair[0], "label": pair[1]})

    def language(self, pair: tuple[int, str]) -> Json:
        return self._vary("language", pair[0], {"id": pair[0], "label": pair[1]})

    def me(self, token_id: int, name: str, agency_id: int | None, abilities: list[str]) -> Json:
        obj = {
            "id": token_id,
            "name": name,
            "agency_id": agency_id,
            "status": "active",
            "abilities": abilities,
        }
        return self._vary("token", token_id, obj)

    # -- projects -------------------------------------------------------------------------

    def project_status(self, project: Project) -> str:
        """The ``status`` served for a project (what the ``status`` filter matches)."""
        obj = {"status": project.status}
        self._vary("project", project.id, obj, project.id, only="project.status.undocumented")
        status = obj["status"]
        assert isinstance(status, str)
        return status

    def _listing_fields(self, project: Project) -> Json:
        row = self.world.latest_report(project)
        served = None if row is None else self.report(row)
        base = f"{API_PREFIX}/projects/{project.id}/reports"
        return {
            "id": project.id,
            "name": project.name,
            "status": project.status,
            "keyword_count": project.keyword_count,
            # As documented: the row /reports/latest returns, its created_at, or all null.
            "latest_report_generated_at": None if row is None else iso_datetime(row.created_at),
            "latest_report_id": None if row is None else row.id,
            "latest_report_number": None if row is None else row.report_number,
            "latest_report_status": None if served is None else served["status"],
            "links": {
                "latest_report": f"{base}/latest",
                "last_generated_report": f"{base}/last-generated",
            },
        }

    def project_item(self, project: Project) -> Json:
        """One item of the ``/projects`` listing (read only: it may be served again)."""
        valid = (self.world.generation, self.world.today)
        cached = self._items.get(project.id)
        if cached is not None and cached[0] == valid:
            return cached[1]
        item = self._vary("project", project.id, self._listing_fields(project), project.id)
        self._items[project.id] = (valid, item)
        return item

    def project_detail(self, project: Project) -> Json:
        """``/projects/{id}``: the listing item's fields (varied alike) and the rest."""
        obj = self._listing_fields(project)
        obj.update(
            company_name=project.company_name,
            domain=project.domain,
            created_at=iso_datetime(project.created_at),
            country=self.country(project.country),
            text_language=self.language(project.text_language),
            report_language=self.language(project.report_language),
            managing_user=self.user(project.managing_user),
            created_by=self.user(project.created_by),
            contact_email=project.contact_email,
            client_emails=list(project.client_emails),
            cc_email=project.cc_email,
            receives_monthly_reports=project.receives_monthly_reports,
            agency=project.agency.name,
            plan=project.plan,
            gsc_status=project.gsc_status,
        )
        return self._vary("project", project.id, obj, project.id)

    # -- reports and keywords -------------------------------------------------------------

    def report(self, report: FakeReport) -> Json:
        """A report object (``/reports``, ``/reports/latest``, ``/reports/last-generated``)."""
        obj = {
            "id": report.id,
            "project_id": report.project_id,
            "report_number": report.report_number,
            "report_name": report.report_name,
            "status": str(report.status),
            "date_to_create_texts": _iso_date(report.date_to_create_texts),
            "date_to_send_to_client": _iso_date(report.date_to_send_to_client),
            "sent": report.sent,
            "approved_status": report.approved_status,
            "approved_by": self.user(report.approved_by),
            "managed_status": report.managed_status,
            "managed_by": self.user(report.managed_by),
            "pdf_link": report.pdf_link,
            "web_link": report.web_link,
        }
        return self._vary("report", report.id, obj, report.project_id)

    def keyword(self, project: Project, keyword: Keyword) -> Json:
        """One item of ``/keywords``."""
        actions = self.world.content_action_ids(project, keyword)
        obj = {
            "id": keyword.id,
            "keyword": keyword.keyword,
            "url": keyword.url,
            "create_date": keyword.create_date.isoformat(),
            "latest_position": keyword.latest_position,
            "status_200": keyword.status_200,
            "content_count": len(actions),
            "content_action_ids": actions,
        }
        return self._vary("keyword", keyword.id, obj, project.id)

    def content_scheme(self, report: FakeReport) -> str:
        """The report's scheme: the reference's, or the undocumented one of the profile."""
        if self.world.variations.hits("content.scheme.unknown", report.id):
            self._record("content.scheme.unknown", "content", report.id, report.project_id)
            return UNKNOWN_SCHEME
        return report.content_scheme

    def content(self, project: Project, report: FakeReport) -> Json:
        """``/reports/{n}/content``'s ``data``: the report's fields and every keyword's content."""
        served = self.report(report)
        scheme = self.content_scheme(report)
        keywords = self.world.keywords(project)
        with_content = self.world.content_keywords(project, report)
        siblings = [(kw.keyword, kw.url) for kw in keywords]
        items = []
        for kw in keywords:
            content: Json | list[Json] | None = None
            rendered: Json | list[Json] | None = None
            if kw.id in with_content:
                rng = random.Random(f"content:{self.world.seed}:{report.id}:{kw.id}")
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
            item = {
                "keyword_id": kw.id,
                "keyword": kw.keyword,
                "keyword_url": kw.url,
                "has_content": content is not None,
                "content": content,
                "html": rendered,
            }
            self._vary("keyword", kw.id, item, project.id, only="keyword.url.empty")
            items.append(self._vary("keyword_content", f"{report.id}:{kw.id}", item, project.id))
        obj = {
            "report_number": report.report_number,
            "report_id": report.id,
            "report_name": served["report_name"],
            "content_scheme": scheme,
            "content_scheme_fields": _content.scheme_fields(scheme),
            "links": {
                "project_website": f"https://{project.domain}",
                "report_web": served["web_link"],
                "report_pdf": served["pdf_link"],
            },
            "project_id": project.id,
            "project_domain": project.domain,
            "project_status": self.project_status(project),
            "is_generated": report.is_completed,
            "generation_status": served["status"],
            "approved_status": served["approved_status"],
            "approved_by": served["approved_by"],
            "managed_status": served["managed_status"],
            "managed_by": served["managed_by"],
            "date_to_create_texts": served["date_to_create_texts"],
            "date_to_send_to_client": served["date_to_send_to_client"],
            "summary": {
                "keyword_count": len(keywords),
                "keywords_with_content": sum(1 for i in items if i["has_content"]),
            },
            "keywords": items,
        }
        return self._vary("content", report.id, obj, project.id)

    # -- which objects vary ---------------------------------------------------------------

    def record(
        self,
        projects: Iterable[Project],
        users: Iterable[User],
        tokens: Iterable[tuple[int, str, int | None, list[str]]],
    ) -> list[Variation]:
        """Serialize every object of ``projects``, ``users``, ``tokens`` (``/me``) and the
        lookups as the API would; return the variations applied, by rule and object."""
        self._recorded = {}
        try:
            for project in projects:
                self.project_detail(project)
                for report in self.world.reports(project):
                    self.report(report)
                for keyword in self.world.keywords(project):
                    self.keyword(project, keyword)
                for number in sorted({r.report_number for r in self.world.reports(project)}):
                    served = self.world.report_by_number(project, number)
                    if served is not None:
                        self.content(project, served)
            for user in users:
                self.user(user)
            for country in self.world.countries:
                self.country(country)
            for language in self.world.languages:
                self.language(language)
            for token in tokens:
                self.me(*token)
            found = list(self._recorded.values())
        finally:
            self._recorded = None
        return sorted(found, key=lambda v: (v.rule, str(v.object_id).zfill(24)))
