"""What the residents' routes answer: the nearest open shelter and the way there."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from geojson_pydantic import LineString

from api.schemas.common import geometry
from api.services.nearby import Nearby
from api.services.resident import ShelterWay


class ShelterInfo(BaseModel):
    """A shelter as the public may know it (lon/lat in WGS84, degrees)."""

    id: int
    name: str
    shelter_class: str
    shelter_class_name: str
    capacity: int
    occupancy: int
    lon: float
    lat: float


class HazardInfo(BaseModel):
    """A hazard area in force (预警), as the public may know it."""

    id: int
    kind: str
    kind_name: str
    name: str
    severity: int


class ShelterRef(BaseModel):
    """A shelter by id and name."""

    id: int
    name: str


class NearestShelterAnswer(BaseModel):
    """The nearest open shelter on foot, or why there is none.

    While hazard areas are in force (``hazards``), the shelters inside them are skipped
    (``skipped_shelters``), the roads meeting them are closed, and ``warning`` says so
    in Chinese; a point inside one (``in_hazard_area``) walks straight to the nearest
    open road first, its way out.  Distances in metres, times in minutes, the route a
    GeoJSON LineString (lon/lat).
    """

    found: bool
    message: str
    lon: float
    lat: float
    shelter: ShelterInfo | None = None
    distance_m: float | None = None
    minutes: float | None = None
    walk_to_road_m: float | None = None
    route: LineString | None = None
    hazards: list[HazardInfo] = []
    skipped_shelters: list[ShelterRef] = []
    in_hazard_area: bool = False
    warning: str | None = None

    @classmethod
    def of(cls, way: ShelterWay) -> NearestShelterAnswer:
        """The answer to a :func:`api.services.resident.nearest_shelter` result."""
        here = way.hazards
        return cls(
            found=way.found,
            message=way.message,
            lon=way.lon,
            lat=way.lat,
            shelter=None if way.shelter is None else ShelterInfo(**vars(way.shelter)),
            distance_m=None if way.distance_m is None else round(way.distance_m, 1),
            minutes=None if way.minutes is None else round(way.minutes, 1),
            walk_to_road_m=round(way.walk_to_road_m, 1) if way.found else way.walk_to_road_m,
            route=None if way.route is None else LineString.model_validate(geometry(way.route)),
            hazards=[HazardInfo(**vars(h)) for h in here.hazards],
            skipped_shelters=[ShelterRef(**vars(s)) for s in here.skipped_shelters],
            in_hazard_area=here.in_hazard_area,
            warning=here.warning,
        )


class NearbyService(BaseModel):
    """A facility near the resident: minutes and metres on foot along the roads."""

    id: int
    kind: str
    kind_name: str
    name: str
    address: str | None
    opening_hours: str | None
    phone: str | None
    lon: float
    lat: float
    minutes: float
    distance_m: float


class NearbyAnswer(BaseModel):
    """The services within ``max_minutes`` on foot of the point (WGS84), nearest first."""

    lon: float
    lat: float
    max_minutes: float
    services: list[NearbyService]

    @classmethod
    def of(cls, nearby: Nearby) -> NearbyAnswer:
        """From the service's answer."""
        return cls(
            lon=nearby.lon,
            lat=nearby.lat,
            max_minutes=nearby.max_minutes,
            services=[NearbyService(**vars(s)) for s in nearby.services],
        )


class ReminderAnswer(BaseModel):
    """A reminder about one of the resident's cases (办理提醒), in plain Chinese."""

    id: int
    incident_id: int
    text: str
    at: datetime
    delivered: bool


class NoticeEvent(BaseModel):
    """A notice for the resident, as their open ``/r/notices`` receives it live."""

    id: int
    title: str
    audience: str
    at: datetime
    unread: int = Field(
        description="how many notices and alerts the resident has not read, this one too"
    )


class AlertEvent(BaseModel):
    """A hazard alert sent to the resident's household, as their open page receives it."""

    id: int
    kind_name: str
    hazard_name: str
    severity: int
    message: str
    at: datetime
    unread: int = Field(
        description="how many notices and alerts the resident has not read, this one too"
    )
