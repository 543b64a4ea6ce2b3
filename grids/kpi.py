"""Compute the incident KPIs of 考核 (结案率, 按期结案率, times, satisfaction) per group.

Pure: DataFrames in, a DataFrame out, no database.  :func:`kpis` takes the ``incident``
rows (as :mod:`gis.db.models` / ``etl.sample`` lay them out) and optionally their
``incident_event`` history, and returns one row per group with the columns of
:data:`KPI_COLUMNS`; :data:`KPI_LABELS` names them in Chinese for printed reports.

Definitions (every count is as of ``now``)
-----------------------------------------
closed (结案数)
    ``closed_at`` is set and ``closed_at <= now``.  The state is not consulted
    (``closed`` and ``rated`` both carry ``closed_at``).
rejected (不予立案)
    ``state == "rejected"``.  A rejected report never became a case with a time
    limit, so it is **excluded from due** (and from closed, on time, overdue), as in
    digital city-management assessment where only 立案 cases are assessed.  It is still
    counted in ``cases`` and ``rejected`` for context.
due (应结案数)
    A non-rejected case that is closed (as above) or whose ``deadline < now``.  In
    other words a case becomes due at ``due_at = min(deadline, closed_at)``: when its
    time limit runs out, or when it is closed, whichever comes first.  A case still
    open within its time limit is *not yet due*; an open case never dispatched has no
    deadline (the clock starts at 派遣) and is not due either.
closed on time (按期结案数)
    Closed and ``closed_at <= deadline`` (a closed case with no deadline could not be
    late and counts as on time).  ``closed_late`` = closed − closed on time.
overdue open (超期未结)
    Not rejected, not closed, ``deadline < now``.  By construction
    ``due = closed + overdue_open`` in every group.
结案率 / 按期结案率
    ``close_rate = closed / due`` and ``on_time_rate = closed_on_time / due``; NaN for a
    group with nothing due.  Since every flag is per case and groups partition the
    cases, ``on_time <= closed <= due`` holds in each group, so both rates are in [0, 1].
hours to dispatch
    From ``reported_at`` to the first ``dispatched`` event at or before ``now``; needs
    ``events`` (NaN without them).  Over every case of the group dispatched by ``now``.
hours to close
    From ``reported_at`` to ``closed_at``, over the closed cases of the group.
satisfaction
    Over closed cases with a rating (1–5): ``rated``, ``rating_mean`` and
    ``satisfied_share`` = share of ratings ≥ 4 (满意率).  The rating is taken from the
    incident row as it stands (the row is a snapshot; no rating time is checked).

Periods
-------
With ``period`` (``"day"``, ``"week"`` — weeks start on Monday — or ``"month"``) each case
is assigned to the period containing, by default (``period_by="due"``), its ``due_at``
(``deadline``, or ``closed_at`` if closed earlier), in local time (``tz``,
Asia/Shanghai).  That is the assessment date of 应结案: a case counts in the period in
which it fell due or was closed early, so a period's rates reflect the cases that had to
be finished in it; a case closed late stays in the period of its deadline, where it was
due (its period's 结案率 rises when it is closed, its 按期结案率 does not).  Open cases
inside their time limit land in the period of their future deadline (with due 0 until it
passes); cases with no deadline and not closed (rejected, not yet dispatched) have no
period (NaT).  ``period_by="reported"`` assigns cases by ``reported_at`` instead (a
workload view: what was reported in the period and how it has been handled since).
Either way the period column holds the period's start as a tz-aware timestamp.

Groups
------
``by`` names dimensions: ``"grid"`` (the first of the columns ``grid_code``, ``grid_id``,
``grid``), ``"worker"`` (``assignee_id``), ``"category"`` (``category_code``),
``"source"``, ``"period"``; any other name is taken as a column of ``incidents``.
Missing keys (no grid, no assignee, no period) form their own group, so that the groups
always add up to the total; ``by=()`` gives the single total row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["DIMENSIONS", "KPI_COLUMNS", "KPI_LABELS", "PERIODS", "kpis", "with_chinese_labels"]

#: Grouping dimensions and the incident columns they read (the first one present).
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "grid": ("grid_code", "grid_id", "grid"),
    "worker": ("assignee_id",),
    "category": ("category_code",),
    "source": ("source",),
}

#: Period lengths accepted by :func:`kpis`.
PERIODS: tuple[str, ...] = ("day", "week", "month")

#: The KPI columns of :func:`kpis`, after the group keys, in order.
KPI_COLUMNS: tuple[str, ...] = (
    "cases",
    "rejected",
    "open",
    "due",
    "closed",
    "closed_on_time",
    "closed_late",
    "overdue_open",
    "close_rate",
    "on_time_rate",
    "dispatched",
    "dispatch_hours_mean",
    "dispatch_hours_median",
    "close_hours_mean",
    "close_hours_median",
    "rated",
    "rating_mean",
    "satisfied_share",
)

#: Chinese labels for reports: group keys and KPI columns.
KPI_LABELS: dict[str, str] = {
    "grid": "网格",
    "worker": "网格员",
    "category": "事件类别",
    "source": "来源",
    "period": "时段",
    "cases": "事件数",
    "rejected": "不予立案数",
    "open": "未结案数",
    "due": "应结案数",
    "closed": "结案数",
    "closed_on_time": "按期结案数",
    "closed_late": "超期结案数",
    "overdue_open": "超期未结数",
    "close_rate": "结案率",
    "on_time_rate": "按期结案率",
    "dispatched": "已派遣数",
    "dispatch_hours_mean": "平均派遣时长(小时)",
    "dispatch_hours_median": "派遣时长中位数(小时)",
    "close_hours_mean": "平均结案时长(小时)",
    "close_hours_median": "结案时长中位数(小时)",
    "rated": "评价数",
    "rating_mean": "平均评分",
    "satisfied_share": "满意率",
}

TZ = "Asia/Shanghai"
_REQUIRED = ("id", "reported_at", "deadline", "closed_at", "state")
_HOUR = pd.Timedelta(hours=1)


def _local(times: pd.Series, tz: str) -> pd.Series:
    """Times as tz-aware datetimes in ``tz`` (naive ones are taken as local already)."""
    times = pd.to_datetime(times)
    if times.dt.tz is None:
        return times.dt.tz_localize(tz)
    return times.dt.tz_convert(tz)


def _now(now: datetime | str | pd.Timestamp | None, tz: str) -> pd.Timestamp:
    """``now`` as a tz-aware timestamp; the current time when None."""
    ts = pd.Timestamp.now(tz=tz) if now is None else pd.Timestamp(now)
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def _period_start(times: pd.Series, period: str) -> pd.Series:
    """The start of the day, week (Monday) or month containing each time (NaT stays NaT)."""
    day = times.dt.normalize()
    if period == "day":
        return day
    if period == "week":
        return day - pd.to_timedelta(times.dt.day_of_week, unit="D")
    return day - pd.to_timedelta(times.dt.day - 1, unit="D")


def _dimension_column(incidents: pd.DataFrame, name: str) -> str:
    """The incident column that a ``by`` name reads."""
    for column in DIMENSIONS.get(name, (name,)):
        if column in incidents.columns:
            return column
    wanted = " or ".join(DIMENSIONS.get(name, (name,)))
    raise ValueError(f"cannot group by {name!r}: incidents have no column {wanted}")


def _first_dispatch(
    ids: pd.Series, events: pd.DataFrame | None, now: pd.Timestamp, tz: str
) -> pd.Series:
    """Time of each incident's first ``dispatched`` event at or before ``now`` (NaT if none)."""
    if events is None:
        return pd.Series(pd.NaT, index=ids.index, dtype=f"datetime64[ns, {tz}]")
    missing = {"incident_id", "to_state", "at"} - set(events.columns)
    if missing:
        raise ValueError(f"events lack columns {sorted(missing)}")
    at = _local(events["at"], tz)
    keep = (events["to_state"] == "dispatched").to_numpy(dtype=bool, na_value=False) & (
        at <= now
    ).to_numpy(dtype=bool)
    first = at[keep].groupby(events["incident_id"][keep].to_numpy()).min()
    found = first.reindex(ids.to_numpy()).astype(f"datetime64[ns, {tz}]")
    return pd.Series(found.array, index=ids.index)


def _case_table(
    incidents: pd.DataFrame,
    events: pd.DataFrame | None,
    now: pd.Timestamp,
    tz: str,
) -> pd.DataFrame:
    """One row per incident with its KPI flags and durations, aligned with ``incidents``."""
    reported = _local(incidents["reported_at"], tz)
    deadline = _local(incidents["deadline"], tz)
    closed_at = _local(incidents["closed_at"], tz)
    rejected = (incidents["state"] == "rejected").to_numpy(dtype=bool, na_value=False)
    closed = ~rejected & (closed_at <= now).to_numpy(dtype=bool)
    past_deadline = (deadline < now).to_numpy(dtype=bool)
    on_time = closed & ~(closed_at > deadline).to_numpy(dtype=bool)  # NaT deadline: on time
    due = ~rejected & (closed | past_deadline)
    early = closed & (deadline.isna() | (closed_at < deadline)).to_numpy(dtype=bool)
    dispatched_at = _first_dispatch(incidents["id"], events, now, tz)
    rating = (
        pd.to_numeric(incidents["rating"], errors="coerce").astype("float64")
        if "rating" in incidents.columns
        else pd.Series(np.nan, index=incidents.index)
    )
    rating = rating.where(closed)
    return pd.DataFrame(
        {
            "cases": 1,
            "rejected": rejected.astype(np.int64),
            "open": (~rejected & ~closed).astype(np.int64),
            "due": due.astype(np.int64),
            "closed": closed.astype(np.int64),
            "closed_on_time": on_time.astype(np.int64),
            "closed_late": (closed & ~on_time).astype(np.int64),
            "overdue_open": (~rejected & ~closed & past_deadline).astype(np.int64),
            "dispatched": dispatched_at.notna().astype(np.int64).to_numpy(),
            "dispatch_hours": ((dispatched_at - reported) / _HOUR).to_numpy(dtype=float),
            "close_hours": ((closed_at - reported) / _HOUR).where(closed).to_numpy(dtype=float),
            "rating": rating.to_numpy(dtype=float),
            "satisfied": (rating >= 4).where(rating.notna()).to_numpy(dtype=float),
            "due_at": deadline.mask(early, closed_at).where(~rejected),
            "reported_at": reported,
        },
        index=incidents.index,
    )


def kpis(
    incidents: pd.DataFrame,
    events: pd.DataFrame | None = None,
    *,
    by: Sequence[str] = ("grid",),
    period: Literal["day", "week", "month"] | None = None,
    period_by: Literal["due", "reported"] = "due",
    now: datetime | str | pd.Timestamp | None = None,
    tz: str = TZ,
) -> pd.DataFrame:
    """The headline incident KPIs (结案率, 按期结案率, times, satisfaction) per group.

    See the module docstring for the exact definitions of due, closed, on time and
    overdue, and for how a case is assigned to a period.

    Parameters
    ----------
    incidents
        One row per incident, with ``id``, ``reported_at``, ``deadline``,
        ``closed_at``, ``state``, optionally ``rating`` (1–5), and the columns the
        ``by`` dimensions read (``grid_code``/``grid_id``/``grid``, ``assignee_id``,
        ``category_code``, ``source``).  Times may be tz-aware or naive local (``tz``).
    events
        Optional incident history (``incident_id``, ``to_state``, ``at``); used only for
        the time to dispatch (first ``dispatched`` event).  Without it the dispatch
        columns are 0 / NaN.
    by
        Group dimensions, in order: any of ``"grid"``, ``"worker"``, ``"category"``,
        ``"source"``, ``"period"`` or an incident column name.  ``()`` gives one total
        row.  ``"period"`` is appended when ``period`` is set and not named.
    period
        Period length for the ``period`` key: ``"day"``, ``"week"`` (from Monday) or
        ``"month"``, in local time.
    period_by
        The date that places a case in a period: ``"due"`` (``min(deadline,
        closed_at)``, the default) or ``"reported"`` (``reported_at``).
    now
        The time of the assessment; defaults to the current time.  Closings,
        deadlines and events after it are ignored.
    tz
        Local time zone for periods and naive times.

    Returns
    -------
    pandas.DataFrame
        One row per group (sorted by the keys, missing keys as their own group), with
        the group keys named by their dimension (``grid``, ``worker``, …) followed by
        :data:`KPI_COLUMNS`.  Counts are ``int64``; rates, hours and ratings ``float64``
        (NaN when their denominator is 0).

    Raises
    ------
    ValueError
        For a missing column, an unknown period or ``period_by``, or ``"period"`` in
        ``by`` without a ``period``.
    """
    missing = set(_REQUIRED) - set(incidents.columns)
    if missing:
        raise ValueError(f"incidents lack columns {sorted(missing)}")
    if period is not None and period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, not {period!r}")
    if period_by not in ("due", "reported"):
        raise ValueError(f"period_by must be 'due' or 'reported', not {period_by!r}")
    keys = list(by)
    if period is not None and "period" not in keys:
        keys.append("period")
    if "period" in keys and period is None:
        raise ValueError("grouping by 'period' needs period='day', 'week' or 'month'")
    when = _now(now, tz)

    cases = _case_table(incidents, events, when, tz)
    for key in keys:
        if key == "period":
            assert period is not None
            date = cases["due_at"] if period_by == "due" else cases["reported_at"]
            cases[key] = _period_start(date, period)
        else:
            cases[key] = incidents[_dimension_column(incidents, key)].to_numpy()

    counts = [c for c in KPI_COLUMNS if c in cases.columns]
    named = {c: pd.NamedAgg(c, "sum") for c in counts}
    named |= {
        "dispatch_hours_mean": pd.NamedAgg("dispatch_hours", "mean"),
        "dispatch_hours_median": pd.NamedAgg("dispatch_hours", "median"),
        "close_hours_mean": pd.NamedAgg("close_hours", "mean"),
        "close_hours_median": pd.NamedAgg("close_hours", "median"),
        "rated": pd.NamedAgg("rating", "count"),
        "rating_mean": pd.NamedAgg("rating", "mean"),
        "satisfied_share": pd.NamedAgg("satisfied", "mean"),
    }
    if keys:
        out = cases.groupby(keys, dropna=False, sort=True).agg(**named).reset_index()
    else:
        out = cases.assign(_all=0).groupby("_all").agg(**named).reset_index(drop=True)
    for column in counts:
        out[column] = out[column].astype(np.int64)
    out["rated"] = out["rated"].astype(np.int64)
    due = out["due"].where(out["due"] > 0).astype("float64")
    out["close_rate"] = out["closed"] / due
    out["on_time_rate"] = out["closed_on_time"] / due
    return out[[*keys, *KPI_COLUMNS]]


def with_chinese_labels(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of a :func:`kpis` table with its columns renamed by :data:`KPI_LABELS`.

    Parameters
    ----------
    table
        Output of :func:`kpis`.

    Returns
    -------
    pandas.DataFrame
        The same values; columns without a label keep their name.
    """
    return table.rename(columns=KPI_LABELS)
