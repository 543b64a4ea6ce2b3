"""Grids (网格) over HTTP: the current grids as GeoJSON, and which grid a point is in."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

import h3
import shapely

from api.deps import EngineDep, SettingsDep, get_state
from gis.coords import COORD_TYPES, to_wgs84
from gis.store import grid_store
from grids.locate import NO_GRID, h3_cells

router = APIRouter(prefix="/api/grids", tags=["grids"])


class GridRef(BaseModel):
    """A grid, as a resident or worker needs to know it (no personal data)."""

    code: str
    name: str
    community: str


class Located(BaseModel):
    """Where a point is: its grid (null when it lies in none) and its H3 cell."""

    lon: float
    lat: float
    in_grid: bool
    grid: GridRef | None
    h3_cell: str
    h3_resolution: int


@router.get("/locate", response_model=Located)
async def locate(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="longitude, degrees")],
    lat: Annotated[float, Query(ge=-90, le=90, description="latitude, degrees")],
    coord_type: Annotated[str, Query(description=f"one of {', '.join(COORD_TYPES)}")] = "wgs84",
) -> Located:
    """Which grid a point lies in; a point outside every grid says so (``in_grid: false``)."""
    x, y = to_wgs84(lon, lat, coord_type)
    snap = await run_in_threadpool(get_state(request).current_grids, for_lookup=True)
    pos = snap.locate(x, y)
    cell = int(h3_cells([x], [y], settings.h3_resolution)[0])
    grid = (
        None
        if pos == NO_GRID
        else GridRef(code=snap.codes[pos], name=snap.names[pos], community=snap.communities[pos])
    )
    return Located(
        lon=x,
        lat=y,
        in_grid=grid is not None,
        grid=grid,
        h3_cell=h3.int_to_str(cell),
        h3_resolution=settings.h3_resolution,
    )


@router.get("", response_class=Response, responses={200: {"content": {"application/geo+json": {}}}})
async def grids_geojson(
    engine: EngineDep,
    community: Annotated[
        str | None, Query(pattern=r"^\d{12}$", description="12-digit community code")
    ] = None,
) -> Response:
    """The current grids as a GeoJSON FeatureCollection (RFC 7946), with household counts."""
    grids = await run_in_threadpool(grid_store.current_grids, engine, community)
    out = grids[
        [
            "code",
            "name",
            "kind",
            "community_code",
            "community_name",
            "buildings",
            "households",
            "geom",
        ]
    ].set_geometry("geom")
    out["geom"] = shapely.set_precision(np.asarray(out.geometry.array), 1e-7)
    return Response(out.to_json(drop_id=True), media_type="application/geo+json")
