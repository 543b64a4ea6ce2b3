"""The planners' pages (设施规划): the access map, recommended sites, a plan against today.

Opened in a browser with the token as ``?api_key=`` (like ``/kpi``), e.g.
``/planning/access?kind=elder_care&api_key=TOKEN``; for the street office's planners
only (:data:`api.auth.Planner`).  Each page calls the planning services the JSON routes
call and draws with :mod:`maps.coverage`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.auth import Planner, planner
from api.deps import PlanningDataDep, SettingsDep
from api.headers import InlinePage
from api.inputs import Text
from api.schemas.planning import GroupQ, KindQ, ModelParam
from api.services import planning, scenarios, siting
from maps.assets import render_offline
from maps.coverage import access_map, plan_map

router = APIRouter(tags=["planning"], dependencies=[Depends(planner)])


@router.get("/planning/access", response_class=InlinePage)
async def access_page(
    user: Planner, data: PlanningDataDep, settings: SettingsDep, kind: KindQ, group: GroupQ = None
) -> HTMLResponse:
    """The access map (可达性) of a facility kind and group: H3 cells, hot spots, facilities."""

    def render() -> str:
        found = planning.coverage(user, data, kind, group)
        m = access_map(found.access, found.facilities, group=found.group, settings=settings)
        return render_offline(m)

    return HTMLResponse(await run_in_threadpool(render))


@router.get("/planning/sites", response_class=InlinePage)
async def sites_page(
    user: Planner,
    data: PlanningDataDep,
    settings: SettingsDep,
    kind: KindQ,
    group: GroupQ = None,
    model: Annotated[ModelParam, Query()] = "mclp",
    p: Annotated[int, Query(ge=1, le=200)] = 3,
    candidates: Annotated[Text, Query(description="'cells' or 'buildings:<use>'")] = "cells",
) -> HTMLResponse:
    """Candidate and recommended sites (选址) on today's access map."""
    query = siting.SolveQuery(kind=kind, group=group, model=model, p=p, candidates=candidates)

    def render() -> str:
        solved = siting.solve(user, data, query)
        today = planning.coverage_on(solved.inputs, solved.kind, solved.group)
        m = access_map(
            today.access,
            today.facilities,
            group=solved.group,
            candidates=solved.candidates,
            recommended=solved.recommendation.sites,
            settings=settings,
        )
        return render_offline(m)

    return HTMLResponse(await run_in_threadpool(render))


@router.get("/planning/compare", response_class=InlinePage)
async def compare_page(
    user: Planner,
    data: PlanningDataDep,
    settings: SettingsDep,
    kind: KindQ,
    scenario: Annotated[Text, Query(description="the scenario (id or name) shown after")],
    group: GroupQ = None,
) -> HTMLResponse:
    """Before and after one plan (现状 / 规划后) on a map, with the comparison table."""

    def render() -> str:
        c = scenarios.compare(user, data, kind, [scenario], group)
        m = plan_map(
            c.accesses, c.table, c.facilities, c.plans[0], group=c.group, settings=settings
        )
        return render_offline(m)

    return HTMLResponse(await run_in_threadpool(render))
