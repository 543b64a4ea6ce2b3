"""Map pages: the district overview (辖区总览)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Engine

from api.deps import EngineDep, SettingsDep
from gis.settings import Settings
from gis.store import grid_store, queries
from maps.assets import STATIC_DIR, STATIC_URL, VENDOR_DIR, VENDOR_URL, render_offline
from maps.district import district_map

router = APIRouter(tags=["maps"])


def render_district_map(engine: Engine, settings: Settings, *, for_file: bool = False) -> str:
    """The district overview page: grids by household count, buildings, facilities, shelters.

    ``for_file``: a page opened from disk, loading the assets from their folders here
    rather than from the server's ``/static`` paths.
    """
    urls = (VENDOR_DIR.as_posix(), STATIC_DIR.as_posix()) if for_file else (VENDOR_URL, STATIC_URL)
    m = district_map(
        grid_store.current_grids(engine),
        queries.buildings_with_counts(engine),
        queries.facilities(engine),
        queries.shelters(engine),
        settings=settings,
        vendor_url=urls[0],
        static_url=urls[1],
    )
    return render_offline(m, *urls)


@router.get("/", include_in_schema=False)
async def index() -> RedirectResponse:
    """The home page is the district map."""
    return RedirectResponse("/map")


@router.get("/map", response_class=HTMLResponse)
async def district_page(engine: EngineDep, settings: SettingsDep) -> HTMLResponse:
    """The district overview map, served with local copies of Leaflet and friends."""
    html = await run_in_threadpool(render_district_map, engine, settings)
    return HTMLResponse(html)
