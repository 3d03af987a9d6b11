"""A call's ``timeout=`` against the fake over loopback: it bounds each attempt alone."""

from __future__ import annotations

import pytest

from tests.unit.support import OpenLimiter, Sleeps
from trakk_async import APITimeoutError, TrakkClient
from trakk_async.testing import FakeTrakk

pytestmark = pytest.mark.integration


async def test_a_short_call_timeout_wins_over_a_long_client_timeout() -> None:
    async with FakeTrakk.running(seed=1, projects=5, rate_limits=[]) as fake:
        # Two slow answers: each attempt of the call gives up after 0.5 s (the client's
        # 30 s would have waited for them), then the third attempt is answered at once.
        fake.inject_fault("latency", count=2, seconds=1.5)
        sleeps = Sleeps()
        async with TrakkClient(
            fake.token,
            base_url=fake.base_url,
            rate_limiter=OpenLimiter(),
            timeout=30,
            max_retries=2,
            _sleep=sleeps,
        ) as client:
            me = await client.me(timeout=0.5)
            assert me.agency_id == fake.agency_id
            assert len(sleeps.waits) == 2  # two timed-out attempts, each retried

            fake.inject_fault("latency", count=3, seconds=1.5)
            with pytest.raises(APITimeoutError, match=r"within 0\.5s"):
                await client.users.list(timeout=0.5)
