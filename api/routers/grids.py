"""Grids (网格) over HTTP: the current grids as GeoJSON, and which grid a point is in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.deps import EngineDep, SettingsDep, StateDep
from api.inputs import one_of
from api.schemas.common import GeoJSONResponse, PointQuery, feature_collection
from api.schemas.grids import (
    ConversionAnswer,
    ConvertBody,
    CrosswalkAnswer,
    GridMap,
    Located,
)
from api.schemas.redivision import SimulateBody, SimulationAnswer
from api.services import crosswalk as xwalk
from api.services import grids as service
from api.services import redivision
from api.services.crosswalk import CrosswalkQuery
from api.services.redivision import SimulateQuery
from grids.crosswalk import SYSTEMS

System = one_of("system", SYSTEMS)

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


@router.get("/crosswalk", response_model=CrosswalkAnswer)
async def crosswalk(
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    system: Annotated[System, Query(description="cells: h3 or beidou (北斗)")] = "h3",
    level: Annotated[
        int | None,
        Query(ge=0, le=15, description="H3 resolution or 北斗 level; default: the stored one"),
    ] = None,
    community: Annotated[
        str | None, Query(pattern=r"^\d{12}$", description="12-digit community code")
    ] = None,
) -> CrosswalkAnswer:
    """Per grid of your area: its H3 or 北斗 cells with area and household shares (staff).

    A cell's ``area_share``/``household_share`` split it among grids; a grid's
    ``grid_area_share``/``grid_household_share`` split it among cells (each sums to 1).
    """
    query = CrosswalkQuery(system, level, community)
    found = await run_in_threadpool(xwalk.crosswalk, engine, settings, user, query)
    return CrosswalkAnswer.model_validate(found)


@router.post("/crosswalk/convert", response_model=ConversionAnswer)
async def crosswalk_convert(
    body: ConvertBody, engine: EngineDep, settings: SettingsDep, user: CurrentUser
) -> ConversionAnswer:
    """Counts per cell to counts per grid of your area, or per grid to per cell (staff).

    Totals are conserved: ``total_in = total_out + outside_area + sum(unplaced)``.
    """
    query = CrosswalkQuery(body.system, body.level, body.community)
    found = await run_in_threadpool(
        xwalk.convert, engine, settings, user, query, body.direction, body.values, body.weight
    )
    return ConversionAnswer.model_validate(found)


@router.post("/simulate", response_model=SimulationAnswer)
async def simulate(body: SimulateBody, state: StateDep, user: CurrentUser) -> SimulationAnswer:
    """Replay the last months onto a candidate layout beside today's (网格调整模拟).

    Per grid and worker: households, vulnerable residents, cases by category, open load,
    mean and p90 walk from the worker's base, and the expected 按期结案率 from the office's
    own on-time model (fit and check on the next period reported).  Street staff only.
    """
    query = SimulateQuery(body.layout, body.design, body.community, body.months)

    def run() -> SimulationAnswer:
        network = state.walking_now().network
        report = redivision.simulate_layout(state.engine, state.settings, network, user, query)
        return SimulationAnswer.of(report)

    return await run_in_threadpool(run)
