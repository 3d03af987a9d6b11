"""The wait_for_completion schedule: pure, on seeded jitter."""

from __future__ import annotations

import pytest

from trakk_async._client.polling import CAP_FACTOR, JITTER, PollSchedule


def test_running_is_short_pending_is_long() -> None:
    schedule = PollSchedule(None, lambda: 0.5)
    assert schedule.next("running") == pytest.approx(5.0)
    assert PollSchedule(None, lambda: 0.5).next("pending") == pytest.approx(30.0)
    assert PollSchedule(2.0, lambda: 0.5).next("running") == pytest.approx(2.0)


def test_grows_to_a_cap_and_restarts_on_a_status_change() -> None:
    schedule = PollSchedule(1.0, lambda: 0.5)
    waits = [schedule.next("running") for _ in range(12)]
    assert waits[:3] == pytest.approx([1.0, 1.5, 2.25])
    assert max(waits) == pytest.approx(CAP_FACTOR * 1.0)
    assert waits[-1] == pytest.approx(CAP_FACTOR * 1.0)
    assert schedule.next("pending") == pytest.approx(6.0)
    assert schedule.next("running") == pytest.approx(1.0)


@pytest.mark.parametrize(("draw", "factor"), [(0.0, 1 - JITTER), (1.0, 1 + JITTER)])
def test_jitter_bounds(draw: float, factor: float) -> None:
    assert PollSchedule(1.0, lambda: draw).next("running") == pytest.approx(factor)
