"""What the grid worker's field app sends and gets (:mod:`api.services.worker_field`).

Visits, proof rules, check-on lists and marks, notices, coverage and the offline bundle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.inputs import BigId, Id, Text
from api.schemas.common import ISO
from api.schemas.worker import HouseholdOut, TaskOut
from gis.coords import COORD_TYPES
from gis.db.worker_models import FIELD_NOTE_MAX

# ------------------------------------------------------------------ visits


class VisitBody(BaseModel):
    """A visit (走访) to a household of my grids, perhaps recorded offline earlier."""

    household_id: BigId
    note: Text = Field(min_length=1, max_length=FIELD_NOTE_MAX, description="what the visit found")
    visited_at: datetime | None = Field(default=None, description=f"default now ({ISO})")
    lon: float | None = Field(default=None, ge=-180, le=180, description="where I stood")
    lat: float | None = Field(default=None, ge=-90, le=90)
    coord_type: Text = Field(default="wgs84", description=f"one of {', '.join(COORD_TYPES)}")


class VisitAnswer(BaseModel):
    """The visit as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    household_id: int
    visited_at: datetime
    grid: str | None


# ------------------------------------------------------------------ proof of 反馈


class ProofRuleOut(BaseModel):
    """What a category's 反馈 needs besides the note (always required)."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    photo: bool = Field(description="a photo of the case must be uploaded first")
    checkin: bool = Field(description="an accepted check-in of mine at the case first")


class ProofRules(BaseModel):
    """Every category's proof rule."""

    categories: list[ProofRuleOut]


# ------------------------------------------------------------------ check-on


class HazardOut(BaseModel):
    """The hazard in force whose check-on list this is."""

    id: int
    name: str
    kind: str
    kind_name: str
    severity: int


class ShelterOut(BaseModel):
    """The safe shelter (outside every hazard) a person should go to."""

    id: int
    name: str | None
    lon: float
    lat: float


class CheckOnPersonOut(BaseModel):
    """A person to check on: named for the worker of the grid (the read is audited)."""

    model_config = ConfigDict(from_attributes=True)

    resident_id: int
    name: str | None
    phone: str | None
    age_group: str | None
    needs: list[str] = Field(description="living_alone_elderly, disabled, mobility_impaired …")
    building: str | None
    household_id: int
    shelter: ShelterOut | None
    route: dict[str, Any] | None = Field(description="GeoJSON LineString to the shelter")
    walk_min: float | None
    mark: Literal["reached", "not_home", "needs_help"] | None
    marked_at: datetime | None


class CheckOnAnswer(BaseModel):
    """The check-on list of one of my grids (hazard null: none in force over it)."""

    model_config = ConfigDict(from_attributes=True)

    grid: str
    hazard: HazardOut | None
    people: list[CheckOnPersonOut]


class MarkBody(BaseModel):
    """A mark on a person of a check-on list (the latest ``marked_at`` counts)."""

    hazard_id: Id
    resident_id: BigId
    mark: Literal["reached", "not_home", "needs_help"]
    note: Text | None = Field(default=None, max_length=FIELD_NOTE_MAX)
    marked_at: datetime | None = Field(default=None, description=f"default now ({ISO})")


class MarkAnswer(BaseModel):
    """The mark as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    hazard_id: int
    resident_id: int
    grid: str | None
    mark: str
    marked_at: datetime


# ------------------------------------------------------------------ notices and coverage


class NoticeOut(BaseModel):
    """A reminder, 督办, reassignment or hazard alert, in Chinese."""

    model_config = ConfigDict(from_attributes=True)

    kind: Literal["deadline", "urged", "reassigned", "alert"]
    incident_id: int | None
    text: str
    at: datetime


class NoticesAnswer(BaseModel):
    """My notices, newest first (at most 100)."""

    notices: list[NoticeOut]


class GridCoverageOut(BaseModel):
    """Patrol coverage (巡查覆盖) of one grid over the period."""

    model_config = ConfigDict(from_attributes=True)

    grid: str
    households: int
    households_visited: int
    buildings: int
    buildings_visited: int
    checkins: int = Field(description="accepted check-ins at the grid's cases")


class CoverageAnswer(BaseModel):
    """Coverage per grid over the last ``days`` days."""

    days: int
    grids: list[GridCoverageOut]


# ------------------------------------------------------------------ the offline bundle


class BundleWorker(BaseModel):
    """Whose package it is."""

    id: int
    name: str
    username: str


class BundleAnswer(BaseModel):
    """The offline package the app caches (households always masked).

    It expires at ``expires_at`` (``WANGGE_OFFLINE_TTL_HOURS``); served gzip-compressed.
    """

    model_config = ConfigDict(from_attributes=True)

    generated_at: datetime
    expires_at: datetime
    worker: BundleWorker
    grids: dict[str, Any] = Field(description="GeoJSON FeatureCollection of my grids")
    buildings: dict[str, Any] = Field(description="GeoJSON FeatureCollection")
    households: list[HouseholdOut]
    tasks: list[TaskOut]
    roads: dict[str, Any] = Field(description="GeoJSON FeatureCollection of LineStrings")
    shelters: dict[str, Any] = Field(description="GeoJSON FeatureCollection")
    proof_rules: list[ProofRuleOut]
