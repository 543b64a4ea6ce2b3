"""Map pages: the district overview (辖区总览)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.deps import EngineDep, SettingsDep
from api.headers import InlinePage
from api.services.district import district_map_html

router = APIRouter(tags=["maps"])


@router.get("/map", response_class=InlinePage)
async def district_page(engine: EngineDep, settings: SettingsDep) -> HTMLResponse:
    """The district overview map, served with local copies of Leaflet and friends."""
    return HTMLResponse(await run_in_threadpool(district_map_html, engine, settings))
