"""Client-side rate limiting: the token's whole budget, without 429s, without configuration.

The client calls :meth:`RateLimiter.acquire` before it sends each request (every retry
too) and :meth:`RateLimiter.observe` once for each attempt, with the response's status
and headers (``None`` when no response came).

:class:`TokenBucketLimiter` is the default, in one process: a sliding log of bookings per
window, each booking freeing its place ``seconds + margin`` after it was made, so the full
burst is available at once yet no interval of a window's length ever holds more than its
limit, whatever the server's fixed windows look like. It reads the headers as Trakk
documents them (``X-RateLimit-Limit`` / ``-Remaining`` describe the minute window; a 429
says which window ran out) and learns the token's limits; the rules are in
``ratelimit/_core.py`` and the README. :class:`RedisRateLimiter` follows the same rules
with one budget shared between processes and machines through Redis
(``trakk_async[redis]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trakk_async.ratelimit._api import RateLimiter, RateLimitSnapshot, WindowSnapshot
from trakk_async.ratelimit._local import TokenBucketLimiter

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
