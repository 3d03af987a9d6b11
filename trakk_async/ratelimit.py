"""Client-side rate limiting (placeholder: replaced by the limiter issue).

The client calls :meth:`RateLimiter.acquire` before it sends each request (every retry
too) and :meth:`RateLimiter.observe` once the response's status and headers arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

__all__ = ["RateLimiter", "TokenBucketLimiter"]


@runtime_checkable
class RateLimiter(Protocol):
    """What the client needs of a rate limiter."""

    async def acquire(self, *, max_wait: float | None = None) -> None:
        """Wait until one request may be sent (raise RateLimitError past max_wait)."""

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response's status and rate-limit headers."""


class TokenBucketLimiter:
    """Placeholder."""

    def __init__(self, per_minute: int = 60, per_hour: int = 1000) -> None:
        self.per_minute = per_minute
        self.per_hour = per_hour

    async def acquire(self, *, max_wait: float | None = None) -> None:
        return None

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        return None
