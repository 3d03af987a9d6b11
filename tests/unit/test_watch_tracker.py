"""Which request the report watcher sends next, and which projects it watches (pure)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.watch_standin import links_of
from trakk_async._models.objects import Page, PageLinks, PageMeta, ProjectSummary
from trakk_async.watch._state import Seen
from trakk_async.watch._tracker import Job, Row, Tracker, is_hint

RowSpec = tuple[int | None, str | None]  # (report id, status) of a project's listing row


def summary(pid: int, row: RowSpec = (None, None), status: str = "active") -> ProjectSummary:
    rid, report_status = row
    return ProjectSummary(
        id=pid,
        name=f"project {pid}",
        status=status,
        keyword_count=3,
        latest_report_generated_at=None,
        latest_report_id=rid,
        latest_report_number=None if rid is None else rid % 26 + 1,
        latest_report_status=report_status,
        links=links_of(pid),
    )


def pages_of(items: list[ProjectSummary], per_page: int = 100) -> list[Page]:
    chunks = [items[i : i + per_page] for i in range(0, len(items), per_page)] or [[]]
    return [
        Page(
            items=tuple(chunk),
            meta=PageMeta(current_page=n, last_page=len(chunks), total=len(items)),
            links=PageLinks(next=None if n == len(chunks) else f"?page={n + 1}"),
        )
        for n, chunk in enumerate(chunks, start=1)
    ]


def tracker(
    strategy: Any = "listing",
    *,
    records: dict[int, Seen] | None = None,
    ids: Iterable[int] | None = None,
    shard: tuple[int, int] | None = None,
    share: float = 0.5,
) -> Tracker:
    return Tracker(
        strategy=strategy,
        records=records or {},
        project_ids=ids,
        shard=shard,
        share=share,
        park_seconds=100.0,
        random=lambda: 0.5,
    )


class Run:
    """Drives a tracker like the watcher does: every job succeeds, and a look learns the
    completed report the project's row shows (as the reports list would)."""

    def __init__(self, t: Tracker, listing: list[ProjectSummary]) -> None:
        self.t = t
        self.listing = listing
        self.jobs: list[Job] = []

    def step(self, now: float = 0.0) -> Job | None:
        job = self.t.next_job(now)
        if job is None:
            return None
        self.jobs.append(job)
        if job.kind == "page":
            self.t.page_done(job.page, pages_of(self.listing)[job.page - 1])
        else:
            record = self.t.records.get(job.project_id, Seen.nothing())
            known = set(record.known or ())
            for item in self.listing:
                if item.id == job.project_id and item.latest_report_status == "completed":
                    known.add(item.latest_report_id or 0)
            self.t.looked(job.project_id, Seen(None, None, frozenset(known)))
        return job

    def steps(self, count: int, now: float = 0.0) -> list[Job]:
        return [job for _ in range(count) if (job := self.step(now)) is not None]

    def first_pass(self) -> list[Job]:
        out = []
        while not self.t.ready:
            job = self.step()
            assert job is not None, "the first pass stalled"
            out.append(job)
        return out


def listing_of(count: int, **rows: RowSpec) -> list[ProjectSummary]:
    return [summary(pid, rows.get(f"p{pid}", (None, None))) for pid in range(1, count + 1)]


# ---------------------------------------------------------------- the first pass


def test_first_pass_lists_then_baselines_projects_without_a_record() -> None:
    run = Run(tracker(records={2: Seen.nothing(), 5: Seen(9, 10, frozenset({9}))}), listing_of(250))
    jobs = run.first_pass()
    assert [j.page for j in jobs[:3]] == [1, 2, 3]
    assert all(j.kind == "page" for j in jobs[:3])
    baselined = [j.project_id for j in jobs[3:]]
    assert all(j.kind == "baseline" for j in jobs[3:])
    assert sorted(baselined) == [p for p in range(1, 251) if p not in (2, 5)]
    assert run.t.ready
    # projects with a record were not looked at: they come first afterwards
    assert [j.project_id for j in run.steps(4) if j.kind == "reconcile"][:2] == [2, 5]


def test_explicit_ids_per_project_need_no_listing() -> None:
    run = Run(tracker("per-project", ids=[4, 8, 15], records={8: Seen.nothing()}), [])
    assert not run.t.lists
    jobs = run.first_pass()
    assert [(j.kind, j.project_id) for j in jobs] == [("baseline", 4), ("baseline", 15)]
    assert {j.kind for j in run.steps(9)} == {"reconcile"}


def test_every_project_with_a_record_means_ready_at_once_without_listing() -> None:
    t = tracker("per-project", ids=[1, 2], records={1: Seen.nothing(), 2: Seen.nothing()})
    assert t.ready


def test_a_parked_project_does_not_hold_the_first_pass() -> None:
    t = tracker("per-project", ids=[1, 2])
    first = t.next_job(0.0)
    assert first == Job("baseline", 1)
    assert t.failed(first, "permanent", 0.0) is None  # a 403: set aside
    second = t.next_job(0.0)
    assert second == Job("baseline", 2)
    t.looked(2, Seen.nothing())
    assert t.ready
    assert t.parked(0.0) == [1]
    # it gets its baseline when it is back: a look without a record
    assert t.next_job(50.0) == Job("reconcile", 2)
    assert t.next_job(150.0) == Job("baseline", 1)
    assert 1 not in t.records


def test_a_failed_page_is_retried_after_backoff_before_the_baselines() -> None:
    t = tracker()
    page = t.next_job(0.0)
    assert page == Job("page", page=1)
    delay = t.failed(page, "transient", 0.0)
    assert delay == pytest.approx(0.75)  # equal jitter of the first 1 s step, draw 0.5
    assert t.next_job(0.5) is None
    assert t.retry_due_in(0.5) == pytest.approx(0.25)
    assert t.next_job(0.75) == Job("page", page=1, attempt=1)


# ---------------------------------------------------------------- after the first pass


def test_listing_splits_slots_between_reconciliation_and_pages() -> None:
    run = Run(tracker(share=0.5), listing_of(300))
    run.first_pass()
    kinds = Counter(j.kind for j in run.steps(100))
    assert kinds == {"reconcile": 50, "page": 50}


def test_per_project_reconciles_every_project_once_per_sweep() -> None:
    t = tracker("per-project", share=300 / 303)
    run = Run(t, listing_of(300))
    run.first_pass()
    jobs = run.steps(303 * 3 + 2)  # float credit may land a slot either side
    looks = Counter(j.project_id for j in jobs if j.kind == "reconcile")
    assert len(looks) == 300
    assert set(looks.values()) <= {3, 4}
    assert Counter(j.kind for j in jobs)["page"] in (9, 10)  # one pass (3 pages) per sweep
    assert t.cycles >= 3


def test_hints_are_confirmed_ahead_of_the_pages() -> None:
    listing = listing_of(150, p7=(70, "pending"), p9=(90, "completed"))
    t = tracker(share=0.5, records={p: Seen(None, None, frozenset()) for p in range(1, 151)})
    run = Run(t, listing)
    run.first_pass()
    listing[6] = summary(7, (70, "running"))  # the row changed: a hint
    jobs = run.steps(8)
    confirms = [j.project_id for j in jobs if j.kind == "confirm"]
    # 7 changed since the last pass; 9 shows a completed report the record does not know
    assert sorted(confirms) == [7, 9]
    # the second pass saw no change: no more confirmations
    run.steps(10)
    assert [j.project_id for j in run.jobs if j.kind == "confirm"] == confirms


def test_per_project_does_not_confirm_hints() -> None:
    listing = listing_of(50, p3=(30, "completed"))
    run = Run(tracker("per-project", share=50 / 51, records={3: Seen.nothing()}), listing)
    run.first_pass()
    run.steps(200)
    assert "confirm" not in {j.kind for j in run.jobs}


@pytest.mark.parametrize(
    ("previous", "row", "record", "expected"),
    [
        (None, Row(5, 6, "completed", None), Seen(5, 6, frozenset({5})), False),
        (None, Row(5, 6, "completed", None), Seen(4, 5, frozenset({4})), True),
        (None, Row(5, 6, "pending", None), Seen(4, 5, frozenset({4})), False),
        (Row(5, 6, "pending", None), Row(5, 6, "running", None), Seen.nothing(), True),
        (Row(5, 6, "pending", None), Row(5, 6, "pending", None), Seen.nothing(), False),
        (Row(5, 6, "completed", None), Row(None, None, None, None), Seen.nothing(), True),
        # an old record knows only its last report
        (None, Row(5, 6, "completed", None), Seen(5, 6), False),
        (None, Row(7, 8, "completed", None), Seen(5, 6), True),
    ],
)
def test_hint_rule(previous: Row | None, row: Row, record: Seen, expected: bool) -> None:
    assert is_hint(previous, row, record) is expected


def test_projects_join_and_leave_with_the_listing() -> None:
    listing = listing_of(20)
    t = tracker("per-project", share=20 / 21)
    run = Run(t, listing)
    run.first_pass()
    listing.append(summary(21))  # joins: its first look is its baseline
    listing[4] = summary(5, status="ended")  # leaves
    del listing[10]  # project 11 is no longer listed
    run.steps(25)
    assert 21 in t.watched
    assert ("baseline", 21) in [(j.kind, j.project_id) for j in run.jobs]
    assert 5 not in t.watched
    assert 11 not in t.watched


def test_shards_and_explicit_ids_filter_the_listing() -> None:
    run = Run(tracker(shard=(1, 3)), listing_of(30))
    run.first_pass()
    assert sorted(run.t.watched) == [p for p in range(1, 31) if p % 3 == 1]
    run = Run(tracker(ids=[2, 4, 99]), listing_of(30))
    run.first_pass()
    assert sorted(run.t.watched) == [2, 4, 99]  # 99 is not listed: still watched


def test_a_page_that_repeats_projects_ends_the_pass() -> None:
    t = tracker()
    t.page_done(1, pages_of(listing_of(100))[0])
    again = Page(items=pages_of(listing_of(100))[0].items, links=PageLinks(next="?page=3"))
    t.page_done(2, again)
    assert t.listing_passes == 1


def test_a_cancelled_job_goes_first_next_time() -> None:
    run = Run(tracker("per-project", ids=[1, 2, 3]), [])
    run.first_pass()
    job = run.t.next_job(0.0)
    assert job is not None
    run.t.requeue(job)
    assert run.t.next_job(0.0) == job


@settings(max_examples=60)
@given(
    projects=st.integers(1, 60),
    share=st.sampled_from([0.2, 0.5, 0.8]),
    hint_bursts=st.lists(st.integers(0, 60), max_size=30),
)
def test_every_project_is_looked_at_within_its_bound_whatever_the_hints(
    projects: int, share: float, hint_bursts: list[int]
) -> None:
    """The documented bound: N / share slots (+1), even when hints flood the other slots."""
    listing = listing_of(projects)
    t = tracker(share=share)
    run = Run(t, listing)
    run.first_pass()
    last_look = dict.fromkeys(range(1, projects + 1), 0)
    bound = math.ceil(projects / share) + 1
    slot = 0
    for version, burst in enumerate([*hint_bursts, *([0] * 3)], start=1):
        for pid in range(1, min(burst, projects) + 1):  # rows move: hints for all of them
            listing[pid - 1] = summary(pid, (version * 1000 + pid, "pending"))
        for _ in range(bound):
            slot += 1
            job = run.step()
            if job is not None and job.kind != "page":
                gap = slot - last_look[job.project_id]
                assert gap <= bound or job.kind == "confirm"
                last_look[job.project_id] = slot
        assert all(slot - seen <= bound for seen in last_look.values())
