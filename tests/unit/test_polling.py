"""wait_for_completion's rule and schedule: pure, on seeded jitter."""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from trakk_async._client.polling import (
    CAP_FACTOR,
    JITTER,
    PollSchedule,
    _NextCompletion,
    awaited_report,
)
from trakk_async._core.errors import ReportFailedError
from trakk_async._models.objects import Report


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


@attrs.frozen
class R:
    id: int
    status: str
    date_to_create_texts: date | None = None
    report_number: int = 1


def listing(*reports: R) -> list[Report]:
    """Reports given oldest first, returned newest first as the API lists them."""
    return list(reversed(reports))  # type: ignore[arg-type]


def test_the_awaited_report_is_the_running_one_else_the_next_pending_by_date() -> None:
    old_failed = R(1, "failed", date(2025, 1, 1))
    march, april = R(2, "pending", date(2026, 3, 1)), R(3, "pending", date(2026, 4, 1))
    assert awaited_report(listing(old_failed, march, april)) == march
    running = R(4, "running", date(2026, 5, 1))
    assert awaited_report(listing(old_failed, march, april, running)) == running
    assert awaited_report(listing(old_failed, R(5, "completed"))) is None
    undated = R(6, "pending", None)
    assert awaited_report(listing(undated, april)) == april  # a date goes before none


def test_the_next_completion_is_any_report_completing_after_the_start() -> None:
    rule = _NextCompletion(listing(R(1, "completed"), R(2, "failed"), R(3, "pending")))
    assert rule.judge(listing(R(1, "completed"), R(2, "failed"), R(3, "running"))) is None
    done = rule.judge(listing(R(1, "completed"), R(2, "failed"), R(3, "completed")))
    assert done == R(3, "completed")


def test_several_completions_at_one_poll_prefer_the_awaited_one() -> None:
    start = listing(R(1, "pending", date(2026, 1, 1)), R(2, "running", date(2026, 2, 1)))
    rule = _NextCompletion(start)
    both = listing(R(1, "completed", date(2026, 1, 1)), R(2, "completed", date(2026, 2, 1)))
    assert rule.judge(both) == R(2, "completed", date(2026, 2, 1))
    rule = _NextCompletion(listing(R(1, "failed"), R(2, "failed")))
    assert rule.judge(listing(R(1, "completed"), R(2, "completed"))) == R(1, "completed")


def test_only_a_failure_of_the_awaited_report_raises() -> None:
    awaited, later = R(2, "running", date(2026, 3, 1)), R(3, "pending", date(2026, 4, 1))
    rule = _NextCompletion(listing(R(1, "failed"), awaited, later))
    assert rule.judge(listing(R(1, "failed"), awaited, R(3, "failed", date(2026, 4, 1)))) is None
    with pytest.raises(ReportFailedError) as info:
        rule.judge(listing(R(1, "failed"), R(2, "failed"), R(3, "failed")))
    assert info.value.report == R(2, "failed")


def test_with_nothing_awaited_a_report_that_appears_and_fails_raises() -> None:
    rule = _NextCompletion(listing(R(1, "completed"), R(2, "failed")))
    assert rule.judge(listing(R(1, "completed"), R(2, "failed"))) is None
    with pytest.raises(ReportFailedError):
        rule.judge(listing(R(1, "completed"), R(2, "failed"), R(3, "failed")))
