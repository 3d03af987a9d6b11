"""Every endpoint of TrakkClient against the fake Trakk server over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.unit.support import OpenLimiter, Sleeps
from trakk_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentScheme,
    Country,
    InternalServerError,
    Keyword,
    Language,
    NotFoundError,
    PermissionDeniedError,
    Project,
    ProjectSummary,
    Report,
    ReportContent,
    TrakkClient,
    UnknownContent,
    User,
)
from trakk_async._models.content import SCHEMES
from trakk_async.ratelimit import TokenBucketLimiter
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

WIDE_OPEN = [(100_000, 60.0)]


@pytest.fixture
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeTrakk]:
    """The realistic fake; ``@TIDY`` gives a test the tidy one."""
    tidy = getattr(request, "param", False)
    async with FakeTrakk.running(seed=1, projects=250, rate_limits=WIDE_OPEN, tidy=tidy) as server:
        yield server


TIDY = pytest.mark.parametrize("fake", [True], indirect=True, ids=["tidy"])


def client_for(fake: FakeTrakk, token: str, **kwargs: Any) -> TrakkClient:
    return TrakkClient(
        token,
        base_url=fake.base_url,
        rate_limiter=TokenBucketLimiter(windows=WIDE_OPEN),
        **kwargs,
    )


async def test_me(fake: FakeTrakk) -> None:
    async with client_for(fake, fake.token) as client:
        me = await client.me()
    assert me.agency_id == fake.agency_id
    assert not me.is_super_admin
    async with client_for(fake, fake.admin_token) as admin:
        root = await admin.me()
    assert root.agency_id is None
    assert root.is_super_admin


async def test_every_project_on_three_pages(fake: FakeTrakk) -> None:
    async with client_for(fake, fake.admin_token) as client:
        ids = [p.id async for p in client.projects.list()]
        pages = [page async for page in client.projects.list().pages()]
    assert len(ids) == 250
    assert sorted(ids) == fake.project_ids(all_agencies=True)
    assert [len(p.items) for p in pages] == [100, 100, 50]
    assert [p.number for p in pages] == [1, 2, 3]
    assert pages[0].meta is not None
    assert pages[0].meta.total == 250
    assert pages[-1].links is not None
    assert pages[-1].links.next is None
    assert all(p.cache_refreshed_at is not None for p in pages)
    assert fake.stats().requests >= 6


async def test_an_agency_token_sees_its_agency_only(fake: FakeTrakk) -> None:
    async with client_for(fake, fake.token) as client:
        ids = [p.id async for p in client.projects.list(per_page=40)]
    assert sorted(ids) == fake.project_ids()
    assert len(ids) == len(set(ids))


async def test_filters_reach_the_server(fake: FakeTrakk) -> None:
    async with client_for(fake, fake.admin_token) as client:
        everything = [p async for p in client.projects.list()]
        active = [p async for p in client.projects.list(status="active")]
        name = everything[0].name.split()[0]
        found = [p async for p in client.projects.list(search=name)]
        agency = [p async for p in client.projects.list(agency_id=fake.agency_id)]
    assert active
    assert all(p.status == "active" for p in active)
    assert len(active) == sum(p.status == "active" for p in everything)
    assert found
    assert all(name.lower() in p.name.lower() for p in found)
    assert len(found) < len(everything)
    assert sorted(p.id for p in agency) == fake.project_ids()


async def test_project_reports_and_keywords(fake: FakeTrakk) -> None:
    pid = fake.project_ids()[0]
    async with client_for(fake, fake.token) as client:
        project = await client.projects.get(pid)
        reports = await client.reports.list(pid)
        latest = await client.reports.latest(pid)
        keywords = await client.keywords.list(pid)
    assert isinstance(project, Project)
    assert isinstance(project, ProjectSummary)
    assert project.id == pid
    assert isinstance(project.agency, str)
    assert project.cache_refreshed_at is not None
    assert reports.cache_refreshed_at is not None
    assert all(isinstance(r, Report) and r.project_id == pid for r in reports)
    ids = [r.id for r in reports]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert len(reports) == len(fake.reports(pid))
    assert latest.id in {r.id for r in reports}
    assert latest.cache_refreshed_at is not None
    assert keywords.cache_refreshed_at is not None
    assert len(keywords) == project.keyword_count
    assert all(isinstance(k, Keyword) for k in keywords)


async def test_last_generated_is_completed(fake: FakeTrakk) -> None:
    async with client_for(fake, fake.admin_token) as client:
        checked = 0
        for pid in fake.project_ids(all_agencies=True)[:30]:
            try:
                report = await client.reports.last_generated(pid)
            except NotFoundError:
                assert not any(r.status == "completed" for r in await client.reports.list(pid))
                continue
            assert report.is_completed
            assert report.cache_refreshed_at is not None
            checked += 1
    assert checked > 0


async def test_lookups(fake: FakeTrakk) -> None:
    async with client_for(fake, fake.token) as client:
        countries = await client.countries.list()
        languages = await client.languages.list()
        users = await client.users.list()
        country = await client.countries.get(countries[0].id)
        language = await client.languages.get(languages[-1].id)
        user = await client.users.get(users[0].id)
    assert country == countries[0]
    assert isinstance(country, Country)
    assert language == languages[-1]
    assert isinstance(language, Language)
    assert user == users[0]
    assert isinstance(user, User)
    assert countries.cache_refreshed_at is None


async def test_content_of_every_scheme(fake: FakeTrakk) -> None:
    seen: dict[str, ReportContent] = {}
    async with client_for(fake, fake.admin_token) as client:
        async for project in client.projects.list():
            for report in await client.reports.list(project.id):
                if not report.is_completed:
                    continue
                content = await client.reports.content(project.id, report.report_number)
                assert content.report_number == report.report_number
                assert content.project_id == project.id
                assert content.cache_refreshed_at is not None
                seen.setdefault(str(content.content_scheme), content)
            if set(ContentScheme) <= set(seen):
                break
    assert set(ContentScheme) <= set(seen)
    for scheme, content in seen.items():
        if scheme not in SCHEMES:  # the realistic world's scheme no SDK knows yet
            assert not content.is_known_scheme
            assert all(isinstance(k.content, UnknownContent) for k in content.keywords if k.content)
            continue
        shape = SCHEMES[scheme]
        assert content.is_generated
        with_content = [k for k in content.keywords if k.has_content]
        assert with_content, scheme
        assert content.summary is not None
        assert content.summary.keywords_with_content == len(with_content)
        assert content.summary.keyword_count == len(content.keywords)
        for kw in with_content:
            if shape.content_is_array:
                assert isinstance(kw.content, tuple)
                assert len(kw.content) == shape.variants, scheme
            assert all(isinstance(v, shape.content) for v in kw.variants)
            if shape.html_is_array:
                assert isinstance(kw.html, tuple)
                assert all(isinstance(h, shape.html) for h in kw.html)
            elif kw.html is not None:  # None: PHP's [] for an empty html object
                assert isinstance(kw.html, shape.html)
            assert isinstance(kw.publishable(), shape.content)
        for kw in content.keywords:
            if not kw.has_content:
                assert kw.content is None
                assert kw.html is None
    summary = seen["h2_summary_block"].keywords[0].content
    assert len(getattr(summary, "texts", ())) == 2
    images = next(k for k in seen["image_alt_text"].keywords if k.has_content)
    assert len(getattr(images.content, "search_terms", ())) == 2
    assert len(getattr(images.content, "alt_texts", ())) == 4
    assert len(getattr(images.html, "alt_texts", ())) == 4


async def test_unknown_token_is_401(fake: FakeTrakk) -> None:
    async with client_for(fake, "not-a-real-token") as client:
        with pytest.raises(AuthenticationError) as info:
            await client.me()
    assert info.value.code == "unauthenticated"
    assert "not-a-real-token" not in str(info.value)


async def test_revoked_token_is_401(fake: FakeTrakk) -> None:
    token = fake.new_token(fake.agency_id)
    async with client_for(fake, token) as client:
        await client.me()
        fake.revoke_token(token)
        with pytest.raises(AuthenticationError):
            await client.me()


async def test_another_agencys_project_is_403(fake: FakeTrakk) -> None:
    mine = set(fake.project_ids())
    other = next(p for p in fake.project_ids(all_agencies=True) if p not in mine)
    async with client_for(fake, fake.token) as client:
        with pytest.raises(PermissionDeniedError) as info:
            await client.projects.get(other)
        with pytest.raises(PermissionDeniedError):
            await client.reports.list(other)
    assert info.value.code == "forbidden"


async def test_an_ip_restricted_token_is_403(fake: FakeTrakk) -> None:
    token = fake.new_token(fake.agency_id, allowed_ips=["10.0.0.0/8"])
    async with client_for(fake, token) as client:
        with pytest.raises(PermissionDeniedError):
            await client.me()


async def test_not_found_is_404(fake: FakeTrakk) -> None:
    pid = fake.project_ids()[0]
    missing = next(n for n in range(1, 27) if n not in {r.report_number for r in fake.reports(pid)})
    async with client_for(fake, fake.token) as client:
        with pytest.raises(NotFoundError):
            await client.projects.get(999_999)
        with pytest.raises(NotFoundError):
            await client.reports.content(pid, missing)
        with pytest.raises(NotFoundError):
            await client.users.get(999_999)
    assert fake.stats().requests >= 3


async def test_latest_of_a_project_without_reports_is_404(fake: FakeTrakk) -> None:
    async with client_for(fake, fake.admin_token) as client:
        bare = [p async for p in client.projects.list() if p.latest_report_id is None]
        assert bare, "the seeded world has projects without reports"
        project = bare[0]
        assert project.latest_report_number is None
        assert project.latest_report_status is None
        with pytest.raises(NotFoundError):
            await client.reports.latest(project.id)
        with pytest.raises(NotFoundError):
            await client.reports.last_generated(project.id)
        assert len(await client.reports.list(project.id)) == 0


async def test_what_the_sdk_refuses_the_server_refuses_too(fake: FakeTrakk) -> None:
    """The SDK's ValueError/TypeError mirror the server's 400s (sent raw here on purpose)."""
    async with client_for(fake, fake.admin_token, max_retries=0) as client:
        for params in ({"per_page": "101"}, {"per_page": "0"}, {"sort": "name"}):
            with pytest.raises(BadRequestError):
                await client.get_json("/projects", params)
        with pytest.raises(BadRequestError):
            await client.get_json("/projects/1/reports/27/content")
        with pytest.raises(ValueError, match="per_page"):
            client.projects.list(per_page=101)
        with pytest.raises(TypeError):
            client.projects.list(sort="name")  # type: ignore[call-arg]


@pytest.mark.parametrize("search", ["A&B+C", "100%", "/ Co?", "Müller", "A&B"])
async def test_search_text_arrives_intact(fake: FakeTrakk, search: str) -> None:
    pid = fake.add_project(name="Müller A&B+C 100% / Co?")
    async with client_for(fake, fake.token) as client:
        found = [p.id async for p in client.projects.list(search=search)]
    assert found == [pid]


@pytest.mark.parametrize("kind", ["500", "502", "drop", "truncate", "429"])
async def test_transient_faults_are_retried_over_http(fake: FakeTrakk, kind: str) -> None:
    sleeps = Sleeps()
    fake.inject_fault(kind, count=2, route="/projects")
    async with TrakkClient(
        fake.token,
        base_url=fake.base_url,
        rate_limiter=OpenLimiter(),
        max_retries=2,
        _sleep=sleeps,
        _random=lambda: 1.0,
    ) as client:
        project = await client.projects.get(fake.project_ids()[0])
    assert project.id == fake.project_ids()[0]
    assert fake.stats().faults == 2
    # aiohttp itself resends an idempotent request once when the connection drops, so
    # both dropped answers are used up by the first attempt.
    assert len(sleeps.waits) == (1 if kind == "drop" else 2)
    if kind == "429":
        assert all(w >= 1.0 for w in sleeps.waits)


@pytest.mark.parametrize(
    ("kind", "error"),
    [("500", InternalServerError), ("502", InternalServerError), ("drop", APIConnectionError)],
)
async def test_persistent_faults_surface_after_the_retries(
    fake: FakeTrakk, kind: str, error: type[Exception]
) -> None:
    fake.inject_fault(kind, probability=1.0)
    sleeps = Sleeps()
    async with TrakkClient(
        fake.token,
        base_url=fake.base_url,
        rate_limiter=OpenLimiter(),
        max_retries=3,
        _sleep=sleeps,
    ) as client:
        with pytest.raises(error):
            await client.me()
    # Four attempts; aiohttp sends each twice when the connection drops (see above).
    assert fake.stats().requests == (8 if kind == "drop" else 4)
    assert len(sleeps.waits) == 3


async def test_a_slow_answer_is_a_timeout(fake: FakeTrakk) -> None:
    fake.inject_fault("latency", count=2, seconds=0.3)
    async with TrakkClient(
        fake.token,
        base_url=fake.base_url,
        rate_limiter=OpenLimiter(),
        timeout=0.05,
        max_retries=1,
        _sleep=Sleeps(),
    ) as client:
        with pytest.raises(APITimeoutError):
            await client.me()
