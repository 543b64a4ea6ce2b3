"""The grids desk pages (网格与人员, ``/grids``): grids, workers, handovers, checks and designs.

Each grid with its workers, load and KPIs; handovers; the topology check and the
designer's proposal on a map, stored only when confirmed.

Every rule is :mod:`api.services.grid_desk`'s; a POST redirects (303) with a flash message.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth import GridDeskUser
from api.deps import EngineDep, SettingsDep
from api.inputs import Id, Text
from api.pages.render import flash, render, session_id
from api.services import grid_desk, worker_field

router = APIRouter(tags=["pages"])

CommunityCode = Annotated[str, Query(pattern=r"^\d{12}$", description="12-digit community code")]
Band = Annotated[int | None, Query(ge=1, le=100_000)]
#: The period of the patrol coverage (巡查覆盖) shown on the grids desk, days.
COVERAGE_DAYS = 30


def _redirect(request: Request, to: str, message: str) -> RedirectResponse:
    response = RedirectResponse(to, status_code=303)
    sid = session_id(request)
    if sid is not None:
        flash(response, sid, message, "success")
    return response


@router.get("/grids", response_class=HTMLResponse)
async def grids_page(request: Request, engine: EngineDep, user: GridDeskUser) -> HTMLResponse:
    """The grids of my area: primary and backup workers, households, open cases, KPIs."""
    found = await run_in_threadpool(grid_desk.overview, engine, user)
    days = COVERAGE_DAYS
    coverage = await run_in_threadpool(worker_field.desk_coverage, engine, user, days)
    context = {"found": found, "coverage": coverage, "coverage_days": days}
    return render(request, "grids/list.html", context, user=user)


@router.post("/grids/{grid_id}/handover")
async def handover(
    request: Request,
    engine: EngineDep,
    user: GridDeskUser,
    grid_id: Id,
    worker_id: Annotated[Id, Form()],
    reason: Annotated[Text, Form(max_length=500)] = "",
) -> RedirectResponse:
    """Hand the grid to another worker of my area; their open tasks in it follow."""
    done = await run_in_threadpool(grid_desk.hand_over, engine, user, grid_id, worker_id, reason)
    moved = f"，{len(done.tasks)} 件在办案件随之移交" if done.tasks else ""
    text = f"{done.grid_name} 已由 {done.from_worker or '（无）'} 移交给 {done.to_worker}{moved}"
    return _redirect(request, "/grids", text)


@router.get("/grids/design", response_class=HTMLResponse)
async def design_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: GridDeskUser,
    community: CommunityCode,
    min_households: Band = None,
    max_households: Band = None,
    count: Annotated[int | None, Query(ge=1, le=500)] = None,
) -> HTMLResponse:
    """A community's topology check and the designer's proposal on a map; nothing stored."""
    view = await run_in_threadpool(
        lambda: grid_desk.design_view(
            engine,
            user,
            settings,
            community,
            min_households=min_households,
            max_households=max_households,
            count=count,
        )
    )
    return render(request, "grids/design.html", {"view": view, "count": count}, user=user)


@router.post("/grids/design")
async def save_design(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: GridDeskUser,
    community: Annotated[str, Form(pattern=r"^\d{12}$")],
    fingerprint: Annotated[str, Form(pattern=r"^[0-9a-f]{32}$")],
    min_households: Annotated[int, Form(ge=1, le=100_000)],
    max_households: Annotated[int, Form(ge=1, le=100_000)],
    count: Annotated[int | None, Form(ge=1, le=500)] = None,
) -> RedirectResponse:
    """Store the proposal shown, once confirmed, as the community's new grids."""
    report = await run_in_threadpool(
        lambda: grid_desk.save_design(
            engine,
            user,
            settings,
            community,
            fingerprint,
            min_households=min_households,
            max_households=max_households,
            count=count,
        )
    )
    text = f"已保存新网格方案：{len(report.created)} 个网格，停用旧网格 {len(report.retired)} 个"
    return _redirect(request, f"/grids/design?community={community}", text)
