"""For planners: how far people can walk from a facility in 5, 10 and 15 minutes."""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Interval
from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api.deps import StateDep
from api.inputs import BigId
from api.schemas.common import GeoJSONResponse, feature_collection
from api.schemas.facilities import ServiceAreas
from api.services.facilities import LIFE_CIRCLE_MINUTES, service_area

router = APIRouter(prefix="/api/facilities", tags=["facilities"])

#: Walking minutes a service area may be asked for.
Minutes = Annotated[int, Interval(ge=1, le=60)]


@router.get(
    "/{facility_id}/service-area", response_model=ServiceAreas, response_class=GeoJSONResponse
)
async def facility_service_area(
    state: StateDep,
    facility_id: BigId,
    minutes: Annotated[
        list[Minutes] | None, Query(description="walking minutes, 1 to 60; default 5, 10, 15")
    ] = None,
) -> dict[str, Any]:
    """Walking areas around a facility (生活圈), built from the streets reached, as GeoJSON."""

    def compute() -> dict[str, Any]:
        areas = service_area(
            state.engine, state.walking_now(), facility_id, minutes or LIFE_CIRCLE_MINUTES
        )
        return feature_collection(areas, precision=1e-7)

    return await run_in_threadpool(compute)
