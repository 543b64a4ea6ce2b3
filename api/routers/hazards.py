"""Hazard areas over HTTP (灾害影响区): store, list, read; their impact and check-on lists.

Storing, listing, reading and the impact are the command centre's (staff; a resident
or a grid worker: 403); the impact's grid rows and check-on counts are those of the
grids the user covers, its totals the whole hazard's.  Check-on lists are also the grid
worker's, for their own grids (another grid: 404).  The work is
:mod:`api.services.awareness`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from api.auth import CurrentUser
from api.deps import EngineDep, ImpactsDep, SettingsDep
from api.inputs import Id, Text
from api.schemas.common import ISO
from api.schemas.hazards import CheckOnList, HazardCollection, HazardFeature, ImpactOut
from api.services import awareness as aw
from api.services import impact
from gis.coords import COORD_TYPES
from gis.db.models import HAZARD_KINDS

router = APIRouter(tags=["awareness"])


@router.post(
    "/api/hazards",
    status_code=201,
    response_model=HazardFeature,
    response_model_exclude_unset=True,
)
def create_hazard(
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    body: Annotated[
        dict[str, Any],
        Body(
            description="GeoJSON Feature, FeatureCollection or Polygon; properties may "
            "carry kind, name, severity, valid_from, valid_to",
        ),
    ],
    coord_type: Annotated[str, Query(description=f"one of {', '.join(COORD_TYPES)}")] = "wgs84",
    kind: Annotated[str | None, Query(description=", ".join(HAZARD_KINDS))] = None,
    name: Text | None = None,
    severity: Annotated[int | None, Query(ge=1, le=4, description="1 (low) to 4 (extreme)")] = None,
    valid_from: Annotated[datetime | None, Query(description=f"default now ({ISO})")] = None,
    valid_to: Annotated[datetime | None, Query(description=ISO)] = None,
) -> HazardFeature:
    """Store a hazard area (typhoon, flood, fire, gas leak) drawn on a map or from a bureau.

    The polygon is converted from ``coord_type``, repaired when harmless, and rejected
    (422, with the fix) when empty, invalid or outside the area served.  Staff only.
    """
    given = aw.HazardFields(kind, name, severity, valid_from, valid_to)
    stored = aw.create_hazard(engine, settings, body, coord_type=coord_type, given=given, user=user)
    return HazardFeature.stored(stored)


@router.get("/api/hazards", response_model=HazardCollection, response_model_exclude_unset=True)
def list_hazards(
    engine: EngineDep,
    user: CurrentUser,
    active: Annotated[bool, Query(description="only the hazards in force now")] = False,
) -> HazardCollection:
    """Hazard areas as GeoJSON, newest first (staff; district-wide)."""
    frame = aw.hazards(engine, user, active=active)
    features = [HazardFeature.of(row) for _, row in frame.iterrows()]
    return HazardCollection(type="FeatureCollection", features=features)


@router.get(
    "/api/hazards/{hazard_id}", response_model=HazardFeature, response_model_exclude_unset=True
)
def get_hazard(engine: EngineDep, user: CurrentUser, hazard_id: Id) -> HazardFeature:
    """One hazard area as a GeoJSON Feature (staff)."""
    return HazardFeature.of(aw.hazard(engine, user, hazard_id))


@router.get("/api/hazards/{hazard_id}/impact", response_model=ImpactOut)
def get_impact(user: CurrentUser, impacts: ImpactsDep, hazard_id: Id) -> ImpactOut:
    """What a hazard area touches: grids, buildings, households, residents by group.

    Also the shelters inside (unusable) and outside, and per grid how many residents
    its worker must check on.  Staff only.  The grid rows and the check-on counts are
    those of the grids the user covers; the totals (buildings, households, residents by
    group, shelters, closed roads) are the whole hazard's: counts, no personal data.
    """
    return ImpactOut.of(impact.impact_view(user, hazard_id, impacts))


@router.get(
    "/api/hazards/{hazard_id}/check-on",
    response_model=CheckOnList,
    response_model_exclude_unset=True,
)
def check_on(
    engine: EngineDep,
    user: CurrentUser,
    impacts: ImpactsDep,
    hazard_id: Id,
    grid: Annotated[
        Text | None, Query(description="15-digit grid code; default every grid")
    ] = None,
) -> CheckOnList:
    """Per grid, who its worker must check on, with safe shelter and route (GeoJSON).

    Each feature: resident and household ids, room, building, groups, the nearest
    safe shelter and the walking route avoiding the hazard.

    Personal data: ids and flags only; names and phones are joined behind access control.
    Staff read the grids they cover, a grid worker their own grids; any other grid is
    404, as if it did not exist.  A resident gets 403.
    """
    return CheckOnList.of(impact.check_on_list(engine, user, hazard_id, impacts, grid))
