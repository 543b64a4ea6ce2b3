"""Grids (网格) over HTTP: the current grids as GeoJSON, and which grid a point is in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api.deps import StateDep
from api.schemas.common import GeoJSONResponse, PointQuery, feature_collection
from api.schemas.grids import GridMap, Located
from api.services import grids as service

router = APIRouter(prefix="/api/grids", tags=["grids"])


@router.get("/locate", response_model=Located)
async def locate(state: StateDep, point: PointQuery) -> Located:
    """Which grid a point (``lon``/``lat`` or a 北斗 code) lies in; outside every grid says so.

    A point in no grid answers ``in_grid: false``.
    """
    grids = await run_in_threadpool(state.current_grids, for_lookup=True)
    return Located.model_validate(service.locate(grids, point.lon, point.lat, point.coord_type))


@router.get("", response_model=GridMap, response_class=GeoJSONResponse)
async def grids_geojson(
    state: StateDep,
    community: Annotated[
        str | None, Query(pattern=r"^\d{12}$", description="12-digit community code")
    ] = None,
) -> dict[str, Any]:
    """The current grids as a GeoJSON FeatureCollection (RFC 7946), with household counts."""
    grids = await run_in_threadpool(service.grid_map, state.engine, community)
    return feature_collection(grids, precision=1e-7)
