"""How much one caller may send: token buckets per credential and per address (限流).

Two limits, both in ``gis.settings``:

* **changing requests** (any method but GET, HEAD, OPTIONS) with a credential — a bearer
  token or a session cookie — share one bucket per credential:
  ``WANGGE_RATE_WRITES_PER_MIN`` a minute, in bursts of as many (one resident filed 1,925
  reports in 5.6 s before there was a bound);
* requests **without a credential** — the resident pages and APIs, Open311, the sign-in
  form — share one bucket per client address: ``WANGGE_RATE_PUBLIC_PER_MIN``.

Besides, an **anonymous resident report** counts against its call-back phone number:
``WANGGE_RATE_REPORTS_PER_PHONE_PER_HOUR`` an hour (:func:`limit_phone`), so that one
number cannot flood the desk from many addresses.  The number is keyed by an HMAC with a
key drawn when the process starts: it is never kept, logged or said in clear.

Reads by signed-in staff are not limited: their pages load many tiles and fragments, and
their area rules bound what they see.  A refusal is a 429 with ``Retry-After``, raised
as :class:`gis.errors.TooManyRequests` before the route runs, so nothing is done.

The buckets live in the process (a bounded LRU of keys); with several app processes
each keeps its own, so the bound of a deployment is the per-process one times the
processes — a shared store (Redis) is the step for the province-scale deployment.
A credential is keyed by its SHA-256, never kept in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request

from api.auth import SAFE_METHODS, SESSION_COOKIE
from gis.errors import TooManyRequests
from gis.settings import Settings

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


class RateLimits:
    """The two bucket sets of one application (see the module's docstring)."""

    def __init__(self, settings: Settings):
        self.writes = TokenBuckets(settings.rate_writes_per_min)
        self.public = TokenBuckets(settings.rate_public_per_min)
        self.phones = TokenBuckets(settings.rate_reports_per_phone_per_hour, window_s=3600.0)
        #: the phone numbers' hash key: drawn per process, so a key says nothing outside it
        self.phone_key = secrets.token_bytes(32)


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
        wait = limits.writes.take("c:" + _digest(credential))
        who = "this account"
        per_minute = limits.writes.capacity
    else:
        address = request.client.host if request.client else "unknown"
        wait = limits.public.take("a:" + address)
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


def limit_phone(request: Request, phone: str | None) -> None:
    """Count an anonymous report against its call-back phone (429 over the hour's share).

    Called by the route once it has read the form, before anything is filed; the number
    is keyed by its HMAC (:attr:`RateLimits.phone_key`), never named in the answer.
    """
    limits: RateLimits | None = getattr(request.app.state, "limits", None)
    digits = _phone_digits(phone or "")
    if limits is None or not digits:
        return
    key = hmac.new(limits.phone_key, digits.encode(), hashlib.sha256).hexdigest()
    wait = limits.phones.take("p:" + key)
    if wait is not None:
        per_hour = limits.phones.capacity
        raise TooManyRequests(
            f"这个电话号码报事太频繁，请 {max(1, round(wait / 60))} 分钟后再试，或登录后报事 "
            f"(too many anonymous reports with this call-back number: at most {per_hour:.0f} "
            f"an hour; try again in {wait:.0f} s)",
            retry_after_s=wait,
        )
