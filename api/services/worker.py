"""The grid worker's tablet (网格员工作台): my grids, households, tasks, the way there, check-in.

Every use case here is for a grid worker (any other role: :class:`gis.errors.Forbidden`,
:func:`grids.access.require_grid_worker`); what they see is decided by
:mod:`grids.access` alone:

* grids, buildings and households of *their* current grids only (another grid: not found);
* residents' names and phones masked (``张**``, ``138****5678``) except in buildings
  within ``task_identity_radius_m`` of one of their open tasks, where the task needs
  them (every unmasked read is written to the audit log); ID numbers always masked;
* tasks: the open cases assigned to them (``dispatched``, ``in_progress``, ``returned``,
  ``escalated``), by deadline then priority, each with the walking distance and time
  over the road network from where they stand (or from their grid's centre);
* check-in (签到, proof of presence): accepted within ``checkin_tolerance_m`` of the
  case, stored either way;
* the offline package: a GeoPackage of their grids, households always masked (a tablet
  can be lost).

The worker's actions on a case (接单 ``start``, 反馈 ``resolve``) are the case work of
every role (:mod:`api.services.casework`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

import geopandas as gpd
import pyogrio
from shapely import LineString

from analysis.evacuation_lists import ShelterDistances
from analysis.network import RoadNetwork
from analysis.walking import Walking, require_network, snap_near_roads
from api.services import casework
from gis import clock
from gis.coords import to_wgs84
from gis.errors import InvalidInput, NotFound
from gis.settings import Settings
from gis.store import incident_store, worker_field_store, worker_store
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

#: Shelters this close to a worker's grids go into the offline package.
PACKAGE_SHELTER_RADIUS_M = 2000.0
#: The worker actions the tablet offers (接单, 反馈); the states each may be taken from are
#: the life cycle's (:data:`grids.incidents.RULE_BY_ACTION`).
TABLET_ACTIONS = ("start", "resolve")
TabletAction = Literal["start", "resolve"]
#: Layer name → geometry type written to the GeoPackage (also for empty layers).
PACKAGE_LAYERS = {
    "grids": "MultiPolygon",
    "buildings": "MultiPolygon",
    "households": "Point",
    "tasks": "Point",
    "roads": "LineString",
    "shelters": "Point",
}
NO_GRID = "you cover no current grid; ask your community staff to assign one"


# ------------------------------------------------------------------ grids and buildings


def my_grids(engine: Engine, user: Principal) -> gpd.GeoDataFrame:
    """The worker's current grids, primary first (EPSG:4326).

    Columns: those of :func:`gis.store.worker_store.worker_grids` (id, code, name,
    community, assignment role, counts, centre).
    """
    grids = worker_store.worker_grids(engine, require_grid_worker(user))
    # a Series, not a list: an empty list would select no columns (and lose the geometry)
    return grids[grids["id"].map(lambda g: user.covers_grid(int(g))).astype(bool)]


def _my_grid(engine: Engine | Connection, user: Principal, code: str) -> int:
    """The id of one of the user's current grids, by code; not found for any other grid."""
    require_grid_worker(user)
    grid_id = worker_store.current_grid_id(engine, code)
    if grid_id is None or not user.covers_grid(grid_id):
        raise NotFound(f"no current grid {code} of yours; GET /api/worker/grids lists them")
    return grid_id


def grid_buildings(engine: Engine, user: Principal, code: str) -> gpd.GeoDataFrame:
    """Buildings of one of the worker's grids with households, residents and vulnerable counts."""
    return worker_store.grid_buildings(engine, [_my_grid(engine, user, code)])


# ------------------------------------------------------------------ households


@dataclass(frozen=True)
class Resident:
    """A resident as the tablet shows them: names and phones masked unless a task needs them."""

    id: int
    sex: str
    birth_year: int
    age_group: str
    age_group_name: str | None
    flags: list[str]
    flag_names: list[str]
    name: str | None
    phone: str | None
    id_number: str | None


@dataclass(frozen=True)
class Household:
    """A household (户) with its residents; ``vulnerable`` lists the flags any of them has."""

    id: int
    building_id: int
    building_name: str | None
    grid_code: str | None
    unit: int
    room: str
    size: int
    lon: float
    lat: float
    identity_masked: bool
    vulnerable: list[str]
    vulnerable_names: list[str]
    residents: list[Resident]
    last_visited: datetime | None = None
    visits_recent: int = 0


def with_visits(
    engine: Engine | Connection, settings: Settings, grid_ids: list[int], found: list[Household]
) -> list[Household]:
    """The households with their last visit (走访) and their visits of the recent window.

    The window is ``visit_window_days`` back from now.
    """
    since = clock.now() - timedelta(days=settings.visit_window_days)
    stats = worker_field_store.visit_stats(engine, grid_ids, since)
    if stats.empty:
        return found
    last = dict(zip(stats["household_id"].astype(int), stats["last_visited"], strict=True))
    recent = dict(zip(stats["household_id"].astype(int), stats["visits_recent"], strict=True))
    return [
        replace(h, last_visited=_local(last[h.id]), visits_recent=int(recent[h.id]))
        if h.id in last
        else h
        for h in found
    ]


def households(
    engine: Engine, settings: Settings, user: Principal, code: str, *, only_vulnerable: bool
) -> list[Household]:
    """Households of one of the worker's grids, vulnerable ones first.

    Names and phones are masked except in buildings within ``task_identity_radius_m`` of
    one of the worker's open tasks (the read is audited); ID numbers are always masked.
    """
    worker_id = require_grid_worker(user)
    # one transaction for every read (the database is told who asks once)
    with engine.begin() as conn:
        grid_id = _my_grid(conn, user, code)
        near_tasks = worker_store.task_buildings(
            conn, worker_id, OPEN_STATES, settings.task_identity_radius_m
        )
        # the buildings near my tasks (a few) rather than every building of the grid: the
        # residents read below are the grid's only, whatever else the list holds
        shown = [
            b
            for b in sorted(near_tasks)
            if identity_visible(user, building_id=b, task_buildings=near_tasks)
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
        found = group_households(rows, only_vulnerable=only_vulnerable)
        return with_visits(conn, settings, [grid_id], found)


def group_households(rows: pd.DataFrame, *, only_vulnerable: bool) -> list[Household]:
    """One household per ``household_id`` with its residents, vulnerable households first.

    ``rows`` is :func:`gis.store.worker_store.grid_residents`' answer: one row per resident,
    ordered by household.
    """
    heads: dict[int, dict[str, Any]] = {}
    members: dict[int, list[Resident]] = {}
    for r in worker_store.as_records(rows):
        key = int(r["household_id"])
        if key not in heads:
            heads[key] = {
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
            }
            members[key] = []
        if r["resident_id"] is None:
            continue
        flags = [flag for flag in FLAGS_ZH if r[flag]]
        members[key].append(
            Resident(
                id=int(r["resident_id"]),
                sex=r["sex"],
                birth_year=int(r["birth_year"]),
                age_group=r["age_group"],
                age_group_name=AGE_GROUP_NAMES_ZH.get(r["age_group"]),
                flags=flags,
                flag_names=[FLAGS_ZH[f] for f in flags],
                name=r["name"],
                phone=r["phone"],
                id_number=r["id_number"],
            )
        )
    out = []
    for key, head in heads.items():
        had = {f for resident in members[key] for f in resident.flags}
        vulnerable = [f for f in FLAGS_ZH if f in had]
        if vulnerable or not only_vulnerable:
            out.append(
                Household(
                    **head,
                    vulnerable=vulnerable,
                    vulnerable_names=[FLAGS_ZH[f] for f in vulnerable],
                    residents=members[key],
                )
            )
    out.sort(key=lambda h: (not h.vulnerable, h.building_id, h.unit, h.room))
    return out


# ------------------------------------------------------------------ tasks and the way there


@dataclass(frozen=True)
class Origin:
    """Where walking distances are measured from (WGS84, degrees)."""

    lon: float
    lat: float
    kind: Literal["position", "grid_centre"]


def _origin(
    engine: Engine, user: Principal, lon: float | None, lat: float | None, coord_type: str
) -> Origin:
    """The worker's position (converted to WGS84), or their first grid's centre."""
    if (lon is None) != (lat is None):
        raise InvalidInput(
            "give both lon and lat (your position), or neither to measure from your grid"
        )
    if lon is not None and lat is not None:
        x, y = to_wgs84(lon, lat, coord_type)
        return Origin(float(x), float(y), "position")
    grids = my_grids(engine, user)
    if grids.empty:
        raise NotFound(NO_GRID)
    first = grids.iloc[0]
    return Origin(float(first["centre_lon"]), float(first["centre_lat"]), "grid_centre")


def _on_the_roads(network: RoadNetwork, settings: Settings, origin: Origin) -> None:
    """Refuse a position too far from every road (wrong coordinates or coord_type)."""
    snap_near_roads(network, origin.lon, origin.lat, max_walk_m=settings.max_walk_to_road_m)


def _local(at: Any) -> datetime | None:
    """A stored time in China time; None for a missing one."""
    if at is None or (not isinstance(at, datetime) and pd.isna(at)):
        return None
    return pd.Timestamp(at).tz_convert(SHANGHAI).to_pydatetime()


@dataclass(frozen=True)
class Task:
    """One open task (工单) of the worker, with the walk to it (None: not reachable on foot)."""

    id: int
    category_code: str
    category_name: str
    priority: int
    state: str
    state_name: str
    source: str
    description: str
    address: str | None
    reported_at: datetime | None
    deadline: datetime | None
    overdue: bool
    grid_code: str | None
    lon: float
    lat: float
    walk_distance_m: float | None
    walk_minutes: float | None
    actions: list[TabletAction]


@dataclass(frozen=True)
class TaskList:
    """The worker's open tasks by deadline then priority, measured from ``origin``."""

    origin: Origin
    checkin_tolerance_m: float
    tasks: list[Task]


def _task_rows(engine: Engine, user: Principal) -> pd.DataFrame:
    """My own open tasks (assigned to me), by deadline, then priority."""
    return worker_store.open_tasks(engine, require_grid_worker(user), OPEN_STATES)


def tasks(
    engine: Engine,
    settings: Settings,
    walking: Walking,
    user: Principal,
    lon: float | None = None,
    lat: float | None = None,
    coord_type: str = "wgs84",
) -> TaskList:
    """The worker's open tasks with the walk to each over the road network.

    Distances are measured from ``lon``/``lat`` (the worker's position, in
    ``coord_type``) or, when none is given, from the centre of their first grid.

    Raises
    ------
    gis.errors.InvalidInput
        For half a position, or one far from every road (wrong coordinates).
    analysis.walking.NoRoadNetwork
        When there are tasks but no road network to measure the walks on.
    """
    origin = _origin(engine, user, lon, lat, coord_type)
    rows = _task_rows(engine, user)
    seconds = np.full(len(rows), np.inf)
    if len(rows):
        network = require_network(walking.network)
        _on_the_roads(network, settings, origin)
        to_tasks = ShelterDistances.compute(
            network, rows["lon"].to_numpy(float), rows["lat"].to_numpy(float)
        )
        seconds = to_tasks.to_points(network.snap([origin.lon], [origin.lat]))[0][:, 0]
        speed = network.walk_speed_mps
    else:
        speed = settings.walk_speed_mps
    now = clock.now()
    out = []
    for row, s in zip(worker_store.as_records(rows), seconds.tolist(), strict=True):
        reachable = bool(np.isfinite(s))
        deadline = _local(row["deadline"])
        out.append(
            Task(
                id=int(row["id"]),
                category_code=row["category_code"],
                category_name=row["category_name"],
                priority=int(row["priority"]),
                state=row["state"],
                state_name=STATE_NAMES_ZH.get(row["state"], row["state"]),
                source=row["source"],
                description=row["description"],
                address=row["address"],
                reported_at=_local(row["reported_at"]),
                deadline=deadline,
                overdue=bool(deadline is not None and deadline < now),
                grid_code=row["grid_code"],
                lon=float(row["lon"]),
                lat=float(row["lat"]),
                walk_distance_m=round(s * speed, 1) if reachable else None,
                walk_minutes=round(s / 60.0, 1) if reachable else None,
                actions=[a for a in TABLET_ACTIONS if row["state"] in RULE_BY_ACTION[a].sources],
            )
        )
    return TaskList(origin, settings.checkin_tolerance_m, out)


def _own_task(engine: Engine, user: Principal, task_id: int) -> incident_store.IncidentRow:
    """One of the user's own tasks; not found for a case they may not see or not theirs."""
    require_grid_worker(user)
    with engine.connect() as conn:
        row = casework.visible_incident(conn, user, task_id)
    if not is_own_task(user, assignee_id=row.assignee_id):
        raise NotFound(f"no task {task_id} of yours; GET /api/worker/tasks lists them")
    return row


@dataclass(frozen=True)
class TaskRoute:
    """The walk to one task: the way (EPSG:4326), metres, minutes and a line in Chinese."""

    task: int
    origin: Origin
    line: LineString
    distance_m: float
    minutes: float
    message: str


def route_to_task(
    engine: Engine,
    settings: Settings,
    walking: Walking,
    user: Principal,
    task_id: int,
    lon: float | None = None,
    lat: float | None = None,
    coord_type: str = "wgs84",
) -> TaskRoute:
    """The walking route over the streets to one of the worker's tasks.

    From ``lon``/``lat`` (in ``coord_type``) or the centre of the worker's first grid.

    Raises
    ------
    gis.errors.NotFound
        For a task that is not the worker's (or does not exist).
    gis.errors.InvalidInput
        For a bad position, or a task not reachable on foot from it.
    analysis.walking.NoRoadNetwork
        When no road network is loaded.
    """
    row = _own_task(engine, user, task_id)
    origin = _origin(engine, user, lon, lat, coord_type)
    network = require_network(walking.network)
    _on_the_roads(network, settings, origin)
    to_task = ShelterDistances.compute(network, [row.lon], [row.lat])
    snap = network.snap([origin.lon], [origin.lat])
    seconds, end = to_task.to_points(snap)
    s = float(seconds[0, 0])
    if not np.isfinite(s):
        raise InvalidInput(
            f"task {task_id} cannot be reached on foot from ({origin.lon}, {origin.lat})"
        )
    line = network.to_wgs84(to_task.route(snap, 0, 0, int(end[0, 0])))
    distance = s * network.walk_speed_mps
    return TaskRoute(
        task=task_id,
        origin=origin,
        line=line,
        distance_m=round(distance, 1),
        minutes=round(s / 60.0, 1),
        message=f"步行约 {s / 60.0:.0f} 分钟（{distance:,.0f} 米）",
    )


@dataclass(frozen=True)
class CheckIn:
    """A check-in (签到) as stored: accepted or not, how far from the task, when."""

    id: int
    task: int
    accepted: bool
    distance_m: float
    tolerance_m: float
    lon: float
    lat: float
    at: datetime
    message: str


def check_in(
    engine: Engine,
    settings: Settings,
    user: Principal,
    task_id: int,
    lon: float,
    lat: float,
    coord_type: str = "wgs84",
) -> CheckIn:
    """Check in at one of the worker's open tasks: accepted within the tolerance, stored either way.

    Raises
    ------
    gis.errors.NotFound
        For a task that is not the worker's.
    grids.incidents.IllegalTransition
        For a task no longer open (a conflict).
    """
    x, y = to_wgs84(lon, lat, coord_type)
    worker_id = require_grid_worker(user)
    now = clock.now()
    with engine.begin() as conn:
        row = casework.worker_case(conn, user, task_id, for_update=True)
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
    return CheckIn(
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


# ------------------------------------------------------------------ the offline package


def _iso(at: Any) -> str | None:
    local = _local(at)
    return None if local is None else local.isoformat()


def package_layers(engine: Engine, user: Principal) -> dict[str, gpd.GeoDataFrame]:
    """The layers of a worker's offline package, EPSG:4326, households masked."""
    grids = my_grids(engine, user)
    if grids.empty:
        raise NotFound(NO_GRID)
    grid_ids = [int(g) for g in grids["id"]]
    task_rows = _task_rows(engine, user)
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
    grouped = group_households(residents, only_vulnerable=False)
    homes = pd.DataFrame(
        [
            {
                **{k: v for k, v in vars(h).items() if k not in ("residents", "vulnerable_names")},
                "vulnerable": "、".join(FLAGS_ZH[f] for f in h.vulnerable),
                "members": "、".join(
                    f"{r.name or ''} {r.phone or ''}".strip() for r in h.residents
                ),
            }
            for h in grouped
        ],
        columns=None if grouped else ["id", "lon", "lat", "vulnerable", "members"],
    )
    west, south, east, north = (float(v) for v in grids.total_bounds)
    task_rows = task_rows.assign(
        state_name=[STATE_NAMES_ZH.get(s, s) for s in task_rows["state"]],
        deadline=[_iso(v) for v in task_rows["deadline"]],
        reported_at=[_iso(v) for v in task_rows["reported_at"]],
    )
    return {
        "grids": grids.drop(columns=["id"]),
        "buildings": worker_store.grid_buildings(engine, grid_ids),
        "households": gpd.GeoDataFrame(
            homes.drop(columns=["lon", "lat"]),
            geometry=gpd.points_from_xy(homes["lon"], homes["lat"]),
            crs=4326,
        ),
        "tasks": gpd.GeoDataFrame(
            task_rows.drop(columns=["lon", "lat"]),
            geometry=gpd.points_from_xy(task_rows["lon"], task_rows["lat"]),
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


def offline_package(engine: Engine, user: Principal) -> bytes:
    """A GeoPackage of the worker's grids for offline work (QGIS opens it), EPSG:4326.

    Layers: grids, buildings, households (always masked), the worker's open tasks, roads
    in the grids' bounding box, and shelters within 2 km of the grids.
    """
    layers = package_layers(engine, user)
    with tempfile.TemporaryDirectory(prefix="wangge-worker-") as folder:
        return write_package(layers, Path(folder) / "package.gpkg").read_bytes()
