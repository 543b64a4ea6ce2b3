"""The grid worker's tablet (网格员工作台): my grids, households, tasks, the way there, check-in.

Every ``/api/worker`` route needs the token of a grid worker (403 for any other role,
:func:`grids.access.require_grid_worker`); what they see is decided by
:mod:`grids.access` alone:

* grids, buildings and households of *their* current grids only (another grid: 404);
* residents' names and phones masked (``张**``, ``138****5678``) except in buildings
  within ``task_identity_radius_m`` of one of their open tasks, where the task needs
  them (every unmasked read is written to the audit log); ID numbers always masked;
* tasks: the open cases assigned to them (``dispatched``, ``in_progress``, ``returned``,
  ``escalated``), by deadline then priority, each with the walking distance and time
  over the road network from where they stand (or from their grid's centre);
* check-in (签到, proof of presence): accepted within ``checkin_tolerance_m`` of the
  case, stored either way;
* ``GET /api/worker/package``: a GeoPackage of their grids for offline work, with
  households masked (a tablet can be lost).

The worker's actions on a case (接单 ``start``, 反馈 ``resolve``) go through
``POST /api/incidents/{id}/actions`` like everyone else's.

``GET /worker`` is the tablet page.  It carries no data itself: its script reads the
token once from ``?token=…`` (then removes it from the address bar and keeps it in
``sessionStorage`` for the tab's lifetime) and calls these JSON routes with
``Authorization: Bearer``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

import geopandas as gpd
import pyogrio
import shapely

from analysis.evacuation_lists import ShelterDistances
from analysis.network import RoadNetwork
from api import casework
from api.auth import CurrentUser
from api.deps import EngineDep, SettingsDep, get_state
from api.inputs import BigId, Text
from gis import clock
from gis.coords import COORD_TYPES, to_wgs84
from gis.errors import NotFound
from gis.settings import Settings
from gis.store import incident_store, worker_store
from gis.store.worker_store import AGE_GROUP_NAMES_ZH, FLAGS_ZH
from grids.access import (
    Principal,
    identity_visible,
    is_own_task,
    mask_id_number,
    mask_name,
    mask_phone,
    require_grid_worker,
)
from grids.incidents import OPEN_STATES, RULE_BY_ACTION, SHANGHAI, STATE_NAMES_ZH, IllegalTransition
from maps.assets import render_offline
from maps.worker import worker_page

router = APIRouter(tags=["worker"])

GEOPACKAGE = "application/geopackage+sqlite3"
#: Shelters this close to a worker's grids go into the offline package.
PACKAGE_SHELTER_RADIUS_M = 2000.0
#: The worker actions the tablet offers (接单, 反馈); the states each may be taken from are
#: the life cycle's (:data:`grids.incidents.RULE_BY_ACTION`).
TABLET_ACTIONS = ("start", "resolve")

Lon = Annotated[float | None, Query(ge=-180, le=180, description="longitude, degrees")]
Lat = Annotated[float | None, Query(ge=-90, le=90, description="latitude, degrees")]
CoordType = Annotated[str, Query(description=f"one of {', '.join(COORD_TYPES)}")]
GridCode = Annotated[str, Query(pattern=r"^\d{15}$", description="15-digit grid code")]


# ------------------------------------------------------------------ helpers


def _my_grids(engine: Engine, user: Principal) -> gpd.GeoDataFrame:
    """The user's current grids (the caller checked they are a grid worker)."""
    grids = worker_store.worker_grids(engine, require_grid_worker(user))
    return grids[[user.covers_grid(int(g)) for g in grids["id"]]]


def _my_grid(engine: Engine, user: Principal, code: str) -> int:
    """The id of one of the user's current grids, by code; 404 for any other grid."""
    require_grid_worker(user)
    grid_id = worker_store.current_grid_id(engine, code)
    if grid_id is None or not user.covers_grid(grid_id):
        raise NotFound(f"no current grid {code} of yours; GET /api/worker/grids lists them")
    return grid_id


def _iso(at: Any) -> str | None:
    if at is None or (not isinstance(at, datetime) and pd.isna(at)):
        return None
    return pd.Timestamp(at).tz_convert(SHANGHAI).isoformat()


def _geojson(frame: gpd.GeoDataFrame, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A FeatureCollection (RFC 7946: lon/lat, WGS84) with times as ISO strings."""
    out = frame.drop(columns=[c for c in drop if c in frame.columns])
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = [_iso(v) for v in out[column]]
    return out.to_geo_dict(drop_id=True)


def _json(body: Any, media_type: str = "application/json") -> Response:
    """A JSON response with Chinese text kept as UTF-8 rather than escaped."""
    return Response(json.dumps(body, ensure_ascii=False), media_type=media_type)


@dataclass(frozen=True)
class Origin:
    """Where walking distances are measured from."""

    lon: float
    lat: float
    kind: str  # "position" or "grid_centre"


def _origin(
    engine: Engine, user: Principal, lon: float | None, lat: float | None, coord_type: str
) -> Origin:
    """The worker's position (converted to WGS84), or their first grid's centre."""
    if (lon is None) != (lat is None):
        raise HTTPException(
            422, "give both lon and lat (your position), or neither to measure from your grid"
        )
    if lon is not None and lat is not None:
        x, y = to_wgs84(lon, lat, coord_type)
        return Origin(float(x), float(y), "position")
    grids = _my_grids(engine, user)
    if grids.empty:
        raise NotFound("you cover no current grid; ask your community staff to assign one")
    first = grids.iloc[0]
    return Origin(float(first["centre_lon"]), float(first["centre_lat"]), "grid_centre")


def _network(request: Request, engine: Engine, settings: Settings) -> RoadNetwork:
    network = get_state(request).walking_now().network
    if network is None:
        raise HTTPException(503, "no road network is loaded yet; load the district first")
    return network


def _check_on_network(network: RoadNetwork, settings: Settings, origin: Origin) -> None:
    """Refuse a position too far from every road (wrong coordinates or coord_type)."""
    offset = float(network.snap([origin.lon], [origin.lat]).offset_m[0])
    if offset > settings.max_walk_to_road_m:
        raise HTTPException(
            422,
            f"the point ({origin.lon:.5f}, {origin.lat:.5f}) is {offset:,.0f} m from the "
            f"nearest road, farther than {settings.max_walk_to_road_m:,.0f} m: outside the "
            "area served. Check lon/lat and coord_type (AMap and WeChat send gcj02).",
        )


# ------------------------------------------------------------------ grids, buildings, households


@router.get(
    "/api/worker/grids",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
async def my_grids(engine: EngineDep, user: CurrentUser) -> Response:
    """My current grids as GeoJSON: code, name, community, primary/backup, counts, centre."""
    grids = await run_in_threadpool(_my_grids, engine, user)
    body = _geojson(grids, drop=("id",))
    return _json(body, "application/geo+json")


@router.get(
    "/api/worker/buildings",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
async def my_buildings(engine: EngineDep, user: CurrentUser, grid: GridCode) -> Response:
    """Buildings of one of my grids (GeoJSON): households, residents and vulnerable counts."""

    def read() -> dict[str, Any]:
        grid_id = _my_grid(engine, user, grid)
        return _geojson(worker_store.grid_buildings(engine, [grid_id]))

    return _json(await run_in_threadpool(read), "application/geo+json")


def _households(
    engine: Engine, settings: Settings, user: Principal, grid_id: int, *, only_vulnerable: bool
) -> dict[str, Any]:
    worker_id = require_grid_worker(user)
    near_tasks = worker_store.task_buildings(
        engine, worker_id, OPEN_STATES, settings.task_identity_radius_m
    )
    with engine.begin() as conn:
        buildings = worker_store.grid_buildings(conn, [grid_id])["id"].tolist()
        shown = [
            b
            for b in buildings
            if identity_visible(user, building_id=int(b), task_buildings=near_tasks)
        ]
        rows = worker_store.grid_residents(
            conn,
            [grid_id],
            identity_buildings=shown,
            username=user.username,
            mask_name=mask_name,
            mask_phone=mask_phone,
            mask_id_number=mask_id_number,
            reason="worker tablet: open task at the building",
        )
    return {"households": _group_households(rows, only_vulnerable)}


def _group_households(rows: pd.DataFrame, only_vulnerable: bool) -> list[dict[str, Any]]:
    """One entry per household with its residents, vulnerable households first.

    ``rows`` is :func:`gis.store.worker_store.grid_residents`' answer: one row per resident,
    ordered by household.
    """
    households: dict[int, dict[str, Any]] = {}
    for r in worker_store.as_records(rows):
        key = int(r["household_id"])
        household = households.get(key)
        if household is None:
            household = households[key] = {
                "id": key,
                "building_id": int(r["building_id"]),
                "building_name": r["building_name"],
                "grid_code": r["grid_code"],
                "unit": int(r["unit"]),
                "room": r["room"],
                "size": int(r["size"]),
                "lon": float(r["lon"]),
                "lat": float(r["lat"]),
                "identity_masked": bool(r["identity_masked"]),
                "vulnerable": [],
                "vulnerable_names": [],
                "residents": [],
            }
        if r["resident_id"] is None:
            continue
        flags = [flag for flag in FLAGS_ZH if r[flag]]
        household["residents"].append(
            {
                "id": int(r["resident_id"]),
                "sex": r["sex"],
                "birth_year": int(r["birth_year"]),
                "age_group": r["age_group"],
                "age_group_name": AGE_GROUP_NAMES_ZH.get(r["age_group"]),
                "flags": flags,
                "flag_names": [FLAGS_ZH[f] for f in flags],
                "name": r["name"],
                "phone": r["phone"],
                "id_number": r["id_number"],
            }
        )
        for flag in flags:
            if flag not in household["vulnerable"]:
                household["vulnerable"].append(flag)
    out = []
    for household in households.values():
        household["vulnerable"] = [f for f in FLAGS_ZH if f in household["vulnerable"]]
        household["vulnerable_names"] = [FLAGS_ZH[f] for f in household["vulnerable"]]
        if household["vulnerable"] or not only_vulnerable:
            out.append(household)
    out.sort(key=lambda h: (not h["vulnerable"], h["building_id"], h["unit"], h["room"]))
    return out


@router.get("/api/worker/households")
async def my_households(
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    grid: GridCode,
    only_vulnerable: bool = False,
) -> dict[str, Any]:
    """Households of one of my grids with their residents' vulnerability flags and age groups.

    Names and phones are masked except in buildings at one of my open tasks (the task
    needs them; the read is audited); ID numbers are always masked.
    """

    def read() -> dict[str, Any]:
        grid_id = _my_grid(engine, user, grid)
        body = _households(engine, settings, user, grid_id, only_vulnerable=only_vulnerable)
        return {"grid": grid, **body}

    return await run_in_threadpool(read)


# ------------------------------------------------------------------ tasks and the way there


def _task_rows(engine: Engine, user: Principal) -> pd.DataFrame:
    """My own open tasks (assigned to me), by deadline, then priority."""
    return worker_store.open_tasks(engine, require_grid_worker(user), OPEN_STATES)


def _tasks(
    request: Request,
    engine: Engine,
    settings: Settings,
    user: Principal,
    lon: float | None,
    lat: float | None,
    coord_type: str,
) -> dict[str, Any]:
    origin = _origin(engine, user, lon, lat, coord_type)
    tasks = _task_rows(engine, user)
    seconds = np.full(len(tasks), np.inf)
    if len(tasks):
        network = _network(request, engine, settings)
        _check_on_network(network, settings, origin)
        to_tasks = ShelterDistances.compute(
            network, tasks["lon"].to_numpy(float), tasks["lat"].to_numpy(float)
        )
        seconds = to_tasks.to_points(network.snap([origin.lon], [origin.lat]))[0][:, 0]
        speed = network.walk_speed_mps
    else:
        speed = settings.walk_speed_mps
    now = clock.now()
    out = []
    for row, s in zip(worker_store.as_records(tasks), seconds.tolist(), strict=True):
        reachable = bool(np.isfinite(s))
        deadline = row["deadline"]
        out.append(
            {
                "id": int(row["id"]),
                "category_code": row["category_code"],
                "category_name": row["category_name"],
                "priority": int(row["priority"]),
                "state": row["state"],
                "state_name": STATE_NAMES_ZH.get(row["state"], row["state"]),
                "source": row["source"],
                "description": row["description"],
                "address": row["address"],
                "reported_at": _iso(row["reported_at"]),
                "deadline": _iso(deadline),
                "overdue": bool(deadline is not None and pd.Timestamp(deadline) < now),
                "grid_code": row["grid_code"],
                "lon": float(row["lon"]),
                "lat": float(row["lat"]),
                "walk_distance_m": round(s * speed, 1) if reachable else None,
                "walk_minutes": round(s / 60.0, 1) if reachable else None,
                "actions": [a for a in TABLET_ACTIONS if row["state"] in RULE_BY_ACTION[a].sources],
            }
        )
    return {
        "from": {"lon": origin.lon, "lat": origin.lat, "kind": origin.kind},
        "checkin_tolerance_m": settings.checkin_tolerance_m,
        "tasks": out,
    }


@router.get("/api/worker/tasks")
async def my_tasks(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    lon: Lon = None,
    lat: Lat = None,
    coord_type: CoordType = "wgs84",
) -> dict[str, Any]:
    """My open tasks by deadline, then priority, with the walk to each over the road network.

    Distances are measured from ``lon``/``lat`` (my position, in ``coord_type``) or, when
    none is given, from the centre of my (first) grid; ``from.kind`` says which.
    """
    return await run_in_threadpool(_tasks, request, engine, settings, user, lon, lat, coord_type)


def _own_task(engine: Engine, user: Principal, task_id: int) -> incident_store.IncidentRow:
    """One of the user's own tasks; 404 for a case they may not see or that is not theirs."""
    require_grid_worker(user)
    with engine.connect() as conn:
        row = casework.visible_incident(conn, user, task_id)
    if not is_own_task(user, assignee_id=row.assignee_id):
        raise NotFound(f"no task {task_id} of yours; GET /api/worker/tasks lists them")
    return row


def _route(
    request: Request,
    engine: Engine,
    settings: Settings,
    user: Principal,
    task_id: int,
    lon: float | None,
    lat: float | None,
    coord_type: str,
) -> dict[str, Any]:
    row = _own_task(engine, user, task_id)
    origin = _origin(engine, user, lon, lat, coord_type)
    network = _network(request, engine, settings)
    _check_on_network(network, settings, origin)
    to_task = ShelterDistances.compute(network, [row.lon], [row.lat])
    snap = network.snap([origin.lon], [origin.lat])
    seconds, end = to_task.to_points(snap)
    s = float(seconds[0, 0])
    if not np.isfinite(s):
        raise HTTPException(
            422, f"task {task_id} cannot be reached on foot from ({origin.lon}, {origin.lat})"
        )
    line = network.to_wgs84(to_task.route(snap, 0, 0, int(end[0, 0])))
    distance = s * network.walk_speed_mps
    return {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(shapely.set_precision(line, 1e-7)),
        "properties": {
            "task": task_id,
            "from": origin.kind,
            "distance_m": round(distance, 1),
            "minutes": round(s / 60.0, 1),
            "message": f"步行约 {s / 60.0:.0f} 分钟（{distance:,.0f} 米）",
        },
    }


@router.get("/api/worker/route")
async def route_to_task(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    task: Annotated[BigId, Query(description="the task (incident) id")],
    lon: Lon = None,
    lat: Lat = None,
    coord_type: CoordType = "wgs84",
) -> dict[str, Any]:
    """The walking route to one of my tasks: a GeoJSON Feature (LineString), distance, time."""
    return await run_in_threadpool(
        _route, request, engine, settings, user, task, lon, lat, coord_type
    )


class CheckIn(BaseModel):
    """Where the worker stands when checking in at a task."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    coord_type: Text = Field("wgs84", description=f"one of {', '.join(COORD_TYPES)}")


class CheckInAnswer(BaseModel):
    """Whether the check-in counts as presence, and how far from the task it was."""

    id: int
    task: int
    accepted: bool
    distance_m: float
    tolerance_m: float
    lon: float
    lat: float
    at: datetime
    message: str


def _checkin(
    engine: Engine, settings: Settings, user: Principal, task_id: int, body: CheckIn
) -> CheckInAnswer:
    x, y = to_wgs84(body.lon, body.lat, body.coord_type)
    worker_id = require_grid_worker(user)
    now = clock.now()
    with engine.begin() as conn:
        row = casework.visible_incident(conn, user, task_id, for_update=True)
        if not is_own_task(user, assignee_id=row.assignee_id):
            raise NotFound(f"no task {task_id} of yours; GET /api/worker/tasks lists them")
        if row.state not in OPEN_STATES:
            raise IllegalTransition(
                f"task {task_id} is {STATE_NAMES_ZH.get(row.state, row.state)} ({row.state}), "
                "not open: a check-in is for a task being worked"
            )
        distance = incident_store.distance_m(conn, task_id, float(x), float(y))
        assert distance is not None  # the row was just read and is locked
        accepted = distance <= settings.checkin_tolerance_m
        checkin_id = incident_store.insert_checkin(
            conn,
            task_id,
            worker_id=worker_id,
            at=now,
            lon=float(x),
            lat=float(y),
            distance_m=distance,
            accepted=accepted,
        )
    tolerance = settings.checkin_tolerance_m
    message = (
        f"签到成功：距事发地点 {distance:.0f} 米"
        if accepted
        else f"签到未通过：距事发地点 {distance:.0f} 米，超出 {tolerance:.0f} 米范围，"
        "请到现场后再签到"
    )
    return CheckInAnswer(
        id=checkin_id,
        task=task_id,
        accepted=accepted,
        distance_m=round(distance, 1),
        tolerance_m=tolerance,
        lon=float(x),
        lat=float(y),
        at=now,
        message=message,
    )


@router.post("/api/worker/tasks/{task_id}/checkin", response_model=CheckInAnswer)
async def check_in(
    task_id: BigId, body: CheckIn, engine: EngineDep, settings: SettingsDep, user: CurrentUser
) -> CheckInAnswer:
    """Check in at one of my tasks (签到): accepted within the tolerance, recorded either way."""
    return await run_in_threadpool(_checkin, engine, settings, user, task_id, body)


# ------------------------------------------------------------------ the offline package


#: Layer name → geometry type written to the GeoPackage (also for empty layers).
PACKAGE_LAYERS = {
    "grids": "MultiPolygon",
    "buildings": "MultiPolygon",
    "households": "Point",
    "tasks": "Point",
    "roads": "LineString",
    "shelters": "Point",
}


def package_layers(
    request: Request, engine: Engine, settings: Settings, user: Principal
) -> dict[str, gpd.GeoDataFrame]:
    """The layers of a worker's offline package, EPSG:4326, households masked."""
    grids = _my_grids(engine, user)
    if grids.empty:
        raise NotFound("you cover no current grid; ask your community staff to assign one")
    grid_ids = [int(g) for g in grids["id"]]
    tasks = _task_rows(engine, user)
    with engine.begin() as conn:
        residents = worker_store.grid_residents(
            conn,
            grid_ids,
            identity_buildings=(),  # offline copies are always masked
            username=user.username,
            mask_name=mask_name,
            mask_phone=mask_phone,
            mask_id_number=mask_id_number,
        )
    households = pd.DataFrame(_group_households(residents, only_vulnerable=False))
    if households.empty:
        households = pd.DataFrame(columns=["id", "lon", "lat", "residents", "vulnerable"])
    households["members"] = [
        "、".join(f"{r['name'] or ''} {r['phone'] or ''}".strip() for r in rs)
        for rs in households["residents"]
    ]
    households["vulnerable"] = ["、".join(FLAGS_ZH[f] for f in v) for v in households["vulnerable"]]
    households = households.drop(columns=["residents", "vulnerable_names"], errors="ignore")
    west, south, east, north = (float(v) for v in grids.total_bounds)
    tasks = tasks.assign(
        state_name=[STATE_NAMES_ZH.get(s, s) for s in tasks["state"]],
        deadline=[_iso(v) for v in tasks["deadline"]],
        reported_at=[_iso(v) for v in tasks["reported_at"]],
    )
    return {
        "grids": grids.drop(columns=["id"]),
        "buildings": worker_store.grid_buildings(engine, grid_ids),
        "households": gpd.GeoDataFrame(
            households.drop(columns=["lon", "lat"]),
            geometry=gpd.points_from_xy(households["lon"], households["lat"]),
            crs=4326,
        ),
        "tasks": gpd.GeoDataFrame(
            tasks.drop(columns=["lon", "lat"]),
            geometry=gpd.points_from_xy(tasks["lon"], tasks["lat"]),
            crs=4326,
        ),
        "roads": worker_store.roads_in_box(engine, (west, south, east, north)),
        "shelters": worker_store.shelters_near(engine, grid_ids, PACKAGE_SHELTER_RADIUS_M),
    }


def write_package(layers: dict[str, gpd.GeoDataFrame], path: Path) -> Path:
    """Write the layers as one GeoPackage, each with its declared geometry type."""
    path.unlink(missing_ok=True)
    for name, frame in layers.items():
        pyogrio.write_dataframe(
            frame,
            path,
            layer=name,
            driver="GPKG",
            geometry_type=PACKAGE_LAYERS[name],
            promote_to_multi=PACKAGE_LAYERS[name].startswith("Multi"),
        )
    return path


@router.get(
    "/api/worker/package",
    response_class=Response,
    responses={200: {"content": {GEOPACKAGE: {}}}},
)
async def offline_package(
    request: Request, engine: EngineDep, settings: SettingsDep, user: CurrentUser
) -> Response:
    """A GeoPackage of my grids for offline work (QGIS opens it), EPSG:4326.

    Layers: grids, buildings, households (always masked), my open tasks, roads in the
    grids' bounding box, and shelters within 2 km of the grids.
    """

    def build() -> bytes:
        layers = package_layers(request, engine, settings, user)
        with tempfile.TemporaryDirectory(prefix="wangge-worker-") as folder:
            path = write_package(layers, Path(folder) / "package.gpkg")
            return path.read_bytes()

    data = await run_in_threadpool(build)
    name = f"wangge-{user.username}-{clock.now():%Y%m%d}.gpkg"
    return Response(
        data,
        media_type=GEOPACKAGE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ------------------------------------------------------------------ the page


@router.get("/worker", response_class=HTMLResponse)
async def tablet_page(engine: EngineDep, settings: SettingsDep) -> HTMLResponse:
    """The worker's tablet page (in Chinese, 1280×800): open it once as ``/worker?token=…``.

    The page holds no data; its script keeps the token in ``sessionStorage`` and loads
    my grids and tasks from the JSON routes above.
    """

    def render() -> str:
        bounds = worker_store.current_grids_extent(engine)
        return render_offline(worker_page(bounds, settings=settings))

    return HTMLResponse(await run_in_threadpool(render))
