"""The residents' phone page: you, the way and your nearest shelter, in Chinese."""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.deps import SettingsDep, StateDep
from api.headers import InlinePage
from api.schemas.common import CoordTypeQuery, LatQuery, LonQuery
from api.services.resident import nearest_shelter
from maps.assets import render_offline
from maps.resident import WARNING_CLASS, shelter_route_map

router = APIRouter(tags=["resident"])


@router.get("/resident/shelter", response_class=InlinePage)
async def shelter_page(
    state: StateDep,
    settings: SettingsDep,
    lon: LonQuery,
    lat: LatQuery,
    coord_type: CoordTypeQuery = "wgs84",
) -> HTMLResponse:
    """A phone page (in Chinese): you, the route and your nearest shelter."""

    def render() -> str:
        way = nearest_shelter(state.shelters_now(), settings, lon, lat, coord_type)
        warning = way.hazards.warning
        if way.shelter is None or way.route is None:
            alert = (
                f"<p class='{WARNING_CLASS}' role='alert'>{html.escape(warning)}</p>"
                if warning
                else ""
            )
            return (
                f"<!doctype html><meta charset='utf-8'><meta name='viewport' "
                f"content='width=device-width'>{alert}<p>{html.escape(way.message)}</p>"
            )
        m = shelter_route_map(
            (way.lon, way.lat),
            (way.shelter.lon, way.shelter.lat),
            way.route,
            shelter_name=way.shelter.name,
            minutes=way.minutes or 0.0,
            distance_m=way.distance_m or 0.0,
            warning=warning,
            hazard=way.hazards.area,
            settings=settings,
        )
        return render_offline(m)

    return HTMLResponse(await run_in_threadpool(render))
