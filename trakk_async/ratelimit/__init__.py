"""Client-side rate limiting: never a 429 on 60/minute *and* 1,000/hour.

The client calls :meth:`RateLimiter.acquire` before it sends each request (every retry
too) and :meth:`RateLimiter.observe` once the response's status and headers arrived.

:class:`TokenBucketLimiter` is the default, in one process: a bucket per window whose
tokens come back ``seconds + margin`` after they were spent (a sliding log), so the full
burst is available at once yet no interval of a window's length ever holds more than its
limit, whatever the server's fixed windows look like. It mirrors ``X-RateLimit-Limit`` /
``X-RateLimit-Remaining`` and pauses every task after a 429. :class:`RedisRateLimiter`
shares one budget between processes and machines through Redis (``trakk_async[redis]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trakk_async.ratelimit._local import (
    RateLimiter,
    RateLimitSnapshot,
    TokenBucketLimiter,
    WindowSnapshot,
)

if TYPE_CHECKING:
    from trakk_async.ratelimit._redis import RedisRateLimiter

__all__ = [
    "RateLimitSnapshot",
    "RateLimiter",
    "RedisRateLimiter",
    "TokenBucketLimiter",
    "WindowSnapshot",
]


def __getattr__(name: str) -> Any:
    # RedisRateLimiter imports redis, an optional dependency: only when asked for.
    if name == "RedisRateLimiter":
        from trakk_async.ratelimit._redis import RedisRateLimiter

        return RedisRateLimiter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
