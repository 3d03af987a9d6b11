"""The report lifecycle agencies see, and the controls that drive it, over HTTP where the
documentation makes a promise about what a client observes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import aiohttp
import pytest

from tests.testing._client import Api
from trakk_async.testing import SITUATIONS, FakeReportStatus, FakeTrakk, ReportChange
from trakk_async.testing._world import add_months

TODAY = date(2026, 11, 25)
GENEROUS = [(10**5, 60.0)]
ALLOWED_MOVES = {
    (None, FakeReportStatus.PENDING),
    (FakeReportStatus.PENDING, FakeReportStatus.RUNNING),
    (FakeReportStatus.RUNNING, FakeReportStatus.COMPLETED),
    (FakeReportStatus.RUNNING, FakeReportStatus.FAILED),
}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeTrakk, Api]]:
    async with (
        FakeTrakk.running(seed=1, projects=150, today=TODAY, rate_limits=GENEROUS) as fake,
        aiohttp.ClientSession() as session,
    ):
        yield fake, Api(fake, session)


async def row(api: Api, pid: int) -> tuple[int | None, int | None]:
    """What a client sees: (the listing row's report id, /last-generated's report id)."""
    item = (await api.ok(f"/projects/{pid}", api.fake.admin_token))["data"]
    last = await api.get(f"/projects/{pid}/reports/last-generated", api.fake.admin_token)
    return item["latest_report_id"], last.json["data"]["id"] if last.status == 200 else None


def test_the_generated_world_is_what_agencies_see() -> None:
    fake = FakeTrakk(seed=1, projects=150, today=TODAY)
    counts = {s: len(fake.project_ids(all_agencies=True, situation=s)) for s in SITUATIONS}
    assert all(counts.values()), counts
    # about 20 of 150 projects have an old failed report left in the pipeline
    assert 12 <= counts["stuck_failed"] <= 30, counts
    stuck = fake.project_ids(all_agencies=True, situation="stuck_failed")
    for pid in stuck:
        old = [r for r in fake.reports(pid) if r.status is FakeReportStatus.FAILED]
        assert any((r.date_to_create_texts or TODAY) < TODAY.replace(day=1) for r in old)
    # where nothing of this month is completed, that failed report is the listing row
    rows = [fake.latest_report(p) for p in stuck]
    assert any(r is not None and r.status is FakeReportStatus.FAILED for r in rows)
    for pid in fake.project_ids(all_agencies=True, situation="completed_ahead"):
        last, latest = fake.last_generated(pid), fake.latest_report(pid)
        assert last is not None
        assert latest is not last
        assert (last.date_to_create_texts or TODAY) >= add_months(TODAY, 1, 1)
    with pytest.raises(ValueError, match="situation"):
        fake.project_ids(situation="lost")  # type: ignore[arg-type]


@pytest.mark.integration
async def test_reports_completed_ahead_move_last_generated_not_the_listing(
    served: tuple[FakeTrakk, Api],
) -> None:
    fake, api = served
    pid = fake.project_ids(all_agencies=True, situation="latest_completed")[0]
    listing_row, last_before = await row(api, pid)
    changes_before = len(fake.report_changes())
    done = fake.complete_next_reports(pid, count=2)  # two completions between two polls
    assert [r.status for r in done] == [FakeReportStatus.COMPLETED] * 2
    assert all((r.date_to_create_texts or TODAY) > TODAY for r in done)  # ahead of month
    assert await row(api, pid) == (listing_row, done[-1].id)
    assert last_before != done[-1].id
    moves = [(c.report_id, c.before, c.after) for c in fake.report_changes()[changes_before:]]
    assert moves == [
        (done[0].id, None, FakeReportStatus.PENDING),
        (done[0].id, FakeReportStatus.PENDING, FakeReportStatus.COMPLETED),
        (done[1].id, None, FakeReportStatus.PENDING),
        (done[1].id, FakeReportStatus.PENDING, FakeReportStatus.COMPLETED),
    ]
    assert "completed_ahead" in {
        s for s in SITUATIONS if pid in fake.project_ids(all_agencies=True, situation=s)
    }


@pytest.mark.integration
async def test_an_old_failed_report_stays_the_listing_row(served: tuple[FakeTrakk, Api]) -> None:
    fake, api = served
    stuck = set(fake.project_ids(all_agencies=True, situation="stuck_failed"))
    pid = min(stuck & set(fake.project_ids(all_agencies=True, situation="latest_failed")))
    failed = fake.latest_report(pid)
    assert failed is not None
    for _ in range(3):  # newer reports come and complete; the failed one stays the row
        fake.complete_next_reports(pid)
        listing_row, last = await row(api, pid)
        assert listing_row == failed.id
        assert last == fake.reports(pid)[-1].id
    # failing an old report of a project in progress puts it in the same state
    other = fake.project_ids(all_agencies=True, situation="latest_running")
    other = [p for p in other if p not in stuck and len(fake.reports(p)) > 1]
    first = fake.reports(other[0])[0]
    fake.fail_report(other[0], first.report_number)
    assert (await row(api, other[0]))[0] == first.id
    assert other[0] in fake.project_ids(all_agencies=True, situation="stuck_failed")


@pytest.mark.integration
async def test_the_listing_row_follows_today_across_a_month_boundary(
    served: tuple[FakeTrakk, Api],
) -> None:
    fake, api = served
    pid = fake.project_ids(all_agencies=True, situation="completed_ahead")[0]
    this_month = fake.latest_report(pid)
    ahead = fake.last_generated(pid)
    assert this_month is not None
    assert ahead is not None
    assert (await row(api, pid))[0] == this_month.id
    first_of_next = add_months(TODAY, 1, 1)
    assert fake.advance_today((first_of_next - TODAY).days) == first_of_next
    assert await row(api, pid) == (ahead.id, ahead.id)  # now this month's completed report
    fake.set_today(first_of_next - timedelta(days=1))
    assert (await row(api, pid))[0] == this_month.id


def test_ticks_are_deterministic_and_move_reports_one_stage() -> None:
    a = FakeTrakk(seed=9, projects=80, today=TODAY)
    b = FakeTrakk(seed=9, projects=80, today=TODAY)
    changes = a.tick(40)
    assert changes == b.tick(40)
    assert changes == a.report_changes()
    assert {(c.before, c.after) for c in changes} <= ALLOWED_MOVES
    assert {c.after for c in changes} >= {FakeReportStatus.COMPLETED, FakeReportStatus.RUNNING}
    moved = {c.project_id for c in changes}
    assert all(a.world.projects[p].status == "active" for p in moved)
    # several reports complete between two polls (one tick apart at this size)
    per_tick = [a.tick() for _ in range(10)]
    assert max(sum(c.after is FakeReportStatus.COMPLETED for c in t) for t in per_tick) >= 1
    assert all(len(t) >= 1 for t in per_tick)


@pytest.mark.integration
async def test_advance_every_runs_the_pipeline_from_the_injected_clock() -> None:
    clock = Clock()
    twin = FakeTrakk(seed=4, projects=60, today=TODAY)
    async with (
        FakeTrakk.running(
            seed=4, projects=60, today=TODAY, advance_every=30.0, clock=clock,
            rate_limits=GENEROUS,
        ) as fake,
        aiohttp.ClientSession() as session,
    ):  # fmt: skip
        api = Api(fake, session)
        await api.ok("/me")
        clock.now += 29.9
        await api.ok("/me")
        assert fake.report_changes() == []  # not due yet: nothing moved
        clock.now += 60.2  # three ticks are due
        await api.ok("/projects")
        expected: list[ReportChange] = twin.tick(3)
        assert expected
        assert fake.report_changes() == expected
        await api.ok("/me")
        assert fake.catch_up() == []  # nothing more is due
        clock.now += 30
        assert fake.catch_up() == twin.tick()
        # what a client reads reflects the changes
        changed = expected[-1]
        reports = await api.ok(f"/projects/{changed.project_id}/reports", fake.admin_token)
        served = {r["id"]: r["status"] for r in reports["data"]}
        final = fake.reports(changed.project_id)
        assert served == {r.id: fake_status(r.status, served[r.id]) for r in final}
    with pytest.raises(ValueError, match="advance_every"):
        FakeTrakk(advance_every=0)


def fake_status(status: FakeReportStatus, served: str) -> str:
    """The status served for a report: its own, or the realistic profile's "queued"."""
    if status is FakeReportStatus.PENDING and served == "queued":
        return served
    return str(status)
