"""For residents: the nearest open shelter and the walk there; no login, no personal data."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import SettingsDep, StateDep
from api.schemas.common import PointQuery
from api.schemas.resident import NearestShelterAnswer
from api.services.resident import nearest_shelter

router = APIRouter(tags=["resident"])


@router.get("/api/resident/nearest-shelter", response_model=NearestShelterAnswer)
async def nearest_shelter_route(
    state: StateDep,
    settings: SettingsDep,
    point: PointQuery,
) -> NearestShelterAnswer:
    """The nearest open shelter on foot: which, how far, how long, and the route (GeoJSON).

    From ``lon``/``lat`` (in ``coord_type``) or the centre of a 北斗 code's cell (``beidou``).
    """

    def answer() -> NearestShelterAnswer:
        return NearestShelterAnswer.of(
            nearest_shelter(state.shelters_now(), settings, point.lon, point.lat, point.coord_type)
        )

    return await run_in_threadpool(answer)
