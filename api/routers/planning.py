"""For street-office planners: facility coverage, recommended sites, scenarios (设施规划).

Aggregates only (people per H3 cell, grid and community; no personal data).  The
handlers are thin: each reads the request, calls a ``_…`` function that does the work
with :mod:`gis.store.plan_store` and :mod:`analysis.coverage`, and answers.

Every route, JSON or page, is for the street office's planners — community staff,
street staff and admins (:func:`grids.access.require_planner`, one dependency on the
router): no token → 401, a resident or a grid worker → 403.  The answers are
aggregates, so they are district-wide for every planner.  The pages are opened in a
browser with the token as ``?api_key=`` (like ``/kpi``), e.g.
``/planning/access?kind=elder_care&api_key=TOKEN``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from analysis import coverage as cv
from analysis.network import RoadNetwork
from api.auth import CurrentUser
from api.deps import EngineDep, SettingsDep, get_state
from api.inputs import INT4_MAX, BigId, Text
from gis import clock
from gis.coords import to_wgs84
from gis.settings import Settings
from gis.store import plan_store
from grids.access import Principal, require_planner
from maps.assets import render_offline
from maps.coverage import access_cells, access_map, plan_map


async def planner(user: CurrentUser) -> Principal:
    """The signed-in planner; 401 without a token, 403 for a resident or a grid worker."""
    require_planner(user, "use facility planning (coverage, sites, scenarios)")
    return user


router = APIRouter(tags=["planning"], dependencies=[Depends(planner)])


# ------------------------------------------------------------------ helpers


def _json_number(value: Any) -> Any:
    """A JSON-safe number: NaN and infinity become null."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: _json_number(v) if not pd.isna(v) or isinstance(v, str) else None for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


def _bad_input(exc: Exception) -> HTTPException:
    return HTTPException(422, str(exc))


def _network(request: Request, engine: Engine, settings: Settings) -> RoadNetwork:
    network = get_state(request).walking_now().network
    if network is None:
        raise HTTPException(503, "no road network is loaded yet: load a district first")
    return network


def _demand(engine: Engine, settings: Settings) -> pd.DataFrame:
    demand = cv.demand_from_households(
        plan_store.demand_households(engine),
        plan_store.demand_residents(engine),
        reference_year=clock.now().year,
        resolution=settings.h3_resolution,
    )
    if demand.empty:
        raise HTTPException(503, "no residents are loaded yet: load a district first")
    return demand


def _kind_group(kind: str, group: str | None) -> tuple[str, str]:
    cv.check_kind(kind)
    standard = cv.load_standards()[kind]
    return kind, cv.check_group(group or standard.group)


def _named_unserved(
    result: cv.Access, group: str, engine: Engine, top: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    grids = plan_store.grid_names(engine)
    communities = plan_store.community_names(engine)
    by_grid = cv.unserved_by(result, "grid_id", group).head(top).reset_index()
    by_grid["grid_code"] = by_grid["grid_id"].map(grids["code"])
    by_grid["grid_name"] = by_grid["grid_id"].map(grids["name"])
    by_grid["community_name"] = by_grid["grid_id"].map(grids["community_name"])
    by_comm = cv.unserved_by(result, "community_id", group).head(top).reset_index()
    by_comm["community_code"] = by_comm["community_id"].map(communities["code"])
    by_comm["community_name"] = by_comm["community_id"].map(communities["name"])
    return _records(by_grid), _records(by_comm)


def _split_dict(split: cv.CapacitySplit) -> dict[str, Any]:
    return {
        "group": split.group,
        "people": split.people,
        "served": split.served,
        "lack_of_capacity": split.lack_of_capacity,
        "outside_limit": split.outside_limit,
    }


def _standard_dict(s: cv.Standard) -> dict[str, Any]:
    return {
        "kind": s.kind,
        "kind_name": cv.KIND_NAMES[s.kind],
        "minutes": s.minutes,
        "group": s.group,
        "group_name": cv.GROUP_NAMES[s.group],
        "circle": s.circle,
        "source": s.source,
    }


# ------------------------------------------------------------------ work


def _access_report(
    request: Request,
    engine: Engine,
    settings: Settings,
    kind: str,
    group: str,
    top: int,
    demand: pd.DataFrame | None = None,
) -> dict[str, Any]:
    network = _network(request, engine, settings)
    demand = _demand(engine, settings) if demand is None else demand
    facilities = plan_store.facilities(engine)
    standards = cv.load_standards()
    result = cv.access(network, demand, facilities, kind, standards=standards)
    split = cv.capacity_split(network, demand, facilities, kind, standards=standards)
    by_grid, by_community = _named_unserved(result, group, engine, top)
    return {
        "kind": kind,
        "group": group,
        "standard": _standard_dict(result.standard),
        "facilities": int((facilities["kind"] == kind).sum()),
        "served": _records(cv.served_shares(result).reset_index()),
        "capacity_split": _split_dict(split),
        "equity": _records(cv.equity(result).reset_index()),
        "unserved_by_grid": by_grid,
        "unserved_by_community": by_community,
    }


def _access_cells_geojson(
    request: Request, engine: Engine, settings: Settings, kind: str, group: str
) -> str:
    network = _network(request, engine, settings)
    demand = _demand(engine, settings)
    facilities = plan_store.facilities(engine)
    result = cv.access(network, demand, facilities, kind, standards=cv.load_standards())
    cells = access_cells(result, group)
    cells["cell"] = [f"{int(c):x}" for c in cells["cell"]]
    cells["minutes"] = [round(m, 2) if math.isfinite(m) else None for m in cells["minutes"]]
    cells["served"] = cells["unserved"] <= 0
    return cells.to_json(drop_id=True)


class DemandAccessRequest(BaseModel):
    """Access for demand a planner brings (a census grid …) instead of the residents."""

    kind: Text
    group: Text | None = None
    demand: dict[str, Any] = Field(
        description="GeoJSON FeatureCollection of points or polygons with an 'everyone' "
        "property (people) and any of elderly_60, elderly_80, children, disabled"
    )
    coord_type: Text = "wgs84"
    top: int = Field(default=20, ge=1, le=500)


def _demand_from_geojson(engine: Engine, settings: Settings, body: DemandAccessRequest) -> Any:
    import geopandas as gpd

    from gis.coords import geometries_to_wgs84
    from gis.store import grid_store

    features = (
        body.demand.get("features") if body.demand.get("type") == "FeatureCollection" else None
    )
    if not isinstance(features, list) or not features:
        raise HTTPException(422, "demand: give a GeoJSON FeatureCollection with features")
    try:
        frame = gpd.GeoDataFrame.from_features(features, crs=4326)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise HTTPException(422, f"demand: not valid GeoJSON features ({exc})") from exc
    frame = frame.set_geometry(geometries_to_wgs84(frame.geometry.values, body.coord_type))
    grids = grid_store.current_grids(engine).rename_geometry("geometry")
    return cv.demand_from_file(
        frame, resolution=settings.h3_resolution, grids=grids, layer="demand"
    )


class Site(BaseModel):
    """A site a planner gives: a point, optionally a name, capacity and cost."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    name: Text | None = None
    capacity: int | None = Field(default=None, ge=0, le=INT4_MAX)
    cost: float | None = Field(default=None, ge=0)
    site_id: Text | None = Field(default=None, description="your id for excluding it")


def _sites_frame(sites: list[Site], coord_type: str, source: str) -> pd.DataFrame:
    if not sites:
        return pd.DataFrame(columns=list(cv.CANDIDATE_COLUMNS))
    lon, lat = to_wgs84(
        np.array([s.lon for s in sites]), np.array([s.lat for s in sites]), coord_type
    )
    frame = pd.DataFrame(
        {
            "id": [s.site_id or str(i + 1) for i, s in enumerate(sites)],
            "name": [s.name or f"点址{i + 1}" for i, s in enumerate(sites)],
            "lon": lon,
            "lat": lat,
            "capacity": [np.nan if s.capacity is None else s.capacity for s in sites],
            "cost": [np.nan if s.cost is None else s.cost for s in sites],
        }
    )
    return cv.candidates_from_points(frame, source=source)


class SolveRequest(BaseModel):
    """Where should new facilities go (选址)."""

    kind: Text = Field(description="facility kind, e.g. elder_care")
    group: Text | None = Field(default=None, description="whose demand; default the standard's")
    model: Text = Field(default="mclp", description=f"one of {', '.join(cv.MODELS)}")
    p: int = Field(default=3, ge=1, le=200, description="new sites (not for lscp)")
    candidates: Text = Field(
        default="cells",
        description="'cells' (H3 cells with people), 'buildings:<use>' (e.g. buildings:public)"
        " or 'sites' (the sites given below)",
    )
    sites: list[Site] = Field(default_factory=list, description="candidate sites, e.g. a file")
    coord_type: Text = "wgs84"
    exclude: list[Text] = Field(default_factory=list, description="site_id values not allowed")
    unserved_minutes: float | None = Field(
        default=None,
        gt=0,
        description="p-medians: minutes charged per person left unserved (too little capacity "
        "then gives the best partial answer instead of 'infeasible')",
    )
    new_capacity: int | None = Field(
        default=None, ge=0, description="capacity of a new site where none is given (unlimited)"
    )
    time_limit: float = Field(default=30.0, gt=0, le=600)
    save_as: Text | None = Field(default=None, description="save the result as a scenario")


def _candidates(engine: Engine, demand: pd.DataFrame, body: SolveRequest, group: str) -> Any:
    source = body.candidates
    if source == "cells":
        return cv.candidates_from_demand(demand, group=group)
    if source == "sites":
        if not body.sites:
            raise HTTPException(422, "candidates='sites' needs a non-empty 'sites' list")
        return _sites_frame(body.sites, body.coord_type, "site")
    if source.startswith("buildings:"):
        use = source.split(":", 1)[1]
        from gis.db.models import BUILDING_USES

        if use not in BUILDING_USES:
            raise HTTPException(
                422, f"unknown building use {use!r}: use one of {', '.join(BUILDING_USES)}"
            )
        found = plan_store.buildings_of_use(engine, use)
        if found.empty:
            raise HTTPException(422, f"no building of use {use!r} to use as a candidate site")
        return cv.candidates_from_points(found, source=f"building:{use}")
    raise HTTPException(
        422, f"candidates must be 'cells', 'sites' or 'buildings:<use>', not {source!r}"
    )


@dataclass(frozen=True)
class _Solved:
    kind: str
    group: str
    demand: pd.DataFrame
    facilities: pd.DataFrame
    candidates: pd.DataFrame
    rec: cv.Recommendation
    network: RoadNetwork


def _recommend(request: Request, engine: Engine, settings: Settings, body: SolveRequest) -> _Solved:
    kind, group = _kind_group(body.kind, body.group)
    network = _network(request, engine, settings)
    demand = _demand(engine, settings)
    facilities = plan_store.facilities(engine)
    candidates = _candidates(engine, demand, body, group)
    if body.new_capacity is not None:
        candidates["capacity"] = candidates["capacity"].fillna(float(body.new_capacity))
    try:
        rec = cv.recommend_sites(
            network,
            demand,
            facilities,
            candidates,
            kind,
            model=body.model,
            p=body.p,
            group=group,
            standards=cv.load_standards(),
            excluded=body.exclude,
            time_limit=body.time_limit,
            unserved_minutes=body.unserved_minutes,
        )
    except (cv.CoverageError, ValueError) as exc:
        raise _bad_input(exc) from exc
    return _Solved(kind, group, demand, facilities, candidates, rec, network)


def _solve(
    request: Request, engine: Engine, settings: Settings, body: SolveRequest
) -> dict[str, Any]:
    solved = _recommend(request, engine, settings, body)
    kind, group, rec, demand = solved.kind, solved.group, solved.rec, solved.demand
    candidates = solved.candidates
    scenario_id = None
    if body.save_as and len(rec.sites) == 0:
        raise HTTPException(
            422, f"nothing to save as {body.save_as!r}: no new site ({rec.explanation})"
        )
    if body.save_as:
        try:
            scenario_id = plan_store.save_scenario(
                engine,
                name=body.save_as,
                kind=kind,
                added=rec.plan.added,
                description=f"{rec.model} · {len(rec.sites)} 处 · {cv.GROUP_NAMES[group]}",
            )
        except plan_store.ScenarioError as exc:
            raise HTTPException(409, str(exc)) from exc
    uncoverable = rec.uncoverable.assign(cell=[f"{int(c):x}" for c in rec.uncoverable["cell"]])
    return {
        "kind": kind,
        "group": group,
        "model": rec.model,
        "status": rec.status,
        "objective": _json_number(rec.objective),
        "candidates": len(candidates),
        "sites": _records(rec.sites),
        "served_before": rec.served_before,
        "served_after": rec.served_after,
        "people": float(demand[group].sum()),
        "uncoverable": _records(uncoverable[["cell", "grid_id", "lon", "lat", group]]),
        "explanation": rec.explanation,
        "scenario_id": scenario_id,
    }


class ScenarioRequest(BaseModel):
    """A plan to save: sites added and facilities removed."""

    name: Text = Field(min_length=1, max_length=200)
    kind: Text
    add: list[Site] = Field(default_factory=list)
    remove: list[BigId] = Field(default_factory=list, description="facility ids closed")
    coord_type: Text = "wgs84"
    description: Text | None = None


def _save(engine: Engine, body: ScenarioRequest) -> dict[str, Any]:
    kind, _ = _kind_group(body.kind, None)
    added = _sites_frame(body.add, body.coord_type, "site")
    try:
        scenario_id = plan_store.save_scenario(
            engine,
            name=body.name,
            kind=kind,
            added=added,
            removed=body.remove,
            description=body.description,
        )
    except plan_store.ScenarioError as exc:
        status = 409 if "exists already" in str(exc) else 422
        raise HTTPException(status, str(exc)) from exc
    return _scenario_dict(plan_store.load_scenario(engine, scenario_id))


def _scenario_dict(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": s["id"],
        "name": s["name"],
        "kind": s["kind"],
        "description": s["description"],
        "created_at": s["created_at"].isoformat() if s["created_at"] is not None else None,
        "add": _records(s["added"]),
        "remove": list(s["removed"]),
    }


def _load(engine: Engine, key: str) -> dict[str, Any]:
    try:
        return plan_store.load_scenario(engine, key)
    except plan_store.ScenarioNotFound as exc:
        raise HTTPException(404, str(exc)) from exc


def _compare(
    request: Request, engine: Engine, settings: Settings, kind: str, keys: list[str]
) -> tuple[pd.DataFrame, dict[str, cv.Access], list[cv.Plan], pd.DataFrame]:
    kind, _ = _kind_group(kind, None)
    plans = []
    for key in keys:
        s = _load(engine, key)
        if s["kind"] != kind:
            raise HTTPException(
                422, f"scenario {s['name']!r} plans {s['kind']} facilities, not {kind}"
            )
        plans.append(cv.Plan(s["name"], kind, s["added"], s["removed"]))
    network = _network(request, engine, settings)
    facilities = plan_store.facilities(engine)
    table, accesses = cv.compare_plans(
        network,
        _demand(engine, settings),
        facilities,
        plans,
        kind,
        standards=cv.load_standards(),
    )
    return table, accesses, plans, facilities


# ------------------------------------------------------------------ routes

KindQ = Annotated[str, Query(description="facility kind: " + ", ".join(cv.KIND_NAMES))]
GroupQ = Annotated[
    str | None, Query(description="group: " + ", ".join(cv.GROUPS) + "; default the standard's")
]


@router.get("/api/planning/standards")
async def standards() -> dict[str, Any]:
    """The walking standards per facility kind (GB 50180-2018 life circles) and the groups."""
    try:
        table = cv.load_standards()
    except cv.CoverageError as exc:
        raise HTTPException(500, f"the standards file is wrong: {exc}") from exc
    return {
        "standards": [_standard_dict(s) for s in table.values()],
        "groups": [{"group": g, "name": n} for g, n in cv.GROUP_NAMES.items()],
    }


@router.get("/api/planning/access")
async def access_report(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    kind: KindQ,
    group: GroupQ = None,
    top: Annotated[int, Query(ge=1, le=500, description="grids/communities listed")] = 20,
) -> dict[str, Any]:
    """Who lacks a facility within its walking limit: shares, capacity split, equity, by grid."""
    kind, group = _kind_group(kind, group)
    return await run_in_threadpool(_access_report, request, engine, settings, kind, group, top)


@router.post("/api/planning/access")
async def access_report_for_demand(
    request: Request, engine: EngineDep, settings: SettingsDep, body: DemandAccessRequest
) -> dict[str, Any]:
    """The same report for demand from a file (census grid), e.g. read by a planner's tool."""
    kind, group = _kind_group(body.kind, body.group)

    def work() -> dict[str, Any]:
        demand = _demand_from_geojson(engine, settings, body)
        return _access_report(request, engine, settings, kind, group, body.top, demand)

    return await run_in_threadpool(work)


@router.get(
    "/api/planning/access/cells",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
async def access_cells_geojson(
    request: Request, engine: EngineDep, settings: SettingsDep, kind: KindQ, group: GroupQ = None
) -> Response:
    """Walking minutes and unserved people per H3 cell, as GeoJSON hexagons."""
    kind, group = _kind_group(kind, group)
    body = await run_in_threadpool(_access_cells_geojson, request, engine, settings, kind, group)
    return Response(body, media_type="application/geo+json")


@router.post("/api/planning/solve")
async def solve(
    request: Request, engine: EngineDep, settings: SettingsDep, body: SolveRequest
) -> dict[str, Any]:
    """Recommend new sites (LSCP, MCLP, p-median, capacitated p-median), today's kept."""
    return await run_in_threadpool(_solve, request, engine, settings, body)


@router.post("/api/planning/scenarios", status_code=201)
async def save_scenario(engine: EngineDep, body: ScenarioRequest) -> dict[str, Any]:
    """Save a plan (sites added, facilities removed) to compare later."""
    return await run_in_threadpool(_save, engine, body)


@router.get("/api/planning/scenarios")
async def list_scenarios(engine: EngineDep, kind: str | None = None) -> list[dict[str, Any]]:
    """Saved plans, newest last."""
    if kind is not None:
        _kind_group(kind, None)
    frame = await run_in_threadpool(plan_store.list_scenarios, engine, kind)
    frame["created_at"] = frame["created_at"].map(lambda t: t.isoformat())
    return _records(frame)


@router.get("/api/planning/scenarios/{key}")
async def get_scenario(engine: EngineDep, key: Text) -> dict[str, Any]:
    """One saved plan, by id or name."""
    return _scenario_dict(await run_in_threadpool(_load, engine, key))


@router.delete("/api/planning/scenarios/{key}", status_code=204)
async def delete_scenario(engine: EngineDep, key: Text) -> Response:
    """Delete a saved plan."""
    scenario = await run_in_threadpool(_load, engine, key)
    await run_in_threadpool(plan_store.delete_scenario, engine, scenario["id"])
    return Response(status_code=204)


@router.get("/api/planning/compare")
async def compare(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    kind: KindQ,
    scenario: Annotated[list[Text] | None, Query(description="scenario ids or names")] = None,
) -> dict[str, Any]:
    """Today and each plan side by side: people served per group, walking times, cost."""
    table, _, _, _ = await run_in_threadpool(
        _compare, request, engine, settings, kind, scenario or []
    )
    return {"kind": kind, "plans": _records(table.reset_index())}


@router.get("/planning/access", response_class=HTMLResponse)
async def access_page(
    request: Request, engine: EngineDep, settings: SettingsDep, kind: KindQ, group: GroupQ = None
) -> HTMLResponse:
    """The access map (可达性) of a facility kind and group: H3 cells, hot spots, facilities."""
    kind, group = _kind_group(kind, group)

    def render() -> str:
        network = _network(request, engine, settings)
        facilities = plan_store.facilities(engine)
        result = cv.access(
            network, _demand(engine, settings), facilities, kind, standards=cv.load_standards()
        )
        return render_offline(access_map(result, facilities, group=group, settings=settings))

    return HTMLResponse(await run_in_threadpool(render))


@router.get("/planning/sites", response_class=HTMLResponse)
async def sites_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    kind: KindQ,
    group: GroupQ = None,
    model: Annotated[str, Query(description=", ".join(cv.MODELS))] = "mclp",
    p: Annotated[int, Query(ge=1, le=200)] = 3,
    candidates: Annotated[str, Query(description="'cells' or 'buildings:<use>'")] = "cells",
) -> HTMLResponse:
    """Candidate and recommended sites (选址) on today's access map."""
    body = SolveRequest(kind=kind, group=group, model=model, p=p, candidates=candidates)

    def render() -> str:
        solved = _recommend(request, engine, settings, body)
        today = cv.access(
            solved.network,
            solved.demand,
            solved.facilities,
            solved.kind,
            standards=cv.load_standards(),
        )
        m = access_map(
            today,
            solved.facilities,
            group=solved.group,
            candidates=solved.candidates,
            recommended=solved.rec.sites,
            settings=settings,
        )
        return render_offline(m)

    return HTMLResponse(await run_in_threadpool(render))


@router.get("/planning/compare", response_class=HTMLResponse)
async def compare_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    kind: KindQ,
    scenario: Annotated[Text, Query(description="the scenario (id or name) shown after")],
    group: GroupQ = None,
) -> HTMLResponse:
    """Before and after one plan (现状 / 规划后) on a map, with the comparison table."""
    kind, group = _kind_group(kind, group)

    def render() -> str:
        table, accesses, plans, facilities = _compare(request, engine, settings, kind, [scenario])
        plan = plans[0]
        m = plan_map(accesses, table, facilities, plan, group=group, settings=settings)
        return render_offline(m)

    return HTMLResponse(await run_in_threadpool(render))
