"""Plausible times: the one check every door applies to a time, and the safe reading of stored ones.

The check
---------
A time that *has happened* (a report's ``reported_at``, a worker's position, a row of a
12345 export or of a loaded file) must lie between the start of the system's records
(``WANGGE_EARLIEST_TIME``) and a few minutes past :func:`gis.clock.now`
(``WANGGE_CLOCK_SKEW_S``: phones and hotline systems run a little fast).  A *planned*
time (a hazard's validity, a deadline) or the bound of a query window may lie up to
``WANGGE_HORIZON_DAYS`` ahead.  Every door calls :func:`time_problem` (to collect the
problem with others) or :func:`check_time` (to raise it), so all of them refuse the same
times with the same words: the field, the time and the accepted range.

The reading
-----------
The database holds a wider, fixed range (:data:`gis.db.models.STORED_TIMES`, CHECK
constraints of migration 0007), but rows older than those constraints may hold
anything (``gis.db`` reads a value Python cannot hold, such as a year before 1 or
``infinity``, as the nearest one it can).  :func:`readable_times` turns the time columns
of a frame read from the database into nanosecond timestamps, leaving out (with a
logged warning naming the rows) those whose times lie outside the stored range: one bad
row must not take a dashboard down.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from gis import clock
from gis.db.models import STORED_TIMES
from gis.errors import Problem, ValidationError
from gis.settings import Settings, get_settings

log = logging.getLogger(__name__)


def accepted_range(
    *, planned: bool = False, settings: Settings | None = None
) -> tuple[datetime, datetime]:
    """The earliest and latest time a door accepts now (local time, Asia/Shanghai).

    Parameters
    ----------
    planned
        False for a time that has happened (latest: now plus the clock skew); True for
        a planned time or the bound of a query window (latest: now plus the horizon).
    settings
        Default: the process settings.
    """
    settings = settings or get_settings()
    now = clock.now()
    ahead = (
        timedelta(days=settings.horizon_days)
        if planned
        else timedelta(seconds=settings.clock_skew_s)
    )
    return settings.earliest_time.astimezone(clock.LOCAL_TZ), now + ahead


def _shown(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def _range_text(lo: datetime, hi: datetime, planned: bool) -> str:
    until = "now plus the horizon (WANGGE_HORIZON_DAYS)" if planned else "now plus a few minutes"
    return (
        f"give a time from {_shown(lo)} (WANGGE_EARLIEST_TIME) to {_shown(hi)} ({until}), "
        "with its offset, e.g. +08:00"
    )


def time_problem(
    at: datetime,
    field: str,
    *,
    planned: bool = False,
    layer: str = "request",
    row: int | None = None,
    record_id: str | None = None,
    settings: Settings | None = None,
) -> Problem | None:
    """The problem with one time, or None when it lies in the accepted range.

    A naive ``at`` is read as China time (Asia/Shanghai), as the doors read it.  The
    problem names ``field`` (and ``layer``/``row`` when given), the time and the range.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        at = at.replace(tzinfo=clock.LOCAL_TZ)
    lo, hi = accepted_range(planned=planned, settings=settings)
    if lo <= at <= hi:  # aware datetimes compare without conversion: no overflow at year 1
        return None
    if at < lo:
        message = f"{at.isoformat()} is out of range: before the system's records begin"
    elif planned:
        message = f"{at.isoformat()} is out of range: too far ahead"
    else:
        message = f"{at.isoformat()} is out of range: in the future by the server's clock"
    return Problem(layer, row, record_id, field, message, _range_text(lo, hi, planned))


def check_time(
    at: datetime, field: str, *, planned: bool = False, settings: Settings | None = None
) -> datetime:
    """``at`` when it lies in the accepted range (see :func:`time_problem`), made aware.

    A naive ``at`` is read, and returned, as China time (Asia/Shanghai).

    Raises
    ------
    gis.validate.ValidationError
        Naming the field, the time and the accepted range (422 over HTTP).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        at = at.replace(tzinfo=clock.LOCAL_TZ)
    problem = time_problem(at, field, planned=planned, settings=settings)
    if problem is not None:
        raise ValidationError([problem])
    return at


def check_time_column(
    frame: pd.DataFrame,
    layer: str,
    column: str,
    *,
    planned: bool = False,
    id_column: str | None = "id",
    settings: Settings | None = None,
) -> list[Problem]:
    """The rows of a layer whose ``column`` is not a time or lies outside the accepted range.

    Missing values are left to the required-column check; naive times are read as UTC,
    as the database reads them.
    """
    if column not in frame.columns:
        return []
    values = pd.to_datetime(frame[column], utc=True, errors="coerce", format="mixed")
    given = frame[column].notna().to_numpy()
    unreadable = given & values.isna().to_numpy()
    lo, hi = accepted_range(planned=planned, settings=settings)
    outside = ~unreadable & given & ~values.between(lo, hi).to_numpy(dtype=bool, na_value=True)
    ids = frame[id_column] if id_column is not None and id_column in frame.columns else None
    problems = []
    for pos in np.flatnonzero(unreadable | outside):
        rid = None if ids is None else str(ids.iloc[pos])
        if unreadable[pos]:
            problems.append(
                Problem(
                    layer,
                    int(pos) + 1,
                    rid,
                    column,
                    f"{frame[column].iloc[pos]!r} is not a date and time",
                    "write e.g. 2026-11-23T09:30:00+08:00",
                )
            )
        else:
            found = time_problem(
                values.iloc[pos].to_pydatetime(),
                column,
                planned=planned,
                layer=layer,
                row=int(pos) + 1,
                record_id=rid,
                settings=settings,
            )
            if found is not None:
                problems.append(found)
    return problems


def readable_times(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    table: str,
    required: Sequence[str] = (),
    id_column: str = "id",
) -> pd.DataFrame:
    """``frame`` with ``columns`` as tz-aware (UTC) nanosecond times, unreadable rows left out.

    A row is left out when one of its times lies outside :data:`gis.db.models.STORED_TIMES`
    or a ``required`` time is missing; a warning names the table and the rows, so that
    someone corrects them.

    Parameters
    ----------
    frame
        Rows read from the database (times as datetimes, ``None`` or NaT).
    columns
        Its time columns.
    table
        The table the rows come from, for the warning.
    required
        Columns that must hold a time (NOT NULL in the table).
    id_column
        The column naming each row in the warning.
    """
    lo, hi = STORED_TIMES
    times = {c: pd.to_datetime(frame[c], utc=True) for c in columns}
    bad = np.zeros(len(frame), dtype=bool)
    for column, values in times.items():
        inside = (values >= lo) & (values < hi)
        bad |= ~inside.to_numpy(dtype=bool) & values.notna().to_numpy()
        if column in required:
            bad |= values.isna().to_numpy()
    out = frame.copy() if not bad.any() else frame.loc[~bad].copy()
    if bad.any():
        ids = frame[id_column].to_numpy()[bad] if id_column in frame.columns else []
        shown = ", ".join(str(i) for i in ids[:20]) + (" …" if len(ids) > 20 else "")
        log.warning(
            "%s: %d row(s) left out, their %s lie outside %s–%s or cannot be read "
            "(ids %s); correct them in the database",
            table,
            int(bad.sum()),
            "/".join(columns),
            f"{lo:%Y-%m-%d}",
            f"{hi:%Y-%m-%d}",
            shown,
        )
    for column, values in times.items():
        out[column] = values[~bad].dt.as_unit("ns")
    return out
