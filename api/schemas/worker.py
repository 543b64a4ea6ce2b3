"""What the grid worker's tablet sends and gets: grids, buildings, households, tasks, check-ins."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from geojson_pydantic import Feature, FeatureCollection, LineString

from api.inputs import Text
from api.schemas.common import Area, BeidouLocated, geometry
from api.services.worker import Household, TabletAction, TaskList, TaskRoute
from gis.coords import COORD_TYPES

# ------------------------------------------------------------------ grids and buildings


class WorkerGridProperties(BaseModel):
    """One of my current grids: who I am in it, what it holds, a point surely inside it."""

    code: str = Field(description="15-digit grid code")
    name: str
    community_code: str
    community_name: str
    assignment_role: Literal["primary", "backup"]
    buildings: int
    households: int
    vulnerable_residents: int
    centre_lon: float = Field(description="a point inside the grid, degrees (WGS84)")
    centre_lat: float


class BuildingProperties(BaseModel):
    """A building (楼栋) of my grid with its households and residents counted."""

    id: int
    name: str | None
    grid_id: int
    grid_code: str
    use: str
    floors: int
    units: int
    households: int
    residents: int
    living_alone_elderly: int = Field(description="residents with each vulnerability flag")
    disabled: int
    mobility_impaired: int
    low_income: int


class WorkerGrid(Feature[Area, WorkerGridProperties]):
    """One of my current grids (lon/lat, WGS84)."""


class WorkerGrids(FeatureCollection[WorkerGrid]):
    """My current grids, primary first."""


class WorkerBuilding(Feature[Area, BuildingProperties]):
    """A building's footprint (lon/lat, WGS84) with its counts."""


class WorkerBuildings(FeatureCollection[WorkerBuilding]):
    """The buildings of one of my grids."""


# ------------------------------------------------------------------ households


class ResidentOut(BaseModel):
    """A resident: name and phone masked unless one of my open tasks needs them."""

    id: int
    sex: str
    birth_year: int
    age_group: str
    age_group_name: str | None
    flags: list[str]
    flag_names: list[str]
    name: str | None
    phone: str | None
    id_number: str | None = Field(description="always masked")


class HouseholdOut(BaseModel):
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
    residents: list[ResidentOut]
    last_visited: datetime | None = Field(description="the latest visit (走访), any time")
    visits_recent: int = Field(description="visits within WANGGE_VISIT_WINDOW_DAYS")


class HouseholdsAnswer(BaseModel):
    """The households of one of my grids, vulnerable ones first."""

    grid: str
    households: list[HouseholdOut]

    @classmethod
    def of(cls, grid: str, households: list[Household]) -> HouseholdsAnswer:
        """From :func:`api.services.worker.households`."""
        return cls.model_validate({"grid": grid, "households": households}, from_attributes=True)


# ------------------------------------------------------------------ tasks and the way there


class OriginOut(BaseModel):
    """Where the walks are measured from: my position or my (first) grid's centre."""

    lon: float
    lat: float
    kind: Literal["position", "grid_centre"]


class TaskOut(BaseModel):
    """One of my open tasks with the walk to it (null: not reachable on foot)."""

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
    actions: list[TabletAction] = Field(description="what the tablet offers: 接单, 反馈")


class TasksAnswer(BaseModel):
    """My open tasks by deadline then priority, measured from ``from``."""

    model_config = ConfigDict(populate_by_name=True)

    from_: OriginOut = Field(alias="from")
    checkin_tolerance_m: float
    tasks: list[TaskOut]

    @classmethod
    def of(cls, found: TaskList) -> TasksAnswer:
        """From :func:`api.services.worker.tasks`."""
        return cls.model_validate(
            {
                "from": found.origin,
                "checkin_tolerance_m": found.checkin_tolerance_m,
                "tasks": found.tasks,
            },
            from_attributes=True,
        )


class RouteProperties(BaseModel):
    """The walk to a task: metres, minutes, and a line to show (in Chinese)."""

    model_config = ConfigDict(populate_by_name=True)

    task: int
    from_: Literal["position", "grid_centre"] = Field(alias="from")
    distance_m: float
    minutes: float
    message: str


class RouteFeature(Feature[LineString, RouteProperties]):
    """The walking route to one of my tasks: a GeoJSON Feature (LineString, lon/lat)."""

    @classmethod
    def of(cls, route: TaskRoute) -> RouteFeature:
        """From :func:`api.services.worker.route_to_task`."""
        return cls(
            type="Feature",
            geometry=LineString.model_validate(geometry(route.line)),
            properties=RouteProperties(
                task=route.task,
                from_=route.origin.kind,
                distance_m=route.distance_m,
                minutes=route.minutes,
                message=route.message,
            ),
        )


# ------------------------------------------------------------------ check-in


class CheckInBody(BeidouLocated):
    """Where the worker stands when checking in at a task."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    coord_type: Text = Field("wgs84", description=f"one of {', '.join(COORD_TYPES)}")


class CheckInAnswer(BaseModel):
    """Whether the check-in counts as presence, and how far from the task it was."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    task: int
    accepted: bool
    distance_m: float
    tolerance_m: float
    lon: float
    lat: float
    at: datetime
    message: str
