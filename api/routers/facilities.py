"""For planners: how far people can walk from a facility in 5, 10 and 15 minutes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text

import shapely

from analysis.service_area import service_areas
from api.deps import EngineDep, SettingsDep, get_state
from api.inputs import BigId

router = APIRouter(prefix="/api/facilities", tags=["facilities"])


@router.get(
    "/{facility_id}/service-area",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
async def service_area(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    facility_id: BigId,
    minutes: Annotated[
        list[int] | None, Query(description="walking minutes; default 5, 10, 15")
    ] = None,
) -> Response:
    """Walking areas around a facility (生活圈), built from the streets reached, as GeoJSON."""
    minutes = sorted(set(minutes or [5, 10, 15]))
    if any(m < 1 or m > 60 for m in minutes):
        raise HTTPException(422, "minutes must be between 1 and 60")

    def compute() -> str:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT ST_X(geom), ST_Y(geom), kind, name FROM facility WHERE id = :i"),
                {"i": facility_id},
            ).one_or_none()
        if row is None:
            raise HTTPException(404, f"no facility with id {facility_id}")
        network = get_state(request).walking_now().network
        if network is None:
            raise HTTPException(503, "no road network is loaded yet")
        areas = service_areas(network, [row[0]], [row[1]], minutes=tuple(minutes))
        areas["facility_id"] = facility_id
        areas["kind"] = row[2]
        areas["name"] = row[3]
        areas = areas.set_geometry(shapely.set_precision(areas.geometry.values, 1e-7))
        return areas.to_json(drop_id=True)

    return Response(await run_in_threadpool(compute), media_type="application/geo+json")
