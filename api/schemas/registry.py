"""What the registry desk's JSON API sends and gets: households, residents (masked), edits."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.inputs import Text

Flag = Literal["living_alone_elderly", "disabled", "mobility_impaired", "low_income"]


class HouseholdRowOut(BaseModel):
    """A household found by a search; the head's name and phone masked."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ref: str | None = Field(description="the office's household number (户编号)")
    address: str
    building_id: int
    building_name: str | None
    grid_code: str | None
    grid_name: str | None
    community_name: str | None
    size: int = Field(description="people registered in the household (户人数)")
    residents: int = Field(description="residents on the register")
    groups: dict[str, int] = Field(description="residents per vulnerable group, when any")
    head_name: str | None = Field(description="masked")
    head_phone: str | None = Field(description="masked")


class BuildingOut(BaseModel):
    """A building whose name or address matched, with its households counted."""

    id: int
    name: str | None
    address: str | None
    floors: int
    units: int
    grid_code: str | None
    households: int


class SearchAnswer(BaseModel):
    """A page of households of the caller's area, by id; ``next_after`` fetches the next."""

    households: list[HouseholdRowOut]
    buildings: list[BuildingOut]
    next_after: int | None = Field(description="pass as ?after= for the next page; null: last")


class PersonOut(BaseModel):
    """A resident; name, ID number and phone masked unless the household was revealed."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str | None
    sex: Literal["M", "F"]
    birth_year: int
    relation: str | None
    id_number: str | None
    phone: str | None
    flags: list[Flag]


class HistoryOut(BaseModel):
    """One change of a household (迁入 move_in, 迁出 move_out, 标记 flags)."""

    at: datetime
    username: str | None
    action: Literal["move_in", "move_out", "flags"]
    resident_id: int | None
    reason: str | None
    detail: dict[str, Any] | None


class RevealOut(BaseModel):
    """A past reveal of the household's identities (from the audit log)."""

    at: datetime
    username: str | None
    reason: str | None


class HouseholdOut(BaseModel):
    """One household of the caller's area with its residents, history and past reveals."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ref: str | None
    address: str
    building_id: int
    building_name: str | None
    grid_code: str | None
    grid_name: str | None
    community_name: str | None
    size: int
    lon: float | None = Field(description="the building's centre, degrees (WGS84)")
    lat: float | None
    people: list[PersonOut]
    history: list[HistoryOut]
    reveals: list[RevealOut]
    revealed: bool = Field(description="true only in the answer of a reveal")
    reason: str | None = Field(description="the reason given for the reveal")


class RevealBody(BaseModel):
    """Why the caller must see this household's names, ID numbers and phones (audited)."""

    reason: Text = Field(min_length=4, max_length=500)


class MoveInBody(BaseModel):
    """A resident moving into the household (迁入)."""

    name: Text = Field(min_length=1, max_length=40)
    sex: Literal["M", "F"]
    birth_year: int = Field(ge=1890, le=2100)
    relation: Text | None = Field(default=None, max_length=20)
    id_number: Text | None = Field(default=None, max_length=18)
    phone: Text | None = Field(default=None, max_length=20)
    flags: list[Flag] = Field(default_factory=list)
    reason: Text | None = Field(default=None, max_length=500)


class MoveOutBody(BaseModel):
    """Why a resident leaves the household (迁出)."""

    reason: Text = Field(min_length=4, max_length=500)


class FlagsBody(BaseModel):
    """The vulnerable groups to set (true) or clear (false); the others stay as they are."""

    flags: dict[Flag, bool]
    reason: Text | None = Field(default=None, max_length=500)


class MovedIn(BaseModel):
    """The id of the resident who moved in."""

    resident_id: int


class FlagsOut(BaseModel):
    """The resident's vulnerable groups now."""

    flags: dict[Flag, bool]
