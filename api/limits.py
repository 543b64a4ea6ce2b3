"""How much one caller may send: token buckets per credential and per address (限流).

Two limits, both in ``gis.settings``:

* **changing requests** (any method but GET, HEAD, OPTIONS) with a credential — a bearer
  token or a session cookie — share one bucket per credential:
  ``WANGGE_RATE_WRITES_PER_MIN`` a minute, in bursts of as many (one resident filed 1,925
  reports in 5.6 s before there was a bound);
* requests **without a credential** — the resident pages and APIs, Open311, the sign-in
  form — share one bucket per client address: ``WANGGE_RATE_PUBLIC_PER_MIN``.

A **registry search by text** counts against its account:
``WANGGE_RATE_SEARCHES_PER_HOUR`` an hour (:func:`limit_search`).  Its answer is masked
(``138****5678``, ``陈**``), but whether a household came back says whether a guess of the
hidden digits or characters was right: unbounded, the middle four digits of a phone fell
to 10,000 guesses in two minutes.

Besides, an **anonymous resident report** counts against its call-back phone number:
``WANGGE_RATE_REPORTS_PER_PHONE_PER_HOUR`` an hour (:func:`limit_phone`), so that one
number cannot flood the desk from many addresses.  The number is keyed by an HMAC with a
key drawn when the process starts: it is never kept, logged or said in clear.

Reads by signed-in staff are not limited: their pages load many tiles and fragments, and
their area rules bound what they see.  A refusal is a 429 with ``Retry-After``, raised
as :class:`gis.errors.TooManyRequests` before the route runs, so nothing is done.

The buckets live in the process (a bounded LRU of keys), or, with ``WANGGE_REDIS_URL``
set, in Redis (:class:`SharedBuckets`, one atomic script per request): then several app
servers behind one address share each caller's bound instead of granting it once per
server.  A Redis that does not answer within a quarter of a second leaves the request to
the process's own buckets (logged, retried after :data:`REDIS_RETRY_S`): the limits never
take the service down.  A credential is keyed by its SHA-256, never kept in clear; a
phone number by its blind index (:mod:`gis.crypt`, the same key on every server).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import redis.asyncio as aioredis
from fastapi import Request
from redis.exceptions import RedisError

from api.auth import SAFE_METHODS, SESSION_COOKIE
from gis import crypt
from gis.errors import TooManyRequests
from gis.settings import Settings

log = logging.getLogger("wangge")

#: Seconds the process's own buckets answer after Redis failed, before it is tried again.
REDIS_RETRY_S = 30.0
#: How long a request waits for Redis at most (connect and answer), seconds.
REDIS_TIMEOUT_S = 0.25

#: One token bucket in Redis, atomically: refill by Redis's own clock, spend one token if
#: there is one; the answer is -1 (allowed) or the seconds until a token is back.
#: KEYS[1]: the bucket; ARGV: capacity, tokens a second.
TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or capacity
local at = tonumber(held[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = -1
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return tostring(wait)
"""

#: Most keys remembered per bucket set; the least recently seen are forgotten first.
MAX_KEYS = 100_000


class TokenBuckets:
    """One token bucket per key: ``per_minute`` tokens, refilled evenly, bursts of as many.

    ``window_s``: the tokens are ``per_minute`` per this many seconds instead (an hour's
    allowance: ``TokenBuckets(10, window_s=3600)``).
    """

    def __init__(
        self,
        per_minute: int,
        *,
        window_s: float = 60.0,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.capacity = float(per_minute)
        self.rate = per_minute / window_s
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Spend one token of ``key``: None when allowed, else the seconds until one is back."""
        if self.capacity <= 0:
            return None
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / self.rate


class SharedBuckets:
    """The token buckets of every server in one Redis (see the module's docstring)."""

    def __init__(self, url: str, prefix: str = "wangge:rate:") -> None:
        self.client = aioredis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        self.prefix = prefix
        self._script = self.client.register_script(TAKE_SCRIPT)
        self._down_until = 0.0

    async def take(self, key: str, buckets: TokenBuckets) -> float | None:
        """Spend one token of ``key`` in Redis, with ``buckets``' capacity and rate.

        When Redis does not answer, ``buckets`` (the process's own) decides.
        """
        if buckets.capacity <= 0:
            return None
        if time.monotonic() >= self._down_until:
            try:
                wait = float(
                    await self._script(
                        keys=[self.prefix + key], args=[buckets.capacity, buckets.rate]
                    )
                )
                return None if wait < 0 else wait
            except (RedisError, OSError) as exc:
                self._down_until = time.monotonic() + REDIS_RETRY_S
                log.warning(
                    "Redis does not answer (%s): each server limits on its own for %.0f s",
                    type(exc).__name__,
                    REDIS_RETRY_S,
                )
        return buckets.take(key)


class RateLimits:
    """The bucket sets of one application (see the module's docstring)."""

    def __init__(self, settings: Settings):
        self.writes = TokenBuckets(settings.rate_writes_per_min)
        self.public = TokenBuckets(settings.rate_public_per_min)
        self.phones = TokenBuckets(settings.rate_reports_per_phone_per_hour, window_s=3600.0)
        self.searches = TokenBuckets(settings.rate_searches_per_hour, window_s=3600.0)
        self.shared = SharedBuckets(settings.redis_url) if settings.redis_url else None
        #: the phone numbers' hash key in the process's own buckets: drawn per process,
        #: so a key says nothing outside it
        self.phone_key = secrets.token_bytes(32)

    async def take(self, buckets: TokenBuckets, key: str) -> float | None:
        """Spend one token of ``key`` in ``buckets``, shared between servers when set."""
        if self.shared is not None:
            return await self.shared.take(key, buckets)
        return buckets.take(key)

    def phone_key_of(self, digits: str) -> str:
        """The bucket key of a phone number: the same on every server when shared."""
        if self.shared is not None:
            return crypt.keyed_digest("rate limit: phone", digits).hex()
        return hmac.new(self.phone_key, digits.encode(), hashlib.sha256).hexdigest()


def _credential(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or request.query_params.get("api_key") or None


def _digest(credential: str) -> str:
    return hashlib.sha256(credential.encode("utf-8", "surrogatepass")).hexdigest()


async def limit_rate(request: Request) -> None:
    """Refuse a request over its caller's share (429) before the route does anything."""
    limits: RateLimits | None = getattr(request.app.state, "limits", None)
    if limits is None:
        return
    credential = _credential(request)
    if credential is not None:
        if request.method in SAFE_METHODS:
            return
        wait = await limits.take(limits.writes, "c:" + _digest(credential))
        who = "this account"
        per_minute = limits.writes.capacity
    else:
        address = request.client.host if request.client else "unknown"
        wait = await limits.take(limits.public, "a:" + address)
        who = f"address {address}"
        per_minute = limits.public.capacity
    if wait is not None:
        raise TooManyRequests(
            f"请求过于频繁，请 {max(1, round(wait))} 秒后再试 (too many requests from {who}: "
            f"at most {per_minute:.0f} a minute; try again in {wait:.0f} s)",
            retry_after_s=wait,
        )


def _phone_digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


async def limit_phone(request: Request, phone: str | None) -> None:
    """Count an anonymous report against its call-back phone (429 over the hour's share).

    Called by the route once it has read the form, before anything is filed; the number
    is keyed by its HMAC (:meth:`RateLimits.phone_key_of`), never named in the answer.
    """
    limits: RateLimits | None = getattr(request.app.state, "limits", None)
    digits = _phone_digits(phone or "")
    if limits is None or not digits:
        return
    wait = await limits.take(limits.phones, "p:" + limits.phone_key_of(digits))
    if wait is not None:
        per_hour = limits.phones.capacity
        raise TooManyRequests(
            f"这个电话号码报事太频繁，请 {max(1, round(wait / 60))} 分钟后再试，或登录后报事 "
            f"(too many anonymous reports with this call-back number: at most {per_hour:.0f} "
            f"an hour; try again in {wait:.0f} s)",
            retry_after_s=wait,
        )


async def limit_search(request: Request, username: str) -> None:
    """Count a registry search by text against its account (429 over the hour's share)."""
    limits: RateLimits | None = getattr(request.app.state, "limits", None)
    if limits is None:
        return
    wait = await limits.take(limits.searches, "s:" + _digest(username))
    if wait is not None:
        per_hour = limits.searches.capacity
        raise TooManyRequests(
            f"查询过于频繁，请 {max(1, round(wait / 60))} 分钟后再试 (too many registry "
            f"searches by this account: at most {per_hour:.0f} an hour; try again in "
            f"{wait:.0f} s)",
            retry_after_s=wait,
        )
