"""Budget arithmetic, strategy choice, sharding and pacing of the report watcher."""

from __future__ import annotations

import itertools
import math

import pytest

from trakk_async.watch._plan import (
    DEFAULT_WINDOW,
    Pacer,
    backoff,
    check_budget,
    check_shard,
    choose_strategy,
    in_shard,
    listing_pages,
    longest_window,
    make_plan,
    watch_rate,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


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


@pytest.mark.parametrize(
    ("watched", "listed", "expected"),
    [
        (1, 1, "last-generated"),
        (24, 24, "last-generated"),
        (25, 25, "listing"),
        (300, 300, "listing"),
        (10_000, 10_000, "listing"),
        (50, 10_000, "last-generated"),  # a few ids among many listed ones
        (500, 10_000, "listing"),
    ],
)
def test_auto_picks_by_project_count(watched: int, listed: int, expected: str) -> None:
    assert choose_strategy("auto", watched, listed) == expected


def test_explicit_strategy_is_kept() -> None:
    assert choose_strategy("listing", 1, 1) == "listing"
    assert choose_strategy("last-generated", 10_000, 10_000) == "last-generated"


def test_plan_last_generated_costs_one_request_per_project() -> None:
    plan = make_plan(
        strategy="last-generated",
        projects=500,
        relist=False,
        budget=0.5,
        window=(1000, 3600.0),
    )
    assert plan.requests_per_sweep == 500
    assert plan.sweep_interval == pytest.approx(3600.0)  # twice an hour is the whole budget
    assert plan.requests_per_hour == pytest.approx(500)
    assert plan.resync_interval is None


def test_plan_listing_costs_pages_and_states_its_resync_bound() -> None:
    plan = make_plan(
        strategy="listing", projects=1000, budget=0.5, window=(1000, 3600.0), resync_share=0.2
    )
    assert plan.requests_per_sweep == 10
    assert plan.sweep_interval == pytest.approx(10 / (500 / 3600 * 0.8))
    assert plan.resync_interval == pytest.approx(1000 / (500 / 3600 * 0.2))
    lg = make_plan(strategy="last-generated", projects=1000, budget=0.5, window=(1000, 3600.0))
    assert lg.sweep_interval / plan.sweep_interval > 20


def test_pacer_spaces_slots_evenly() -> None:
    clock = Clock()
    pacer = Pacer(2.0, clock)
    assert pacer.delay() == 0
    grants = []
    for _ in range(10):
        clock.now += pacer.delay()
        grants.append(clock.now)
        pacer.consume()
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(grants)}
    assert gaps == {0.5}


def test_pacer_does_not_catch_up_after_a_stall() -> None:
    clock = Clock()
    pacer = Pacer(1.0, clock)
    pacer.consume()
    clock.now = 10.0  # the consumer held the watcher for 10 slots
    assert pacer.delay() == 0
    pacer.consume()
    assert pacer.delay() == pytest.approx(1.0)  # no burst of the missed slots


def test_pacer_rejects_a_zero_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        Pacer(0, Clock())


def test_backoff_doubles_to_a_cap_with_jitter() -> None:
    assert backoff(0, lambda: 0.0) == 0.5
    assert backoff(0, lambda: 1.0) == 1.0
    assert backoff(3, lambda: 1.0) == 8.0
    assert backoff(100, lambda: 1.0) == 60.0
    assert math.isclose(backoff(100, lambda: 0.0), 30.0)


def test_pacer_keeps_its_pace_when_each_wake_up_is_a_little_late() -> None:
    clock = Clock()
    pacer = Pacer(100.0, clock)  # 10 ms slots
    for _ in range(100):
        clock.now += pacer.delay() + 0.001  # every sleep wakes 1 ms late
        pacer.consume()
    # 100 slots in ~1 s, not 1.1 s: lateness under a slot does not accumulate
    assert clock.now == pytest.approx(0.992, abs=1e-6)
