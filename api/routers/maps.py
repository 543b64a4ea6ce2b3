"""Map pages: the district overview (辖区总览)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Engine

from api.deps import EngineDep, SettingsDep
from gis import queries
from gis.settings import Settings
from maps.assets import render_offline
from maps.district import district_map

router = APIRouter(tags=["maps"])


def render_district_map(engine: Engine, settings: Settings) -> str:
    """The district overview page: grids by household count, buildings, facilities, shelters."""
    m = district_map(
        queries.grids_with_counts(engine),
        queries.buildings_with_counts(engine),
        queries.facilities(engine),
        queries.shelters(engine),
        settings=settings,
    )
    return render_offline(m)


@router.get("/", include_in_schema=False)
async def index() -> RedirectResponse:
    """The home page is the district map."""
    return RedirectResponse("/map")


@router.get("/map", response_class=HTMLResponse)
async def district_page(engine: EngineDep, settings: SettingsDep) -> HTMLResponse:
    """The district overview map, served with local copies of Leaflet and friends."""
    html = await run_in_threadpool(render_district_map, engine, settings)
    return HTMLResponse(html)
