"""``RedisRateLimiter``: one token's budget shared by many processes and machines.

The rules are those of :class:`~trakk_async.TokenBucketLimiter` (``_core``: each process
reads its answers, pauses, sends one request alone, spaces its requests); only the
budget lives in Redis. One Lua script does everything that touches it, atomically and on
the Redis server's clock (``TIME``): it applies the updates this process learnt from its
answers since the last call (the same operations as ``_log.Budget.apply``), expires old
bookings, and books one request in every window, or says how long to wait. Updates are
sent with the next request, or by a background flush when none comes; :meth:`aclose`
flushes what is left. Keys are named from a hash of the token (never the token itself)
and expire on their own.

Imported only when a RedisRateLimiter is built: ``redis`` is an optional dependency.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

import orjson

from trakk_async._core.errors import APIConnectionError
from trakk_async._core.timing import Clock, Sleep
from trakk_async.ratelimit._api import RateLimitSnapshot, WindowSnapshot
from trakk_async.ratelimit._core import LimiterCore, Update, check_margin, read_answer
from trakk_async.ratelimit._local import default_windows, log_update
from trakk_async.ratelimit._log import default_margin
from trakk_async.ratelimit._queue import FairQueue

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisRateLimiter", "token_key"]

logger = logging.getLogger("trakk_async.ratelimit")

#: A probe of a longer window holds this lock so that one process probes at a time; it
#: expires by itself if that process dies before the answer.
PROBE_LOCK: Final = 30.0
#: Between two attempts to flush updates to an unreachable Redis.
FLUSH_RETRY: Final = 0.5
#: The first wait before a script call is tried again (doubling, within ``timeout``).
FIRST_RETRY: Final = 0.1

# A booking is a sorted-set member "count:foreign:id" scored by its time in microseconds;
# a string key beside each set holds the sum of the counts.
#
# KEYS: pause, limits (hash), probe lock, then per window: bookings (zset), total.
# ARGV: call id (unique), mode ("acquire" or "peek"), may_probe ("1"/"0"), reserve,
#       release (the probe lock's value to delete, or ""), updates (JSON list), then
#       per window: name, configured limit, span_us, known ("1"/"0").
# Returns: {wait_us (-1: only as a probe, not now), granted (0, 1, 2: as a probe),
#           paused_us, foreign booked, then per window: limit, used, resets_us, known}.
_SYNC = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = (#KEYS - 3) / 2
local id, seq = ARGV[1], 0
local names, spans, zs, tots, limits, known = {}, {}, {}, {}, {}, {}
for i = 1, n do
  local b = 7 + 4 * (i - 1)
  names[i], spans[i] = ARGV[b], tonumber(ARGV[b + 2])
  zs[i], tots[i] = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
  limits[i] = tonumber(redis.call('HGET', KEYS[2], names[i]) or ARGV[b + 1])
  known[i] = (redis.call('HGET', KEYS[2], 'known:' .. names[i]) or ARGV[b + 3]) == '1'
end

local function count(member)
  local c, f = string.match(member, '^(%d+):(%d):')
  return tonumber(c), f == '1'
end
local function used(i) return tonumber(redis.call('GET', tots[i]) or '0') end
local function keep(i)
  local ms = math.ceil(spans[i] / 1000) + 1000
  redis.call('PEXPIRE', zs[i], ms)
  redis.call('PEXPIRE', tots[i], ms)
end
local function expire(i)
  -- the one expiry rule, in whole microseconds: booked_at + span <= now
  local old = redis.call('ZRANGEBYSCORE', zs[i], '-inf', now - spans[i])
  if #old == 0 then return end
  local gone = 0
  for _, m in ipairs(old) do gone = gone + count(m) end
  redis.call('ZREMRANGEBYSCORE', zs[i], '-inf', now - spans[i])
  redis.call('DECRBY', tots[i], gone)
end
local function book(i, at, c, foreign)
  if c <= 0 then return end
  seq = seq + 1
  redis.call('ZADD', zs[i], at, c .. ':' .. (foreign and '1' or '0') .. ':' .. id .. ':' .. seq)
  redis.call('INCRBY', tots[i], c)
  keep(i)
end
local function unbook(i, c)
  local newest = redis.call('ZREVRANGE', zs[i], 0, -1, 'WITHSCORES')
  for k = 1, #newest, 2 do
    if c <= 0 then return end
    local have, foreign = count(newest[k])
    if not foreign then
      local taken = math.min(c, have)
      redis.call('ZREM', zs[i], newest[k])
      redis.call('DECRBY', tots[i], taken)
      c = c - taken
      if have > taken then
        seq = seq + 1
        redis.call('ZADD', zs[i], newest[k + 1], (have - taken) .. ':0:' .. id .. ':' .. seq)
      end
    end
  end
end
local function used_since(i, since)
  local total = 0
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', zs[i], since, '+inf')) do
    total = total + count(m)
  end
  return total
end
local function redate_foreign(i, opened)
  local moved = 0
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', zs[i], '(' .. opened, '+inf')) do
    local c, foreign = count(m)
    if foreign then
      redis.call('ZREM', zs[i], m)
      redis.call('DECRBY', tots[i], c)
      moved = moved + c
    end
  end
  book(i, opened, moved, true)
end
local function set_limit(i, limit, is_known)
  limits[i] = limit
  redis.call('HSET', KEYS[2], names[i], limit)
  if is_known then
    known[i] = true
    redis.call('HSET', KEYS[2], 'known:' .. names[i], '1')
  end
  redis.call('PEXPIRE', KEYS[2], math.ceil(spans[n] / 500))
end

-- The updates learnt from answers: the steps of Budget.apply, in the same order.
local foreign_booked = 0
if ARGV[5] ~= '' and redis.call('GET', KEYS[3]) == ARGV[5] then
  redis.call('DEL', KEYS[3])
end
for _, u in ipairs(cjson.decode(ARGV[6])) do
  if u.limit then set_limit(1, u.limit, true) end
  if u.move then
    for i = 1, n do redis.call('ZADD', zs[i], 'XX', now, '1:0:' .. u.move .. ':g') end
  end
  if u.refused then for i = 1, n do unbook(i, 1) end end
  if u.counted then
    expire(1)
    local missing = u.counted - used(1)
    if missing > 0 then
      book(1, now - u.opened_ago, missing, true)
      foreign_booked = foreign_booked + missing
    end
  end
  if u.redate then redate_foreign(1, now - u.opened_ago) end
  if u.pause > 0 then
    local untl = now + u.pause
    if untl > tonumber(redis.call('GET', KEYS[1]) or '0') then
      redis.call('SET', KEYS[1], untl, 'PX', math.ceil(u.pause / 1000) + 1000)
    end
  end
  if u.learn then
    local i = u.learn + 1
    expire(i)
    set_limit(i, math.max(1, used_since(i, now - u.learn_ago) - u.learn_in_flight), true)
  end
  if u.probe_passed then
    for i = 2, n do
      if not known[i] then
        expire(i)
        set_limit(i, math.max(limits[i], used(i)), false)
      end
    end
  end
end

-- Whether one more request fits now, and if not, when.
local wait, paused = 0, 0
local pause = tonumber(redis.call('GET', KEYS[1]) or '0')
if pause > now then wait, paused = pause - now, pause - now end
local probe = false
for i = 1, n do
  expire(i)
  local reserve = 0
  if i == 1 then  -- capped as _log.capped_reserve does
    reserve = math.min(tonumber(ARGV[4]), math.max(1, math.floor(limits[i] / 10)), limits[i] - 1)
  end
  local excess = used(i) - limits[i] + 1 + reserve
  if excess > 0 then
    if i > 1 and not known[i] then
      probe = true
    else
      local entries = redis.call('ZRANGE', zs[i], 0, -1, 'WITHSCORES')
      for k = 1, #entries, 2 do
        excess = excess - count(entries[k])
        if excess <= 0 then
          local free = tonumber(entries[k + 1]) + spans[i] - now
          if free > wait then wait = free end
          break
        end
      end
    end
  end
end
local granted = 0
if wait <= 0 and probe then
  if ARGV[3] ~= '1' then
    wait = -1
  elseif ARGV[2] == 'acquire' then
    if redis.call('SET', KEYS[3], id, 'NX', 'PX', PROBE_LOCK_MS) then
      granted = 2
    else
      wait = math.max(1000, redis.call('PTTL', KEYS[3]) * 1000)
    end
  end
elseif wait <= 0 and ARGV[2] == 'acquire' then
  granted = 1
end
if granted > 0 then
  for i = 1, n do
    redis.call('ZADD', zs[i], now, '1:0:' .. id .. ':g')  -- named, to be moved later
    redis.call('INCRBY', tots[i], 1)
    keep(i)
  end
end
local out = {wait, granted, paused, foreign_booked}
for i = 1, n do
  local oldest = redis.call('ZRANGE', zs[i], 0, 0, 'WITHSCORES')
  local resets = 0
  if oldest[2] then resets = tonumber(oldest[2]) + spans[i] - now end
  out[#out + 1] = limits[i]
  out[#out + 1] = used(i)
  out[#out + 1] = resets
  out[#out + 1] = known[i] and 1 or 0
end
return out
""".replace("PROBE_LOCK_MS", str(round(PROBE_LOCK * 1000)))


def token_key(token: str, prefix: str = "trakk:rl") -> str:
    """The key prefix of a token: a hash, never the token; braces keep Cluster slots equal."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:24]
    return f"{prefix}:{{{digest}}}"


def _micros(seconds: float) -> int:
    return round(seconds * 1e6)


def _encode(updates: Sequence[Update], alone_calls: Mapping[float, str]) -> bytes:
    """The updates as the script reads them: times in microseconds, no nulls (Lua's
    cjson turns null into a value that tests true), the booking of a request that went
    alone named by the call that made it (``alone_calls``: grant time -> call id)."""
    out = []
    for u in updates:
        fields: dict[str, object] = {
            "opened_ago": _micros(u.opened_ago),
            "redate": u.redate,
            "refused": u.refused,
            "pause": _micros(u.pause),
            "learn_ago": _micros(u.learn_ago),
            "learn_in_flight": u.learn_in_flight,
            "probe_passed": u.probe_passed,
        }
        for name, value in (("limit", u.limit), ("counted", u.counted), ("learn", u.learn)):
            if value is not None:
                fields[name] = value
        if u.alone_granted is not None and u.alone_granted in alone_calls:
            fields["move"] = alone_calls[u.alone_granted]
        out.append(fields)
    return orjson.dumps(out)


class RedisRateLimiter(FairQueue):
    """A :class:`RateLimiter` whose budget lives in Redis, shared by every process using it.

    ::

        import redis.asyncio as redis
        limiter = RedisRateLimiter(redis.Redis(), token=token)   # learns the token's limits
        async with TrakkClient(token, rate_limiter=limiter) as client:
            ...
        await limiter.aclose()

    ``redis`` is a ``redis.asyncio.Redis`` client (the caller owns and closes it).
    ``token`` only names the keys (through a SHA-256 hash). ``per_minute``, ``per_hour``,
    ``windows`` and ``margin`` are those of :class:`TokenBucketLimiter`, and so are the
    rules (they are the same code); what one process learns (a limit, another
    consumer's requests, a 429's pause) holds for all. Inside one process, waiters are
    served in FIFO order and only the first one talks to Redis.

    Redis unreachable: each call is tried again for up to ``timeout`` seconds, then
    :meth:`acquire` raises :class:`APIConnectionError` (never hangs), which the client
    retries like a dropped connection; what this process learnt meanwhile is kept and
    sent once Redis answers.
    Call :meth:`aclose` before closing the Redis client: it sends what is left.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        *,
        token: str,
        per_minute: int | None = None,
        per_hour: int | None = None,
        windows: Iterable[tuple[int, float]] | None = None,
        margin: float | None = None,
        key_prefix: str = "trakk:rl",
        timeout: float = 5.0,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        # The optional dependency: imported here, so that a missing one fails with its name.
        from redis import exceptions as redis_exceptions

        super().__init__(clock=clock, sleep=sleep)
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty str (it only names the keys)")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        checked, known = default_windows(per_minute, per_hour, windows)
        fixed = check_margin(margin)
        self._redis = redis
        self._errors: tuple[type[BaseException], ...] = (
            redis_exceptions.RedisError,
            OSError,
            TimeoutError,
        )
        self._configured = checked
        self._known = known
        self._spans = [s + (default_margin(s) if fixed is None else fixed) for _, s in checked]
        base = token_key(token, key_prefix)
        self._base = base
        self._keys = [f"{base}:pause", f"{base}:limits", f"{base}:probe"]
        for _, seconds in checked:
            self._keys += [f"{base}:w{seconds:g}", f"{base}:n{seconds:g}"]
        self._script = redis.register_script(_SYNC)
        self._id = f"{os.getpid()}:{os.urandom(6).hex()}"
        self._calls = 0
        self._timeout = float(timeout)
        self._wall = wall
        self._core = LimiterCore([seconds for _, seconds in checked])
        #: Updates learnt from answers, not yet in Redis, oldest first.
        self._pending: list[Update] = []
        self._flusher: asyncio.Task[None] | None = None
        self._alone_calls: dict[float, str] = {}  # the request that went alone
        self._probe_lock = ""  # the lock of our probe, answered: to release ("" when none)
        self._probing = ""  # the lock of our probe in flight
        #: The last reply: (local time, values) for the snapshot.
        self._last: tuple[float, list[int]] | None = None

    def __repr__(self) -> str:
        windows = ", ".join(f"{limit}/{seconds:g}s" for limit, seconds in self.windows)
        return f"<RedisRateLimiter {self._base} {windows}>"

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        """The ``(limit, seconds)`` windows as of the last reply from Redis."""
        if self._last is None:
            return self._configured
        values = self._last[1]
        return tuple(
            (values[4 + 4 * i], seconds) for i, (_, seconds) in enumerate(self._configured)
        )

    def _hold(self, now: float) -> tuple[float, str]:
        return self._core.hold(now, span=self._spans[0], limit=self.windows[0][0])

    async def _sync(self, mode: str, *, may_probe: bool, reserve: int) -> list[int]:
        """Run the script: apply the pending updates, then book (``acquire``) or look."""
        batch, self._pending = self._pending, []
        release, self._probe_lock = self._probe_lock, ""
        self._calls += 1
        args: list[str | bytes] = [
            f"{self._id}:{self._calls}",  # names this call's bookings: unique
            mode,
            "1" if may_probe else "0",
            str(reserve),
            release,
            _encode(batch, self._alone_calls),
        ]
        for (limit, seconds), span, known in zip(
            self._configured, self._spans, self._known, strict=True
        ):
            args += [f"{seconds:g}", str(limit), str(_micros(span)), "1" if known else "0"]
        try:
            reply = await self._call(args)
        except BaseException as exc:
            # Not applied: kept for the next call, in order (a cancellation included).
            self._pending[:0] = batch
            self._probe_lock = self._probe_lock or release
            if isinstance(exc, self._errors):
                raise APIConnectionError(
                    f"the rate limiter's Redis did not answer ({type(exc).__name__}: {exc})"
                ) from exc
            raise
        values = [int(v) for v in reply]
        now = self._clock()
        self._last = (now, values)
        for update in batch:  # after the script: a learnt limit is in the reply's windows
            log_update(update, 0, lambda: self.windows)
        if values[2] > 0:  # a pause, shared by a process that got a 429
            self._core.paused_elsewhere(now, now + values[2] / 1e6)
        if values[3] > 0:
            self._core.saw_others(now, self._spans[0], values[3])
        return values

    async def _call(self, args: list[str | bytes]) -> list[int]:
        """The script, tried again while Redis refuses connections, for at most
        ``timeout`` seconds in all: a restart or a failover of a few seconds goes
        unnoticed."""
        deadline = self._clock() + self._timeout
        delay = FIRST_RETRY
        while True:
            try:
                async with asyncio.timeout(max(0.0, deadline - self._clock())):
                    reply: list[int] = await self._script(keys=self._keys, args=args)
                    return reply
            except self._errors as exc:
                left = deadline - self._clock()
                if isinstance(exc, TimeoutError) or left <= 0:
                    raise
                await self._sleep(min(delay, left))
                delay *= 2

    async def acquire(self, *, max_wait: float | None = None) -> None:
        """Wait until one request may be sent; see :class:`RateLimiter`.

        Always through the queue: its head is the only task of this process talking to
        Redis, so what one answer teaches (go alone, a pause) holds for the next.
        """
        if max_wait is not None:
            wait = await self._expected_wait(len(self._waiters))
            if wait > max_wait:
                raise self._refuse(wait, max_wait, self._wall())
        await self._queue()

    async def _grant_or_wait(self) -> tuple[float, str]:
        now = self._clock()
        hold, why = self._hold(now)
        if hold > 0:
            if hold != math.inf and self._core.paused_until <= now:
                self._core.outran(now, self._spans[0])
            return hold, why
        values = await self._sync(
            "acquire", may_probe=self._core.may_probe(now), reserve=self._core.reserve(now)
        )
        now = self._clock()
        wait, granted = values[0], values[1]
        if granted:
            call = f"{self._id}:{self._calls}"
            self._core.granted(now, probe=granted == 2)
            self._probing = call if granted == 2 else ""
            if self._core.alone_out:  # its booking moves when the answer comes
                self._alone_calls = {now: call}
            return 0.0, ""
        if wait < 0:
            return math.inf, "waiting for the requests in flight before probing a longer window"
        self._core.outran(now, self._spans[0])
        hold, why = self._hold(now)  # a pause just learnt
        return max(wait / 1e6, hold), why or "the budget shared through Redis is spent"

    async def _expected_wait(self, ahead: int) -> float:
        now = self._clock()
        hold, _ = self._hold(now)
        values = await self._sync("peek", may_probe=False, reserve=self._core.reserve(now))
        wait = max(0.0 if hold == math.inf else hold, values[0] / 1e6)
        # Those queued ahead go first, at best at the shortest window's pace.
        return wait + ahead * self._spans[0] / self.windows[0][0]

    def observe(self, status: int | None, headers: Mapping[str, str]) -> None:
        """Learn from an attempt's answer (None: none came); shared through Redis."""
        now = self._clock()
        if self._probing:  # released with the next script call
            self._probe_lock, self._probing = self._probing, ""
        if status is None:
            self._core.no_answer(now)
        else:
            update = self._core.answered(now, read_answer(status, headers, wall=self._wall()))
            if update.changes_budget:  # logged once the script has applied it (_sync)
                self._pending.append(update)
        if self._pending or self._probe_lock:
            self._start_flush()
        self._poke()

    def _start_flush(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        """Send pending updates now (another process may be about to send a request):
        retried until Redis answers; a request of this process sends them too."""
        delay = FLUSH_RETRY
        while self._pending or self._probe_lock:
            now = self._clock()
            try:
                await self._sync("peek", may_probe=False, reserve=self._core.reserve(now))
            except APIConnectionError as exc:
                logger.warning("rate limit: could not share what was learnt through Redis: %s", exc)
                await self._sleep(delay)
                delay = min(delay * 2, self._timeout)
            else:
                self._poke()

    async def aclose(self) -> None:
        """Send what this process learnt and Redis has not heard yet (at most ``timeout``
        seconds, then it is dropped with a warning). Call it before closing Redis."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None and not flusher.done():
            try:
                await asyncio.wait_for(asyncio.shield(flusher), self._timeout)
            except TimeoutError:
                flusher.cancel()
                await asyncio.gather(flusher, return_exceptions=True)
        if self._pending or self._probe_lock:
            try:
                await self._sync("peek", may_probe=False, reserve=0)
            except (APIConnectionError, asyncio.CancelledError) as exc:
                logger.warning(
                    "rate limit: %d updates not shared through Redis: %s", len(self._pending), exc
                )
                self._pending.clear()

    def snapshot(self) -> RateLimitSnapshot:
        """The shared budget as of this process's last script call (no I/O)."""
        now = self._clock()
        paused_for = max(0.0, self._core.paused_until - now)
        hold, why = self._hold(now)
        hold = 0.0 if hold == math.inf else hold
        if self._last is None:
            windows = tuple(
                WindowSnapshot(
                    limit=limit, seconds=s, used=0, remaining=limit, resets_in=0.0, known=k
                )
                for (limit, s), k in zip(self._configured, self._known, strict=True)
            )
            return RateLimitSnapshot(
                windows=windows,
                paused_for=paused_for,
                waiting=len(self._waiters),
                available_in=hold,
                wait_reason=why,
            )
        taken, values = self._last
        age = now - taken
        snaps = []
        for i, (_, seconds) in enumerate(self._configured):
            limit, used, resets_us, known = values[4 + 4 * i : 8 + 4 * i]
            snaps.append(
                WindowSnapshot(
                    limit=limit,
                    seconds=seconds,
                    used=used,
                    remaining=max(0, limit - used),
                    resets_in=max(0.0, resets_us / 1e6 - age),
                    known=bool(known),
                )
            )
        budget_wait = max(0.0, values[0] / 1e6 - age)
        if budget_wait > hold:
            hold, why = budget_wait, self._wait_reason or "the budget shared through Redis is spent"
        return RateLimitSnapshot(
            windows=tuple(snaps),
            paused_for=paused_for,
            waiting=len(self._waiters),
            available_in=hold,
            wait_reason=why,
        )
