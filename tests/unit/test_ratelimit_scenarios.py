"""The issue's scenarios in virtual time: real clients and limiters, the fake's throttle.

Each test runs :class:`~trakk_async.TrakkClient` (its retry loop and limiter calls)
against the fake server's own rate limiting (``testing._throttle``: the headers Trakk
documents, windows that open at the first request) through a simulated network of 50-100
ms, on an injected clock: hours pass in a fraction of a second. Assertions count what
the server saw. ``tests/integration/test_limiter_fake.py`` runs some of them in real time
over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import pytest

from tests.limiter_sim import SimTrakk, VirtualTime, greedy, other_consumer
from trakk_async import RateLimitError, RequestAttempt, TrakkClient
from trakk_async.ratelimit import TokenBucketLimiter

DEFAULTS = [(60, 60.0), (1000, 3600.0)]


def statuses(client: TrakkClient) -> list[int | None]:
    """Every attempt's status, as the client saw them."""
    seen: list[int | None] = []
    client.add_attempt_listener(lambda attempt: seen.append(attempt.status))
    return seen


async def test_a_lower_real_minute_limit_costs_no_429() -> None:
    vt = VirtualTime()
    sim = SimTrakk(vt, [(10, 60.0), (1000, 3600.0)])
    limiter = vt.limiter()  # no configuration: it starts from 60 per minute
    client = sim.client("t", limiter)
    [counts] = await vt.gather(greedy(client, tasks=16, until=1e9, vt=vt, requests=40))
    assert counts == {"ok": 40, "errors": 0}
    assert sim.refused("t") == 0
    assert limiter.windows[0] == (10, 60.0)
    assert vt.now < 4 * 60.6  # 10, then 10 per window


async def test_a_raised_minute_limit_is_used_at_its_full_rate() -> None:
    vt = VirtualTime()
    sim = SimTrakk(vt, [(600, 60.0), (10_000, 3600.0)])
    limiter = vt.limiter()
    client = sim.client("t", limiter)
    [counts] = await vt.gather(greedy(client, tasks=16, until=1e9, vt=vt, requests=900))
    assert counts == {"ok": 900, "errors": 0}
    assert sim.refused("t") == 0
    assert limiter.windows[0] == (600, 60.0)
    # 600 in the first window, 300 more when it frees (spread over a few seconds): a
    # minute, where 60 per minute would have taken a quarter of an hour.
    assert vt.now < 60.6 + 5.0 + 1.0


@pytest.mark.parametrize("real_hour", [1500, 500])
async def test_an_unconfigured_limiter_learns_the_hour_limit(real_hour: int) -> None:
    hours = 3
    vt = VirtualTime()
    sim = SimTrakk(vt, [(60, 60.0), (real_hour, 3600.0)])
    limiter = vt.limiter()
    client = sim.client("t", limiter)
    await vt.gather(greedy(client, tasks=8, until=hours * 3600.0, vt=vt))
    accepted = sim.accepted("t", 0, hours * 3600.0)
    assert accepted >= 0.95 * real_hour * hours
    per_hour = [sim.refused("t", h * 3600.0, (h + 1) * 3600.0) for h in range(hours)]
    if real_hour > 1000:
        # Probed one request at a time past the default: the one that fails is the 429.
        assert per_hour == [1, 0, 0]
    else:
        # Found when the hour ran out: the requests in flight then were refused too.
        assert per_hour[0] <= 8
        assert per_hour[1:] == [0, 0]
    assert limiter.windows[1] == (real_hour, 3600.0)
    assert limiter.snapshot().windows[1].known


async def test_a_configured_hour_limit_is_never_probed() -> None:
    vt = VirtualTime()
    sim = SimTrakk(vt, [(60, 60.0), (5000, 3600.0)])
    client = sim.client("t", vt.limiter(per_hour=1000))
    await vt.gather(greedy(client, tasks=8, until=3600.0, vt=vt))
    assert sim.accepted("t", 0, 3600.0) == 1000
    assert sim.refused("t") == 0


async def test_a_restart_into_a_spent_window_waits_visibly_without_a_429(
    caplog: pytest.LogCaptureFixture,
) -> None:
    vt = VirtualTime()
    sim = SimTrakk(vt, DEFAULTS)
    before = sim.client("t", vt.limiter())
    await vt.gather(greedy(before, tasks=4, until=1e9, vt=vt, requests=59))
    vt.now += 5.0  # the program restarts, with a new limiter, into the same window
    limiter = vt.limiter()
    after = sim.client("t", limiter)
    seen = statuses(after)
    snapshots: list[tuple[int, float, str]] = []

    async def watch() -> None:
        await vt.sleep(10.0)
        snap = limiter.snapshot()
        snapshots.append((snap.waiting, snap.available_in, snap.wait_reason))

    with caplog.at_level(logging.INFO, logger="trakk_async.ratelimit"):
        [counts, _] = await vt.gather(
            greedy(after, tasks=8, until=1e9, vt=vt, requests=20), watch()
        )
    assert counts == {"ok": 20, "errors": 0}
    assert seen.count(429) == 0
    assert sim.refused("t") == 0
    waiting, available_in, why = snapshots[0]
    assert waiting == 8
    assert 40 < available_in < 60.6
    assert why == "60 per 60s spent, 59 of them by another consumer"
    infos = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert any(
        re.fullmatch(
            r"rate limit: waiting (5\d|60)\.\ds "
            r"\(60 per 60s spent, 5\d of them by another consumer\)",
            m,
        )
        for m in infos
    ), infos


async def test_another_consumer_on_the_token_costs_at_most_4_429s_in_80_requests() -> None:
    for every, burst in ((3.0, 2), (10.0, 5), (20.0, 15), (1.5, 1)):
        vt = VirtualTime()
        sim = SimTrakk(vt, DEFAULTS)
        client = sim.client("t", vt.limiter())
        seen = statuses(client)
        other = asyncio.ensure_future(
            other_consumer(sim, "t", every=every, burst=burst, until=1200.0)
        )
        await vt.run(until=3.0)  # it was there first: our first answer shows it
        [counts] = await vt.gather(greedy(client, tasks=8, until=1e9, vt=vt, requests=80))
        other.cancel()
        assert counts == {"ok": 80, "errors": 0}
        assert seen.count(429) <= 4, (every, burst)


@pytest.mark.parametrize(("tasks", "late"), [(8, 0.0), (64, 0.0), (8, 17.0), (64, 23.0)])
async def test_two_processes_with_their_own_limiters_share_the_budget(
    tasks: int, late: float
) -> None:
    minutes = 6
    vt = VirtualTime()
    sim = SimTrakk(vt, DEFAULTS)
    first = sim.client("t", vt.limiter())
    second = sim.client("t", vt.limiter())
    ours: dict[TrakkClient, list[float]] = {first: [], second: []}

    def record(times: list[float]) -> Callable[[RequestAttempt], None]:
        return lambda attempt: times.append(vt.now) if attempt.status == 200 else None

    for client, times in ours.items():
        client.add_attempt_listener(record(times))

    async def started_late() -> object:
        await vt.sleep(late)
        return await greedy(second, tasks=tasks, until=minutes * 60.0, vt=vt)

    await vt.gather(greedy(first, tasks=tasks, until=minutes * 60.0, vt=vt), started_late())
    for times in ours.values():
        # None is starved for a minute after its first; once each has seen the other,
        # each gets at least a quarter of every minute.
        per_minute = [sum(1 for t in times if m * 60 <= t < (m + 1) * 60) for m in range(minutes)]
        assert min(per_minute[1:]) >= 1, per_minute
        assert min(per_minute[2:]) >= 15, per_minute
    assert sim.refused("t") <= minutes * 2


async def test_a_wait_longer_than_a_minute_raises_whatever_header_says_it() -> None:
    for strip in ((), ("Retry-After",)):
        vt = VirtualTime()
        # The server's clock is an hour ahead: read on its Date, the wait is the same.
        sim = SimTrakk(vt, [(60, 60.0), (3, 3600.0)], strip=strip, clock_offset=3600.0)
        client = sim.client("t", vt.limiter())
        [counts] = await vt.gather(greedy(client, tasks=1, until=1e9, vt=vt, requests=3))
        assert counts["ok"] == 3
        with pytest.raises(RateLimitError) as info:
            await vt.gather(client.get_json("/me"))
        assert info.value.retry_after is not None
        assert 3500 < info.value.retry_after <= 3600
        assert vt.now < 60.0  # raised, not slept
        snap = client.rate_limit
        assert 3500 < snap.paused_for <= 3601  # the other calls wait for the hour
        assert snap.windows[1].limit == 3  # and it is learnt


async def test_a_reset_on_a_clock_an_hour_behind_without_date_is_not_a_429_a_second() -> None:
    vt = VirtualTime()
    sim = SimTrakk(
        vt, [(5, 60.0), (1000, 3600.0)], strip=("Retry-After", "Date"), clock_offset=-3600.0
    )
    client = sim.client("t", vt.limiter(per_minute=10), max_retries=0)  # 10: too many
    await vt.gather(greedy(client, tasks=4, until=600.0, vt=vt))
    # The reset looks an hour old: a 429 that does not say how long pauses a minute.
    assert sim.refused("t") <= 4 * 10


async def test_a_token_without_limits_keeps_the_configured_windows() -> None:
    vt = VirtualTime()
    sim = SimTrakk(vt, [])  # unlimited: no rate-limit headers at all
    limiter = vt.limiter()
    client = sim.client("t", limiter)
    [counts] = await vt.gather(greedy(client, tasks=8, until=1e9, vt=vt, requests=120))
    assert counts == {"ok": 120, "errors": 0}
    assert limiter.windows == ((60, 60.0), (1000, 3600.0))
    assert 60.6 <= vt.now < 2 * 60.6  # at the configured 60 per minute


async def test_a_proxy_that_strips_the_headers_costs_few_429s() -> None:
    vt = VirtualTime()
    sim = SimTrakk(vt, [(30, 60.0), (1000, 3600.0)], strip=("X-RateLimit-Limit",))
    client = sim.client("t", vt.limiter())
    seen = statuses(client)
    [counts] = await vt.gather(greedy(client, tasks=8, until=600.0, vt=vt))
    assert counts["errors"] == 0
    # It cannot know the limit is 30: each minute, the requests in flight when the
    # first 429 comes are refused, then everything pauses until the window resets.
    assert seen.count(429) <= 10 * 9
    assert counts["ok"] >= 9 * 30


async def test_every_request_the_server_saw_went_through_the_limiter() -> None:
    vt = VirtualTime()
    sim = SimTrakk(vt, DEFAULTS)
    limiter = vt.limiter()
    acquired = 0
    original = limiter.acquire

    async def counting(*, max_wait: float | None = None) -> None:
        nonlocal acquired
        await original(max_wait=max_wait)
        acquired += 1

    limiter.acquire = counting  # type: ignore[method-assign]
    client = sim.client("t", limiter)
    await vt.gather(greedy(client, tasks=8, until=300.0, vt=vt))
    assert acquired == len(sim.log)


def test_the_default_limiter_starts_from_trakks_defaults() -> None:
    assert TokenBucketLimiter().windows == tuple(DEFAULTS)
