"""A case's number carries the month it was reported in (案件编号: 年月 + 流水号).

``incident`` is partitioned by month (migration 0042), and a partitioned table's keys must
hold its partition key: a key on ``id`` alone — which the case's steps, photos, contacts,
check-ins, handovers, reminders and links refer to — is only possible when ``id`` *is*
the partition key.  So the number says the month: ``YYYYMM × 10⁹ + n``, ``n`` from the
table's one sequence (``202612000001234``: December 2026, the 1,234th case), and each
month's partition holds the numbers of its month (RANGE of ``id``), with a CHECK rule
that its cases' ``reported_at`` lies in that local month — so a read by number plans
one month, and a read by time plans only the months it spans (constraint exclusion).

A case whose month has no partition (one reported for a month before the table was
partitioned, when no loader made it) gets a plain ``n`` and lives in the DEFAULT
partition, as do the cases stored before migration 0042, which keep their numbers: a
number once given out never changes.  Numbers stay below 2⁵³ (a browser's exact
integers) until the year 9007.

The database computes the same number (``wangge_incident_id(reported_at)``, migration
0042) for the rows it files; a bulk load codes the file's numbers here, vectorised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import TypeVar

import numpy as np
import pandas as pd

from gis.clock import LOCAL_TZ, add_months, month_of, month_start

R = TypeVar("R")

#: A month's numbers: ``[YYYYMM × FACTOR, (YYYYMM + 1) × FACTOR)``.
FACTOR = 1_000_000_000
#: The smallest number that carries a month (January 1900); below it, a plain ``n``.
FIRST_CODED = 190001 * FACTOR
#: SQL of a stored number's serial part ``n`` (what the sequence gave).
SERIAL_SQL = f"(id % {FACTOR})"


def month_code(month: date) -> int:
    """``202612`` for December 2026."""
    return month.year * 100 + month.month


def month_of_code(code: int) -> date:
    """The first day of the month ``202612`` names."""
    return date(code // 100, code % 100, 1)


def first_id(month: date) -> int:
    """The lowest number of ``month``'s cases (its partition's lower bound)."""
    return month_code(month) * FACTOR


def is_coded(incident_id: int) -> bool:
    """Whether the number carries its month (not a plain one of the DEFAULT partition)."""
    return incident_id >= FIRST_CODED


def month_of_id(incident_id: int) -> date | None:
    """The month a number says, None for a plain one."""
    return month_of_code(incident_id // FACTOR) if is_coded(incident_id) else None


def coded_id(serial: int, reported_at: datetime) -> int:
    """The number of the case ``serial`` reported at ``reported_at`` (aware)."""
    return first_id(month_of(reported_at)) + serial


def local_month_codes(reported_at: pd.Series) -> np.ndarray:
    """``YYYYMM`` of each aware time, in local time (Asia/Shanghai), as int64."""
    local = pd.to_datetime(reported_at, utc=True).dt.tz_convert(LOCAL_TZ)
    return (local.dt.year * 100 + local.dt.month).to_numpy(dtype="int64")


def code_ids(serials: pd.Series, reported_at: pd.Series, months: Iterable[date]) -> pd.Series:
    """The numbers of a load's cases: coded when their month has a partition (``months``).

    ``serials`` are the file's ids (after any shift past the stored ones); a case whose
    month has no partition keeps its plain id (the DEFAULT partition).
    """
    codes = local_month_codes(reported_at)
    have = np.isin(codes, [month_code(m) for m in months])
    plain = serials.to_numpy(dtype="int64")
    return pd.Series(np.where(have, codes * FACTOR + plain, plain), index=serials.index)


def upper_bound(until: datetime) -> int:
    """A number above every case reported before ``until``: ``id < upper_bound(until)``.

    Said beside ``reported_at < until``, it lets the planner drop the later months by
    their key alone (a binary search) instead of proving each month's CHECK rule false,
    which costs planning time for every month kept; plain numbers lie below every bound.
    """
    return first_id(add_months(month_of(until - timedelta(microseconds=1)), 1))


def lower_bound(since: datetime) -> int:
    """The lowest coded number of a case reported at or after ``since``.

    Said as ``(id >= lower_bound(since) OR id < FIRST_CODED)`` beside ``reported_at >=
    since``: the plain numbers (DEFAULT) carry no month and are always read.
    """
    return first_id(month_of(since))


def time_bound_sql(
    alias: str, since: datetime | None, until: datetime | None, params: dict
) -> list[str]:
    """Conditions on ``{alias}.id`` that a time range of reports implies.

    Their values go in ``params`` (``case_since_id``, ``case_until_id``): said beside the
    range on ``reported_at``, the planner keeps only the months it spans (and DEFAULT).
    """
    out = []
    if since is not None:
        out.append(_from_month_of(alias, "case_since_id", since, params))
    if until is not None:
        params["case_until_id"] = upper_bound(until)
        out.append(f"{alias}.id < :case_until_id")
    return out


def and_time_bound(alias: str, since: datetime | None, until: datetime | None, params: dict) -> str:
    """:func:`time_bound_sql` as text to append to a WHERE clause (`` AND …``, or nothing)."""
    return "".join(f" AND {c}" for c in time_bound_sql(alias, since, until, params))


#: How far back, in months before a newest-first read's newest possible case, it looks
#: first, then next, before it reads every month kept (:func:`newest_first`).
WINDOWS = (2, 12)


def _from_month_of(alias: str, name: str, since: datetime, params: dict) -> str:
    """The cases whose number carries ``since``'s month or a later one, and the plain."""
    params[name] = lower_bound(since)
    return f"({alias}.id >= :{name} OR {alias}.id < {FIRST_CODED})"


def window_sql(alias: str, start: datetime | None, params: dict) -> list[str]:
    """The condition leaving out the cases of months before ``start``'s (the plain kept).

    None without ``start``.
    """
    return [] if start is None else [_from_month_of(alias, "case_window_id", start, params)]


def newest_first(
    read: Callable[[datetime | None], list[R]],
    wanted: int,
    reported_at: Callable[[R], datetime],
    *,
    newest: datetime,
    since: datetime | None = None,
) -> list[R]:
    """The rows of a newest-first read of cases, from the last months first.

    Cases are kept by month, and a newest-first read over every month kept merges a walk
    of each month — planned and started for every month, though its first rows nearly
    always lie in the last few.  ``read(start)`` reads with the cases of months before
    ``start``'s left out (:func:`window_sql`; None: all); its answer is taken when it
    holds ``wanted`` rows and the ``wanted``-th was reported at or after ``start`` —
    no case left out can then come before it — else a wider window is read, then all.
    ``newest``: no case of the read is reported after it (its upper bound, or now);
    ``since``: the read's own lower bound, when it has one.
    """
    for back in WINDOWS:
        start = month_start(add_months(month_of(newest), -back))
        if since is not None and since >= start:
            break  # the read's own range is narrower: read it as it is
        rows = read(start)
        if wanted > 0 and len(rows) >= wanted and reported_at(rows[wanted - 1]) >= start:
            return rows
    return read(None)
