"""The system's one clock: every "now" of the application and its tests comes from here.

Real time by default.  ``WANGGE_NOW`` (an ISO 8601 date-time with offset) sets where the
clock stands when the process starts; it then runs on in real time, as a machine whose
clock reads that date would.  Tests build their histories relative to :func:`now`, so the
suite gives the same answers on any day and with the clock set years ahead; a test that
needs the clock to stand still uses :func:`frozen`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from gis.settings import get_settings

#: Local time of the deployments (Asia/Shanghai, UTC+8, no daylight saving).
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

_lock = threading.Lock()
_offset: timedelta | None = None
_frozen: datetime | None = None


#: Passed down to child processes (commands a test or the server starts): the shift this
#: process took from ``WANGGE_NOW``, so that every process of one run reads one clock.
#: Without it each child would start again at ``WANGGE_NOW``, and a hazard imported by
#: one command would not yet be in force for the next.
ANCHOR_ENV = "WANGGE_CLOCK_ANCHOR"


def _shift() -> timedelta:
    """How far the clock stands from real time (fixed when first asked).

    The first process that reads ``WANGGE_NOW`` fixes the shift and leaves it in its
    environment (:data:`ANCHOR_ENV`, with the ``WANGGE_NOW`` it came from); a child that
    inherits it and was given the same ``WANGGE_NOW`` takes that shift instead of starting
    the clock again.  A child given another ``WANGGE_NOW`` starts its own.
    """
    global _offset
    if _offset is None:
        with _lock:
            if _offset is None:
                start = get_settings().now
                if start is None:
                    _offset = timedelta(0)
                else:
                    _offset = _inherited(start)
                    if _offset is None:
                        _offset = start - datetime.now(UTC)
                        os.environ[ANCHOR_ENV] = f"{start.isoformat()}|{_offset.total_seconds()}"
    return _offset


def _inherited(start: datetime) -> timedelta | None:
    """The shift a parent process took from the same ``WANGGE_NOW``, if it left one."""
    anchor = os.environ.get(ANCHOR_ENV, "")
    given, _, seconds = anchor.rpartition("|")
    try:
        if given and datetime.fromisoformat(given) == start:
            return timedelta(seconds=float(seconds))
    except ValueError:
        return None
    return None


def now() -> datetime:
    """The current time, timezone-aware, in Asia/Shanghai."""
    if _frozen is not None:
        return _frozen.astimezone(LOCAL_TZ)
    return (datetime.now(UTC) + _shift()).astimezone(LOCAL_TZ)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return now().astimezone(UTC)


def today() -> datetime:
    """Local midnight that starts the current day (Asia/Shanghai)."""
    n = now()
    return n.replace(hour=0, minute=0, second=0, microsecond=0)


def monotonic() -> float:
    """Seconds of a clock that never goes back (for intervals, not dates)."""
    return time.monotonic()


@contextmanager
def frozen(at: datetime) -> Iterator[datetime]:
    """Stand the clock still at ``at`` (timezone-aware) inside the block; for tests."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("frozen() needs a timezone-aware date-time")
    previous = _frozen
    _frozen = at
    try:
        yield at
    finally:
        _frozen = previous


def reset() -> None:
    """Forget the shift read from the settings (after the settings changed)."""
    global _offset
    with _lock:
        _offset = None
        os.environ.pop(ANCHOR_ENV, None)


def month_of(at: datetime, tz: tzinfo = LOCAL_TZ) -> date:
    """The first day of the local month ``at`` falls in."""
    local = at.astimezone(tz)
    return date(local.year, local.month, 1)


def add_months(month: date, n: int) -> date:
    """The first day of the month ``n`` months after (before, for n < 0) ``month``."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_start(month: date, tz: tzinfo = LOCAL_TZ) -> datetime:
    """The instant the local month ``month`` begins."""
    return datetime(month.year, month.month, 1, tzinfo=tz)
