"""Map pages: the district overview (辖区总览)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.deps import StateDep
from api.headers import InlinePage

router = APIRouter(tags=["maps"])


@router.get("/map", response_class=InlinePage)
async def district_page(state: StateDep) -> HTMLResponse:
    """The district overview map (辖区总览): vector tiles over the basemap, no CDN.

    Open to anyone: grids, buildings, shelters and people per H3 cell come from the
    public tile layers, whose counts below k are left out.
    """
    html = await run_in_threadpool(state.overview_page.get, state.engine)
    return HTMLResponse(html)
