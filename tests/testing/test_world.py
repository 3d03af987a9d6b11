"""The seeded generator and the world's report rules, without HTTP."""

from __future__ import annotations

from datetime import date

import pytest

from trakk_async.testing import FakeReportStatus
from trakk_async.testing._content import REPORT_TYPES, SCHEMES
from trakk_async.testing._payloads import Payloads
from trakk_async.testing._world import PROJECT_STATUSES, World

TODAY = date(2026, 11, 25)


def snapshot(world: World, pid: int) -> object:
    project = world.projects[pid]
    payloads = Payloads(world)
    return (
        payloads.project_detail(project),
        [payloads.report(r) for r in world.reports(project)],
        [payloads.keyword(project, k) for k in world.keywords(project)],
        [payloads.content(project, r) for r in world.reports(project)],
    )


def test_same_seed_same_world_whatever_the_access_order() -> None:
    a = World(seed=7, projects=40, agencies=3, today=TODAY)
    b = World(seed=7, projects=40, agencies=3, today=TODAY)
    for pid in (40, 3, 17):  # b is visited in a different order than a
        snapshot(b, pid)
    assert [snapshot(a, pid) for pid in (3, 17, 40)] == [snapshot(b, pid) for pid in (3, 17, 40)]
    assert [Payloads(a).user(u) for u in a.users] == [Payloads(b).user(u) for u in b.users]


def test_different_seeds_differ() -> None:
    a = World(seed=1, projects=10, agencies=2, today=TODAY)
    b = World(seed=2, projects=10, agencies=2, today=TODAY)
    assert [p.name for p in a.projects.values()] != [p.name for p in b.projects.values()]


@pytest.mark.parametrize(("projects", "agencies"), [(1, 1), (25, 3), (250, 5)])
def test_counts_and_first_agency_owns_most(projects: int, agencies: int) -> None:
    world = World(seed=3, projects=projects, agencies=agencies, today=TODAY)
    assert sorted(world.projects) == list(range(1, projects + 1))
    assert len(world.agencies) == agencies
    owned = [sum(p.agency.id == a.id for p in world.projects.values()) for a in world.agencies]
    assert owned[0] == max(owned)
    assert sum(owned) == projects
    for project in world.projects.values():
        assert project.status in PROJECT_STATUSES
        assert len(world.keywords(project)) == project.keyword_count
        assert len(world.reports(project)) == project.history
        assert all(1 <= r.report_number <= 26 for r in world.reports(project))


def test_ten_thousand_projects_build_lazily() -> None:
    world = World(seed=1, projects=10_000, agencies=3, today=TODAY)
    assert len(world.projects) == 10_000
    assert all(p.reports is None and p.keywords is None for p in world.projects.values())
    last = world.projects[10_000]
    assert len(world.keywords(last)) == last.keyword_count
    assert world.projects[9_999].reports is None  # only what was asked for is built


def test_texts_are_realistic() -> None:
    world = World(seed=5, projects=30, agencies=3, today=TODAY)
    payloads = Payloads(world)
    blob = " ".join(
        str(payloads.content(p, r)) for p in world.projects.values() for r in world.reports(p)
    ).lower()
    assert "lorem" not in blob
    assert "ipsum" not in blob
    for project in world.projects.values():
        assert project.domain.count(".") >= 1
        assert " " not in project.domain
        assert project.company_name in project.name


def test_report_names_follow_the_reference() -> None:
    assert REPORT_TYPES[14] == ("H3 + Text 3", "h3_text_blocks")
    assert REPORT_TYPES[1] == ("SEO Text", "single_text_block")
    assert len(REPORT_TYPES) == 26
    assert {scheme for _, scheme in REPORT_TYPES.values()} == set(SCHEMES)


def _world_with_reports(statuses_and_dates: list[tuple[str, date]]) -> tuple[World, int]:
    world = World(seed=1, projects=1, agencies=1, today=TODAY)
    project = world.projects[1]
    project.reports = []
    for status, when in statuses_and_dates:
        report = world.start_next_report(project)
        report.date_to_create_texts = when
        world.set_status(project, report, FakeReportStatus(status))
    return world, 1


def test_latest_prefers_completed_in_current_month() -> None:
    world, pid = _world_with_reports(
        [
            ("completed", date(2026, 11, 3)),
            ("completed", date(2026, 11, 20)),
            ("pending", date(2026, 10, 1)),
        ]
    )
    latest = world.latest_report(world.projects[pid])
    assert latest is not None
    assert latest.date_to_create_texts == date(2026, 11, 20)


def test_latest_falls_back_to_earliest_unfinished_any_date() -> None:
    world, pid = _world_with_reports(
        [
            ("completed", date(2026, 10, 20)),  # last month: not "current"
            ("failed", date(2026, 12, 5)),
            ("running", date(2026, 9, 1)),  # past dates are eligible too
            ("pending", date(2027, 1, 5)),
        ]
    )
    latest = world.latest_report(world.projects[pid])
    assert latest is not None
    assert (latest.status, latest.date_to_create_texts) == ("running", date(2026, 9, 1))


def test_latest_none_when_everything_completed_in_past_months() -> None:
    world, pid = _world_with_reports([("completed", date(2026, 9, 1))])
    assert world.latest_report(world.projects[pid]) is None
    world.today = date(2026, 9, 30)  # the same report is current in September
    assert world.latest_report(world.projects[pid]) is not None


def test_last_generated_is_newest_completed_by_creation() -> None:
    world, pid = _world_with_reports(
        [
            ("completed", date(2026, 12, 1)),
            ("completed", date(2026, 8, 1)),  # created later, though scheduled earlier
            ("running", date(2026, 12, 10)),
        ]
    )
    last = world.last_generated(world.projects[pid])
    assert last is not None
    assert last.sequence == 2


def test_report_numbers_wrap_after_26() -> None:
    world = World(seed=1, projects=1, agencies=1, today=TODAY)
    project = world.projects[1]
    project.reports = []
    numbers = [world.start_next_report(project).report_number for _ in range(28)]
    assert numbers == [*range(1, 27), 1, 2]
    newest_one = world.report_by_number(project, 1)
    assert newest_one is not None
    assert newest_one.sequence == 27


def test_content_only_for_completed_reports_and_matches_keywords() -> None:
    world = World(seed=11, projects=20, agencies=2, today=TODAY)
    payloads = Payloads(world)
    for project in world.projects.values():
        served: dict[int, set[int]] = {}
        for number in {r.report_number for r in world.reports(project)}:
            report = world.report_by_number(project, number)
            assert report is not None
            content = payloads.content(project, report)
            has = {k["keyword_id"] for k in content["keywords"] if k["has_content"]}
            if report.status is not FakeReportStatus.COMPLETED:
                assert has == set()
            for kw_id in has:
                served.setdefault(kw_id, set()).add(number)
        for kw in world.keywords(project):
            data = payloads.keyword(project, kw)
            assert data["content_action_ids"] == sorted(served.get(kw.id, set()))
            assert data["content_count"] == len(data["content_action_ids"])


def test_some_keywords_lack_content_in_completed_reports() -> None:
    world = World(seed=2, projects=30, agencies=1, today=TODAY)
    flags = [
        k["has_content"]
        for p in world.projects.values()
        for r in world.reports(p)
        if r.status is FakeReportStatus.COMPLETED
        for k in Payloads(world).content(p, r)["keywords"]
    ]
    assert True in flags
    assert False in flags


def test_world_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="agencies"):
        World(seed=1, projects=1, agencies=0)
    with pytest.raises(ValueError, match="projects"):
        World(seed=1, projects=-1, agencies=1)
