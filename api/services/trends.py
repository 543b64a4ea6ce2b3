"""Where incidents gather and surge: counts by place and window, Gi* hotspots, early warnings.

Answered from the incident cube the door hands in (a columnar index rebuilt only when
an incident changes, :class:`analysis.aggregates.IncidentCube`), so a map can redraw
city-wide on every click.  For the command centre's staff only; counts without personal
data, so district-wide for every staff member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

import geopandas as gpd

from analysis.aggregates import IncidentCube, window_starts
from analysis.hotspots import EarlyWarning, early_warning, gi_star
from api.services.awareness import checked_time, now
from gis.errors import InvalidInput, ServiceError
from gis.store import awareness_store as store
from grids.access import Principal, require_command_centre
from grids.locate import cell_polygons

TZ = "Asia/Shanghai"
#: Days of incidents a hotspot analysis looks back by default.
HOTSPOT_DAYS = 7
WINDOW_LENGTH = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}


class RangeError(ServiceError, InvalidInput):
    """A time range that ends before it starts."""


@dataclass(frozen=True)
class AggregateQuery:
    """Which incidents to count, and by what (place, window, further columns)."""

    by: str = "h3_cell"
    window: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    categories: list[str] | None = None
    states: list[str] | None = None
    split_by: tuple[str, ...] = ()


def aggregates(cube: IncidentCube, user: Principal, query: AggregateQuery) -> pd.DataFrame:
    """Incident counts by H3 cell, grid or community, per window, category, state.

    Columns: ``query.by``, ``window_start`` (with a window), the ``split_by`` columns,
    ``count``.
    """
    require_command_centre(user, "read incident aggregates")
    return cube.aggregate(
        by=query.by,
        window=query.window,
        start=checked_time(query.start, "start"),
        end=checked_time(query.end, "end"),
        categories=query.categories,
        states=query.states,
        split_by=query.split_by,
    )


def time_range(
    start: datetime | None, end: datetime | None, days: int
) -> tuple[datetime, datetime]:
    """A checked range: ``end`` default now, ``start`` default ``days`` before ``end``."""
    end = checked_time(end, "end") or now()
    start = checked_time(start, "start") or end - timedelta(days=days)
    if end <= start:
        raise RangeError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    return start, end


@dataclass(frozen=True)
class HotspotQuery:
    """A Gi* analysis: time range, categories, neighbourhood ring, significance."""

    start: datetime | None = None
    end: datetime | None = None
    categories: list[str] | None = None
    k: int = 1
    alpha: float = 0.05
    fdr: bool = True
    all_cells: bool = False


@dataclass(frozen=True)
class HotspotCells:
    """Gi* per H3 cell: the cells asked for (hot and cold, or all) as polygons.

    ``cells``: h3_cell, count, neighbours, gi_z, p_value, q_value, significant, geometry
    (EPSG:4326); ``cells_tested``: the whole study area.
    """

    cells: gpd.GeoDataFrame
    method: str
    k: int
    alpha: float
    start: datetime
    end: datetime
    cells_tested: int
    hot: int
    cold: int


def hotspots(
    cube: IncidentCube, study_cells: np.ndarray, user: Principal, query: HotspotQuery
) -> HotspotCells:
    """Getis-Ord Gi* hotspots of incidents on H3 cells (k-ring), FDR-corrected.

    ``study_cells``: every H3 cell of the area served.
    """
    require_command_centre(user, "read incident hotspots")
    lo, hi = time_range(query.start, query.end, HOTSPOT_DAYS)
    counts = cube.aggregate(by="h3_cell", start=lo, end=hi, categories=query.categories)
    result = gi_star(
        counts["h3_cell"].to_numpy(np.int64),
        counts["count"].to_numpy(np.float64),
        k=query.k,
        alpha=query.alpha,
        fdr=query.fdr,
        study_area=study_cells,
    )
    frame = result.frame
    shown = frame if query.all_cells else frame[frame["significant"] != "none"]
    polygons = cell_polygons(shown["h3_cell"].to_numpy(np.int64))
    return HotspotCells(
        cells=gpd.GeoDataFrame(shown.reset_index(drop=True), geometry=polygons, crs=4326),
        method=result.method,
        k=result.k,
        alpha=result.alpha,
        start=lo,
        end=hi,
        cells_tested=len(frame),
        hot=int((frame["significant"] == "hot").sum()),
        cold=int((frame["significant"] == "cold").sum()),
    )


@dataclass(frozen=True)
class WarningQuery:
    """An early-warning test: place kind, window, baseline, thresholds, when, categories."""

    by: str = "grid_id"
    window: str = "day"
    baseline: int = 28
    alpha: float = 0.001
    min_count: int = 3
    current: datetime | None = None
    categories: list[str] | None = None


@dataclass(frozen=True)
class Warnings:
    """The warnings of one window, with the names and grid codes they refer to."""

    window: str
    current: pd.Timestamp
    baseline_windows: int
    found: list[EarlyWarning]
    category_names: dict[str, str]
    grid_codes: dict[Any, str]


def warnings(cube: IncidentCube, engine: Engine, user: Principal, query: WarningQuery) -> Warnings:
    """Early warnings: a category's count in a place far above its own baseline."""
    require_command_centre(user, "read early warnings")
    at = pd.Timestamp(checked_time(query.current, "current") or now())
    window, by = query.window, query.by
    current = window_starts(at, at + pd.Timedelta(1, "ns"), window, TZ)[0]
    since = current - query.baseline * WINDOW_LENGTH[window]
    counts = cube.aggregate(
        by=by,
        window=window,
        start=since,
        end=current + WINDOW_LENGTH[window],
        categories=query.categories,
        split_by=("category_code",),
    ).rename(columns={by: "place"})
    names = dict(
        store.incidents_frame(engine, start=since)[["category_code", "category_name"]]
        .drop_duplicates()
        .itertuples(index=False, name=None)
    )
    found = early_warning(
        counts,
        window=window,
        baseline_windows=query.baseline,
        alpha=query.alpha,
        min_count=query.min_count,
        current=current,
        place_kind={"grid_id": "grid", "community_id": "community"}.get(by, by),
        category_names=names,
        tz=TZ,
    )
    codes: dict[Any, str] = {}
    if by == "grid_id" and found:
        grids = store.grids_in_area(engine)
        codes = dict(zip(grids["id"].tolist(), grids["code"].tolist(), strict=True))
    return Warnings(window, current, query.baseline, found, names, codes)
