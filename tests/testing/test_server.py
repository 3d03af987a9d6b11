"""The fake over real loopback HTTP, with a plain aiohttp client: exact shapes (tidy),
errors, pagination, rate limits, faults and controls. ``test_conformance`` walks every
endpoint of both profiles against the spec files."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import date

import aiohttp
import pytest

from tests.testing import _schema as s
from tests.testing._client import Api
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 25)
GENEROUS = [(100_000, 60.0)]


@pytest.fixture
async def world() -> AsyncIterator[FakeTrakk]:
    async with FakeTrakk.running(
        seed=3, projects=40, agencies=3, today=TODAY, rate_limits=GENEROUS, tidy=True
    ) as fake:
        yield fake


@pytest.fixture
async def api(world: FakeTrakk) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(world, session)


# -- shapes -----------------------------------------------------------------------------


async def test_me_for_agency_and_super_admin_tokens(api: Api, world: FakeTrakk) -> None:
    me = await api.ok("/me")
    s.check(me, s.ME)
    assert me["agency_id"] == world.agency_id
    assert me["abilities"] != ["*"]
    admin = await api.ok("/me", world.admin_token)
    s.check(admin, s.ME)
    assert (admin["agency_id"], admin["abilities"]) == (None, ["*"])
    assert "cache_refreshed_at" not in me


async def test_cache_refreshed_at_exactly_on_cached_endpoints(api: Api, world: FakeTrakk) -> None:
    pid = next(p for p in world.project_ids() if world.reports(p))
    world.complete_report(pid)
    number = world.reports(pid)[-1].report_number
    world.set_today(world.reports(pid)[-1].date_to_create_texts or TODAY)  # /latest: 200
    cached = [
        "/projects",
        f"/projects/{pid}",
        f"/projects/{pid}/reports",
        f"/projects/{pid}/reports/latest",
        f"/projects/{pid}/reports/last-generated",
        f"/projects/{pid}/reports/{number}/content",
        f"/projects/{pid}/keywords",
    ]
    for path in cached:
        s.check((await api.ok(path))["cache_refreshed_at"], s.DATETIME)
    for path in ("/me", "/countries", "/countries/1", "/languages", "/languages/1", "/users"):
        assert "cache_refreshed_at" not in await api.ok(path)


async def test_content_of_every_scheme_has_the_reference_shape(api: Api, world: FakeTrakk) -> None:
    pid = world.add_project(keyword_count=12)
    for _ in range(26):
        world.start_next_report(pid)
        world.complete_report(pid)
    schemes_seen = set()
    for number in range(1, 27):
        content = (await api.ok(f"/projects/{pid}/reports/{number}/content"))["data"]
        scheme = content["content_scheme"]
        schemes_seen.add(scheme)
        variants, content_spec, html_spec = s.SCHEME_SHAPES[scheme]
        content_fields = content_spec if isinstance(content_spec, dict) else content_spec[0]
        assert content["content_scheme_fields"] == list(content_fields)
        with_content = [k for k in content["keywords"] if k["has_content"]]
        assert content["summary"]["keywords_with_content"] == len(with_content)
        assert with_content, f"report {number} has no content at all"
        for kw in content["keywords"]:
            if not kw["has_content"]:
                assert kw["content"] is None
                assert kw["html"] is None
                continue
            if variants is None:
                s.check(kw["content"], content_spec)
            else:
                assert len(kw["content"]) == variants, (scheme, number)
                s.check(kw["content"], [content_spec])
            s.check(kw["html"], html_spec)
            if isinstance(html_spec, list):
                assert len(kw["html"]) == variants
            if scheme == "h2_summary_block":
                assert len(kw["content"]["texts"]) == len(kw["html"]["texts"]) == 2
            if scheme == "image_alt_text":
                assert len(kw["content"]["search_terms"]) == 2
                assert len(kw["content"]["alt_texts"]) == len(kw["html"]["alt_texts"]) == 4
                assert all(h.startswith("<img") for h in kw["html"]["alt_texts"])
    assert schemes_seen == set(s.SCHEME_SHAPES)
    names = (await api.ok(f"/projects/{pid}/reports"))["data"]
    assert next(r for r in names if r["report_number"] == 14)["report_name"] == "H3 + Text 3"


async def test_keywords_agree_with_served_content(api: Api, world: FakeTrakk) -> None:
    pid = max(world.project_ids(), key=lambda p: len(world.reports(p)))
    served: dict[int, list[int]] = {}
    reports = (await api.ok(f"/projects/{pid}/reports"))["data"]
    for number in sorted({r["report_number"] for r in reports}):
        content = (await api.ok(f"/projects/{pid}/reports/{number}/content"))["data"]
        for kw in content["keywords"]:
            if kw["has_content"]:
                served.setdefault(kw["keyword_id"], []).append(number)
    keywords = (await api.ok(f"/projects/{pid}/keywords"))["data"]
    assert any(kw["content_action_ids"] for kw in keywords)
    for kw in keywords:
        assert kw["content_action_ids"] == served.get(kw["id"], [])
        assert kw["content_count"] == len(kw["content_action_ids"])


# -- pagination and filters ----------------------------------------------------------------


async def test_pagination_follows_laravel_meta_and_links() -> None:
    async with (
        FakeTrakk.running(seed=1, projects=250, today=TODAY, rate_limits=GENEROUS) as fake,
        aiohttp.ClientSession() as session,
    ):
        api = Api(fake, session)
        expected = fake.project_ids()
        assert len(expected) > 100
        first = await api.ok("/projects")
        meta, links = first["meta"], first["links"]
        assert len(first["data"]) == 100
        assert meta["total"] == len(expected)
        assert meta["per_page"] == 100
        assert (meta["current_page"], meta["from"], meta["to"]) == (1, 1, 100)
        assert meta["last_page"] == -(-len(expected) // 100)
        assert meta["path"] == f"{fake.base_url}/projects"
        assert links["prev"] is None
        assert links["first"] == f"{fake.base_url}/projects?page=1"
        assert links["next"] == f"{fake.base_url}/projects?page=2"
        assert links["last"] == f"{fake.base_url}/projects?page={meta['last_page']}"
        assert next(link["label"] for link in meta["links"]) == "&laquo; Previous"
        assert [link["active"] for link in meta["links"] if link["label"] == "1"] == [True]

        ids: list[int] = []
        url: str | None = f"{fake.base_url}/projects?per_page=7"
        pages = 0
        while url is not None:
            body = await api.ok(url)
            ids += [p["id"] for p in body["data"]]
            assert body["meta"]["per_page"] == 7
            url = body["links"]["next"]
            pages += 1
        assert ids == expected
        assert pages == -(-len(expected) // 7)

        beyond = await api.ok("/projects", page=99)
        assert beyond["data"] == []
        assert (beyond["meta"]["from"], beyond["meta"]["to"]) == (None, None)
        assert beyond["links"]["next"] is None

        everyone = await api.ok("/projects", fake.admin_token)
        assert everyone["meta"]["total"] == 250


async def test_status_and_search_filters(api: Api, world: FakeTrakk) -> None:
    admin = world.admin_token
    everything = [p for page in (1,) for p in (await api.ok("/projects", admin))["data"]]
    by_status: dict[str, set[int]] = {}
    for p in everything:
        by_status.setdefault(p["status"], set()).add(p["id"])
    for status, ids in by_status.items():
        body = await api.ok("/projects", admin, status=status)
        assert {p["id"] for p in body["data"]} == ids
    world.add_project(name="Zephyr Kitchens - Ribe", domain="zephyr-kitchens.dk")
    by_name = await api.ok("/projects", search="ZEPHYR KIT")
    by_domain = await api.ok("/projects", search="kitchens.dk")
    assert [p["name"] for p in by_name["data"]] == ["Zephyr Kitchens - Ribe"]
    assert [p["name"] for p in by_domain["data"]] == ["Zephyr Kitchens - Ribe"]
    assert (await api.ok("/projects", search="no-such-thing-anywhere"))["data"] == []
    await api.error(400, "bad_request", "/projects", status="archived")


async def test_agency_filter_is_for_super_admins(api: Api, world: FakeTrakk) -> None:
    other = world.agency_of(next(p for p in world.project_ids(all_agencies=True)
                                 if world.agency_of(p) != world.agency_id))  # fmt: skip
    body = await api.ok("/projects", world.admin_token, agency_id=other)
    assert [p["id"] for p in body["data"]] == world.project_ids(other)
    await api.error(403, "forbidden", "/projects", agency_id=other)
    await api.error(400, "bad_request", "/projects", token=world.admin_token, agency_id="x")
    own = await api.ok("/projects")
    assert [p["id"] for p in own["data"]] == world.project_ids()


# -- errors ------------------------------------------------------------------------------


async def test_authentication_errors(api: Api, world: FakeTrakk) -> None:
    async with api.session.get(f"{world.base_url}/me") as resp:
        assert resp.status == 401
        s.check(await resp.json(), s.ERROR)
        assert "X-RateLimit-Limit" not in resp.headers
    await api.error(401, "unauthenticated", "/me", token="trk_not_a_token")
    token = world.new_token(world.agency_id)
    await api.ok("/me", token)
    world.revoke_token(token)
    await api.error(401, "unauthenticated", "/projects", token=token)


async def test_ip_restricted_tokens(api: Api, world: FakeTrakk) -> None:
    inside = world.new_token(world.agency_id, allowed_ips=["10.0.0.0/8", "127.0.0.1"])
    outside = world.new_token(world.agency_id, allowed_ips=["192.0.2.0/24"])
    await api.ok("/me", inside)
    await api.error(403, "forbidden", "/me", token=outside)


async def test_other_agencys_project_is_forbidden(api: Api, world: FakeTrakk) -> None:
    foreign = next(p for p in world.project_ids(all_agencies=True) if world.agency_of(p) != 1)
    for suffix in ("", "/reports", "/reports/latest", "/keywords", "/reports/1/content"):
        resp = await api.error(403, "forbidden", f"/projects/{foreign}{suffix}")
        assert "X-RateLimit-Remaining" in resp.headers
    await api.ok(f"/projects/{foreign}", world.admin_token)
    scoped = world.new_token(world.agency_of(foreign))
    await api.ok(f"/projects/{foreign}", scoped)


async def test_not_found_bad_request_and_method_errors(api: Api, world: FakeTrakk) -> None:
    pid = world.project_ids()[0]
    await api.error(404, "not_found", "/projects/999999")
    await api.error(404, "not_found", "/projects/abc")
    await api.error(404, "not_found", "/nothing-here")
    await api.error(404, "not_found", "/countries/999")
    await api.error(404, "not_found", "/languages/999")
    foreign_user = next(u for u in world.world.users if u.agency and u.agency.id != 1)
    await api.error(404, "not_found", f"/users/{foreign_user.id}")
    await api.error(400, "bad_request", "/projects", per_page=101)
    await api.error(400, "bad_request", "/projects", per_page=0)
    await api.error(400, "bad_request", "/projects", page=0)
    await api.error(400, "bad_request", "/projects", page="two")
    unknown = await api.error(400, "bad_request", "/projects", sort="name")
    assert unknown.json["error"]["message"] == (
        "Unknown query parameter(s): sort. "
        "Allowed parameters: status, search, agency_id, page, per_page."
    )
    unknown = await api.error(400, "bad_request", "/me", verbose=1)
    assert "verbose" in unknown.json["error"]["message"]
    assert "Allowed parameters: none." in unknown.json["error"]["message"]
    await api.error(400, "bad_request", f"/projects/{pid}/keywords", limit=5)
    for number in ("0", "27", "x"):
        await api.error(400, "bad_request", f"/projects/{pid}/reports/{number}/content")
    empty = world.add_project()
    await api.error(404, "not_found", f"/projects/{empty}/reports/latest")
    await api.error(404, "not_found", f"/projects/{empty}/reports/last-generated")
    await api.error(404, "not_found", f"/projects/{empty}/reports/3/content")
    assert (await api.ok(f"/projects/{empty}/reports"))["data"] == []
    for method in ("POST", "PUT", "PATCH", "DELETE", "HEAD"):
        resp = await api.get("/projects", method=method)
        assert resp.status == 405, method
        if method != "HEAD":
            assert resp.json["error"]["code"] == "method_not_allowed"


# -- rate limits ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


async def test_rate_limit_headers_and_429_over_http() -> None:
    clock = Clock()
    async with (
        FakeTrakk.running(
            seed=1, projects=5, rate_limits=[(5, 60.0), (8, 3600.0)], clock=clock
        ) as fake,
        aiohttp.ClientSession() as session,
    ):
        api = Api(fake, session)
        remaining = []
        for _ in range(5):
            resp = await api.get("/me")
            assert resp.status == 200
            assert resp.headers["X-RateLimit-Limit"] == "5"
            remaining.append(int(resp.headers["X-RateLimit-Remaining"]))
        assert remaining == [4, 3, 2, 1, 0]
        clock.now += 59.5
        before = time.time()
        refused = await api.error(429, "rate_limit_exceeded", "/countries")
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["X-RateLimit-Limit"] == "5"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert abs(int(refused.headers["X-RateLimit-Reset"]) - (before + 0.5)) <= 2
        other = fake.new_token(fake.agency_id)
        assert (await api.get("/me", other)).status == 200  # windows are per token
        clock.now += 0.5  # the minute window is over; the hour one has 3 left
        resp = await api.get("/me")
        # As documented: the headers describe the minute window, never the hour's.
        assert (resp.headers["X-RateLimit-Limit"], resp.headers["X-RateLimit-Remaining"]) == (
            "5",
            "4",
        )
        await api.get("/me")
        await api.get("/me")
        hour = await api.error(429, "rate_limit_exceeded", "/me")
        # The hour ran out while the minute window has room: only Retry-After and
        # X-RateLimit-Reset tell, and they name the hour's reset.
        assert (hour.headers["X-RateLimit-Limit"], hour.headers["X-RateLimit-Remaining"]) == (
            "5",
            "2",
        )
        assert hour.headers["Retry-After"] == str(3600 - 60)
        stats = fake.stats()
        assert stats.rate_limited == 2
        assert stats.max_in_window == {60.0: 5, 3600.0: 8}


async def test_set_rate_limits_for_fast_tests(api: Api, world: FakeTrakk) -> None:
    world.set_rate_limits(world.token, [(3, 30.0)])
    statuses = [(await api.get("/me")).status for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert world.stats().rate_limited == 2
    assert (await api.get("/me", world.admin_token)).status == 200


async def test_new_token_with_own_limits(api: Api, world: FakeTrakk) -> None:
    token = world.new_token(None, rate_limits=[(1, 60.0)])
    assert (await api.ok("/me", token))["abilities"] == ["*"]
    await api.error(429, "rate_limit_exceeded", "/me", token=token)


# -- faults -------------------------------------------------------------------------------


async def test_fault_500_and_502(api: Api, world: FakeTrakk) -> None:
    world.inject_fault("500", count=2)
    await api.error(500, "server_error", "/me")
    await api.error(500, "server_error", "/countries")
    await api.ok("/me")
    world.inject_fault("502")
    resp = await api.get("/me")
    assert resp.status == 502
    assert resp.headers["Content-Type"].startswith("text/html")
    assert b"Bad Gateway" in resp.body
    await api.ok("/me")
    assert world.stats().faults == 3


async def test_fault_drop_closes_the_connection(api: Api, world: FakeTrakk) -> None:
    # aiohttp itself resends an idempotent request once after a disconnect: drop both.
    world.inject_fault("drop", count=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.get("/me")
    assert world.stats().faults == 2
    await api.ok("/me")


async def test_fault_truncate_cuts_json(api: Api, world: FakeTrakk) -> None:
    world.inject_fault("truncate", route="/projects")
    await api.ok("/me")  # other routes are untouched
    resp = await api.get("/projects")
    assert resp.status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.body)
    assert resp.body.startswith(b'{"data":[')
    await api.ok("/projects")


async def test_fault_latency_delays_then_answers(api: Api, world: FakeTrakk) -> None:
    world.inject_fault("latency", seconds=0.3)
    started = time.monotonic()
    await api.ok("/me")
    assert time.monotonic() - started >= 0.3


async def test_fault_429_and_probability(api: Api, world: FakeTrakk) -> None:
    world.inject_fault("429", seconds=7)
    resp = await api.error(429, "rate_limit_exceeded", "/me")
    assert resp.headers["Retry-After"] == "7"
    assert "X-RateLimit-Reset" in resp.headers
    assert world.stats().rate_limited == 0  # the throttle did not send it
    world.inject_fault("500", probability=1.0, route="/countries")
    for _ in range(3):
        await api.error(500, "server_error", "/countries")
    await api.ok("/languages")
    world.clear_faults()
    await api.ok("/countries")
    world.inject_fault("500", probability=0.0)
    for _ in range(3):
        await api.ok("/me")


async def test_fault_validation(world: FakeTrakk) -> None:
    with pytest.raises(ValueError, match="kind"):
        world.inject_fault("418")
    with pytest.raises(ValueError, match="probability"):
        world.inject_fault("500", probability=1.5)


# -- controls ----------------------------------------------------------------------------


async def test_report_lifecycle_controls(api: Api, world: FakeTrakk) -> None:
    pid = world.add_project(keyword_count=8)
    number = world.start_next_report(pid)
    assert number == 1
    latest = (await api.ok(f"/projects/{pid}/reports/latest"))["data"]
    assert (latest["report_number"], latest["status"]) == (1, "pending")
    assert latest["date_to_create_texts"] == TODAY.isoformat()
    await api.error(404, "not_found", f"/projects/{pid}/reports/last-generated")
    content = (await api.ok(f"/projects/{pid}/reports/1/content"))["data"]
    assert (content["is_generated"], content["summary"]["keywords_with_content"]) == (False, 0)

    world.set_report_status(pid, 1, "running")
    item = (await api.ok(f"/projects/{pid}"))["data"]
    # The listing row is /reports/latest's row; its generated_at is the row's created_at.
    assert (item["latest_report_id"], item["latest_report_status"]) == (latest["id"], "running")
    assert item["latest_report_generated_at"] == "2026-11-25T12:00:00.000000Z"

    report = world.complete_report(pid)
    assert report.report_number == 1
    last = (await api.ok(f"/projects/{pid}/reports/last-generated"))["data"]
    assert (last["id"], last["status"]) == (report.id, "completed")
    content = (await api.ok(f"/projects/{pid}/reports/1/content"))["data"]
    assert content["is_generated"] is True
    assert content["summary"]["keywords_with_content"] > 0
    item = (await api.ok(f"/projects/{pid}"))["data"]
    s.check(item["latest_report_generated_at"], s.DATETIME)

    assert world.start_next_report(pid) == 2
    world.set_report_status(pid, 2, "failed")
    reports = (await api.ok(f"/projects/{pid}/reports"))["data"]
    assert [(r["report_number"], r["status"]) for r in reports] == [
        (2, "failed"),
        (1, "completed"),
    ]
    with pytest.raises(LookupError):
        world.set_report_status(pid, 9, "running")
    with pytest.raises(ValueError, match="done"):
        world.set_report_status(pid, 1, "done")


async def test_latest_calendar_rules_follow_today(api: Api, world: FakeTrakk) -> None:
    world.set_today(date(2026, 1, 10))
    pid = world.add_project()
    for _ in range(3):  # scheduled 2026-01-10, 02-10, 03-10
        world.start_next_report(pid)
    world.complete_report(pid, 1)
    path = f"/projects/{pid}/reports/latest"

    async def latest() -> tuple[int, str] | None:
        resp = await api.get(path)
        if resp.status == 404:
            return None
        return resp.json["data"]["report_number"], resp.json["data"]["date_to_create_texts"]

    assert await latest() == (1, "2026-01-10")  # rule 1: completed this month
    world.set_today(date(2026, 2, 15))
    assert await latest() == (2, "2026-02-10")  # rule 2: earliest unfinished
    world.set_report_status(pid, 3, "failed")
    world.set_today(date(2025, 12, 1))
    assert await latest() == (2, "2026-02-10")  # future dates are eligible too
    world.complete_report(pid, 2)
    world.set_today(date(2026, 2, 28))
    assert await latest() == (2, "2026-02-10")
    world.set_today(date(2026, 4, 1))
    assert await latest() == (3, "2026-03-10")  # failed counts as unfinished
    world.complete_report(pid, 3)
    assert await latest() is None  # rule 3
    assert world.today == date(2026, 4, 1)


async def test_add_and_remove_projects(api: Api, world: FakeTrakk) -> None:
    before = (await api.ok("/projects"))["meta"]["total"]
    pid = world.add_project(name="Harbour Bakery - Ribe", status="paused", keyword_count=4)
    assert world.agency_of(pid) == world.agency_id
    detail = (await api.ok(f"/projects/{pid}"))["data"]
    assert (detail["name"], detail["status"], detail["keyword_count"]) == (
        "Harbour Bakery - Ribe",
        "paused",
        4,
    )
    assert (await api.ok("/projects"))["meta"]["total"] == before + 1
    other = world.add_project(agency_id=2)
    await api.error(403, "forbidden", f"/projects/{other}")
    world.remove_project(pid)
    await api.error(404, "not_found", f"/projects/{pid}")
    assert pid not in world.project_ids()
    with pytest.raises(TypeError, match="colour"):
        world.add_project(colour="blue")
    with pytest.raises(LookupError):
        world.remove_project(pid)


async def test_stats_count_routes(api: Api, world: FakeTrakk) -> None:
    pid = world.project_ids()[0]
    await api.ok("/me")
    await api.ok(f"/projects/{pid}")
    await api.ok(f"/projects/{pid}/keywords")
    await api.get("/missing")
    stats = world.stats()
    assert stats.requests == 4
    assert stats.by_route == {
        "/me": 1,
        "/projects/{project}": 1,
        "/projects/{project}/keywords": 1,
        "<unmatched>": 1,
    }
    assert stats.max_in_window == {60.0: 3}


async def test_running_binds_a_free_loopback_port() -> None:
    async with (
        FakeTrakk.running(projects=2) as a,
        FakeTrakk.running(projects=2) as b,
    ):
        assert a.base_url.startswith("http://127.0.0.1:")
        assert a.base_url.endswith("/api/v1")
        assert a.base_url != b.base_url
    with pytest.raises(RuntimeError):
        _ = a.base_url if a._runner else FakeTrakk(projects=1).base_url
    await asyncio.sleep(0)
