"""Map pages: the district overview (辖区总览), also the home page."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import EngineDep, SettingsDep
from api.services.district import district_map_html

router = APIRouter(tags=["maps"])


@router.get("/", include_in_schema=False)
async def index() -> RedirectResponse:
    """The home page is the district map."""
    return RedirectResponse("/map")


@router.get("/map", response_class=HTMLResponse)
async def district_page(engine: EngineDep, settings: SettingsDep) -> HTMLResponse:
    """The district overview map, served with local copies of Leaflet and friends."""
    return HTMLResponse(await run_in_threadpool(district_map_html, engine, settings))
