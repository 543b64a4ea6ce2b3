"""For residents: the nearest open shelter and the walk there, the services nearby; no login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api.deps import SettingsDep, StateDep
from api.inputs import Text
from api.schemas.common import PointQuery
from api.schemas.resident import NearbyAnswer, NearestShelterAnswer
from api.services.nearby import DEFAULT_MINUTES, MAX_MINUTES, SERVICE_KINDS, nearby_services
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


KindsQuery = Annotated[
    list[Annotated[Text, Query(max_length=24)]] | None,
    Query(alias="kind", description=f"only these kinds: {', '.join(SERVICE_KINDS)}"),
]
MinutesQuery = Annotated[
    float, Query(ge=1, le=MAX_MINUTES, description="the longest walk shown, minutes")
]


@router.get("/api/resident/nearby", response_model=NearbyAnswer)
async def nearby_route(
    state: StateDep,
    settings: SettingsDep,
    point: PointQuery,
    kinds: KindsQuery = None,
    minutes: MinutesQuery = DEFAULT_MINUTES,
) -> NearbyAnswer:
    """Services near the point (周边服务), nearest on foot first.

    Clinics, pharmacies, elder care, community centres, schools and parks within a walk,
    with walking minutes on the roads, opening hours and phone where known.
    """

    def answer() -> NearbyAnswer:
        return NearbyAnswer.of(
            nearby_services(
                state.engine,
                state.walking_now(),
                settings,
                point.lon,
                point.lat,
                point.coord_type,
                tuple(kinds or ()),
                minutes,
            )
        )

    return await run_in_threadpool(answer)
