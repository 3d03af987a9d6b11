"""What the report watcher knows per project and which request it sends next (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import pytest

from trakk_async.watch._checkpoint import Seen
from trakk_async.watch._tracker import (
    Change,
    Hint,
    Job,
    Tracker,
    needs_confirmation,
    parse_listing_page,
    proven,
)


def hint(
    pid: int,
    rid: int | None,
    number: int | None = None,
    status: str | None = "completed",
    project_status: str = "active",
) -> Hint:
    return Hint(
        project_id=pid,
        project_status=project_status,
        report_id=rid,
        report_number=number if number is not None else (None if rid is None else rid % 26 + 1),
        report_status=None if rid is None else status,
        generated_at=None,
    )


def tracker(
    strategy: Any = "listing",
    *,
    seen: dict[int, Seen] | None = None,
    ids: Iterable[int] | None = None,
    shard: tuple[int, int] | None = None,
    emit_baselines: bool = False,
    share: float = 0.2,
) -> Tracker:
    return Tracker(
        strategy=strategy,
        seen=seen or {},
        project_ids=ids,
        shard=shard,
        emit_baselines=emit_baselines,
        resync_share=share,
        park_seconds=100.0,
        random=lambda: 0.5,
    )


def jobs(t: Tracker, count: int, now: float = 0.0, listing: Iterable[Hint] = ()) -> list[Job]:
    """The next ``count`` jobs, each listing pass answered by one page of ``listing``."""
    out = []
    for _ in range(count):
        job = t.next_job(now)
        assert job is not None
        out.append(job)
        if job.kind == "page":
            t.page_done(job.page, list(listing), more=False)
    return out


# ---------------------------------------------------------------- hint logic


def test_proven_only_when_the_listing_shows_the_seen_report_completed() -> None:
    assert proven(hint(1, 10), Seen(10, 11))
    assert not proven(hint(1, 10, status="pending"), Seen(10, 11))
    assert not proven(hint(1, 11), Seen(10, 11))
    assert proven(hint(1, None), Seen.nothing())
    assert not proven(hint(1, None), Seen(10, 11))
    assert not proven(None, Seen(10, 11))
    assert not proven(hint(1, 10), None)


@pytest.mark.parametrize(
    ("previous", "now", "seen", "expected"),
    [
        # the newest report completed and it is not the one we saw: confirm
        (hint(1, 11, status="running"), hint(1, 11), Seen(10, 1), True),
        (None, hint(1, 11), Seen(10, 1), True),
        # a new report started after a proven one: last-generated cannot have changed
        (hint(1, 10), hint(1, 11, status="pending"), Seen(10, 1), False),
        # a new report started after one we never saw complete: the older may have
        (hint(1, 10, status="running"), hint(1, 11, status="pending"), Seen(9, 1), True),
        # status moving between non-completed values of the same report
        (hint(1, 11, status="pending"), hint(1, 11, status="running"), Seen(10, 1), False),
        (hint(1, 11, status="running"), hint(1, 11, status="failed"), Seen(10, 1), False),
        # first report appears after none
        (hint(1, None), hint(1, 5, status="pending"), Seen.nothing(), False),
        (hint(1, None), hint(1, 5), Seen.nothing(), True),
        # nothing changed
        (hint(1, 10), hint(1, 10), Seen(10, 1), False),
    ],
)
def test_needs_confirmation(previous: Hint | None, now: Hint, seen: Seen, expected: bool) -> None:
    assert needs_confirmation(previous, now, seen) is expected


# ---------------------------------------------------------------- listing strategy


def test_listing_baselines_from_the_listing_without_requests() -> None:
    t = tracker()
    assert t.next_job(0) == Job("page", page=1)
    commits = t.page_done(1, [hint(1, 10), hint(2, None)], more=True)
    assert commits == {1: Seen(10, 11), 2: Seen.nothing()}
    assert t.next_job(0) == Job("page", page=2)
    commits = t.page_done(2, [hint(3, 30, status="pending")], more=False)
    assert commits == {}
    # a project whose newest report is pending needs a /last-generated baseline first
    assert t.next_job(0) == Job("baseline", 3)
    assert not t.ready
    assert t.fetched(Job("baseline", 3), Seen(29, 4), 0) == Change(3, None, Seen(29, 4))
    assert is_ready(t)
    assert t.listing_passes == 1


def is_ready(t: Tracker) -> bool:
    # a call, so that mypy does not narrow ``t.ready`` from an earlier assert
    return t.ready


def test_listing_confirms_a_completed_newest_report() -> None:
    t = tracker(seen={1: Seen(10, 11), 2: Seen(20, 21)})
    t.next_job(0)
    t.page_done(1, [hint(1, 10), hint(2, 20)], more=False)
    assert t.ready
    t.next_job(0)
    t.page_done(1, [hint(1, 11), hint(2, 20)], more=False)
    assert t.next_job(0) == Job("confirm", 1)
    change = t.fetched(Job("confirm", 1), Seen(11, 12), 0)
    assert change == Change(1, Seen(10, 11), Seen(11, 12))
    assert not change.baseline
    # the same answer again is not a second change
    assert t.fetched(Job("confirm", 1), Seen(11, 12), 0) is None


def test_a_number_that_wraps_after_26_still_counts() -> None:
    t = tracker("last-generated", seen={1: Seen(100, 26)}, ids=[1])
    change = t.fetched(Job("poll", 1), Seen(101, 1), 0)
    assert change == Change(1, Seen(100, 26), Seen(101, 1))


def test_first_report_after_none_is_a_change_with_no_previous_report() -> None:
    t = tracker("last-generated", seen={1: Seen.nothing()}, ids=[1])
    change = t.fetched(Job("poll", 1), Seen(5, 1), 0)
    assert change is not None
    assert not change.baseline
    assert change.previous == Seen.nothing()


def test_hidden_completion_is_caught_by_reconciliation_within_its_share() -> None:
    # Newest report pending (id 12) while the older one (11) runs: the listing will not
    # change when 11 completes. The project is at risk and reconciled on ~20% of slots.
    t = tracker(seen={1: Seen(10, 11)}, share=0.2)
    t.next_job(0)
    listing = [hint(1, 12, status="pending")] + [hint(p, p) for p in range(2, 50)]
    t.page_done(1, listing, False)
    kinds = Counter(job.kind for job in jobs(t, 50, listing=listing))
    assert kinds["resync"] == 10  # 20% of 50 slots
    assert kinds["page"] == 40


def test_resync_round_skips_proven_projects_and_cycles_the_rest() -> None:
    seen = {1: Seen(10, 1), 2: Seen(20, 1), 3: Seen(30, 1)}
    t = tracker(seen=seen, share=0.5)
    t.next_job(0)
    listing = [hint(1, 11, status="pending"), hint(2, 20), hint(3, 31, status="running")]
    t.page_done(1, listing, False)
    resynced = [j.project_id for j in jobs(t, 12, listing=listing) if j.kind == "resync"]
    assert set(resynced) == {1, 3}
    assert resynced[:4] == [1, 3, 1, 3]


def test_pages_wait_when_a_page_failed_and_retry_with_backoff() -> None:
    t = tracker()
    job = t.next_job(0)
    assert job == Job("page", page=1)
    delay = t.failed(job, "transient", now=0)
    assert delay == pytest.approx(0.75)
    assert t.next_job(0.5) is None  # no second page while the first waits for its retry
    assert t.next_job(1.0) == Job("page", page=1, attempt=1)


def test_projects_leave_when_ended_or_no_longer_listed_and_join_when_new() -> None:
    t = tracker()
    t.next_job(0)
    t.page_done(1, [hint(1, 10), hint(2, 20), hint(3, 30)], more=False)
    assert list(t.watched) == [1, 2, 3]
    t.next_job(0)
    t.page_done(1, [hint(1, 10, project_status="ended"), hint(3, 30), hint(4, 40)], False)
    assert sorted(t.watched) == [3, 4]


def test_explicit_ids_are_kept_even_when_not_listed() -> None:
    t = tracker(ids=[1, 2, 99])
    t.next_job(0)
    listing = [hint(1, 10), hint(2, 20), hint(3, 30)]
    t.page_done(1, listing, more=False)
    assert sorted(t.watched) == [1, 2, 99]
    assert 3 not in t.seen
    # 99 is not listed: it is reconciled with /last-generated
    assert Job("resync", 99) in jobs(t, 20, listing=listing)


def test_shard_filters_the_listing() -> None:
    t = tracker(shard=(1, 3))
    t.next_job(0)
    t.page_done(1, [hint(p, p * 10) for p in range(1, 10)], more=False)
    assert sorted(t.watched) == [1, 4, 7]


def test_emit_baselines_fetches_every_report() -> None:
    t = tracker(emit_baselines=True)
    t.next_job(0)
    assert t.page_done(1, [hint(1, 10), hint(2, None)], more=False) == {2: Seen.nothing()}
    assert t.next_job(0) == Job("baseline", 1)


# ---------------------------------------------------------------- last-generated strategy


def test_last_generated_relists_then_polls_each_project_once_per_sweep() -> None:
    t = tracker("last-generated")
    assert t.next_job(0) == Job("page", page=1)
    t.page_done(1, [hint(1, 10), hint(2, 20)], more=True)
    assert t.next_job(0) == Job("page", page=2)
    t.page_done(2, [hint(3, 30)], more=False)
    order = [t.next_job(0) for _ in range(4)]
    assert order == [Job("poll", 1), Job("poll", 2), Job("poll", 3), Job("page", page=1)]
    assert t.cycles == 1


def test_last_generated_with_ids_never_lists() -> None:
    t = tracker("last-generated", ids=[5, 3])
    order = [t.next_job(0) for _ in range(5)]
    assert order == [Job("poll", p) for p in (3, 5, 3, 5, 3)]


def test_forbidden_project_is_parked_then_watched_again() -> None:
    t = tracker("last-generated", ids=[1, 2])
    assert t.failed(Job("poll", 1), "forbidden", now=0) is None
    assert t.parked(0) == [1]
    polled = [t.next_job(10) for _ in range(3)]
    assert Job("poll", 1) not in polled
    assert t.parked(150) == []
    assert Job("poll", 1) in [t.next_job(150) for _ in range(3)]


def test_404_after_a_report_parks_instead_of_reporting_a_change() -> None:
    t = tracker("last-generated", seen={1: Seen(10, 1)}, ids=[1])
    assert t.fetched(Job("poll", 1), Seen.nothing(), 0) is None
    assert t.parked(0) == [1]
    assert t.seen[1] == Seen(10, 1)


def test_first_sighting_is_a_baseline() -> None:
    t = tracker("last-generated", ids=[1, 2])
    assert t.fetched(Job("poll", 1), Seen(10, 1), 0) == Change(1, None, Seen(10, 1))
    assert t.fetched(Job("poll", 2), Seen.nothing(), 0) == Change(2, None, Seen.nothing())
    assert t.ready


def test_requeued_job_comes_first() -> None:
    t = tracker("last-generated", ids=[1, 2])
    job = t.next_job(0)
    assert job is not None
    t.requeue(job)
    assert t.next_job(0) == job


# ---------------------------------------------------------------- page parsing


def test_parse_listing_page() -> None:
    body = {
        "data": [
            {
                "id": 1,
                "status": "active",
                "latest_report_id": 10,
                "latest_report_number": 3,
                "latest_report_status": "completed",
                "latest_report_generated_at": "2026-03-01T00:00:00Z",
            },
            {"id": 2, "status": "paused", "latest_report_id": None},
            {"id": "bad"},
        ],
        "meta": {"current_page": 1, "last_page": 2, "total": 102},
        "links": {"next": "https://x/projects?page=2"},
    }
    hints, more, total = parse_listing_page(body, 1)
    assert [h.project_id for h in hints] == [1, 2]
    assert hints[0] == Hint(1, "active", 10, 3, "completed", "2026-03-01T00:00:00Z")
    assert (more, total) == (True, 102)
    assert parse_listing_page(body, 2)[1] is False
    assert parse_listing_page({"data": [], "links": {"next": "x"}}, 1)[1] is False
    assert parse_listing_page({"data": [{"id": 1}], "links": {"next": None}}, 1)[1] is False
    with pytest.raises(ValueError, match="data"):
        parse_listing_page({"items": []}, 1)
