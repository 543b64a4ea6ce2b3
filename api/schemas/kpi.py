"""The performance review (考核): its query parameters, and its JSON (rows, labels, the total)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, Query
from pydantic import BaseModel, Field

from api.schemas.common import json_value
from api.services.kpi import (
    BREAKDOWNS,
    DATE_BYS,
    LABELS_ZH,
    TITLE,
    Breakdown,
    DateBy,
    PeriodName,
    Review,
    ReviewQuery,
    review_query,
)
from grids.kpi import KPI_COLUMNS, PERIODS


class KpiValues(BaseModel):
    """The KPIs of one group or of the whole review (null: undefined, e.g. no case due)."""

    cases: int
    rejected: int
    open: int
    due: int = Field(description="应结案数: closed, or past the deadline")
    closed: int
    closed_on_time: int
    closed_late: int
    overdue_open: int
    close_rate: float | None = Field(description="结案率 = closed / due")
    on_time_rate: float | None = Field(description="按期结案率 = closed on time / due")
    dispatched: int
    dispatch_hours_mean: float | None
    dispatch_hours_median: float | None
    close_hours_mean: float | None
    close_hours_median: float | None
    rated: int
    rating_mean: float | None
    satisfied_share: float | None


class KpiRow(KpiValues):
    """One group of the breakdown: its keys (only those asked for), their names, its KPIs."""

    grid: str | None = Field(None, description="grid code")
    grid_name: str | None = None
    worker: int | None = Field(None, description="grid worker id")
    worker_name: str | None = None
    category: str | None = Field(None, description="category code")
    category_name: str | None = None
    source: str | None = None
    source_name: str | None = None
    community: str | None = Field(None, description="community code")
    community_name: str | None = None
    period: date | None = Field(None, description="first day of the period")
    period_name: str | None = None


def _value(value: Any) -> Any:
    """A row's value for its model: a period's start as its day, the rest JSON-safe."""
    return value.date() if isinstance(value, pd.Timestamp) else json_value(value)


class KpiReview(BaseModel):
    """A review (网格化管理考核报表) of the caller's area: heading, labels, rows and total."""

    title: str
    area: str
    as_of: datetime
    by: list[Breakdown]
    period: PeriodName | None
    date_by: DateBy
    start: datetime | None
    end: datetime | None = Field(description="exclusive")
    labels: dict[str, str] = Field(description="Chinese labels of the row keys and KPIs")
    rows: list[KpiRow]
    total: KpiValues

    @classmethod
    def of(cls, review: Review) -> KpiReview:
        """From :func:`api.services.kpi.build_review`; a row carries only the keys asked for."""
        q = review.query
        keys = [*q.by, *review.label_columns, *KPI_COLUMNS]
        rows = [
            KpiRow.model_validate({k: _value(v) for k, v in zip(keys, values, strict=True)})
            for values in review.table[keys].itertuples(index=False, name=None)
        ]
        labels: dict[str, Any] = {
            **{k: LABELS_ZH[k] for k in q.by},
            **{f"{k}_name": LABELS_ZH[k] for k in q.by},
            **{c: LABELS_ZH[c] for c in KPI_COLUMNS},
        }
        return cls(
            title=TITLE,
            area=review.area,
            as_of=q.as_of,
            by=list(q.by),
            period=q.period,
            date_by=q.date_by,
            start=q.start,
            end=q.end,
            labels=labels,
            rows=rows,
            total=KpiValues.model_validate({c: json_value(review.total[c]) for c in KPI_COLUMNS}),
        )


# ------------------------------------------------------------------ the query

ByQuery = Annotated[
    str,
    Query(
        description=f"breakdown, one or more of {', '.join(BREAKDOWNS)}, comma-separated "
        "(e.g. grid or community,period)"
    ),
]
PeriodQuery = Annotated[
    str | None,
    Query(
        description="period length for the period breakdown",
        json_schema_extra={"enum": list(PERIODS)},
    ),
]
StartQuery = Annotated[
    str | None,
    Query(description="first day or time of the review (2026-10-01 or ISO 8601; local time)"),
]
EndQuery = Annotated[
    str | None,
    Query(description="last day (inclusive, e.g. 2026-10-31) or end time (exclusive, ISO 8601)"),
]
DateByQuery = Annotated[
    str,
    Query(
        description="which date places a case in the window and its period: due "
        "(min(deadline, closed_at), the 应结案 date) or reported",
        json_schema_extra={"enum": list(DATE_BYS)},
    ),
]
AsOfQuery = Annotated[
    str | None, Query(description="time of the assessment (ISO 8601); default now")
]


def review_params(
    by: ByQuery = "grid",
    period: PeriodQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
    date_by: DateByQuery = "due",
    as_of: AsOfQuery = None,
) -> ReviewQuery:
    """The review's query parameters, shared by the JSON, the chart and the page."""
    return review_query(by, period, start, end, date_by, as_of)


QueryDep = Annotated[ReviewQuery, Depends(review_params)]
