"""The fixed-window throttle on an injected clock: no sockets, no sleeping."""

from __future__ import annotations

import pytest

from trakk_async.testing import Throttle


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


WALL = 1_800_000_000.0


def make(limits: list[tuple[int, float]], clock: FakeClock) -> Throttle:
    return Throttle(limits, clock=clock, wall=lambda: WALL + clock.now - 1000.0)


def test_exactly_limit_requests_pass_per_window() -> None:
    clock = FakeClock()
    throttle = make([(5, 10.0)], clock)
    decisions = [throttle.hit() for _ in range(8)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert all(d.limit == 5 for d in decisions)


def test_window_is_fixed_from_first_request_not_sliding() -> None:
    clock = FakeClock()
    throttle = make([(3, 10.0)], clock)
    assert throttle.hit().allowed  # opens the window at t=1000
    clock.now += 9.0
    assert throttle.hit().allowed
    assert throttle.hit().allowed
    refused = throttle.hit()
    assert not refused.allowed
    assert refused.retry_after == 1  # ceil(1010 - 1009)
    clock.now += 1.0  # t=1010: the window that opened at 1000 is over
    # A sliding window would still count the two requests of t=1009; a fixed one does not.
    assert [throttle.hit().allowed for _ in range(4)] == [True, True, True, False]


def test_burst_then_refill_client_sees_429s_then_passes() -> None:
    clock = FakeClock()
    throttle = make([(20, 1.0)], clock)
    passed = refused = 0
    for _ in range(3):  # three windows, 30 attempts each, as fast as possible
        for _ in range(30):
            if throttle.hit().allowed:
                passed += 1
            else:
                refused += 1
        clock.now += 1.0
    assert passed == 60
    assert refused == 30


def test_refused_requests_count_against_no_window() -> None:
    clock = FakeClock()
    throttle = make([(2, 10.0), (3, 100.0)], clock)
    assert [throttle.hit().allowed for _ in range(5)] == [True, True, False, False, False]
    clock.now += 10.0
    # The hour-like window saw only the two allowed requests, so one more passes.
    assert throttle.hit().allowed
    blocked = throttle.hit()
    assert not blocked.allowed
    assert blocked.window_seconds == 100.0
    # The headers still describe the short window, which has room: Trakk's documented
    # semantics, where only Retry-After / X-RateLimit-Reset tell that the long one ran out.
    assert (blocked.limit, blocked.remaining) == (2, 1)


def test_headers_always_describe_the_minute_window() -> None:
    clock = FakeClock()
    throttle = make([(60, 60.0), (1000, 3600.0)], clock)
    first = throttle.hit()
    assert first.headers() == {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"}
    # An hour window with fewer requests left is never announced on a success.
    throttle = make([(3, 3600.0), (60, 60.0)], clock)
    assert throttle.hit().headers() == {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"}


def test_unlimited_token_gets_no_rate_limit_headers() -> None:
    throttle = make([], FakeClock())
    decisions = [throttle.hit() for _ in range(10_000)]
    assert all(d.allowed for d in decisions)
    assert decisions[-1].headers() == {}
    assert throttle.limits == []


def test_429_reports_the_exhausted_window_reset_in_whole_seconds() -> None:
    clock = FakeClock()
    throttle = make([(60, 60.0), (2, 3600.0)], clock)
    throttle.hit()
    clock.now += 0.5
    throttle.hit()
    clock.now += 0.25
    refused = throttle.hit()
    assert not refused.allowed
    assert refused.window_seconds == 3600.0
    assert (refused.limit, refused.remaining) == (60, 58)  # the minute window, as documented
    assert refused.retry_after == 3600  # ceil(3600 - 0.75)
    assert refused.reset_at == 1_800_003_600  # wall time at which the hour window opened + 3600
    headers = refused.headers()
    assert headers["Retry-After"] == "3600"
    assert headers["X-RateLimit-Reset"] == "1800003600"
    assert headers["X-RateLimit-Limit"] == "60"
    assert headers["X-RateLimit-Remaining"] == "58"


def test_minute_window_exhausted_reports_minute_reset() -> None:
    clock = FakeClock()
    throttle = make([(2, 60.0), (1000, 3600.0)], clock)
    throttle.hit()
    throttle.hit()
    clock.now += 20.0
    refused = throttle.hit()
    assert (refused.limit, refused.remaining, refused.retry_after) == (2, 0, 40)
    assert refused.window_seconds == 60.0


def test_max_in_window_tracks_busiest_window() -> None:
    clock = FakeClock()
    throttle = make([(10, 1.0), (100, 60.0)], clock)
    for _ in range(7):
        throttle.hit()
    clock.now += 1.0
    for _ in range(12):
        throttle.hit()
    assert throttle.max_in_window == {1.0: 10, 60.0: 17}


@pytest.mark.parametrize("limits", [[(0, 1.0)], [(5, 0.0)], [(5, -1.0)]])
def test_invalid_limits_are_rejected(limits: list[tuple[int, float]]) -> None:
    with pytest.raises(ValueError, match="limit"):
        Throttle(limits)
