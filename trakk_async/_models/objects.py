"""The objects of the Trakk Agency API v1, as frozen, slotted, keyword-only attrs classes.

Shapes follow ``trakk-api-reference.md``. Rules that hold for every class here and in
:mod:`trakk_async._models.content`:

* **Required means documented.** A field *without a default* is required, and only the
  fields the documentation promises are: the identity fields (every ``id``, ``project_id``,
  ``report_number``, ``report_id``, ``keyword_id``), the report fields its nullability
  table marks "No" (``status``, ``sent``), and the fields documented never null in a
  ``/projects`` item (``name``, ``status``, ``keyword_count``, ``links.latest_report``,
  ``links.last_generated_report``; the project detail carries them too). A required field
  that is missing, null or of another type means the server broke its contract: the call
  raises :class:`~trakk_async.InvalidResponseError` naming the JSON path, also when the
  object is one item of a listing (an item without its identity is not dropped silently).
* **Everything else is optional**, typed ``X | None`` with the default ``None`` (arrays:
  ``tuple[X, ...]`` with the default ``()``). Missing, null, ``""`` for a date, ``[]`` for
  an object and ``10.0`` for an int are read as the natural value or None. A value that
  cannot be read as the field's type becomes None (an unreadable array element is left
  out) and is reported: see :attr:`TrakkClient.deviations <trakk_async.TrakkClient>`.
  The converter derives all of this from the classes (default or not), so this is the one
  place the policy is written.
* **Forward compatible.** Unknown fields are ignored. An enum value the SDK does not know
  is kept as its plain ``str`` (the enum types below are ``StrEnum``, so a known value
  compares equal to its string too: ``report.status == "completed"``).
* **Cached endpoints** carry ``cache_refreshed_at``: on :class:`Page` and :class:`Listing`
  for collections, and on the :class:`Project`, :class:`Report` and :class:`ReportContent`
  returned by the single-object calls (``None`` when the object came inside a collection).
  It never takes part in equality.

Content variants (the per-scheme shapes of ``keywords[].content`` and ``.html``) live in
:mod:`trakk_async._models.content`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from enum import StrEnum
from typing import Generic, TypeVar, overload

import attrs

from trakk_async._core.model import Model
from trakk_async._models.content import ContentItem, ContentScheme, HtmlItem

__all__ = [
    "AgencyRef",
    "ApprovedStatus",
    "ContentLinks",
    "ContentSummary",
    "Country",
    "Keyword",
    "KeywordContent",
    "Language",
    "Listing",
    "ManagedStatus",
    "Me",
    "Page",
    "PageLinks",
    "PageMeta",
    "Project",
    "ProjectLinks",
    "ProjectStatus",
    "ProjectSummary",
    "Report",
    "ReportContent",
    "ReportStatus",
    "TokenStatus",
    "User",
]

T = TypeVar("T")


class ProjectStatus(StrEnum):
    """A project's ``status``. Values the SDK does not know stay plain strings."""

    ACTIVE = "active"
    PENDING = "pending"
    PENDING_IN_PROGRESS = "pending - in progress"
    PAUSED = "paused"
    ENDED = "ended"
    TERMINATION_PENDING = "termination pending"


class ReportStatus(StrEnum):
    """A report's ``status`` (and a content payload's ``generation_status``)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ApprovedStatus(StrEnum):
    """A report's ``approved_status`` (nullable on the report)."""

    WAITING = "waiting"
    ON_HOLD = "on-hold"
    APPROVED = "approved"
    BLOCKED = "blocked"


class ManagedStatus(StrEnum):
    """A report's ``managed_status`` (nullable on the report)."""

    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    WAITING_ON_CLIENT = "waiting-on-client"


class TokenStatus(StrEnum):
    """The ``status`` of the API token, from ``/me``."""

    ACTIVE = "active"
    DISABLED = "disabled"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Me(Model):
    """The token in use (``GET /me``): ``agency_id`` is None and ``abilities`` is ``("*",)``
    for a super-admin token."""

    id: int
    name: str | None = None
    agency_id: int | None = None
    status: TokenStatus | str | None = None
    abilities: tuple[str, ...] = ()

    @property
    def is_super_admin(self) -> bool:
        """True for a token that can read every agency (``abilities: ["*"]``)."""
        return "*" in self.abilities


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AgencyRef(Model):
    """The ``{id, name}`` agency embedded in a user object."""

    id: int
    name: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class User(Model):
    """The compact user object (``/users`` and embedded in projects and reports)."""

    id: int
    name: str | None = None
    role: str | None = None
    agency: AgencyRef | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Country(Model):
    """A country (``/countries``), also embedded in a project as ``country``."""

    id: int
    label: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Language(Model):
    """A language (``/languages``), embedded in a project as its text and report language."""

    id: int
    label: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ProjectLinks(Model):
    """A project's ``links``: relative URL paths of two of its report endpoints.

    ``latest_report`` is ``/api/v1/projects/{id}/reports/latest`` and
    ``last_generated_report`` is ``/api/v1/projects/{id}/reports/last-generated``; both are
    documented never null, even for a project without reports.
    """

    latest_report: str
    last_generated_report: str


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ProjectSummary(Model):
    """One item of the ``/projects`` listing.

    The ``latest_report_*`` fields describe the report that
    ``client.reports.latest(project.id)`` returns (the calendar-aware "current or upcoming"
    one), not the newest report nor the last generated one; all four are None when that
    call would be a 404. ``latest_report_generated_at`` is that report's creation time,
    ``latest_report_number`` its position 1-26, ``latest_report_id`` its internal id. A
    report can therefore complete without any change here: to see every completed report,
    watch ``/reports/last-generated`` (:meth:`TrakkClient.watch_reports`).
    """

    id: int
    name: str
    status: ProjectStatus | str
    keyword_count: int
    links: ProjectLinks
    latest_report_generated_at: datetime | None = None
    latest_report_id: int | None = None
    latest_report_number: int | None = None
    latest_report_status: ReportStatus | str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Project(ProjectSummary):
    """A project in detail (``/projects/{id}``): every listing field plus the rest.

    Note ``agency`` is the agency's *name* here, while a :class:`User`'s ``agency`` is an
    :class:`AgencyRef`; the reference shapes them differently.
    """

    company_name: str | None = None
    domain: str | None = None
    created_at: datetime | None = None
    country: Country | None = None
    text_language: Language | None = None
    report_language: Language | None = None
    managing_user: User | None = None
    created_by: User | None = None
    contact_email: str | None = None
    client_emails: tuple[str, ...] = ()
    cc_email: str | None = None
    receives_monthly_reports: bool | None = None
    agency: str | None = None
    plan: str | None = None
    gsc_status: str | None = None
    cache_refreshed_at: datetime | None = attrs.field(default=None, eq=False)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Report(Model):
    """A report of a project (``/reports``, ``/reports/latest``, ``/reports/last-generated``).

    ``report_number`` is the position in the delivery sequence (1-26); ``id`` is unique.
    Check ``status == ReportStatus.COMPLETED`` before fetching content.
    """

    id: int
    project_id: int
    report_number: int
    status: ReportStatus | str
    sent: bool
    report_name: str | None = None
    date_to_create_texts: date | None = None
    date_to_send_to_client: date | None = None
    approved_status: ApprovedStatus | str | None = None
    approved_by: User | None = None
    managed_status: ManagedStatus | str | None = None
    managed_by: User | None = None
    pdf_link: str | None = None
    web_link: str | None = None
    cache_refreshed_at: datetime | None = attrs.field(default=None, eq=False)

    @property
    def is_completed(self) -> bool:
        """True when the report's content is generated and safe to fetch."""
        return self.status == ReportStatus.COMPLETED


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Keyword(Model):
    """An active keyword of a project (``/keywords``).

    ``content_action_ids`` are the report numbers (1-26) that have content for it: the
    reports whose ``/content`` is worth requesting.
    """

    id: int
    keyword: str | None = None
    url: str | None = None
    create_date: date | None = None
    latest_position: int | None = None
    status_200: bool | None = None
    content_count: int | None = None
    content_action_ids: tuple[int, ...] = ()


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ContentLinks(Model):
    """The ``links`` of a content payload."""

    project_website: str | None = None
    report_web: str | None = None
    report_pdf: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ContentSummary(Model):
    """The ``summary`` of a content payload."""

    keyword_count: int | None = None
    keywords_with_content: int | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class KeywordContent(Model):
    """One keyword's generated content in a report.

    For an *array* scheme ``content`` (and ``html``) is a tuple of variants to choose from;
    for an *object* scheme it is one object; ``qa_block`` has a tuple of pairs and one html
    object. An unknown scheme gives :class:`~trakk_async.UnknownContent` with the raw JSON.
    Both are None when ``has_content`` is False (or when the server sent something that is
    not content of the report's scheme); a variant that is not an object is left out of
    the tuple. :meth:`publishable` applies the reference's "safe pattern".
    """

    keyword_id: int
    keyword: str | None = None
    keyword_url: str | None = None
    has_content: bool | None = None
    content: tuple[ContentItem, ...] | ContentItem | None = None
    html: tuple[HtmlItem, ...] | HtmlItem | None = None

    def publishable(self) -> ContentItem | None:
        """The content variant to publish: the first of an array, else the object itself."""
        content = self.content
        if isinstance(content, tuple):
            return content[0] if content else None
        return content

    def publishable_html(self) -> HtmlItem | None:
        """The rendered html to publish, chosen the same way as :meth:`publishable`."""
        html = self.html
        if isinstance(html, tuple):
            return html[0] if html else None
        return html

    @property
    def variants(self) -> tuple[ContentItem, ...]:
        """Every content variant as a tuple (one element for object schemes)."""
        if self.content is None:
            return ()
        if isinstance(self.content, tuple):
            return self.content
        return (self.content,)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ReportContent(Model):
    """A report's generated content (``/reports/{n}/content``).

    ``content_scheme`` decides the shape of every keyword's content: a
    :class:`~trakk_async.ContentScheme`, or the plain string of a scheme this SDK does
    not know yet, or None when the server sent none (in both cases each keyword's content
    is :class:`~trakk_async.UnknownContent` holding the JSON as sent).
    """

    report_number: int
    report_id: int
    project_id: int
    report_name: str | None = None
    content_scheme: ContentScheme | str | None = None
    content_scheme_fields: tuple[str, ...] = ()
    links: ContentLinks | None = None
    project_domain: str | None = None
    project_status: ProjectStatus | str | None = None
    is_generated: bool | None = None
    generation_status: ReportStatus | str | None = None
    approved_status: ApprovedStatus | str | None = None
    approved_by: User | None = None
    managed_status: ManagedStatus | str | None = None
    managed_by: User | None = None
    date_to_create_texts: date | None = None
    date_to_send_to_client: date | None = None
    summary: ContentSummary | None = None
    keywords: tuple[KeywordContent, ...] = ()
    cache_refreshed_at: datetime | None = attrs.field(default=None, eq=False)

    @property
    def is_known_scheme(self) -> bool:
        """False when the server sent a scheme this SDK version does not know."""
        return isinstance(self.content_scheme, ContentScheme)

    def publishable(self) -> Iterator[tuple[KeywordContent, ContentItem]]:
        """Each keyword that has content, with the variant to publish."""
        for keyword in self.keywords:
            variant = keyword.publishable()
            if variant is not None:
                yield keyword, variant


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PageMeta(Model):
    """Laravel pagination ``meta``; every field may be missing on a misbehaving server."""

    current_page: int | None = None
    last_page: int | None = None
    per_page: int | None = None
    total: int | None = None
    from_: int | None = None
    to: int | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PageLinks(Model):
    """Laravel pagination ``links`` (URLs of the first, last, previous and next page)."""

    first: str | None = None
    last: str | None = None
    prev: str | None = None
    next: str | None = None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Page(Model):
    """One page of ``/projects``: its items, ``meta``, ``links`` and cache time."""

    items: tuple[ProjectSummary, ...]
    meta: PageMeta | None = None
    links: PageLinks | None = None
    cache_refreshed_at: datetime | None = attrs.field(default=None, eq=False)

    @property
    def number(self) -> int | None:
        """The page number the server says this is (``meta.current_page``)."""
        return self.meta.current_page if self.meta is not None else None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Listing(Model, Generic[T]):
    """An unpaginated collection (``{"data": [...]}``), iterable like a tuple.

    ``cache_refreshed_at`` is set for the cached collections (reports, keywords).
    """

    items: tuple[T, ...]
    cache_refreshed_at: datetime | None = attrs.field(default=None, eq=False)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...
    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        return self.items[index]
