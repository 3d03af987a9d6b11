"""``RedisRateLimiter``: one token's budget shared by many processes and machines.

Every acquire runs one Lua script, atomically on the Redis server and with its clock
(``TIME``): it expires old bookings from one sorted set per window (the same sliding log
as :class:`~trakk_async.TokenBucketLimiter`), checks the shared 429 pause and the limits
learnt from headers, and books the request in every window, or returns how long to
wait. ``observe`` shares what a response said (corrected limits, foreign usage, a 429's
pause) through a second script, run in the background. Keys are named from a hash of the
token (never the token itself) and expire on their own.

Imported only when a RedisRateLimiter is built: ``redis`` is an optional dependency.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from trakk_async._core.errors import APIConnectionError
from trakk_async.ratelimit._core import (
    DEFAULT_WINDOWS,
    PROBE_TIMEOUT,
    check_margin,
    check_windows,
    default_margin,
    read_headers,
    window_for_limit,
    window_for_pause,
)
from trakk_async.ratelimit._local import (
    Clock,
    RateLimitSnapshot,
    Sleep,
    WindowSnapshot,
    _FairQueue,
)

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisRateLimiter"]

logger = logging.getLogger("trakk_async.ratelimit")

# KEYS: pause, limits (hash), one sorted set per window.
# ARGV: member, mode ("acquire" or "peek"), then per window: name, configured limit,
#       span in microseconds (seconds + margin).
# Returns: {wait_us, granted, paused_us, then per window: limit, used, resets_in_us}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait, paused = 0, 0
local pause = tonumber(redis.call('GET', KEYS[1]) or '0')
if pause > now then wait, paused = pause - now, pause - now end
local n = #KEYS - 2
local limits, used, spans = {}, {}, {}
for i = 1, n do
  local key = KEYS[i + 2]
  local base = 3 * i
  local span = tonumber(ARGV[base + 2])
  local limit = tonumber(redis.call('HGET', KEYS[2], ARGV[base]) or ARGV[base + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local entry = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local free = tonumber(entry[2]) + span
    if free - now > wait then wait = free - now end
  end
  limits[i], used[i], spans[i] = limit, count, span
end
local granted = 0
if wait <= 0 and ARGV[2] == 'acquire' then
  granted = 1
  for i = 1, n do
    redis.call('ZADD', KEYS[i + 2], now, ARGV[1])
    redis.call('PEXPIRE', KEYS[i + 2], math.ceil(spans[i] / 1000) + 1000)
    used[i] = used[i] + 1
  end
end
local out = {wait, granted, paused}
for i = 1, n do
  local oldest = redis.call('ZRANGE', KEYS[i + 2], 0, 0, 'WITHSCORES')
  local resets = 0
  if oldest[2] then resets = tonumber(oldest[2]) + spans[i] - now end
  out[#out + 1] = limits[i]
  out[#out + 1] = used[i]
  out[#out + 1] = resets
end
return out
"""

# KEYS: pause, limits (hash), the sorted set of the window described.
# ARGV: pause_us (0: none), window name, limit ('' : none), remaining ('' : none),
#       span_us, member prefix, keep_ms (expiry of the limits hash).
_OBSERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause = tonumber(ARGV[1])
if pause > 0 then
  local untl = now + pause
  if untl > tonumber(redis.call('GET', KEYS[1]) or '0') then
    redis.call('SET', KEYS[1], untl, 'PX', math.ceil(pause / 1000) + 1000)
  end
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[7]))
end
if pause == 0 and ARGV[3] ~= '' and ARGV[4] ~= '' then
  local span = tonumber(ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - span)
  local missing = tonumber(ARGV[3]) - tonumber(ARGV[4]) - redis.call('ZCARD', KEYS[3])
  for k = 1, missing do
    redis.call('ZADD', KEYS[3], now, ARGV[6] .. k)
  end
  if missing > 0 then
    redis.call('PEXPIRE', KEYS[3], math.ceil(span / 1000) + 1000)
  end
end
return 0
"""


def token_key(token: str, prefix: str = "trakk:rl") -> str:
    """The key prefix of a token: a hash, never the token; braces keep Cluster slots equal."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:24]
    return f"{prefix}:{{{digest}}}"


class RedisRateLimiter(_FairQueue):
    """A :class:`RateLimiter` whose budget lives in Redis, shared by every process using it.

    ::

        import redis.asyncio as redis
        limiter = RedisRateLimiter(redis.Redis(), token=token)   # 60/minute, 1,000/hour
        async with TrakkClient(token, rate_limiter=limiter) as client:
            ...

    ``redis`` is a ``redis.asyncio.Redis`` client (the caller owns and closes it).
    ``token`` only names the keys (through a SHA-256 hash). ``windows`` and ``margin`` are
    those of :class:`TokenBucketLimiter`. Inside one process, waiters are served in FIFO
    order and only the first one talks to Redis; between processes, whoever runs the
    script first gets the slot.

    Redis unreachable or slower than ``timeout`` seconds: :meth:`acquire` raises
    :class:`APIConnectionError` (the client retries it like a connection error, then
    gives up), never hangs; a failed ``observe`` is logged and dropped.
    Call :meth:`aclose` before closing the Redis client to flush pending observations.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        *,
        token: str,
        windows: Iterable[tuple[int, float]] = DEFAULT_WINDOWS,
        margin: float | None = None,
        key_prefix: str = "trakk:rl",
        timeout: float = 5.0,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        # The optional dependency: imported here, so that a missing one fails with its name.
        from redis import exceptions as redis_exceptions

        super().__init__(sleep)
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty str (it only names the keys)")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        checked = check_windows(windows)
        fixed = check_margin(margin)
        self._redis = redis
        self._errors: tuple[type[BaseException], ...] = (
            redis_exceptions.RedisError,
            OSError,
            TimeoutError,
        )
        self._configured = checked
        self._spans = [s + (default_margin(s) if fixed is None else fixed) for _, s in checked]
        self._limits = [limit for limit, _ in checked]
        base = token_key(token, key_prefix)
        self._pause_key = f"{base}:pause"
        self._limits_key = f"{base}:limits"
        self._log_keys = [f"{base}:w{seconds:g}" for _, seconds in checked]
        self._acquire_script = redis.register_script(_ACQUIRE)
        self._observe_script = redis.register_script(_OBSERVE)
        self._member = f"{os.getpid()}:{os.urandom(6).hex()}:"
        self._count = 0
        self._timeout = float(timeout)
        self._clock = clock
        self._wall = wall
        self._paused_until = -math.inf
        # As in TokenBucketLimiter: after a pause, one request per process goes first and
        # the others wait for its answer (at most the probe timeout).
        self._resuming = False
        self._probe_until: float | None = None
        self._last: tuple[float, list[int]] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        windows = ", ".join(f"{limit}/{seconds:g}s" for limit, seconds in self.windows)
        return f"<RedisRateLimiter {self._pause_key[:-6]} {windows}>"

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        """The ``(limit, seconds)`` windows enforced now, after header corrections."""
        return tuple(zip(self._limits, (s for _, s in self._configured), strict=True))

    def _args(self, member: str, mode: str) -> list[str]:
        args = [member, mode]
        for (limit, seconds), span in zip(self._configured, self._spans, strict=True):
            args += [f"{seconds:g}", str(limit), str(round(span * 1e6))]
        return args

    async def _script(self, mode: str) -> tuple[float, bool]:
        """Run the acquire script: (seconds to wait, whether a request was booked)."""
        self._count += 1
        try:
            async with asyncio.timeout(self._timeout):
                reply = await self._acquire_script(
                    keys=[self._pause_key, self._limits_key, *self._log_keys],
                    args=self._args(f"{self._member}{self._count}", mode),
                )
        except self._errors as exc:
            raise APIConnectionError(
                f"the rate limiter's Redis did not answer ({type(exc).__name__}: {exc})"
            ) from exc
        values = [int(v) for v in reply]
        now = self._clock()
        self._limits = values[3::3]
        self._last = (now, values)
        if values[2] > 0:  # another process shared a 429's pause
            self._paused_until = max(self._paused_until, now + values[2] / 1e6)
            self._resuming = True
        granted = bool(values[1])
        if granted and self._resuming:
            self._resuming = False
            self._probe_until = now + min(PROBE_TIMEOUT, self._configured[0][1])
        return values[0] / 1e6, granted

    def _local_wait(self) -> tuple[float, str]:
        """What this process knows without asking Redis: a pause, or an awaited answer."""
        now = self._clock()
        if self._paused_until > now:
            return self._paused_until - now, "paused after a 429"
        if self._probe_until is not None and self._probe_until > now:
            return self._probe_until - now, "resuming after a 429: waiting for the first answer"
        return 0.0, ""

    async def acquire(self, *, max_wait: float | None = None) -> None:
        """Wait until one request may be sent; see :class:`RateLimiter`."""
        local, _ = self._local_wait()
        if not self._waiters and local <= 0:
            wait, granted = await self._script("acquire")
            if granted:
                return
        else:
            wait = local
            if max_wait is not None:
                peek, _ = await self._script("peek")
                wait = max(wait, peek)
                # Those queued ahead go first, at best at the shortest window's pace.
                wait += len(self._waiters) * min(
                    span / limit for span, limit in zip(self._spans, self._limits, strict=True)
                )
        if max_wait is not None and wait > max_wait:
            raise self._refuse(wait, max_wait, self._wall())
        await self._queue()

    async def _grant_or_wait(self) -> tuple[float, str]:
        local, why = self._local_wait()
        if local > 0:
            return local, why
        wait, granted = await self._script("acquire")
        if granted:
            return 0.0, ""
        return max(wait, 1e-3), "budget shared through Redis spent"

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Share what a response said through Redis (in the background)."""
        longest = self._configured[-1][1]
        shortest = self._configured[0][1]
        obs = read_headers(status, headers, wall=self._wall(), longest=longest, shortest=shortest)
        index: int | None = None
        if obs.pause is None:
            if self._probe_until is not None:
                self._probe_until = None
                self._poke()  # the first answer after a pause came: the queue resumes
        else:
            self._paused_until = max(self._paused_until, self._clock() + obs.pause)
            self._resuming = True
            self._probe_until = None
            index = window_for_pause(obs.pause, [s for _, s in self._configured])
            logger.debug("429: pausing every request for %.1fs (shared)", obs.pause)
        if obs.limit is not None:
            by_limit = window_for_limit(
                obs.limit, self._limits, [limit for limit, _ in self._configured]
            )
            if index is None or self._limits[by_limit] == obs.limit:
                index = by_limit
            self._limits[index] = obs.limit
        if index is None:
            return
        self._count += 1
        args = [
            str(round(obs.pause * 1e6)) if obs.pause is not None else "0",
            f"{self._configured[index][1]:g}",
            "" if obs.limit is None else str(obs.limit),
            "" if obs.remaining is None else str(obs.remaining),
            str(round(self._spans[index] * 1e6)),
            f"{self._member}{self._count}:f",
            str(round(self._spans[-1] * 2000)),
        ]
        task = asyncio.ensure_future(self._share(index, args))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _share(self, index: int, args: list[str]) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._observe_script(
                    keys=[self._pause_key, self._limits_key, self._log_keys[index]], args=args
                )
        except self._errors as exc:
            logger.warning("could not share rate-limit headers through Redis: %s", exc)

    async def aclose(self) -> None:
        """Wait for the observations still being written to Redis."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def snapshot(self) -> RateLimitSnapshot:
        """The shared budget as of this process's last script call (no I/O)."""
        now = self._clock()
        paused_for = max(0.0, self._paused_until - now)
        if self._last is None:
            windows = tuple(
                WindowSnapshot(limit=limit, seconds=s, used=0, remaining=limit, resets_in=0.0)
                for limit, s in self.windows
            )
            return RateLimitSnapshot(
                windows=windows, paused_for=paused_for, waiting=len(self._waiters)
            )
        taken, values = self._last
        age = now - taken
        snaps = []
        for i, (_, seconds) in enumerate(self._configured):
            limit, used, resets_us = values[3 + 3 * i : 6 + 3 * i]
            snaps.append(
                WindowSnapshot(
                    limit=limit,
                    seconds=seconds,
                    used=used,
                    remaining=max(0, limit - used),
                    resets_in=max(0.0, resets_us / 1e6 - age),
                )
            )
        return RateLimitSnapshot(
            windows=tuple(snaps),
            paused_for=paused_for,
            waiting=len(self._waiters),
            available_in=max(paused_for, values[0] / 1e6 - age),
        )
