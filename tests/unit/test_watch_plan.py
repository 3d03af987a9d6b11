"""Budget arithmetic, strategy choice, bounds and sharding of the report watcher."""

from __future__ import annotations

import pytest

from trakk_async.watch._plan import (
    DEFAULT_WINDOW,
    Strategy,
    StrategyChoice,
    WatchPlan,
    check_budget,
    check_shard,
    check_share,
    in_shard,
    listing_pages,
    longest_window,
    make_plan,
    resolve_strategy,
    time_to_send,
    watch_rate,
)


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, True, "0.5", None])
def test_budget_must_be_a_fraction(bad: object) -> None:
    with pytest.raises(ValueError, match="budget"):
        check_budget(bad)


def test_budget_accepts_fractions_and_one() -> None:
    assert check_budget(0.5) == 0.5
    assert check_budget(1) == 1.0


@pytest.mark.parametrize("bad", [(1, 1), (-1, 2), (0,), [0, 2], (0.0, 2), (0, 0), "0/2"])
def test_shard_is_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="shard"):
        check_shard(bad)


def test_shards_cover_every_project_exactly_once() -> None:
    ids = range(1, 1001)
    for n in (1, 2, 3, 7):
        owners = [[i for i in range(n) if in_shard(pid, (i, n))] for pid in ids]
        assert all(len(o) == 1 for o in owners)
    assert all(in_shard(pid, None) for pid in ids)


def test_longest_window_is_the_hourly_one() -> None:
    assert longest_window([(60, 60.0), (1000, 3600.0)]) == (1000, 3600.0)
    assert longest_window([(20, 1.0), (100, 10.0)]) == (100, 10.0)
    assert longest_window([]) == DEFAULT_WINDOW


def test_rate_is_the_budget_share_of_the_window() -> None:
    # Half of 1,000 per hour: one request every 7.2 s.
    assert watch_rate(0.5, (1000, 3600.0)) == pytest.approx(1 / 7.2)


def test_listing_pages() -> None:
    assert [listing_pages(n) for n in (0, 1, 100, 101, 1000, 10_000)] == [1, 1, 1, 2, 10, 100]


@pytest.mark.parametrize("choice", ["auto", "per-project", "last-generated"])
def test_auto_and_the_old_name_are_the_per_project_strategy(choice: StrategyChoice) -> None:
    assert resolve_strategy(choice) == "per-project"
    assert resolve_strategy("listing") == "listing"


def default_plan(strategy: Strategy, projects: int, share: float = 0.5) -> WatchPlan:
    """The plan at budget 0.5 of Trakk's default limits (60/minute, 1,000/hour)."""
    return make_plan(
        strategy=strategy,
        projects=projects,
        budget=0.5,
        window=(1000, 3600.0),
        windows=[(60, 60.0), (1000, 3600.0)],
        reconcile_share=share,
    )


@pytest.mark.parametrize(
    ("projects", "every", "shown", "every_listing", "first_pass"),
    # the numbers the watch module and the README document, at budget 0.5 of 1,000/hour
    [
        (100, 734.4, 28.8, 1447.2, 60.0),
        (1000, 7279.2, 158.4, 14407.2, 3600.0),
        (10_000, 72727.2, 1454.4, 144007.2, 36000.0),
    ],
)
def test_the_documented_bounds(
    projects: int, every: float, shown: float, every_listing: float, first_pass: float
) -> None:
    per_project = default_plan("per-project", projects)
    listing = default_plan("listing", projects)
    assert per_project.detection_bound == pytest.approx(every)
    assert per_project.hinted_bound == per_project.detection_bound
    assert listing.hinted_bound == pytest.approx(shown)
    assert listing.detection_bound == pytest.approx(every_listing)
    assert per_project.first_pass == listing.first_pass == pytest.approx(first_pass)
    assert per_project.requests_per_hour == listing.requests_per_hour == pytest.approx(500)
    # the reason "auto" is "per-project": the listing never bounds every completion sooner
    assert listing.detection_bound > per_project.detection_bound


@pytest.mark.parametrize("projects", [1, 25, 100, 1000, 10_000, 100_000])
@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_listing_never_bounds_every_completion_sooner_at_the_same_budget(
    projects: int, share: float
) -> None:
    per_project = default_plan("per-project", projects)
    listing = default_plan("listing", projects, share)
    # unless it gives up listing almost entirely (then its passes are slower than a sweep)
    assert listing.detection_bound >= per_project.detection_bound or (
        listing.pass_interval is not None and listing.pass_interval >= per_project.sweep_interval
    )


def test_per_project_with_explicit_ids_does_not_list() -> None:
    plan = make_plan(
        strategy="per-project", projects=500, relist=False, budget=0.5, window=(1000, 3600.0)
    )
    assert plan.reconcile_share == 1.0
    assert plan.pass_interval is None
    assert plan.sweep_interval == pytest.approx(3600.0)  # twice an hour is the whole budget
    assert plan.detection_bound == pytest.approx(3600.0 + 7.2)
    assert plan.first_pass == 0.0  # 500 requests fit the hourly window at once


def test_per_project_relists_once_per_sweep() -> None:
    plan = make_plan(strategy="per-project", projects=1000, budget=0.5, window=(1000, 3600.0))
    assert plan.reconcile_share == pytest.approx(1000 / 1010)
    assert plan.pass_interval == pytest.approx(plan.sweep_interval)
    assert plan.sweep_interval == pytest.approx(1010 * 7.2)


def test_listing_splits_its_slots_by_the_reconcile_share() -> None:
    plan = make_plan(
        strategy="listing", projects=1000, budget=0.5, window=(1000, 3600.0), reconcile_share=0.2
    )
    rate = 500 / 3600
    assert plan.pass_interval == pytest.approx(10 / (rate * 0.8))
    assert plan.sweep_interval == pytest.approx(1000 / (rate * 0.2))
    assert plan.hinted_bound == pytest.approx(10 / (rate * 0.8) + 1 / (rate * 0.8))


def test_time_to_send_through_fixed_windows() -> None:
    windows = [(60, 60.0), (1000, 3600.0)]
    assert time_to_send(0, windows) == 0.0
    assert time_to_send(60, windows) == 0.0
    assert time_to_send(61, windows) == 60.0
    assert time_to_send(1001, windows) == 3600.0


@pytest.mark.parametrize("bad", [0, 1, -0.5, 1.5, True, "0.5"])
def test_reconcile_share_is_a_fraction(bad: object) -> None:
    with pytest.raises(ValueError, match="reconcile_share"):
        check_share(bad)
