"""For street-office planners: facility coverage, recommended sites, scenarios (设施规划).

Aggregates only (people per H3 cell, grid and community; no personal data).  Each route
parses, calls one use case of :mod:`api.services.planning`, ``scenarios`` or ``siting``
and shapes its answer through a model of :mod:`api.schemas.planning`; errors are answered
by kind (:mod:`api.errors`).  The pages are :mod:`api.pages.planning`.

Every route is for the street office's planners — community staff, street staff and
admins (:data:`api.auth.Planner`, one dependency on the router): no token → 401, a
resident or a grid worker → 403, before any input is read.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import Planner, planner
from api.deps import EngineDep, PlanningDataDep
from api.inputs import Text
from api.schemas.common import GEOJSON, GeoJSONResponse, records
from api.schemas.planning import (
    AccessCells,
    AccessReportOut,
    ComparisonOut,
    DemandAccessRequest,
    GroupQ,
    KindParam,
    KindQ,
    ScenarioOut,
    ScenarioRequest,
    ScenarioSummary,
    SolveOut,
    SolveRequest,
    StandardsOut,
    StoredAccessOut,
    access_cells_geojson,
)
from api.services import household_access, planning, scenarios, siting

router = APIRouter(tags=["planning"], dependencies=[Depends(planner)])


@router.get("/api/planning/standards")
async def standards(user: Planner) -> StandardsOut:
    """The walking standards per facility kind (GB 50180-2018 life circles) and the groups."""
    return StandardsOut.of(planning.standards(user))


@router.get("/api/planning/access")
async def access_report(
    user: Planner,
    data: PlanningDataDep,
    kind: KindQ,
    group: GroupQ = None,
    top: Annotated[int, Query(ge=1, le=500, description="grids/communities listed")] = 20,
) -> AccessReportOut:
    """Who lacks a facility within its walking limit: shares, capacity split, equity, by grid."""
    report = await run_in_threadpool(planning.access_report, user, data, kind, group, top=top)
    return AccessReportOut.of(report)


@router.post("/api/planning/access")
async def access_report_for_demand(
    user: Planner, data: PlanningDataDep, body: DemandAccessRequest
) -> AccessReportOut:
    """The same report for demand from a file (census grid), e.g. read by a planner's tool."""

    def work() -> planning.AccessReport:
        demand = planning.demand_from_geojson(
            user, data.engine, body.demand, coord_type=body.coord_type, resolution=data.resolution
        )
        brought = replace(data, demand=demand)
        return planning.access_report(user, brought, body.kind, body.group, top=body.top)

    return AccessReportOut.of(await run_in_threadpool(work))


@router.get(
    "/api/planning/access/cells",
    response_model=AccessCells,
    response_class=GeoJSONResponse,
)
async def access_cells(
    user: Planner, data: PlanningDataDep, kind: KindQ, group: GroupQ = None
) -> Response:
    """Walking minutes and unserved people per H3 cell, as GeoJSON hexagons."""

    def work() -> str:
        return access_cells_geojson(planning.coverage(user, data, kind, group))

    return Response(await run_in_threadpool(work), media_type=GEOJSON)


@router.get("/api/planning/access/stored")
async def stored_access(user: Planner, engine: EngineDep, kind: KindQ) -> StoredAccessOut:
    """Households' stored walking access per grid (``wangge plan access --store``).

    Counted over the households the caller may see (the households' row security).
    """
    grids = await run_in_threadpool(household_access.access_by_grid, user, engine, kind)
    return StoredAccessOut.model_validate({"kind": kind, "grids": records(grids)})


@router.post("/api/planning/solve")
async def solve(user: Planner, data: PlanningDataDep, body: SolveRequest) -> SolveOut:
    """Recommend new sites (LSCP, MCLP, p-median, capacitated p-median), today's kept."""
    solved = await run_in_threadpool(siting.solve, user, data, body.query())
    return SolveOut.of(solved)


@router.post("/api/planning/scenarios", status_code=201)
async def save_scenario(user: Planner, engine: EngineDep, body: ScenarioRequest) -> ScenarioOut:
    """Save a plan (sites added, facilities removed) to compare later."""
    saved = await run_in_threadpool(scenarios.save_scenario, user, engine, body.draft())
    return ScenarioOut.of(saved)


@router.get("/api/planning/scenarios")
async def list_scenarios(
    user: Planner, engine: EngineDep, kind: KindParam | None = None
) -> list[ScenarioSummary]:
    """Saved plans, newest last."""
    frame = await run_in_threadpool(scenarios.list_scenarios, user, engine, kind)
    return [ScenarioSummary.model_validate(r) for r in records(frame)]


@router.get("/api/planning/scenarios/{key}")
async def get_scenario(user: Planner, engine: EngineDep, key: Text) -> ScenarioOut:
    """One saved plan, by id or name."""
    return ScenarioOut.of(await run_in_threadpool(scenarios.scenario, user, engine, key))


@router.delete("/api/planning/scenarios/{key}", status_code=204)
async def delete_scenario(user: Planner, engine: EngineDep, key: Text) -> Response:
    """Delete a saved plan."""
    await run_in_threadpool(scenarios.delete_scenario, user, engine, key)
    return Response(status_code=204)


@router.get("/api/planning/compare")
async def compare(
    user: Planner,
    data: PlanningDataDep,
    kind: KindQ,
    scenario: Annotated[list[Text] | None, Query(description="scenario ids or names")] = None,
) -> ComparisonOut:
    """Today and each plan side by side: people served per group, walking times, cost."""
    found = await run_in_threadpool(scenarios.compare, user, data, kind, scenario or [])
    return ComparisonOut.of(found)
