"""The one schedule module: backoff, growing poll intervals and pacing (pure)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trakk_async._core.errors import InternalServerError
from trakk_async._protocol.core import RetryPolicy
from trakk_async._protocol.schedule import (
    WATCH_BACKOFF,
    Backoff,
    GrowingInterval,
    Pacer,
    spread,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_full_jitter_draws_from_zero_to_the_ceiling() -> None:
    backoff = Backoff(base=0.5, cap=8.0)
    assert [backoff.ceiling(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff.delay(3, lambda: 0.0) == 0.0
    assert backoff.delay(3, lambda: 0.5) == 2.0


def test_equal_jitter_never_waits_less_than_half_the_ceiling() -> None:
    assert WATCH_BACKOFF.delay(0, lambda: 0.0) == 0.5
    assert WATCH_BACKOFF.delay(0, lambda: 1.0) == 1.0
    assert WATCH_BACKOFF.delay(3, lambda: 1.0) == 8.0
    assert WATCH_BACKOFF.delay(100, lambda: 1.0) == 60.0
    assert WATCH_BACKOFF.delay(100, lambda: 0.0) == 30.0


@given(st.integers(min_value=-5, max_value=10_000), st.floats(min_value=0, max_value=1))
def test_backoff_is_finite_and_within_its_cap(attempt: int, draw: float) -> None:
    for backoff in (Backoff(0.5, 8.0), WATCH_BACKOFF):
        delay = backoff.delay(attempt, lambda: draw)
        assert 0.0 <= delay <= backoff.cap


@given(st.integers(min_value=0, max_value=5), st.floats(min_value=0, max_value=0.999))
def test_the_retry_policy_waits_by_the_shared_backoff(attempt: int, draw: float) -> None:
    policy = RetryPolicy(max_retries=6, backoff_base=0.5, backoff_cap=8.0)
    error = InternalServerError("boom", status=500)
    assert policy.delay(error, attempt, lambda: draw) == Backoff(0.5, 8.0).delay(
        attempt, lambda: draw
    )


def test_spread_moves_a_value_by_up_to_the_fraction() -> None:
    assert spread(10.0, 0.1, lambda: 0.0) == pytest.approx(9.0)
    assert spread(10.0, 0.1, lambda: 0.5) == pytest.approx(10.0)
    assert spread(10.0, 0.1, lambda: 1.0) == pytest.approx(11.0)


def test_growing_interval_grows_to_its_cap_and_restarts_on_a_new_state() -> None:
    interval = GrowingInterval(
        lambda state: 1.0 if state == "fast" else 4.0,
        growth=2.0,
        cap_factor=4.0,
        jitter=0.0,
        random=lambda: 0.5,
    )
    assert [interval.next("fast") for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert interval.next("slow") == 4.0
    assert interval.next("fast") == 1.0


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


def test_pacer_keeps_its_pace_when_each_wake_up_is_a_little_late() -> None:
    clock = Clock()
    pacer = Pacer(100.0, clock)  # 10 ms slots
    for _ in range(100):
        clock.now += pacer.delay() + 0.001  # every sleep wakes 1 ms late
        pacer.consume()
    # 100 slots in ~1 s, not 1.1 s: lateness under a slot does not accumulate
    assert clock.now == pytest.approx(0.992, abs=1e-6)


def test_a_new_pacer_follows_the_spacing_of_the_old_one() -> None:
    clock = Clock()
    old = Pacer(1.0, clock)
    old.consume()  # a slot at 0: the next was due at 1
    new = Pacer(0.5, clock)
    new.follow(old)
    assert new.delay() == pytest.approx(2.0)  # one of the new intervals after the last slot
    fresh = Pacer(0.5, clock)
    fresh.follow(Pacer(1.0, clock))  # an old pacer that never granted: no wait
    assert fresh.delay() == 0.0
