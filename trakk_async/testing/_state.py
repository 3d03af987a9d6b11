"""What the HTTP layer and the controls of one fake share: tokens, faults, counters, cache
stamps and the pipeline's clock."""

from __future__ import annotations

import ipaddress
import random
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

import attrs

from trakk_async._core.timing import Clock
from trakk_async.testing import _pipeline
from trakk_async.testing._payloads import Payloads, iso_datetime
from trakk_async.testing._throttle import Throttle, merge_max
from trakk_async.testing._world import ReportChange, World

CACHE_TTL: Final = 3600.0
"""Trakk's cache lifetime; a write (any change through a control) refreshes it earlier."""
LISTING_CACHE: Final = "projects"


@attrs.define(kw_only=True)
class Token:
    """An API token: its scope, its rate-limit windows and where it may be used from."""

    value: str
    id: int
    name: str
    agency_id: int | None
    throttle: Throttle
    allowed_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None

    def admits(self, remote: str | None) -> bool:
        if self.allowed_ips is None:
            return True
        try:
            address = ipaddress.ip_address(remote or "")
        except ValueError:
            return False
        return any(address in network for network in self.allowed_ips)

    @property
    def abilities(self) -> list[str]:
        return ["*"] if self.agency_id is None else ["projects:read", "reports:read"]


@attrs.define(kw_only=True)
class Fault:
    """An injected fault: the next ``remaining`` requests, or each with ``probability``."""

    kind: str
    remaining: int | None
    probability: float | None
    route: str | None
    seconds: float


class State:
    """The mutable state behind one fake's API."""

    def __init__(
        self,
        world: World,
        *,
        seed: int,
        clock: Clock,
        wall: Clock,
        advance_every: float | None,
    ) -> None:
        if advance_every is not None and not advance_every > 0:
            raise ValueError("advance_every must be a positive number of seconds")
        self.world = world
        self.payloads = Payloads(world)
        self.clock, self.wall = clock, wall
        self.tokens: dict[str, Token] = {}
        self.faults: list[Fault] = []
        self.fault_rng = random.Random(f"faults:{seed}")
        self.requests = 0
        self.by_route: Counter[str] = Counter()
        self.rate_limited = 0
        self.faults_sent = 0
        self.max_in_window: dict[float, int] = {}
        self._cache: dict[object, float] = {}
        self.advance_every = advance_every
        self._advance_origin = clock()
        self._auto_ticks = 0
        self._steps = 0

    # -- the token a request carries ---------------------------------------------------

    def authenticate(self, header: str) -> Token | None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        return self.tokens.get(value.strip())

    def count_window_usage(self, throttle: Throttle) -> None:
        merge_max(self.max_in_window, throttle.max_in_window)

    # -- faults ---------------------------------------------------------------------------

    def take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.route is not None and not path.startswith(fault.route):
                continue
            if fault.probability is not None:
                if self.fault_rng.random() >= fault.probability:
                    continue
            elif fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
            self.faults_sent += 1
            return fault
        return None

    # -- cache stamps ---------------------------------------------------------------------

    def cache_stamp(self, key: object) -> str:
        """``cache_refreshed_at`` of a cached endpoint: refreshed hourly and on writes."""
        now = self.wall()
        stamp = self._cache.get(key)
        if stamp is None or now - stamp >= CACHE_TTL:
            self._cache[key] = stamp = now
        return iso_datetime(datetime.fromtimestamp(stamp, UTC))

    def invalidate(self, project_ids: Iterable[int]) -> None:
        """A write: the caches of these projects and of the listing refresh."""
        for project_id in project_ids:
            self._cache.pop(("project", project_id), None)
        self._cache.pop(LISTING_CACHE, None)

    def forget_caches(self) -> None:
        self._cache.clear()

    # -- the pipeline ---------------------------------------------------------------------

    def tick(self, steps: int = 1) -> list[ReportChange]:
        """Run the pipeline ``steps`` times; returns the changes."""
        changes: list[ReportChange] = []
        for _ in range(steps):
            self._steps += 1
            changes += _pipeline.tick(self.world, self._steps)
        self.invalidate({change.project_id for change in changes})
        return changes

    def catch_up(self) -> list[ReportChange]:
        """Run the ticks ``advance_every`` owes since the fake was built; returns the changes.

        Every request calls this first, so a fake driven by an injected clock needs no
        background task: what a client sees depends only on the clock.
        """
        if self.advance_every is None:
            return []
        due = int((self.clock() - self._advance_origin) // self.advance_every)
        if due <= self._auto_ticks:
            return []
        steps, self._auto_ticks = due - self._auto_ticks, due
        return self.tick(steps)
