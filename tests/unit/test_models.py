"""Models: every reference sample structures into frozen, typed objects."""

from __future__ import annotations

import pickle
import typing
from datetime import UTC, date, datetime
from typing import Any

import attrs
import pytest

from tests import samples
from tests.structuring import TIDY
from trakk_async._models import converter as conv
from trakk_async._models.content import (
    SCHEMES,
    ContentScheme,
    LinkBlockLink,
    SubnavigationLink,
    UnknownContent,
)
from trakk_async._models.objects import (
    AgencyRef,
    ApprovedStatus,
    ContentLinks,
    ContentSummary,
    Country,
    Keyword,
    KeywordContent,
    Language,
    Listing,
    ManagedStatus,
    Me,
    PageLinks,
    PageMeta,
    Project,
    ProjectLinks,
    ProjectStatus,
    ProjectSummary,
    Report,
    ReportContent,
    ReportStatus,
    TokenStatus,
    User,
)

CACHE = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
ALL_MODELS = [Me, User, AgencyRef, Country, Language, ProjectSummary, Project, Report, Keyword]


@pytest.mark.parametrize("cls", ALL_MODELS)
def test_models_are_frozen_slotted_and_keyword_only(cls: type) -> None:
    assert attrs.has(cls)
    assert "__slots__" in cls.__dict__
    assert all(a.kw_only for a in attrs.fields(cls))
    with pytest.raises(TypeError):
        cls(*range(len(attrs.fields(cls))))


def test_me() -> None:
    me = conv.structure_me(samples.load("me"), *TIDY)
    assert me == Me(
        id=3,
        name="Digipartner API token",
        agency_id=12,
        status=TokenStatus.ACTIVE,
        abilities=("projects:read", "reports:read"),
    )
    assert not me.is_super_admin
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        me.name = "x"  # type: ignore[misc]


def test_me_super_admin_has_null_agency() -> None:
    body = samples.load("me") | {"agency_id": None, "abilities": ["*"]}
    me = conv.structure_me(body, *TIDY)
    assert me.agency_id is None
    assert me.is_super_admin


def test_project_list_page() -> None:
    page = conv.structure_page(samples.load("projects_page"), *TIDY)
    assert [p.id for p in page.items] == [42, 43, 44]
    first, no_reports = page.items[0], page.items[1]
    assert first.status == ProjectStatus.ACTIVE
    assert first.latest_report_generated_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert first.latest_report_status is ReportStatus.COMPLETED
    assert first.latest_report_number == 14
    assert first.links.latest_report == "/api/v1/projects/42/reports/latest"
    assert first.links.last_generated_report == "/api/v1/projects/42/reports/last-generated"
    assert no_reports.latest_report_id is None
    assert no_reports.latest_report_generated_at is None
    assert no_reports.links.latest_report == "/api/v1/projects/43/reports/latest"
    assert page.meta is not None
    assert (page.meta.current_page, page.meta.last_page, page.meta.total) == (1, 1, 3)
    assert page.meta.from_ == 1
    assert page.links is not None
    assert page.links.next is None
    assert page.cache_refreshed_at == CACHE
    assert page.number == 1


def test_project_detail_agency_is_a_string_and_users_embed_an_agency_object() -> None:
    project = conv.structure_single(samples.load("project_detail"), *TIDY, cls=Project)
    assert isinstance(project, ProjectSummary)
    assert project.agency == "Digipartner Agency"
    assert project.managing_user is not None
    assert project.managing_user.agency == AgencyRef(id=12, name="Digipartner Agency")
    assert project.created_by is not None
    assert project.created_by.agency is None
    assert project.country == Country(id=81, label="Germany")
    assert project.text_language == Language(id=2, label="German")
    assert project.report_language == Language(id=1, label="English")
    assert project.created_at == datetime(2024, 5, 14, 8, 0, tzinfo=UTC)
    assert project.client_emails == ("ceo@example-client.de", "marketing@example-client.de")
    assert project.receives_monthly_reports is True
    assert project.cache_refreshed_at == CACHE


def test_reports_list_nullable_fields() -> None:
    listing = conv.structure_listing(samples.load("reports"), *TIDY, cls=Report)
    assert len(listing) == 2
    assert listing.cache_refreshed_at == CACHE
    pending, done = listing
    assert pending.status is ReportStatus.PENDING
    assert not pending.is_completed
    for name in (
        "report_name",
        "date_to_create_texts",
        "date_to_send_to_client",
        "approved_status",
        "approved_by",
        "managed_status",
        "managed_by",
        "pdf_link",
        "web_link",
    ):
        assert getattr(pending, name) is None, name
    assert done.is_completed
    assert done.date_to_create_texts == date(2026, 2, 20)
    assert done.approved_status is ApprovedStatus.APPROVED
    assert done.managed_status is ManagedStatus.COMPLETED
    assert done.approved_by == User(
        id=7,
        name="Jane Smith",
        role="Account Manager",
        agency=AgencyRef(id=12, name="Digipartner Agency"),
    )
    assert listing[1] is done


def test_latest_report_carries_cache_time_outside_equality() -> None:
    latest = conv.structure_single(samples.load("report_latest"), *TIDY, cls=Report)
    in_list = conv.structure_listing(samples.load("reports"), *TIDY, cls=Report)[1]
    assert latest.cache_refreshed_at == CACHE
    assert in_list.cache_refreshed_at is None
    assert latest == in_list


def test_keywords() -> None:
    listing = conv.structure_listing(samples.load("keywords"), *TIDY, cls=Keyword)
    first, second = listing
    assert first.create_date == date(2024, 5, 14)
    assert first.content_action_ids == (1, 9, 14)
    assert first.status_200 is True
    assert second.latest_position == 87
    assert second.content_action_ids == ()
    assert listing.cache_refreshed_at == CACHE


@pytest.mark.parametrize(("name", "cls"), [("countries", Country), ("languages", Language)])
def test_uncached_lookup_lists(name: str, cls: type) -> None:
    listing: Listing[Any] = conv.structure_listing(samples.load(name), *TIDY, cls=cls)
    assert all(isinstance(i, cls) for i in listing)
    assert len(listing) == 2
    assert listing.cache_refreshed_at is None


def test_users() -> None:
    users = conv.structure_listing(samples.load("users"), *TIDY, cls=User)
    assert [u.agency for u in users] == [AgencyRef(id=12, name="Digipartner Agency"), None]


@pytest.mark.parametrize("scheme", list(samples.CONTENT_VARIANTS))
def test_every_content_scheme_gets_its_typed_variants(scheme: str) -> None:
    content = conv.structure_report_content(samples.content(scheme), *TIDY)
    shape = SCHEMES[scheme]
    assert content.content_scheme is ContentScheme(scheme)
    assert content.is_known_scheme
    assert content.cache_refreshed_at == CACHE
    assert content.summary is not None
    assert content.summary.keyword_count == 2
    assert content.links is not None
    assert content.links.project_website == "https://example-client.de"
    with_content, without = content.keywords
    assert without.has_content is False
    assert without.content is None
    assert without.html is None
    assert without.publishable() is None
    assert without.variants == ()
    expected = samples.CONTENT_VARIANTS[scheme]
    assert shape.variants == expected
    if expected is None:
        assert isinstance(with_content.content, shape.content)
        assert with_content.variants == (with_content.content,)
    else:
        assert isinstance(with_content.content, tuple)
        assert len(with_content.content) == expected
        assert all(isinstance(v, shape.content) for v in with_content.content)
    if shape.html_is_array:
        assert isinstance(with_content.html, tuple)
        assert all(isinstance(v, shape.html) for v in with_content.html)
    else:
        assert isinstance(with_content.html, shape.html)
    assert isinstance(with_content.publishable(), shape.content)
    assert isinstance(with_content.publishable_html(), shape.html)
    assert [k.keyword_id for k, _ in content.publishable()] == [501]


def test_publishable_follows_the_safe_pattern() -> None:
    raw = samples.content("h4_text_blocks")["data"]["keywords"][0]
    content = conv.structure_report_content(samples.content("h4_text_blocks"), *TIDY)
    variant = content.keywords[0].publishable()
    assert variant is not None
    assert attrs.asdict(variant) == raw["content"][0]
    single = conv.structure_report_content(samples.content("single_text_block"), *TIDY)
    assert single.keywords[0].publishable() == single.keywords[0].content


def test_qa_block_is_pairs_and_one_html_object() -> None:
    content = conv.structure_report_content(samples.content("qa_block"), *TIDY)
    kw = content.keywords[0]
    assert isinstance(kw.content, tuple)
    assert attrs.asdict(kw.content[0]) == {
        "question": "Question 1?",
        "answer": "Answer 1.",
    }
    assert not isinstance(kw.html, tuple)
    assert kw.html is not None
    assert attrs.asdict(kw.html) == {
        "qa": '<div class="qa"><h3>Question 1?</h3><p>Answer 1.</p></div>'
    }


def test_link_blocks_keep_links_in_content_only() -> None:
    content = conv.structure_report_content(samples.content("link_blocks"), *TIDY)
    kw = content.keywords[0]
    assert isinstance(kw.content, tuple)
    first = kw.content[0]
    assert attrs.asdict(first)["links"][0] == {
        "anchor_text": "local seo",
        "url": "https://example-client.de/local",
    }
    assert isinstance(kw.html, tuple)
    assert not hasattr(kw.html[0], "links")


def test_scheme_chosen_by_content_scheme_not_report_number() -> None:
    body = samples.content("bullet_points")
    body["data"]["report_number"] = 1  # report 1 is single_text_block in the mapping table
    content = conv.structure_report_content(body, *TIDY)
    assert content.content_scheme is ContentScheme.BULLET_POINTS
    assert type(content.keywords[0].content).__name__ == "BulletPoints"


def test_unknown_scheme_keeps_raw_json_without_raising() -> None:
    body = samples.content("h2_text_blocks")
    body["data"]["content_scheme"] = "video_script"
    raw = body["data"]["keywords"][0]["content"]
    content = conv.structure_report_content(body, *TIDY)
    assert content.content_scheme == "video_script"
    assert not content.is_known_scheme
    kw = content.keywords[0]
    assert kw.content == UnknownContent(scheme="video_script", raw=raw)
    assert isinstance(kw.publishable(), UnknownContent)
    assert content.keywords[1].content is None


def test_content_without_data_wrapper_is_accepted() -> None:
    wrapped = samples.content("metadata")
    bare = {**wrapped["data"], "cache_refreshed_at": wrapped["cache_refreshed_at"]}
    assert conv.structure_report_content(bare, *TIDY) == conv.structure_report_content(
        wrapped, *TIDY
    )


def test_keyword_content_model_has_no_scheme_dependent_required_shape() -> None:
    kw = KeywordContent(
        keyword_id=1, keyword="k", keyword_url="u", has_content=False, content=None, html=None
    )
    assert kw.publishable() is None
    assert kw.publishable_html() is None


# The nullability policy, written from the documentation (trakk-public-docs-notes.md and the
# reports table): these fields are required, every other field of these classes is optional.
REQUIRED: dict[type, set[str]] = {
    Me: {"id"},
    User: {"id"},
    AgencyRef: {"id"},
    Country: {"id"},
    Language: {"id"},
    ProjectLinks: {"latest_report", "last_generated_report"},
    ProjectSummary: {"id", "name", "status", "keyword_count", "links"},
    Project: {"id", "name", "status", "keyword_count", "links"},
    Report: {"id", "project_id", "report_number", "status", "sent"},
    Keyword: {"id"},
    KeywordContent: {"keyword_id"},
    ReportContent: {"report_number", "report_id", "project_id"},
    ContentLinks: set(),
    ContentSummary: set(),
    PageMeta: set(),
    PageLinks: set(),
    **{shape.content: set() for shape in SCHEMES.values()},
    **{shape.html: set() for shape in SCHEMES.values()},
    LinkBlockLink: set(),
    SubnavigationLink: set(),
}


@pytest.mark.parametrize("cls", list(REQUIRED), ids=lambda c: c.__name__)
def test_required_fields_are_the_documented_ones(cls: type) -> None:
    required = {a.name for a in attrs.fields(cls) if a.default is attrs.NOTHING}
    assert required == REQUIRED[cls]


@pytest.mark.parametrize("cls", list(REQUIRED), ids=lambda c: c.__name__)
def test_annotations_follow_the_policy(cls: type) -> None:
    # Required: never Optional. Optional: ``X | None = None``, arrays ``tuple[...] = ()``.
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        tp = hints[field.name]
        nullable = type(None) in typing.get_args(tp)
        if field.default is attrs.NOTHING:
            assert not nullable, field.name
        elif typing.get_origin(tp) is tuple:
            assert field.default == (), field.name
        else:
            assert nullable, field.name
            assert field.default is None, field.name


def test_required_only_constructors_build_every_model() -> None:
    # What users' own tests do: only the identity, the rest defaults.
    links = ProjectLinks(latest_report="/l", last_generated_report="/g")
    project = Project(id=1, name="p", status="active", keyword_count=0, links=links)
    assert project.cc_email is None
    assert project.client_emails == ()
    report = Report(id=1, project_id=1, report_number=1, status="pending", sent=False)
    assert report.approved_by is None
    assert Keyword(id=1).content_action_ids == ()


def _attrs_repr_of(obj: Any) -> str:
    """What attrs' own generated ``__repr__`` gives for ``obj``'s class and values."""
    cls = type(obj)
    twin = attrs.make_class(cls.__name__, [f.name for f in attrs.fields(cls)], frozen=True)
    twin.__qualname__ = cls.__qualname__
    return repr(twin(*(getattr(obj, f.name) for f in attrs.fields(cls))))


def test_models_share_one_repr_in_attrs_format() -> None:
    # The models use Model.__repr__ instead of one generated per class (import time).
    project = conv.structure_single(samples.load("project_detail"), *TIDY, cls=Project)
    content = conv.structure_report_content(samples.load("content_h4_text_blocks"), *TIDY)
    variants = content.keywords[0].content
    assert isinstance(variants, tuple)  # h4 content is an array
    assert variants
    objects: list[object] = [
        conv.structure_me(samples.load("me"), *TIDY),
        project,
        project.managing_user,
        project.country,
        *conv.structure_page(samples.load("projects_page"), *TIDY).items,
        content,
        content.keywords[0],
        *variants,
    ]
    for obj in objects:
        assert repr(obj) == _attrs_repr_of(obj)
    assert repr(project.country) == "Country(id=81, label='Germany')"


def test_models_share_one_eq_and_hash_with_attrs_semantics() -> None:
    project = conv.structure_single(samples.load("project_detail"), *TIDY, cls=Project)
    same = attrs.evolve(project)
    assert same is not project
    assert same == project
    assert hash(same) == hash(project)
    assert (same != project) is False  # __ne__ too
    # A field that takes part in equality changes it; cache_refreshed_at (eq=False) does not.
    renamed = attrs.evolve(project, name="Other")
    assert renamed != project
    refreshed = attrs.evolve(project, cache_refreshed_at=None)
    assert refreshed == project
    assert hash(refreshed) == hash(project)
    # Same fields, another class: never equal (attrs compares classes exactly).
    summary_fields = {f.name: getattr(project, f.name) for f in attrs.fields(ProjectSummary)}
    assert ProjectSummary(**summary_fields) != project
    assert project.__eq__(object()) is NotImplemented
    assert pickle.loads(pickle.dumps(project)) == project
    # Usable as dict keys and in sets, deduplicated by value.
    assert len({project, same, refreshed, renamed}) == 2
    assert len({Country(id=1, label="A"), Country(id=1, label="A"), Country(id=2, label="A")}) == 2
