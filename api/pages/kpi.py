"""The printable review page (网格化管理考核报表): table, chart, print stylesheet.

The browser signs in with ``?api_key=`` like the rest of the API.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.auth import CurrentUser
from api.deps import EngineDep
from api.headers import InlinePage
from api.schemas.kpi import QueryDep
from api.services.kpi import build_review, review_page

router = APIRouter(tags=["kpi"])


@router.get("/kpi", response_class=InlinePage)
async def kpi_page(engine: EngineDep, user: CurrentUser, query: QueryDep) -> HTMLResponse:
    """The printable review page: the table, the chart and a print stylesheet (A4)."""
    html = await run_in_threadpool(lambda: review_page(build_review(engine, user, query)))
    return HTMLResponse(html, headers={"Cache-Control": "private"})
