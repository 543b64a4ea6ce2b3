"""Incident trends over HTTP: counts by place and window, Gi* hotspots, early warnings.

For the command centre's staff (a resident or a grid worker: 403); counts without
personal data, district-wide.  The work is :mod:`api.services.trends`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import CurrentUser
from api.deps import StateDep
from api.schemas.common import ISO
from api.schemas.trends import Aggregates, Hotspots, Place, SplitColumn, Warnings, Window
from api.services import trends

router = APIRouter(tags=["awareness"])

Categories = Annotated[list[str] | None, Query(description="category codes")]


@router.get(
    "/api/awareness/aggregates", response_model=Aggregates, response_model_exclude_unset=True
)
def aggregates(
    state: StateDep,
    user: CurrentUser,
    by: Annotated[Place, Query()] = "h3_cell",
    window: Annotated[Window | None, Query(description="none: the whole range")] = None,
    start: Annotated[datetime | None, Query(description=f"reported from ({ISO})")] = None,
    end: Annotated[datetime | None, Query(description=f"reported before ({ISO})")] = None,
    category: Categories = None,
    state_: Annotated[list[str] | None, Query(alias="state", description="incident states")] = None,
    split_by: Annotated[list[SplitColumn] | None, Query()] = None,
) -> Aggregates:
    """Incident counts by H3 cell, grid or community, per hour/day/week, category, state.

    Answered from a columnar index rebuilt only when an incident changes, so a map can
    redraw city-wide on every click.  Staff only; district-wide.
    """
    query = trends.AggregateQuery(by, window, start, end, category, state_, tuple(split_by or ()))
    table = trends.aggregates(state.cube.get(state.engine), user, query)
    return Aggregates.of(by, window, table)


@router.get("/api/awareness/hotspots", response_model=Hotspots, response_model_exclude_unset=True)
def hotspots(
    state: StateDep,
    user: CurrentUser,
    start: Annotated[
        datetime | None, Query(description=f"default: 7 days before end ({ISO})")
    ] = None,
    end: Annotated[datetime | None, Query(description=f"default: now ({ISO})")] = None,
    category: Categories = None,
    k: Annotated[int, Query(ge=1, le=5, description="H3 ring of each neighbourhood")] = 1,
    alpha: Annotated[float, Query(gt=0, lt=1, description="significance level")] = 0.05,
    fdr: Annotated[bool, Query(description="Benjamini-Hochberg correction")] = True,
    all_cells: Annotated[
        bool, Query(alias="all", description="every cell, not only hot/cold")
    ] = False,
) -> Hotspots:
    """Getis-Ord Gi* hotspots of incidents on H3 cells (k-ring), FDR-corrected, as GeoJSON.

    Staff only; counts per cell, district-wide.
    """
    query = trends.HotspotQuery(start, end, category, k, alpha, fdr, all_cells)
    engine = state.engine
    found = trends.hotspots(state.cube.get(engine), state.study_cells.get(engine), user, query)
    return Hotspots.of(found)


@router.get("/api/awareness/warnings", response_model=Warnings)
def warnings(
    state: StateDep,
    user: CurrentUser,
    by: Annotated[Place, Query()] = "grid_id",
    window: Annotated[Window, Query()] = "day",
    baseline: Annotated[int, Query(ge=1, le=366, description="previous windows of baseline")] = 28,
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.001,
    min_count: Annotated[int, Query(ge=1)] = 3,
    current: Annotated[
        datetime | None, Query(description=f"window to test; default now ({ISO})")
    ] = None,
    category: Categories = None,
) -> Warnings:
    """Early warnings: a category's count in a place far above its own baseline, with evidence.

    Staff only; counts per place, district-wide.
    """
    query = trends.WarningQuery(by, window, baseline, alpha, min_count, current, category)
    got = trends.warnings(state.cube.get(state.engine), state.engine, user, query)
    return Warnings.of(by, got)
