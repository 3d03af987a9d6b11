"""The limiter's arithmetic with an injected clock: sliding logs, headers, 429 pauses."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trakk_async.ratelimit._core import (
    MAX_MIRRORED,
    RETRY_AFTER_SAFETY,
    LimiterCore,
    Observation,
    check_windows,
    default_margin,
    read_counts,
    read_headers,
    window_for_limit,
    window_for_pause,
)


class Laravel:
    """Fixed windows opened by the first hit; answers with Trakk's rate-limit headers."""

    def __init__(self, windows: list[tuple[int, float]]) -> None:
        self.windows = windows
        self.opened: list[float | None] = [None] * len(windows)
        self.hits = [0] * len(windows)

    def hit(self, now: float) -> tuple[int, dict[str, str]]:
        for i, (_, seconds) in enumerate(self.windows):
            opened = self.opened[i]
            if opened is not None and now >= opened + seconds:
                self.opened[i], self.hits[i] = None, 0
        spent = [i for i, (limit, _) in enumerate(self.windows) if self.hits[i] >= limit]
        if spent:
            i = spent[-1]
            opened = self.opened[i]
            assert opened is not None
            retry = max(1, math.ceil(opened + self.windows[i][1] - now))
            return 429, {"X-RateLimit-Limit": str(self.windows[i][0]), "Retry-After": str(retry)}
        for i in range(len(self.windows)):
            if self.opened[i] is None:
                self.opened[i] = now
            self.hits[i] += 1
        i = min(range(len(self.windows)), key=lambda k: self.windows[k][0] - self.hits[k])
        left = self.windows[i][0] - self.hits[i]
        return 200, {
            "X-RateLimit-Limit": str(self.windows[i][0]),
            "X-RateLimit-Remaining": str(left),
        }


def laravel_refusals(grants: list[float], limit: int, seconds: float) -> int:
    """How many of ``grants`` a Laravel fixed window (opened by the first hit) refuses."""
    opened: float | None = None
    hits = refused = 0
    for t in grants:
        if opened is not None and t >= opened + seconds:
            opened, hits = None, 0
        if opened is None:
            opened = t
        if hits >= limit:
            refused += 1
        else:
            hits += 1
    return refused


def serve(core: LimiterCore, arrivals: list[float]) -> list[float]:
    """Grant times of requests arriving at ``arrivals``, served in order (FIFO)."""
    grants: list[float] = []
    last = -math.inf
    for arrival in arrivals:
        at = core.free_at(max(arrival, last))
        core.grant(at)
        grants.append(at)
        last = at
    return grants


def max_in_interval(grants: list[float], length: float) -> int:
    """The most grants inside any half-open interval [t, t + length)."""
    best = j = 0
    for i, start in enumerate(grants):
        while j < len(grants) and grants[j] < start + length:
            j += 1
        best = max(best, j - i)
    return best


# --------------------------------------------------------------------------- windows


def test_windows_are_validated_and_sorted() -> None:
    assert check_windows([(1000, 3600), (60, 60)]) == ((60, 60.0), (1000, 3600.0))
    for bad in ([], [(0, 1.0)], [(1, 0)], [(1.5, 1.0)], [(True, 1.0)], [(1, 1), (2, 1)], [1]):
        with pytest.raises(ValueError, match="window"):
            check_windows(bad)  # type: ignore[arg-type]


def test_default_margin_is_one_percent_between_50ms_and_1s() -> None:
    assert default_margin(60) == pytest.approx(0.6)
    assert default_margin(3600) == 1.0
    assert default_margin(0.5) == 0.05


def test_full_burst_is_available_at_once() -> None:
    core = LimiterCore([(60, 60.0), (1000, 3600.0)])
    assert all(core.try_grant(0.0) for _ in range(60))
    assert not core.try_grant(0.0)
    assert core.free_at(0.0) == pytest.approx(60.6)
    assert core.blocker(0.0) == "60 per 60s spent"


def test_a_reservation_frees_its_place_after_the_window_plus_margin() -> None:
    core = LimiterCore([(2, 10.0)], margin=0.5)
    core.grant(0.0)
    core.grant(3.0)
    assert core.free_at(4.0) == 10.5
    assert core.try_grant(10.5)
    assert core.free_at(10.5) == 13.5


def test_the_hour_window_holds_when_the_minute_one_has_room() -> None:
    core = LimiterCore([(60, 60.0), (100, 3600.0)], margin=0.0)
    grants = serve(core, [0.0] * 101)
    assert grants[59] == 0.0
    assert grants[60] == 60.0
    assert grants[99] == 60.0
    assert grants[100] == 3600.0


@settings(max_examples=300, deadline=None)
@given(
    windows=st.lists(
        st.tuples(st.integers(1, 8), st.sampled_from([0.5, 1.0, 2.5, 7.0])),
        min_size=1,
        max_size=3,
        unique_by=lambda w: w[1],
    ),
    gaps=st.lists(st.floats(0, 3.0, allow_nan=False), min_size=1, max_size=120),
    margin=st.sampled_from([0.0, 0.01, 0.3]),
)
def test_no_interval_of_a_window_holds_more_than_its_limit(
    windows: list[tuple[int, float]], gaps: list[float], margin: float
) -> None:
    core = LimiterCore(windows, margin=margin)
    arrivals = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    grants = serve(core, arrivals)
    assert grants == sorted(grants)  # FIFO: served in arrival order
    assert all(g >= a for g, a in zip(grants, arrivals, strict=True))
    for limit, seconds in windows:
        assert max_in_interval(grants, seconds + margin) <= limit
        # ... so Laravel's fixed windows never refuse one of them.
        assert laravel_refusals(grants, limit, seconds) == 0


@settings(max_examples=100, deadline=None)
@given(
    limit=st.integers(1, 10),
    ahead=st.integers(0, 40),
    booked=st.lists(st.floats(0, 5.0, allow_nan=False), max_size=10),
)
def test_projected_matches_what_the_queue_gets(limit: int, ahead: int, booked: list[float]) -> None:
    core = LimiterCore([(limit, 5.0), (limit * 3, 20.0)], margin=0.1)
    for t in sorted(booked):
        core.grant(t)
    expected = core.projected(5.0, ahead)
    assert serve(core, [5.0] * (ahead + 1))[-1] == pytest.approx(expected)


# --------------------------------------------------------------------------- headers


def test_read_headers_on_200() -> None:
    obs = read_headers(
        200, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "12"}, wall=0, longest=3600
    )
    assert obs == Observation(limit=60, remaining=12)
    lower = read_headers(200, {"x-ratelimit-limit": "30"}, wall=0, longest=3600)
    assert lower.limit == 30
    junk = {"X-RateLimit-Limit": "abc", "X-RateLimit-Remaining": "-1"}
    assert read_headers(200, junk, wall=0, longest=3600) == Observation()


@pytest.mark.parametrize(
    ("limit", "remaining", "expected"),
    [
        ("60", "59", (60, 59)),
        (" 60 ", "59.0", (60, 59)),
        ("0", "0", (None, 0)),
        # str.isdigit() accepts a superscript two, int() does not: it must not raise.
        ("\u00b2", "\u0663", (None, 3)),
        ("1e3", "nan", (1000, None)),
        ("", "-0", (None, 0)),
    ],
)
def test_read_counts_never_raises_on_odd_values(
    limit: str, remaining: str, expected: tuple[int | None, int | None]
) -> None:
    headers = {"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": remaining}
    assert read_counts(headers) == expected
    assert read_headers(200, headers, wall=0, longest=60) == Observation(
        limit=expected[0], remaining=expected[1]
    )


def test_read_headers_429_retry_after_plus_a_second() -> None:
    headers = {"Retry-After": "17", "X-RateLimit-Reset": "1000050"}
    obs = read_headers(429, headers, wall=1_000_000.0, longest=3600)
    assert obs.pause == 17 + RETRY_AFTER_SAFETY
    assert obs.remaining == 0


def test_read_headers_429_reset_when_no_retry_after() -> None:
    obs = read_headers(429, {"X-RateLimit-Reset": "1000050"}, wall=1_000_000.0, longest=3600)
    assert obs.pause == 50 + RETRY_AFTER_SAFETY
    skewed = read_headers(429, {"X-RateLimit-Reset": "9000000"}, wall=0.0, longest=3600)
    assert skewed.pause == 3600 + RETRY_AFTER_SAFETY
    bare = read_headers(429, {}, wall=0.0, longest=3600, shortest=60)
    assert bare.pause == 60


def test_which_window_a_limit_or_a_pause_describes() -> None:
    assert window_for_limit(60, [60, 1000]) == 0
    assert window_for_limit(1000, [60, 1000]) == 1
    assert window_for_limit(30, [60, 1000]) == 0
    assert window_for_limit(120, [60, 1000]) == 0
    assert window_for_limit(500, [60, 1000]) == 1
    # Nearest to the configured limits, so one correction does not steer the next.
    assert window_for_limit(250, [300, 1000], [60, 1000]) == 1
    assert window_for_limit(60, [300, 1000], [60, 1000]) == 0
    assert window_for_pause(31.0, [60.0, 3600.0]) == 0
    assert window_for_pause(61.0, [60.0, 3600.0]) == 0  # Retry-After 60 + safety
    assert window_for_pause(62.5, [60.0, 3600.0]) == 1  # longer than a minute: the hour
    assert window_for_pause(9999.0, [60.0, 3600.0]) == 1


def test_limit_header_corrects_capacity_down_and_up() -> None:
    core = LimiterCore(margin=0.0)
    core.grant(0.0)
    core.observe(0.0, Observation(limit=30, remaining=29))
    assert core.windows == ((30, 60.0), (1000, 3600.0))
    assert sum(core.try_grant(0.0) for _ in range(100)) == 29
    core.observe(1.0, Observation(limit=120, remaining=90))
    assert core.windows == ((120, 60.0), (1000, 3600.0))
    assert sum(core.try_grant(1.0) for _ in range(200)) == 90
    core.observe(2.0, Observation(limit=900, remaining=700))
    assert core.windows == ((120, 60.0), (900, 3600.0))


def test_remaining_lower_than_expected_books_the_difference() -> None:
    core = LimiterCore([(60, 60.0), (1000, 3600.0)], margin=0.0)
    for _ in range(5):
        core.grant(0.0)
    # The server counted 25: someone else sent 20 with the same token.
    core.observe(1.0, Observation(limit=60, remaining=35))
    assert core.states(1.0)[0].used == 25
    assert sum(core.try_grant(1.0) for _ in range(100)) == 35
    # A stale answer (counted before our latest grants) books nothing more.
    core.observe(2.0, Observation(limit=60, remaining=50))
    assert core.states(2.0)[0].used == 60
    # Foreign requests are dated when we learnt of them: they free up a window later.
    assert core.free_at(2.0) == 60.0


def test_a_429_pauses_every_grant_until_the_reset() -> None:
    core = LimiterCore([(60, 60.0), (1000, 3600.0)], margin=0.0)
    core.grant(0.0)
    core.observe(10.0, Observation(limit=60, remaining=0, pause=21.0))
    assert core.paused_until == 31.0
    assert not core.try_grant(30.99)
    assert core.blocker(30.0) == "paused after a 429"
    assert core.free_at(12.0) == 31.0
    assert core.try_grant(31.0)
    # A second 429, for the hour window, extends the pause; a shorter one does not shorten it.
    core.observe(31.0, Observation(limit=1000, remaining=0, pause=1800.0))
    core.observe(31.0, Observation(pause=5.0))
    assert core.paused_until == 1831.0
    assert core.windows == ((60, 60.0), (1000, 3600.0))


def test_a_429_with_an_unknown_limit_corrects_the_window_its_pause_belongs_to() -> None:
    core = LimiterCore(margin=0.0)
    core.observe(0.0, Observation(limit=800, remaining=0, pause=1200.0))
    assert core.windows == ((60, 60.0), (800, 3600.0))


@settings(max_examples=200, deadline=None)
@given(
    minute=st.integers(5, 20),
    hour=st.integers(25, 150),
    foreign=st.integers(0, 3),
    gaps=st.lists(st.floats(0, 0.5, allow_nan=False), min_size=1, max_size=150),
)
def test_the_server_limits_are_learnt_from_the_headers(
    minute: int, hour: int, foreign: int, gaps: list[float]
) -> None:
    """Configured 10/s and 50/10s; the token really has others and another user."""
    server = Laravel([(minute, 1.0), (hour, 10.0)])
    core = LimiterCore([(10, 1.0), (50, 10.0)], margin=0.01)
    arrivals = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    last, statuses, grant_times = 0.0, [], []
    for n, arrival in enumerate(arrivals):
        if n % 10 == 0:
            for _ in range(foreign):  # someone else's requests, without our limiter
                server.hit(max(arrival, last))
        at = core.free_at(max(arrival, last))
        core.grant(at)
        status, headers = server.hit(at)
        statuses.append(status)
        grant_times.append(at)
        core.observe(at, read_headers(status, headers, wall=0.0, longest=10.0))
        last = at
    refused = statuses.count(429)
    if foreign == 0:
        # Only a window not yet described by the headers can be overrun, once.
        assert refused <= 2
        assert statuses[0] == 200
    assert core.windows[0] == (minute, 1.0)  # described by the very first answer
    # Every 429 paused the core: two never come within one Retry-After (>= 2 s here).
    times = [t for t, s in zip(grant_times, statuses, strict=True) if s == 429]
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(times))


@settings(max_examples=100, deadline=None)
@given(
    pause_at=st.floats(0, 50, allow_nan=False),
    pause=st.floats(0.5, 80, allow_nan=False),
    gaps=st.lists(st.floats(0, 2.0, allow_nan=False), min_size=1, max_size=80),
)
def test_nothing_is_granted_during_a_pause(
    pause_at: float, pause: float, gaps: list[float]
) -> None:
    core = LimiterCore([(5, 1.0), (50, 60.0)], margin=0.01)
    arrivals = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    before = [a for a in arrivals if a < pause_at]
    grants = serve(core, before)
    core.observe(pause_at, Observation(pause=pause))
    end = pause_at + pause
    grants = serve(core, [max(a, pause_at) for a in arrivals[len(before) :]])
    assert all(not (pause_at <= g < end) for g in grants)


def test_a_huge_limit_header_books_a_bounded_number_of_foreign_requests() -> None:
    # A test server's "unlimited" token (or a broken proxy) may claim billions used.
    core = LimiterCore([(10**9, 60.0)], margin=0.0)
    core.grant(0.0)
    core.observe(0.0, Observation(limit=10**9, remaining=1))
    assert core.states(0.0)[0].used == MAX_MIRRORED
    core.observe(0.1, Observation(limit=10**9, remaining=1))
    assert core.states(0.1)[0].used == MAX_MIRRORED


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=1, max_size=80))
def test_try_grant_decides_exactly_as_free_at(gaps: list[float]) -> None:
    fast = LimiterCore([(3, 1.0), (7, 4.0)], margin=0.1)
    slow = LimiterCore([(3, 1.0), (7, 4.0)], margin=0.1)
    now = 0.0
    for gap in gaps:
        now += gap
        expected = slow.free_at(now) <= now
        if expected:
            slow.grant(now)
        assert fast.try_grant(now) is expected


def _state(core: LimiterCore, now: float) -> tuple[object, ...]:
    for log in core.logs:
        log.expire(now)  # entries past their span count for nothing, wherever they are
    return (
        core.windows,
        [list(log.log) for log in core.logs],
        core.corrections,
        core.probe_until,
        core.paused_until,
    )


_ODD_VALUES = st.sampled_from(["60.0", " 20 ", "abc", "", "1e3", "\u00b2", "+5", "nan", "-1"])
# Mostly the windows' own limits and small counts, so foreign usage and corrections happen.
_LIMITS = st.one_of(st.sampled_from(["5", "20", "7", "100", "0"]), st.none(), _ODD_VALUES)
_REMAINING = st.one_of(st.integers(min_value=0, max_value=25).map(str), st.none(), _ODD_VALUES)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 30.0), _LIMITS, _REMAINING, st.booleans()),
        min_size=1,
        max_size=30,
    )
)
def test_observe_ok_matches_the_general_path(
    steps: list[tuple[float, str | None, str | None, bool]],
) -> None:
    # observe_ok is the per-response fast path: it must leave the core exactly as
    # observe(read_headers(200, ...)) would, whatever the headers say.
    fast = LimiterCore([(5, 10.0), (20, 60.0)], margin=0.5)
    slow = LimiterCore([(5, 10.0), (20, 60.0)], margin=0.5)
    now = 0.0
    for gap, limit, remaining, grant in steps:
        now += gap
        if grant:
            assert fast.try_grant(now) is slow.try_grant(now)
        headers = {
            name: value
            for name, value in (
                ("X-RateLimit-Limit", limit),
                ("X-RateLimit-Remaining", remaining),
            )
            if value is not None
        }
        fast.observe_ok(now, headers)
        slow.observe(now, read_headers(200, headers, wall=0.0, longest=60.0))
        assert _state(fast, now) == _state(slow, now)
