"""The realistic profile's rules: deterministic, stable, consistent with the world's
semantics, documented, and absent when tidy."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.testing._client import Api
from trakk_async.testing import VARIATION_RULES, FakeReportStatus, FakeTrakk
from trakk_async.testing._payloads import Payloads
from trakk_async.testing._variations import Variations
from trakk_async.testing._world import World

TODAY = date(2026, 11, 25)
README = Path(__file__).parents[2] / "README.md"
#: Fields the documentation says can be relied on: identity and documented never null.
NEVER_VARIED = {
    "project": {"id", "name", "keyword_count", "links"},
    "report": {"id", "project_id", "report_number", "sent"},
    "content": {"report_id", "report_number", "project_id"},
    "keyword": {"id"},
    "keyword_content": {"keyword_id"},
    "user": {"id"},
    "country": {"id"},
    "language": {"id"},
    "token": {"id"},
}


def test_rules_are_well_formed_and_leave_documented_fields_alone() -> None:
    names = [rule.name for rule in VARIATION_RULES]
    assert len(names) == len(set(names))
    for rule in VARIATION_RULES:
        assert rule.name.startswith(f"{rule.kind}.")
        assert 0 < rule.share <= 1
        field = rule.name.split(".")[1]
        assert field not in NEVER_VARIED[rule.kind], rule.name


def test_every_rule_is_in_the_readme() -> None:
    section = README.read_text().split("## Testing without Trakk")[1].split("\n## ")[0]
    documented = set(re.findall(r"`([a-z_]+\.[a-z_0-9]+(?:\.[a-z_0-9]+)?)`", section))
    assert {rule.name for rule in VARIATION_RULES} <= documented


@settings(max_examples=20)
@given(seed=st.integers(0, 10**6))
def test_same_seed_same_variations_and_tidy_has_none(seed: int) -> None:
    a = FakeTrakk(seed=seed, projects=4, today=TODAY)
    b = FakeTrakk(seed=seed, projects=4, today=TODAY)
    assert a.variations() == b.variations()
    tidy = FakeTrakk(seed=seed, projects=4, today=TODAY, tidy=True)
    assert tidy.variations() == []


def test_a_small_world_shows_every_rule_of_projects_users_and_lookups() -> None:
    for seed in range(1, 6):
        fake = FakeTrakk(seed=seed, projects=25, today=TODAY)
        seen = {(v.rule, v.project_id) for v in fake.variations()}
        visible = set(fake.project_ids())
        for rule in VARIATION_RULES:
            if rule.kind == "project":
                # on a project the default token sees
                assert any(r == rule.name and p in visible for r, p in seen), (seed, rule)
            elif rule.kind in ("user", "country", "language", "token"):
                assert any(r == rule.name for r, _ in seen), (seed, rule.name)


def test_shares_are_about_what_the_table_says() -> None:
    variations = Variations(7, enabled=True)
    for rule in VARIATION_RULES:
        hits = sum(variations.hits(rule.name, key) for key in range(4000))
        assert abs(hits / 4000 - rule.share) < 0.03, rule.name


def test_tidy_and_realistic_hold_the_same_world() -> None:
    tidy = World(seed=4, projects=30, agencies=2, today=TODAY, tidy=True)
    real = World(seed=4, projects=30, agencies=2, today=TODAY)
    for pid in tidy.projects:
        a, b = tidy.projects[pid], real.projects[pid]
        assert (a.name, a.status, a.keyword_count) == (b.name, b.status, b.keyword_count)
        assert [(r.id, r.status) for r in tidy.reports(a)] == [
            (r.id, r.status) for r in real.reports(b)
        ]


def test_a_varied_object_is_stable_and_one_object_everywhere() -> None:
    world = World(seed=5, projects=40, agencies=1, today=TODAY)
    payloads, again = Payloads(world), Payloads(world)
    for project in world.projects.values():
        item, detail = payloads.project_item(project), payloads.project_detail(project)
        assert {k: detail[k] for k in item} == item
        assert again.project_detail(project) == detail
        for report in world.reports(project):
            served = payloads.report(report)
            content = payloads.content(project, report)
            assert content["generation_status"] == served["status"]
            assert content["approved_by"] == served["approved_by"]


def test_an_undocumented_report_status_is_not_completed_for_the_calendar_rules() -> None:
    # "queued" stands for a pending report: /reports/latest may return it, like pending.
    fake = FakeTrakk(seed=1, projects=120, today=TODAY)
    queued = fake.variations("report.status.undocumented")
    assert queued
    for variation in queued:
        report = next(r for r in fake.reports(variation.project_id or 0)
                      if r.id == variation.object_id)  # fmt: skip
        assert report.status is FakeReportStatus.PENDING
    rows = [fake.latest_report(v.project_id or 0) for v in queued]
    assert any(
        row is not None and row.id == v.object_id for row, v in zip(rows, queued, strict=True)
    )


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeTrakk, Api]]:
    async with (
        FakeTrakk.running(seed=1, projects=60, today=TODAY, rate_limits=[(10**5, 60.0)]) as fake,
        aiohttp.ClientSession() as session,
    ):
        yield fake, Api(fake, session)


@pytest.mark.integration
async def test_the_status_filter_matches_the_served_status(
    served: tuple[FakeTrakk, Api],
) -> None:
    fake, api = served
    on_hold = {v.object_id for v in fake.variations("project.status.undocumented")}
    assert on_hold
    listed = await api.ok("/projects", fake.admin_token, status="on hold")
    assert {p["id"] for p in listed["data"]} == on_hold
    assert all(p["status"] == "on hold" for p in listed["data"])
    active = await api.ok("/projects", fake.admin_token, status="active")
    assert not on_hold & {p["id"] for p in active["data"]}
    async with FakeTrakk.running(seed=1, projects=5, tidy=True) as tidy:
        refused = await Api(tidy, api.session).get("/projects", status="on hold")
        assert refused.status == 400
        assert "active, pending" in refused.json["error"]["message"]


@pytest.mark.integration
async def test_listing_and_latest_agree_on_a_varied_status(served: tuple[FakeTrakk, Api]) -> None:
    fake, api = served
    for variation in fake.variations("report.status.undocumented"):
        pid = variation.project_id or 0
        row = fake.latest_report(pid)
        if row is None or row.id != variation.object_id:
            continue
        item = (await api.ok(f"/projects/{pid}"))["data"] if fake.agency_of(pid) == 1 else None
        latest = (await api.ok(f"/projects/{pid}/reports/latest", fake.admin_token))["data"]
        assert latest["status"] == "queued"
        if item is not None:
            assert item["latest_report_status"] == "queued"
        return
    pytest.fail("no queued report is a /reports/latest row in this world")
