"""The daily situation report (每日态势报告) of a street or community: what it shows, gathered.

:func:`daily_report` reads the day's incidents, the hazards in force and their alerts,
and the early warnings of the day; :func:`maps.report.daily_report_html` draws them.
Staff read the report of a street or community within their area (another one is not
found, as if it did not exist); the command line reads any.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

import shapely

from analysis.aggregates import aggregate
from analysis.hotspots import early_warning
from api.services.awareness import checked_time
from gis import clock
from gis.errors import InvalidInput, NotFound, ServiceError
from gis.store import awareness_store as store
from grids.access import Principal, may_see_area, require_command_centre
from maps.report import DailyData

TZ = "Asia/Shanghai"
#: Days before the report's day that the early warnings compare it with.
BASELINE_DAYS = 28


class ReportInputError(ServiceError, InvalidInput):
    """A report asked for in a way that names no single area."""


def daily_report(
    engine: Engine,
    user: Principal | None,
    *,
    street: str | None = None,
    community: str | None = None,
    day: date | None = None,
) -> DailyData:
    """What the daily report of a street or community (by code) shows on ``day``.

    ``day``: China time, default today.

    Raises
    ------
    NotFound
        When no street or community of the user's area has the code.
    """
    if user is not None:
        require_command_centre(user, "read daily reports")
    if (street is None) == (community is None):
        raise ReportInputError("give exactly one of street or community (its code)")
    level, code = ("street", street) if street is not None else ("community", community)
    assert code is not None
    day = day or clock.now().date()
    checked_time(datetime.combine(day, datetime.min.time()), "date")
    area = store.read_area(engine, code)
    if (
        area is None
        or area.level != level
        or (
            user is not None
            and not may_see_area(user, store.grids_in_area(engine, area.code)["id"].tolist())
        )
    ):
        where = " in your area" if user is not None else ""
        raise NotFound(f"no {level}{where} has code {code}")
    return _gather(engine, area, day)


def _gather(engine: Engine, area: store.AreaRow, day: date) -> DailyData:
    """Read what the daily report of an area shows (see :mod:`maps.report`)."""
    start = pd.Timestamp(day).tz_localize(TZ)
    end = start + pd.Timedelta(days=1)
    grids = store.grids_in_area(engine, area.code)
    incidents = store.incidents_frame(engine, end=end.to_pydatetime(), area=area.code)
    hazards = store.hazards(engine)
    if len(hazards):
        in_force = (pd.to_datetime(hazards["valid_from"], utc=True) < end) & (
            hazards["valid_to"].isna() | (pd.to_datetime(hazards["valid_to"], utc=True) > start)
        )
        meets = shapely.intersects(np.asarray(hazards.geometry.array, dtype=object), area.geom)
        hazards = hazards[in_force.to_numpy() & meets]
    alerts = store.alerts_of_hazard(engine)
    alerts = alerts[alerts["hazard_id"].isin(hazards["id"])]
    return DailyData(
        area_code=area.code,
        area_name=area.name,
        area_level=area.level,
        day=start.date(),
        grids=grids,
        incidents=incidents,
        hazards=hazards,
        alerts=alerts,
        warnings=_warnings(engine, grids, incidents, start),
        generated_at=clock.now(),
    )


def _warnings(
    engine: Engine, grids: pd.DataFrame, incidents: pd.DataFrame, start: pd.Timestamp
) -> list[dict[str, Any]]:
    """The early warnings of the day, per grid, as the report words them."""
    history = incidents[
        pd.to_datetime(incidents["reported_at"], utc=True)
        >= start - pd.Timedelta(days=BASELINE_DAYS)
    ]
    if not len(history):
        return []
    counts = aggregate(
        history, by="grid_id", window="day", split_by=("category_code",), tz=TZ
    ).rename(columns={"grid_id": "place"})
    names = store.category_names(engine)
    codes = dict(zip(grids["id"].tolist(), grids["code"].tolist(), strict=True))
    return [
        {
            "evidence": w.evidence.replace(
                f"grid {w.place_id}", f"网格 {codes.get(w.place_id, w.place_id)}"
            ),
            "place_code": codes.get(w.place_id),
            "category_name": names.get(w.category, w.category),
        }
        for w in early_warning(
            counts,
            window="day",
            baseline_windows=BASELINE_DAYS,
            current=start,
            category_names=names,
            tz=TZ,
        )
    ]
