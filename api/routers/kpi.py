"""The performance review (考核) over HTTP: KPI rows as JSON and the printable chart.

``GET /api/kpi`` answers the rows of ``grids.kpi.kpis`` (结案率, 按期结案率, times to
dispatch and close, satisfaction) by grid, worker, category, source, community and/or
period, with Chinese labels; ``GET /api/kpi/chart.png`` draws 结案率 / 按期结案率 per group
on an A4 landscape page, and ``GET /kpi`` (:mod:`api.pages.kpi`) is the page a street
office prints.  All three take the same query parameters (:data:`api.schemas.kpi.QueryDep`).

Who sees what is ``grids.access.kpi_filter`` (:mod:`api.services.kpi`): staff and admins
review their area; a grid worker only the cases assigned to them; a resident gets 403.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.auth import CurrentUser
from api.deps import EngineDep
from api.schemas.kpi import KpiReview, QueryDep
from api.services.kpi import build_review, review_chart

router = APIRouter(tags=["kpi"])


@router.get("/api/kpi", response_model=KpiReview, response_model_exclude_unset=True)
async def get_kpi(engine: EngineDep, user: CurrentUser, query: QueryDep) -> KpiReview:
    """KPIs of 考核 (结案率, 按期结案率, times, satisfaction) per group, for the caller's area.

    Each row carries the keys of the breakdown asked for (and their names), then the KPIs.
    """
    return await run_in_threadpool(lambda: KpiReview.of(build_review(engine, user, query)))


@router.get(
    "/api/kpi/chart.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "A4 landscape, 150 dpi"}},
)
async def get_kpi_chart(engine: EngineDep, user: CurrentUser, query: QueryDep) -> Response:
    """The printable chart (PNG, A4 landscape) of 结案率 and 按期结案率 per group."""
    png = await run_in_threadpool(lambda: review_chart(build_review(engine, user, query)))
    return Response(png, media_type="image/png", headers={"Cache-Control": "private"})
