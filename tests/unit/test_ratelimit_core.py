"""The limiter's rules without I/O: sliding logs, reading answers, the per-process state.

Times are plain numbers (monotonic seconds); Unix time only where a 429 has no ``Date``.
"""

from __future__ import annotations

import math
from email.utils import formatdate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trakk_async._protocol.core import MAX_RATE_LIMIT_WAIT, rate_limit_wait
from trakk_async.ratelimit._core import (
    RETRY_AFTER_SAFETY,
    Answer,
    LimiterCore,
    Update,
    check_windows,
    read_answer,
)
from trakk_async.ratelimit._log import Budget, SlidingLog, default_margin

WALL = 1_780_000_000.0
MINUTE_HOUR = [(60, 60.0), (1000, 3600.0)]


def budget(windows: list[tuple[int, float]], *, known: bool = True, margin: float = 0.0) -> Budget:
    return Budget(windows, margin=margin, known=[known] * len(windows))


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


def serve(b: Budget, arrivals: list[float]) -> list[float]:
    """Grant times of requests arriving at ``arrivals``, served in order (FIFO)."""
    grants: list[float] = []
    last = -math.inf
    for arrival in arrivals:
        at = max(arrival, last)
        while (wait := b.check(at)[0]) > 0:  # as the queue does: wake, look again
            at += wait
        b.book(at)
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


def test_the_full_burst_is_available_at_once_then_the_window_holds() -> None:
    b = budget(MINUTE_HOUR, margin=0.6)
    assert serve(b, [0.0] * 60) == [0.0] * 60
    wait, probe, why = b.check(60.0)
    assert wait == pytest.approx(0.6)
    assert (probe, why) == (False, "60 per 60s spent")
    assert serve(b, [0.0]) == [pytest.approx(60.6)]


def test_the_hour_window_holds_when_the_minute_one_has_room() -> None:
    b = budget([(60, 60.0), (100, 3600.0)])
    grants = serve(b, [0.0] * 101)
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
    b = budget(windows, margin=margin)
    arrivals = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    grants = serve(b, arrivals)
    assert grants == sorted(grants)  # FIFO: served in arrival order
    assert all(g >= a for g, a in zip(grants, arrivals, strict=True))
    for limit, seconds in windows:
        assert max_in_interval(grants, seconds + margin) <= limit
        # ... so Laravel's fixed windows never refuse one of them.
        assert laravel_refusals(grants, limit, seconds) == 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=1, max_size=60),
    st.sampled_from([0.1, 0.3, 1e-9, 0.7]),
)
def test_a_booking_frees_its_place_exactly_when_free_at_says(
    gaps: list[float], span: float
) -> None:
    # The one expiry rule: at free_at(now) there is room, a hair before there is not,
    # whatever the floats (an earlier copy of the rule disagreed at the edge).
    log = SlidingLog(limit=3, seconds=span, margin=0.0)
    now = 0.0
    for gap in gaps:
        now += gap
        at = log.free_at(now)
        if at > now:
            assert log.room(math.nextafter(at, -math.inf)) <= 0
        assert log.room(at) > 0
        log.book(at)
        now = at


@settings(max_examples=100, deadline=None)
@given(
    limit=st.integers(1, 10),
    ahead=st.integers(0, 40),
    booked=st.lists(st.floats(0, 5.0, allow_nan=False), max_size=10),
)
def test_projected_matches_what_the_queue_gets(limit: int, ahead: int, booked: list[float]) -> None:
    b = budget([(limit, 5.0), (limit * 3, 20.0)], margin=0.1)
    for t in sorted(booked):
        b.book(t)
    expected = b.projected(5.0, ahead)
    assert serve(b, [5.0] * (ahead + 1))[-1] == pytest.approx(expected)


def test_weighted_bookings_dated_back_stay_in_order_and_unbook_ours_newest_first() -> None:
    log = SlidingLog(limit=100, seconds=10.0, margin=0.0)
    log.book(1.0)
    log.book(5.0)
    log.book(6.0)
    log.book(3.0, 40, foreign=True)  # another consumer's, when the server window opened
    assert log.bookings() == [(1.0, 1), (3.0, 40), (5.0, 1), (6.0, 1)]
    assert (log.used, log.foreign(6.0), log.used_since(3.0)) == (43, 40, 42)
    log.unbook(2)  # two of ours were refused: the newest of ours go
    assert log.bookings() == [(1.0, 1), (3.0, 40)]
    log.redate_foreign(2.0)
    assert log.bookings() == [(1.0, 1), (2.0, 40)]
    log.book(5.0, 50)
    assert log.free_at(5.0, reserve=8) == 5.0  # 91 booked, one more, 8 kept free
    assert log.free_at(5.0, reserve=9) == 11.0
    assert log.free_at(5.0, reserve=1000) == 12.0  # at most a tenth of the limit: 10
    log.unbook(1)
    assert log.free_at(5.0, reserve=1000) == 11.0
    assert (log.room(11.0), log.room(12.0), log.room(15.0)) == (11, 51, 100)


# --------------------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("limit", "remaining", "expected"),
    [
        ("60", "59", (60, 59)),
        (" 60 ", "59.0", (60, 59)),
        ("0", "0", (None, 0)),
        # str.isdigit() accepts a superscript two, float() does not: it must not raise.
        ("\u00b2", "\u0663", (None, 3)),
        ("1e3", "nan", (1000, None)),
        ("", "-0", (None, 0)),
        ("10", "99", (10, 10)),  # never more left than the limit
        ("unlimited", "-1", (None, None)),
    ],
)
def test_odd_header_values_never_raise(
    limit: str, remaining: str, expected: tuple[int | None, int | None]
) -> None:
    headers = {"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": remaining}
    answer = read_answer(200, headers, wall=WALL)
    assert (answer.limit, answer.remaining) == expected
    assert not answer.refused


def date(offset: float) -> str:
    return formatdate(WALL + offset, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "17", "X-RateLimit-Reset": str(int(WALL) + 50)}, 17.0),
        ({"Retry-After": date(30), "Date": date(0)}, 30.0),  # an HTTP date, server's clock
        ({"X-RateLimit-Reset": str(int(WALL) + 40), "Date": date(0)}, 40.0),
        # The server's clock an hour ahead of ours: its Date says so, the wait is the same.
        ({"X-RateLimit-Reset": str(int(WALL) + 3600 + 40), "Date": date(3600)}, 40.0),
        ({"X-RateLimit-Reset": str(int(WALL) + 40)}, 40.0),  # no Date: our clock
        ({"X-RateLimit-Reset": str(int(WALL) - 3600 + 40)}, None),  # ... clearly wrong
        ({"Retry-After": "999999999"}, MAX_RATE_LIMIT_WAIT),
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "soon", "X-RateLimit-Reset": "junk"}, None),
        ({}, None),
    ],
)
def test_a_429s_wait_is_read_on_the_servers_clock(
    headers: dict[str, str], wait: float | None
) -> None:
    from datetime import UTC, datetime

    assert rate_limit_wait(headers, now=datetime.fromtimestamp(WALL, UTC)) == wait
    answer = read_answer(429, headers, wall=WALL)
    assert answer.refused
    assert answer.wait == wait


# --------------------------------------------------------------------------- the core


def test_the_first_request_goes_alone_until_an_answer_comes() -> None:
    core = LimiterCore([60.0, 3600.0])
    assert core.hold(0.0, span=1.0, limit=1) == (0.0, "")
    core.granted(0.0, probe=False)
    assert core.hold(0.1, span=1.0, limit=1) == (
        math.inf,
        "waiting for the answer to the first request",
    )
    update = core.answered(0.2, Answer(limit=30, remaining=29))
    # Its booking moves to its answer: it may have opened the server's window only now.
    assert update == Update(limit=30, counted=1, opened_ago=0.0, alone_granted=0.0)
    assert core.hold(0.2, span=1.0, limit=1) == (0.0, "")


def test_an_attempt_without_answer_hands_going_alone_to_the_next() -> None:
    core = LimiterCore([60.0])
    core.granted(0.0, probe=False)
    core.no_answer(1.0)
    assert core.alone_next == "the first request"
    assert core.hold(1.0, span=1.0, limit=1) == (0.0, "")
    core.granted(1.0, probe=False)
    assert core.hold(1.0, span=1.0, limit=1)[0] == math.inf


def test_a_lost_answer_stops_holding_the_others_eventually() -> None:
    from trakk_async.ratelimit._core import LOST_ANSWER

    core = LimiterCore([60.0])
    core.granted(0.0, probe=False)  # and nobody ever reports its answer
    assert core.hold(LOST_ANSWER - 1, span=1.0, limit=1)[0] == math.inf
    assert core.hold(LOST_ANSWER, span=1.0, limit=1) == (0.0, "")


def answered_core(windows: list[float], now: float = 0.0) -> LimiterCore:
    core = LimiterCore(windows)
    core.granted(now, probe=False)
    core.answered(now, Answer(limit=60, remaining=59))
    return core


def test_a_429_for_the_minute_pauses_and_dates_the_window() -> None:
    core = answered_core([60.0, 3600.0])
    for _ in range(3):
        core.granted(10.0, probe=False)
    update = core.answered(10.5, Answer(limit=60, remaining=0, refused=True, wait=20.0))
    assert update.pause == 20.0 + RETRY_AFTER_SAFETY
    assert update.refused
    assert update.redate
    assert update.learn is None
    # It resets in 20 s, so it opened 40 s ago (a second later at most, Retry-After rounds).
    assert update.opened_ago == pytest.approx(60.0 - 20.0 - RETRY_AFTER_SAFETY)
    assert update.counted == 60  # the server's count (ours in flight are booked already)
    assert core.hold(11.0, span=1.0, limit=1) == (20.5, "paused after a 429")
    assert core.alone_next == "the first request after the pause"


def test_a_429_with_room_in_the_minute_names_a_longer_window_and_teaches_its_limit() -> None:
    core = answered_core([60.0, 3600.0], now=0.0)  # our request opened the hour window
    for t in range(3000, 3030):
        core.granted(float(t), probe=False)
        core.answered(float(t), Answer(limit=60, remaining=59))
    core.granted(3030.0, probe=False)
    core.granted(3030.0, probe=False)
    update = core.answered(3030.0, Answer(limit=60, remaining=29, refused=True, wait=570.0))
    assert (update.learn, update.learn_ago, update.learn_in_flight) == (1, 3030.0, 1)
    assert update.pause == 570.0 + RETRY_AFTER_SAFETY
    assert not update.redate


def test_a_short_wait_with_room_in_the_minute_is_a_longer_window_too() -> None:
    core = answered_core([60.0, 3600.0])
    core.granted(1.0, probe=False)
    update = core.answered(1.0, Answer(limit=60, remaining=58, refused=True, wait=45.0))
    assert update.pause == 45.0 + RETRY_AFTER_SAFETY
    assert not update.redate  # not the minute's: its foreign bookings stay as they are
    assert update.learn is None  # that hour opened 3,555 s ago, before we came


def test_a_longer_window_that_someone_else_opened_teaches_nothing() -> None:
    core = answered_core([60.0, 3600.0], now=0.0)
    core.granted(100.0, probe=False)
    # The hour resets in 3,000 s: it opened 600 s ago, before our first request.
    update = core.answered(100.0, Answer(limit=60, remaining=50, refused=True, wait=3000.0))
    assert update.learn is None
    assert update.pause == 3000.0 + RETRY_AFTER_SAFETY


def test_a_429_that_says_nothing_pauses_one_shortest_window() -> None:
    core = answered_core([60.0, 3600.0])
    core.granted(1.0, probe=False)
    update = core.answered(1.0, Answer(refused=True))
    assert (update.pause, update.learn, update.refused) == (60.0, None, True)


def test_a_wait_longer_than_every_window_is_cut_to_the_longest() -> None:
    core = answered_core([1.0, 10.0])
    core.granted(1.0, probe=False)
    update = core.answered(1.0, Answer(limit=60, remaining=0, refused=True, wait=3600.0))
    assert update.pause == 10.0 + RETRY_AFTER_SAFETY


def test_a_new_server_window_is_seen_when_the_count_falls() -> None:
    core = answered_core([60.0])  # window opened at 0, counted 1
    core.granted(5.0, probe=False)
    assert core.answered(10.0, Answer(limit=60, remaining=20)).opened_ago == 10.0
    core.granted(30.0, probe=False)
    update = core.answered(31.0, Answer(limit=60, remaining=58))  # 40 counted, now 2
    assert (update.counted, update.opened_ago) == (2, 0.0)


def test_spacing_while_shared_or_outrun() -> None:
    core = answered_core([60.0])
    core.granted(1.0, probe=False)
    assert core.hold(1.5, span=1.0, limit=1) == (0.0, "")  # a burst is fine
    core.saw_others(1.5, span=60.6, count=3)
    # Half the token's rate each, while another consumer is there.
    assert core.hold(1.5, span=1.0, limit=1) == (1.5, "another consumer shares the token")
    assert core.reserve(1.5) == 1  # the first sighting sums up its past, not a burst
    core.saw_others(1.6, span=60.6, count=3)
    assert core.reserve(1.6) == 3
    assert core.reserve(62.2) == 0
    core.outran(70.0, span=60.6)
    core.granted(70.0, probe=False)
    hold, why = core.hold(70.2, span=1.0, limit=1)
    assert hold == pytest.approx(0.8)
    assert why == "requests spread over the window"
    assert core.hold(70.2, span=60.0, limit=10)[0] == pytest.approx(0.3)  # 5 s for 10
    assert core.hold(131.0, span=1.0, limit=1) == (0.0, "")


def test_a_probe_goes_alone_and_reports_its_success() -> None:
    core = answered_core([60.0, 3600.0])
    assert core.may_probe(1.0)
    core.granted(1.0, probe=True)
    assert not core.may_probe(1.0)
    assert (
        core.hold(1.0, span=0.1, limit=1)[1]
        == "waiting for the answer to a probe of the hourly limit"
    )
    assert core.answered(1.2, Answer(limit=60, remaining=50)).probe_passed


# --------------------------------------------------------------------------- the budget


def test_the_limit_header_sets_the_shortest_window_both_ways() -> None:
    b = budget(MINUTE_HOUR, known=False)
    b.apply(0.0, Update(limit=30))
    assert b.windows == ((30, 60.0), (1000, 3600.0))
    assert b.logs[0].known
    assert not b.logs[1].known
    b.apply(0.0, Update(limit=100_000))
    assert b.windows == ((100_000, 60.0), (1000, 3600.0))


def test_another_consumers_requests_are_booked_when_their_window_opened() -> None:
    b = budget(MINUTE_HOUR, margin=0.6)
    for _ in range(5):
        b.book(10.0)
    # The server counts 25 and 2 of ours are in flight: 22 are someone else's, counted
    # in a window that opened 10 s ago at the latest.
    assert b.apply(20.0, Update(limit=60, counted=27, opened_ago=10.0)) == 22
    assert b.logs[0].bookings() == [(10.0, 1)] * 5 + [(10.0, 22)]
    assert b.logs[1].used == 5  # the hour learns from its own 429s, not from these
    assert b.apply(21.0, Update(limit=60, counted=20, opened_ago=11.0)) == 0  # stale
    assert b.check(20.0) == (0.0, False, "")
    for _ in range(33):
        b.book(20.0)
    # They free when that server window resets (plus the margin), with ours.
    wait, probe, why = b.check(20.0)
    assert wait == pytest.approx(50.6)
    assert not probe
    assert why == "60 per 60s spent, 22 of them by another consumer"
    assert b.logs[0].room(70.6) == 60 - 33


def test_a_refused_request_counted_nowhere_and_a_429_redates_others() -> None:
    b = budget(MINUTE_HOUR)
    b.book(0.0)
    b.book(30.0)
    b.apply(31.0, Update(counted=40, opened_ago=1.0))  # 38 foreign at 30.0
    b.apply(32.0, Update(refused=True, counted=40, opened_ago=32.0, redate=True))
    # Our newest booking went (refused); the server's 40 are someone else's, all moved
    # to the window's opening.
    assert b.logs[0].bookings() == [(0.0, 1), (0.0, 1), (0.0, 38)]
    assert b.logs[0].foreign(32.0) == 39
    assert b.logs[1].bookings() == [(0.0, 1)]


def test_a_429_for_the_hour_sets_its_limit_to_what_was_booked() -> None:
    b = budget(MINUTE_HOUR, known=False)
    for t in range(700):
        b.book(float(t))
    b.apply(700.0, Update(refused=True, learn=1, learn_ago=600.0, learn_in_flight=3))
    # 700 booked, 1 refused (unbooked), 101 before the window opened, 3 more refused soon.
    assert b.windows[1] == (699 - 100 - 3, 3600.0)
    assert b.logs[1].known


def test_a_passed_probe_raises_only_unknown_limits() -> None:
    for known, expected in ((False, 3), (True, 2)):
        b = budget([(10, 1.0), (2, 100.0)], known=known)
        for _ in range(3):
            b.book(0.0)
        wait, probe, _ = b.check(0.0)
        assert (wait == 0.0 and probe) is not known
        b.apply(0.0, Update(probe_passed=True))
        assert b.windows[1][0] == expected
