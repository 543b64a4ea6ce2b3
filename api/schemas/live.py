"""Models of the live picture: open incidents, the snapshot, workers' positions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.inputs import Text
from api.schemas.common import ISO, BeidouLocated, json_value
from api.schemas.hazards import HazardRef
from api.services import live
from gis.coords import COORD_TYPES


class PositionIn(BeidouLocated):
    """A position report from a grid worker's tablet."""

    lon: float = Field(description="longitude, degrees (checked against the service area)")
    lat: float = Field(description="latitude, degrees")
    coord_type: Text = Field(default="wgs84", description=", ".join(COORD_TYPES))
    at: datetime | None = Field(default=None, description=f"default now ({ISO})")


class PositionOut(BaseModel):
    """A stored position (WGS84)."""

    id: int
    worker_id: int
    lon: float
    lat: float
    at: str

    @classmethod
    def of(cls, p: live.Position) -> PositionOut:
        """From :func:`api.services.live.record_position`."""
        return cls(id=p.id, worker_id=p.worker_id, lon=p.lon, lat=p.lat, at=p.at.isoformat())


class LiveIncident(BaseModel):
    """An open incident as the live map draws it (no description, no people)."""

    id: int
    state: str
    category: str | None
    lon: float
    lat: float
    reported_at: str | None
    grid: str | None


class LiveShelter(BaseModel):
    """A shelter with its occupancy; ``usable``: open and outside every hazard in force."""

    id: int
    name: str | None
    capacity: int
    occupancy: int
    usable: bool
    lon: float
    lat: float


class LiveWorker(BaseModel):
    """A grid worker's last position."""

    worker_id: int
    at: str | None
    lon: float
    lat: float


class CheckOnProgress(BaseModel):
    """One grid's check-on list during the hazards in force: how far the workers got."""

    grid: str = Field(description="15-digit grid code")
    total: int = Field(description="people to check on")
    reached: int
    not_home: int
    needs_help: int


class LiveSnapshot(BaseModel):
    """The live picture as data."""

    at: str
    open_incidents: int
    open_by_state: dict[str, int]
    hazards: list[HazardRef]
    shelters: list[LiveShelter]
    workers: list[LiveWorker]
    checkon_progress: list[CheckOnProgress] = []

    @classmethod
    def of(cls, snap: live.Snapshot) -> LiveSnapshot:
        """From :func:`api.services.live.snapshot`."""
        return cls(
            at=snap.at.isoformat(),
            open_incidents=len(snap.incidents),
            open_by_state={k: int(v) for k, v in snap.incidents["state"].value_counts().items()},
            hazards=[
                HazardRef(id=int(r.id), kind=r.kind, name=r.name, severity=int(r.severity))
                for r in snap.hazards.itertuples(index=False)
            ],
            shelters=[
                LiveShelter(
                    id=int(r.facility_id),
                    name=r.name,
                    capacity=int(r.capacity),
                    occupancy=int(r.occupancy),
                    usable=bool(r.usable),
                    lon=r.geometry.x,
                    lat=r.geometry.y,
                )
                for r in snap.shelters.itertuples(index=False)
            ],
            workers=[
                LiveWorker(
                    worker_id=int(r.worker_id),
                    at=json_value(r.at),
                    lon=r.geometry.x,
                    lat=r.geometry.y,
                )
                for r in snap.workers.itertuples(index=False)
            ],
            checkon_progress=[CheckOnProgress(**p) for p in snap.checkon_progress],
        )
