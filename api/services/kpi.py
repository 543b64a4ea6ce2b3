"""The performance review (考核): KPI rows by grid, worker, category, source, community, period.

A review reads the cases the caller may review (:func:`grids.access.kpi_filter`: staff
and admins their area, a grid worker only the cases assigned to them, a resident
nothing) and computes :func:`grids.kpi.kpis` (结案率, 按期结案率, times to dispatch and
close, satisfaction) for the breakdown asked and in total, with Chinese names for every
group.  The same review is answered as JSON, drawn as an A4 chart and printed as a page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, cast, get_args

import pandas as pd
from sqlalchemy import Engine

from gis import clock
from gis.errors import InvalidInput
from gis.store import kpi_store
from gis.times import check_time
from grids.access import Principal, kpi_filter
from grids.incidents import SHANGHAI
from grids.kpi import KPI_COLUMNS, KPI_LABELS, PERIODS, kpis
from maps.kpi_chart import TABLE_COLUMNS, cell_text, kpi_chart_png, kpi_report_html
from maps.svg_charts import Series, bar_chart, line_chart

TITLE = "网格化管理考核报表"
#: Breakdowns of the review.  ``grids.kpi.DIMENSIONS`` says which incident column each
#: reads; ``community`` is the community code column of ``gis.store.kpi_store``.
Breakdown = Literal["grid", "worker", "category", "source", "community", "period"]
BREAKDOWNS: tuple[Breakdown, ...] = get_args(Breakdown)
LABELS_ZH: dict[str, str] = {**KPI_LABELS, "community": "社区"}
SOURCE_NAMES_ZH = {"patrol": "网格员巡查", "resident_app": "居民上报", "hotline_12345": "12345热线"}
PERIOD_NAMES_ZH = {"day": "按日", "week": "按周", "month": "按月"}
_MISSING_NAMES = {
    "grid": "无网格",
    "worker": "未派遣",
    "category": "未分类",
    "source": "未知来源",
    "community": "无社区",
    "period": "无时限",
}

PeriodName = Literal["day", "week", "month"]
#: Which date places a case in the window and its period: 应结案 (due) or reported.
DateBy = Literal["due", "reported"]
DATE_BYS: tuple[DateBy, ...] = get_args(DateBy)


@dataclass(frozen=True)
class ReviewQuery:
    """A checked request for a review: breakdown, period, window, as-of time."""

    by: tuple[Breakdown, ...]
    period: PeriodName | None
    start: datetime | None
    end: datetime | None
    date_by: DateBy
    as_of: datetime


@dataclass(frozen=True)
class Review:
    """The KPI rows of a review with their group names, the total and the heading."""

    query: ReviewQuery
    table: pd.DataFrame
    total: pd.Series
    area: str

    @property
    def label_columns(self) -> list[str]:
        """The columns naming each group in words, one per breakdown."""
        return [f"{key}_name" for key in self.query.by]


def _parse_time(value: str, what: str, *, end: bool = False) -> datetime:
    """A date (local midnight; an end date counts whole) or an ISO time (naive = local)."""
    text = value.strip()
    whole_day = len(text) == 10
    try:
        if whole_day:
            at = datetime.combine(date.fromisoformat(text), time(), tzinfo=SHANGHAI)
        else:
            at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{what}={value!r} is not a date or time; write e.g. 2026-10-01 or "
            "2026-10-01T08:00:00+08:00"
        ) from None
    at = check_time(at, what, planned=True)  # naive: China time
    return at + timedelta(days=1) if whole_day and end else at


def review_query(
    by: str,
    period: str | None,
    start: str | None,
    end: str | None,
    date_by: str,
    as_of: str | None,
) -> ReviewQuery:
    """A checked request for a review, from the parameters as given (text).

    The one parser of a review's parameters for every door: each mistake is an
    :class:`~gis.errors.InvalidInput` naming the parameter and its fix.
    """
    keys = tuple(k.strip() for k in by.split(",") if k.strip())
    unknown = [k for k in keys if k not in BREAKDOWNS]
    if unknown or not keys:
        raise InvalidInput(
            f"by={by!r}: unknown breakdown {', '.join(unknown) or '(empty)'}; use one or more "
            f"of {', '.join(BREAKDOWNS)}, comma-separated"
        )
    if len(set(keys)) != len(keys):
        raise InvalidInput(f"by={by!r} names a breakdown twice")
    if period is not None and period not in PERIODS:
        raise InvalidInput(f"period={period!r}: use one of {', '.join(PERIODS)}")
    if "period" in keys and period is None:
        raise InvalidInput("by=period needs period=day, week or month")
    if period is not None and "period" not in keys:
        keys = (*keys, "period")
    if date_by not in DATE_BYS:
        raise InvalidInput(f"date_by={date_by!r}: use due or reported")
    start_at = None if start is None else _parse_time(start, "start")
    end_at = None if end is None else _parse_time(end, "end", end=True)
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise InvalidInput(f"end ({end}) is not after start ({start}); swap them")
    when = clock.now() if as_of is None else _parse_time(as_of, "as_of")
    return ReviewQuery(
        cast(tuple[Breakdown, ...], keys),
        cast(PeriodName | None, period),
        start_at,
        end_at,
        cast(DateBy, date_by),
        when,
    )


def _period_name(start: Any, period: str | None) -> str:
    if pd.isna(start):
        return _MISSING_NAMES["period"]
    stamp = pd.Timestamp(start)
    if period == "month":
        return f"{stamp.year}年{stamp.month}月"
    if period == "week":
        return f"{stamp:%Y-%m-%d}起一周"
    return f"{stamp:%Y-%m-%d}"


def _names(incidents: pd.DataFrame, key: str, values: pd.Series, period: str | None) -> list[str]:
    """The words naming each group value of a breakdown."""
    if key == "period":
        return [_period_name(v, period) for v in values]
    if key == "source":
        table = SOURCE_NAMES_ZH
    else:
        code, name = {
            "grid": ("grid_code", "grid_name"),
            "worker": ("assignee_id", "worker_name"),
            "category": ("category_code", "category_name"),
            "community": ("community", "community_name"),
        }[key]
        pairs = incidents[[code, name]].dropna().drop_duplicates(code)
        table = dict(zip(pairs[code], pairs[name], strict=True))
    out = []
    for v in values:
        if pd.isna(v):
            out.append(_MISSING_NAMES[key])
        elif key == "grid":
            out.append(f"{table.get(v, '')}（{v}）")
        else:
            out.append(str(table.get(v, v)))
    return out


#: The KPI columns that count cases (0 for no cases); the others are NaN then.
COUNT_COLUMNS = frozenset(
    {"cases", "rejected", "open", "due", "closed", "closed_on_time", "closed_late"}
    | {"overdue_open", "dispatched", "rated"}
)


def _empty_total() -> pd.Series:
    """The total row of a review with no cases: counts 0, rates and means undefined."""
    return pd.Series({c: 0 if c in COUNT_COLUMNS else math.nan for c in KPI_COLUMNS})


def build_review(engine: Engine, user: Principal, query: ReviewQuery) -> Review:
    """Read the cases the user may review and compute the KPIs of the breakdown and the total."""
    rule = kpi_filter(user)
    with engine.connect() as conn:
        frames = kpi_store.kpi_frames(
            conn,
            everything=rule.everything,
            grid_ids=rule.grid_ids,
            worker_id=rule.worker_id,
            reporter_id=rule.reporter_id,
            start=query.start,
            end=query.end,
            date_by=query.date_by,
        )
        if user.role == "grid_worker":
            area = f"网格员 {user.display_name}"
        else:
            area = kpi_store.area_name(conn, None if user.sees_everything else user.area_id)
    incidents = frames.incidents
    table = kpis(
        incidents,
        frames.events,
        by=query.by,
        period=query.period,
        period_by=query.date_by,
        now=query.as_of,
    )
    for key in query.by:
        table[f"{key}_name"] = _names(incidents, key, table[key], query.period)
    totals = kpis(incidents, frames.events, by=(), now=query.as_of)
    total = totals.iloc[0] if len(totals) else _empty_total()
    return Review(query=query, table=table, total=total, area=area)


def _window_text(q: ReviewQuery) -> str:
    if q.start is None and q.end is None:
        text = "全部"
    else:
        first = "" if q.start is None else f"{q.start.astimezone(SHANGHAI):%Y-%m-%d}"
        last = (
            ""
            if q.end is None
            else f"{(q.end - timedelta(seconds=1)).astimezone(SHANGHAI):%Y-%m-%d}"
        )
        text = f"{first} 至 {last}"
    basis = "按应结案日期" if q.date_by == "due" else "按上报日期"
    return f"{text}（{basis}）"


def _by_text(q: ReviewQuery) -> str:
    names = [LABELS_ZH[k] for k in q.by if k != "period"]
    if q.period is not None:
        names.append(PERIOD_NAMES_ZH[q.period])
    return " × ".join(names)


def _local_minute(at: datetime) -> str:
    return f"{at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def review_chart(review: Review) -> bytes:
    """The A4 landscape chart of a review."""
    table = review.table.copy()
    table["group_label"] = [" · ".join(map(str, v)) for v in table[review.label_columns].to_numpy()]
    return kpi_chart_png(
        table,
        label_column="group_label",
        title=f"{TITLE} · {review.area}",
        subtitle=f"结案率与按期结案率（{_by_text(review.query)}）· 统计期间 "
        f"{_window_text(review.query)} · 截至 {_local_minute(review.query.as_of)}",
    )


def review_page(review: Review) -> str:
    """The printable HTML page of a review."""
    q = review.query
    headers = [LABELS_ZH[k] for k in q.by] + [LABELS_ZH[c] for c in TABLE_COLUMNS]
    return kpi_report_html(
        review.table,
        review.total,
        label_columns=review.label_columns,
        headers=headers,
        title=TITLE,
        area=review.area,
        by_label=_by_text(q),
        period=_window_text(q),
        as_of=_local_minute(q.as_of),
        chart_png=review_chart(review),
    )


# ------------------------------------------------------------------ the review's page


@dataclass(frozen=True)
class ReviewScreen:
    """What the on-screen review shows: the review, its rows as text, two SVG charts.

    ``trend`` is the same window by period (the period asked, else by month):
    结案率 and 按期结案率 as lines (``trend_svg``), 满意率 with the mean rating as bars
    (``satisfaction_svg``).
    """

    review: Review
    trend: Review
    headers: list[str]
    rows: list[dict[str, Any]]
    total: list[str]
    window: str
    by_text: str
    as_of: str
    trend_svg: str
    satisfaction_svg: str


def _trend_labels(trend: Review) -> list[str]:
    return [str(v) for v in trend.table["period_name"]] if len(trend.table) else []


def review_screen(engine: Engine, user: Principal, query: ReviewQuery) -> ReviewScreen:
    """The review of ``query`` and its trend by period, drawn for the page.

    Rows whose 按期结案率 is below 90 % are flagged ``bad``.
    """
    review = build_review(engine, user, query)
    trend_query = replace(query, by=("period",), period=query.period or "month")
    trend = build_review(engine, user, trend_query)
    labels = _trend_labels(trend)
    table = trend.table
    rates = [
        Series(LABELS_ZH["close_rate"], [float(v) for v in table.get("close_rate", [])]),
        Series(LABELS_ZH["on_time_rate"], [float(v) for v in table.get("on_time_rate", [])]),
    ]
    every = PERIOD_NAMES_ZH[trend_query.period or "month"]
    trend_svg = line_chart(
        labels, rates, title=f"结案率与按期结案率趋势（{every}）", chart_id="trend-chart"
    )
    notes = [
        "" if pd.isna(m) else f"平均评分 {float(m):.1f}（{int(n)} 条评价）"
        for m, n in zip(table.get("rating_mean", []), table.get("rated", []), strict=True)
    ]
    satisfaction_svg = bar_chart(
        labels,
        [float(v) for v in table.get("satisfied_share", [])],
        notes=notes,
        name=LABELS_ZH["satisfied_share"],
        title=f"群众满意率（{every}，评分 4 分及以上的占比）",
        chart_id="satisfaction-chart",
    )
    rows = []
    for _, row in review.table.iterrows():
        bad = not pd.isna(row["on_time_rate"]) and row["on_time_rate"] < 0.9
        rows.append(
            {
                "labels": [str(row[c]) for c in review.label_columns],
                "cells": [cell_text(c, row[c]) for c in TABLE_COLUMNS],
                "bad": bad,
            }
        )
    return ReviewScreen(
        review=review,
        trend=trend,
        headers=[LABELS_ZH[k] for k in query.by] + [LABELS_ZH[c] for c in TABLE_COLUMNS],
        rows=rows,
        total=[cell_text(c, review.total[c]) for c in TABLE_COLUMNS],
        window=_window_text(query),
        by_text=_by_text(query),
        as_of=_local_minute(query.as_of),
        trend_svg=trend_svg,
        satisfaction_svg=satisfaction_svg,
    )
