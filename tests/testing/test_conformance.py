"""Conformance: every endpoint of the fake, in both profiles, held against the three spec
files (the reference, the reports page and the public docs notes).

The walk reads everything over real loopback HTTP with a plain aiohttp client and checks
what the documentation promises from what was served, not from the fake's internals: the
listing row is recomputed from ``/reports`` with the documented calendar rules, the same
object must look the same wherever it is served, and documented never-null fields are
never null. The realistic walk must also meet every kind of variation on every endpoint;
the tidy walk must meet none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import aiohttp
import pytest

from tests.testing import _schema as s
from tests.testing._client import Api, Response
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 25)
MINUTE, HOUR = (100_000, 60.0), (200_000, 3600.0)
PROFILES = [pytest.param(False, id="realistic"), pytest.param(True, id="tidy")]
ENDPOINTS = frozenset(
    {
        "/me", "/projects", "/projects/{id}", "/reports", "/reports/latest",
        "/reports/last-generated", "/content", "/keywords", "/countries", "/countries/{id}",
        "/languages", "/languages/{id}", "/users", "/users/{id}",
    }
)  # fmt: skip


class Walk:
    """GETs through one client, checking the headers of every response and recording, per
    endpoint, what the bodies held beyond the happy path."""

    def __init__(self, api: Api, *, realistic: bool) -> None:
        self.api, self.realistic = api, realistic
        self.seen = s.Seen()
        self.varied: set[str] = set()
        self.responses = 0

    async def get(self, path: str, token: str | None = None) -> Response:
        resp = await self.api.get(path, token)
        self.responses += 1
        # The documented headers: the minute window on every response, whatever the hour
        # window holds; Retry-After and X-RateLimit-Reset only on a 429.
        assert resp.headers["X-RateLimit-Limit"] == str(MINUTE[0]), path
        assert 0 <= int(resp.headers["X-RateLimit-Remaining"]) < MINUTE[0]
        assert "Retry-After" not in resp.headers
        assert "X-RateLimit-Reset" not in resp.headers
        assert resp.headers["Content-Type"].startswith("application/json")
        return resp

    async def ok(self, path: str, token: str | None = None) -> Any:
        resp = await self.get(path, token)
        assert resp.status == 200, (path, resp.status, resp.body[:300])
        return resp.json

    def check(self, value: object, spec: Any, endpoint: str) -> None:
        before = self.seen.variations()
        s.check(value, spec, f"{endpoint} $", realistic=self.realistic, seen=self.seen)
        if self.seen.variations() > before:
            self.varied.add(endpoint)


def documented_latest(reports: list[Any], today: date) -> list[Any]:
    """The candidates for ``/reports/latest`` by the reports page's rules (ties included)."""
    month = today.isoformat()[:7]
    current = [
        r for r in reports
        if r["status"] == "completed" and (r["date_to_create_texts"] or "").startswith(month)
    ]  # fmt: skip
    if current:
        best = max(r["date_to_create_texts"] for r in current)
        return [r for r in current if r["date_to_create_texts"] == best]
    # not completed: pending, running, failed, and any status the reference does not list
    pipeline = [r for r in reports if r["status"] != "completed" and r["date_to_create_texts"]]
    if pipeline:
        best = min(r["date_to_create_texts"] for r in pipeline)
        return [r for r in pipeline if r["date_to_create_texts"] == best]
    return []


def check_keyword_content(walk: Walk, scheme: str, kw: Any) -> None:
    """A keyword's content and html have the shape of the scheme (any object or array of
    objects for a scheme the reference does not list)."""
    if not kw["has_content"]:
        assert kw["content"] is None, kw
        assert kw["html"] is None, kw
        return
    if scheme not in s.SCHEME_SHAPES:
        assert walk.realistic, f"tidy served the undocumented scheme {scheme!r}"
        assert isinstance(kw["content"], dict | list)
        return
    variants, content_spec, html_spec = s.SCHEME_SHAPES[scheme]
    if variants is None:
        walk.check(kw["content"], content_spec, "/content")
    else:
        assert len(kw["content"]) == variants, scheme
        walk.check(kw["content"], [content_spec], "/content")
    walk.check(kw["html"], html_spec, "/content")


async def walk_projects(walk: Walk, fake: FakeTrakk) -> list[Any]:
    """Every page of ``/projects`` (7 a page), as the super-admin sees it."""
    items: list[Any] = []
    url: str | None = "/projects?per_page=7"
    while url is not None:
        body = await walk.ok(url, fake.admin_token)
        assert set(body) == {"data", "meta", "links", "cache_refreshed_at"}
        s.check(body["meta"], s.PAGE_META)  # envelopes never vary
        s.check(body["links"], s.PAGE_LINKS)
        s.check(body["cache_refreshed_at"], s.DATETIME)
        assert body["meta"]["per_page"] == 7
        assert len(body["data"]) <= 7
        items += body["data"]
        url = body["links"]["next"]
    assert body["meta"]["total"] == len(items)
    assert [p["id"] for p in items] == fake.project_ids(all_agencies=True)
    return items


async def walk_project(walk: Walk, fake: FakeTrakk, item: Any) -> None:
    """Every endpoint of one project, against the reference and against each other."""
    admin, pid = fake.admin_token, item["id"]
    walk.check(item, s.PROJECT_ITEM, "/projects")
    base = f"/api/v1/projects/{pid}/reports"
    assert item["links"] == {
        "latest_report": f"{base}/latest",
        "last_generated_report": f"{base}/last-generated",
    }
    detail = await walk.ok(f"/projects/{pid}", admin)
    assert set(detail) == {"data", "cache_refreshed_at"}
    walk.check(detail["data"], s.PROJECT, "/projects/{id}")
    assert {k: detail["data"][k] for k in item} == item  # the listing's fields, alike
    assert await walk.ok(f"/projects/{pid}", admin) == detail  # stable across requests

    body = await walk.ok(f"/projects/{pid}/reports", admin)
    assert set(body) == {"data", "cache_refreshed_at"}
    reports = body["data"]
    for report in reports:
        walk.check(report, s.REPORT, "/reports")
        assert report["project_id"] == pid
        assert 1 <= report["report_number"] <= 26

    # The listing row is the row /reports/latest returns, by the documented rules.
    candidates = documented_latest(reports, fake.today)
    latest = await walk.get(f"/projects/{pid}/reports/latest", admin)
    listed = [item[f"latest_report_{k}"] for k in ("id", "number", "status", "generated_at")]
    if not candidates:
        assert latest.status == 404
        s.check(latest.json, s.ERROR)
        assert listed == [None, None, None, None]
    else:
        assert latest.status == 200
        assert set(latest.json) == {"data", "cache_refreshed_at"}
        row = latest.json["data"]
        walk.check(row, s.REPORT, "/reports/latest")
        assert row in candidates
        assert listed[:3] == [row["id"], row["report_number"], row["status"]]
        s.check(listed[3], s.DATETIME)  # the row's created_at (not served on reports)

    # /reports/last-generated: the newest completed report (/reports is newest first).
    completed = [r for r in reports if r["status"] == "completed"]
    last = await walk.get(f"/projects/{pid}/reports/last-generated", admin)
    if not completed:
        assert last.status == 404
        s.check(last.json, s.ERROR)
    else:
        assert last.status == 200
        walk.check(last.json["data"], s.REPORT, "/reports/last-generated")
        assert last.json["data"] == completed[0]

    keywords = await walk.ok(f"/projects/{pid}/keywords", admin)
    assert set(keywords) == {"data", "cache_refreshed_at"}
    assert len(keywords["data"]) == item["keyword_count"]
    served: dict[int, list[int]] = {}
    urls: dict[int, str] = {}
    for number in sorted({r["report_number"] for r in reports}):
        report = next(r for r in reports if r["report_number"] == number)  # the newest
        body = await walk.ok(f"/projects/{pid}/reports/{number}/content", admin)
        assert set(body) == {"data", "cache_refreshed_at"}  # fields inside data (notes)
        content = body["data"]
        walk.check(content, s.CONTENT, "/content")
        mirrored = ["report_name", "approved_status", "approved_by", "managed_status"]
        mirrored += ["managed_by", "date_to_create_texts", "date_to_send_to_client"]
        assert {k: content[k] for k in mirrored} == {k: report[k] for k in mirrored}
        assert (content["report_id"], content["report_number"]) == (report["id"], number)
        assert content["generation_status"] == report["status"]
        assert content["is_generated"] == (report["status"] == "completed")
        assert content["links"]["report_web"] == report["web_link"]
        assert content["links"]["report_pdf"] == report["pdf_link"]
        assert (content["project_id"], content["project_status"]) == (pid, item["status"])
        with_content = [k for k in content["keywords"] if k["has_content"]]
        assert content["summary"]["keyword_count"] == len(content["keywords"])
        assert content["summary"]["keywords_with_content"] == len(with_content)
        if not content["is_generated"]:
            assert not with_content
        if content["content_scheme"] not in s.DOCUMENTED_SCHEMES:
            walk.seen.add("undocumented enum value", "content_scheme")
            walk.varied.add("/content")
        for kw in content["keywords"]:
            check_keyword_content(walk, content["content_scheme"], kw)
            urls[kw["keyword_id"]] = kw["keyword_url"]
            if kw["has_content"]:
                served.setdefault(kw["keyword_id"], []).append(number)
    for kw in keywords["data"]:
        walk.check(kw, s.KEYWORD, "/keywords")
        assert kw["content_action_ids"] == served.get(kw["id"], [])
        assert kw["content_count"] == len(kw["content_action_ids"])
        assert urls.get(kw["id"], kw["url"]) == kw["url"]  # the same keyword on /content


async def walk_lookups(walk: Walk, fake: FakeTrakk) -> dict[str, dict[int, Any]]:
    """``/countries``, ``/languages``, ``/users`` and each of their items, by id."""
    found: dict[str, dict[int, Any]] = {}
    for path, spec in (("/countries", s.LABELLED), ("/languages", s.LABELLED), ("/users", s.USER)):
        body = await walk.ok(path, fake.admin_token)
        assert set(body) == {"data"}, "not cached: no cache_refreshed_at"
        found[path] = {}
        for item in body["data"]:
            walk.check(item, spec, path)
            one = await walk.ok(f"{path}/{item['id']}", fake.admin_token)
            assert set(one) == {"data"}
            walk.check(one["data"], spec, f"{path}/{{id}}")
            assert one["data"] == item
            found[path][item["id"]] = item
    own = {u["id"] for u in (await walk.ok("/users"))["data"]}  # the agency token's
    assert own == {
        u["id"]
        for u in found["/users"].values()
        if u["agency"] is None or u["agency"]["id"] == fake.agency_id
    }
    return found


def embedded(detail: Any, reports: list[Any]) -> list[tuple[str, Any]]:
    """The users and lookups embedded in a project and its reports, with their source."""
    out = [("/users", detail.get(k)) for k in ("managing_user", "created_by")]
    out += [("/countries", detail.get("country"))]
    out += [("/languages", detail.get(k)) for k in ("text_language", "report_language")]
    out += [("/users", r.get(k)) for r in reports for k in ("approved_by", "managed_by")]
    return [(path, obj) for path, obj in out if isinstance(obj, dict)]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.mark.parametrize("tidy", PROFILES)
async def test_every_endpoint_holds_to_the_spec(session: aiohttp.ClientSession, tidy: bool) -> None:
    async with FakeTrakk.running(
        seed=3, projects=40, today=TODAY, rate_limits=[MINUTE, HOUR], tidy=tidy
    ) as fake:
        walk = Walk(Api(fake, session), realistic=not tidy)
        me = await walk.ok("/me")
        walk.check(me, s.ME, "/me")  # a bare object
        assert "data" not in me
        assert "cache_refreshed_at" not in me
        assert me["agency_id"] == fake.agency_id
        items = await walk_projects(walk, fake)
        for item in items:
            await walk_project(walk, fake, item)
        lookups = await walk_lookups(walk, fake)
        # An object embedded elsewhere is the object its own endpoint serves.
        for item in items:
            detail = (await walk.ok(f"/projects/{item['id']}", fake.admin_token))["data"]
            path = f"/projects/{item['id']}/reports"
            reports = (await walk.ok(path, fake.admin_token))["data"]
            for source, obj in embedded(detail, reports):
                assert obj == lookups[source][obj["id"]], (source, obj)

    kinds = {kind for kind in walk.seen.counts if kind in s.VARIATION_KINDS}
    if tidy:
        assert kinds == set(), walk.seen.paths[:20]
        assert walk.varied == set()
        assert fake.variations() == []
    else:
        # The realistic profile: every kind of variation, somewhere on every endpoint.
        assert kinds == s.VARIATION_KINDS
        assert walk.varied == ENDPOINTS
        assert fake.variations()


async def test_an_unlimited_token_gets_no_rate_limit_headers(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeTrakk.running(seed=2, projects=6, today=TODAY, rate_limits=()) as fake:
        api = Api(fake, session)
        pid = fake.project_ids()[0]
        paths = ["/me", "/projects", f"/projects/{pid}", f"/projects/{pid}/reports",
                 f"/projects/{pid}/keywords", "/countries", "/languages/1", "/users",
                 "/projects/99999", "/projects?sort=x"]  # fmt: skip
        for _ in range(30):  # well past Trakk's 60/minute in all
            for path in paths:
                resp = await api.get(path)
                assert resp.status != 429
                assert not {h for h in resp.headers if h.lower().startswith("x-ratelimit")}
                assert "Retry-After" not in resp.headers
        assert fake.rate_limits() == []
        assert fake.stats().rate_limited == 0


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("tidy", PROFILES)
async def test_429_names_the_window_that_ran_out(
    session: aiohttp.ClientSession, tidy: bool
) -> None:
    clock, wall = Clock(), Clock(1_800_000_000.0)
    async with FakeTrakk.running(
        seed=2, projects=4, rate_limits=[(4, 60.0), (6, 3600.0)], clock=clock, wall=wall,
        tidy=tidy,
    ) as fake:  # fmt: skip
        api = Api(fake, session)
        paths: list[Callable[[], str]] = [
            lambda: "/me",
            lambda: "/projects",
            lambda: f"/projects/{fake.project_ids()[0]}",
            lambda: "/countries",
        ]
        minute = [await api.get(p()) for p in paths]
        assert [r.headers["X-RateLimit-Remaining"] for r in minute] == ["3", "2", "1", "0"]
        clock.now += 20
        refused = await api.error(429, "rate_limit_exceeded", "/users")
        assert refused.headers["X-RateLimit-Limit"] == "4"
        assert refused.headers["Retry-After"] == "40"  # the minute window's reset
        assert refused.headers["X-RateLimit-Reset"] == str(int(wall.now) + 40)
        clock.now += 40
        again = [await api.get("/me") for _ in range(2)]
        assert [r.status for r in again] == [200, 200]
        assert [r.headers["X-RateLimit-Remaining"] for r in again] == ["3", "2"]
        hour = await api.error(429, "rate_limit_exceeded", "/me")
        # The hour ran out while the minute window has room: the headers still describe
        # the minute, Retry-After and X-RateLimit-Reset the hour.
        assert (hour.headers["X-RateLimit-Limit"], hour.headers["X-RateLimit-Remaining"]) == (
            "4",
            "2",
        )
        assert hour.headers["Retry-After"] == str(3600 - 60)
        assert hour.headers["X-RateLimit-Reset"] == str(int(wall.now) + 3600 - 60)
        assert fake.stats().rate_limited == 2
