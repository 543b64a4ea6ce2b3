"""The grid worker's tablet over HTTP (网格员工作台): grids, households, tasks, route, check-in.

Every ``/api/worker`` route needs a grid worker's bearer token or signed-in session (the
tablet page's script sends the cookie; 403 for any other role);
what they see, and every rule, is :mod:`api.services.worker`'s.  The worker's actions on
a case (接单 ``start``, 反馈 ``resolve``) go through ``POST /api/incidents/{id}/actions``
like everyone else's; the tablet page is ``GET /worker`` (:mod:`api.pages.worker`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.deps import EngineDep, SettingsDep, StateDep
from api.inputs import BigId
from api.schemas.common import (
    GeoJSONResponse,
    OptionalPointQuery,
    QueryPoint,
    feature_collection,
)
from api.schemas.worker import (
    CheckInAnswer,
    CheckInBody,
    HouseholdsAnswer,
    RouteFeature,
    TasksAnswer,
    WorkerBuildings,
    WorkerGrids,
)
from api.services import worker
from gis import clock

router = APIRouter(tags=["worker"])

GEOPACKAGE = "application/geopackage+sqlite3"


def _where(point: QueryPoint | None) -> tuple[float | None, float | None, str]:
    """My position as the services take it (None, None: not given)."""
    if point is None:
        return None, None, "wgs84"
    return point.lon, point.lat, point.coord_type


GridCode = Annotated[str, Query(pattern=r"^\d{15}$", description="15-digit grid code")]


@router.get("/api/worker/grids", response_model=WorkerGrids, response_class=GeoJSONResponse)
async def my_grids(engine: EngineDep, user: CurrentUser) -> dict[str, Any]:
    """My current grids as GeoJSON: code, name, community, primary/backup, counts, centre."""
    grids = await run_in_threadpool(worker.my_grids, engine, user)
    return feature_collection(grids, drop=("id",))


@router.get("/api/worker/buildings", response_model=WorkerBuildings, response_class=GeoJSONResponse)
async def my_buildings(engine: EngineDep, user: CurrentUser, grid: GridCode) -> dict[str, Any]:
    """Buildings of one of my grids (GeoJSON): households, residents and vulnerable counts."""
    return feature_collection(await run_in_threadpool(worker.grid_buildings, engine, user, grid))


@router.get("/api/worker/households", response_model=HouseholdsAnswer)
async def my_households(
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    grid: GridCode,
    only_vulnerable: bool = False,
) -> HouseholdsAnswer:
    """Households of one of my grids with their residents' vulnerability flags and age groups.

    Names and phones are masked except in buildings at one of my open tasks (the task
    needs them; the read is audited); ID numbers are always masked.
    """

    def read() -> HouseholdsAnswer:
        found = worker.households(engine, settings, user, grid, only_vulnerable=only_vulnerable)
        return HouseholdsAnswer.of(grid, found)

    return await run_in_threadpool(read)


@router.get("/api/worker/tasks", response_model=TasksAnswer)
async def my_tasks(
    state: StateDep,
    settings: SettingsDep,
    user: CurrentUser,
    point: OptionalPointQuery,
) -> TasksAnswer:
    """My open tasks by deadline, then priority, with the walk to each over the road network.

    Distances are measured from ``lon``/``lat`` (my position, in ``coord_type``), the centre
    of a 北斗 code's cell (``beidou``) or, when none is given, from the centre of my (first)
    grid; ``from.kind`` says which.
    """
    lon, lat, coord_type = _where(point)

    def read() -> TasksAnswer:
        found = worker.tasks(
            state.engine, settings, state.walking_now(), user, lon, lat, coord_type
        )
        return TasksAnswer.of(found)

    return await run_in_threadpool(read)


@router.get("/api/worker/route", response_model=RouteFeature)
async def route_to_task(
    state: StateDep,
    settings: SettingsDep,
    user: CurrentUser,
    task: Annotated[BigId, Query(description="the task (incident) id")],
    point: OptionalPointQuery,
) -> RouteFeature:
    """The walking route to one of my tasks: a GeoJSON Feature (LineString), distance, time.

    From ``lon``/``lat``, a 北斗 code (``beidou``) or, with neither, my (first) grid's centre.
    """
    lon, lat, coord_type = _where(point)

    def read() -> RouteFeature:
        found = worker.route_to_task(
            state.engine, settings, state.walking_now(), user, task, lon, lat, coord_type
        )
        return RouteFeature.of(found)

    return await run_in_threadpool(read)


@router.post("/api/worker/tasks/{task_id}/checkin", response_model=CheckInAnswer)
async def check_in(
    task_id: BigId, body: CheckInBody, engine: EngineDep, settings: SettingsDep, user: CurrentUser
) -> CheckInAnswer:
    """Check in at one of my tasks (签到): accepted within the tolerance, recorded either way."""
    done = await run_in_threadpool(
        worker.check_in, engine, settings, user, task_id, body.lon, body.lat, body.coord_type
    )
    return CheckInAnswer.model_validate(done)


@router.get(
    "/api/worker/package",
    response_class=Response,
    responses={200: {"content": {GEOPACKAGE: {}}, "description": "a GeoPackage (EPSG:4326)"}},
)
async def offline_package(engine: EngineDep, user: CurrentUser) -> Response:
    """A GeoPackage of my grids for offline work (QGIS opens it), EPSG:4326.

    Layers: grids, buildings, households (always masked), my open tasks, roads in the
    grids' bounding box, and shelters within 2 km of the grids.
    """
    data = await run_in_threadpool(worker.offline_package, engine, user)
    name = f"wangge-{user.username}-{clock.now():%Y%m%d}.gpkg"
    return Response(
        data,
        media_type=GEOPACKAGE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
