"""The planners' pages (设施规划): the access map, recommended sites, a plan against today.

Opened in a browser signed in at ``/login``, e.g. ``/planning/access?kind=elder_care``
(a token in the URL is refused); for the street office's planners only
(:data:`api.auth.Planner`).  Each page calls the planning services the JSON routes call
and draws with :mod:`maps.coverage`.  ``/planning/compare`` shows today and every
scenario asked (``scenario=A&scenario=B``) side by side: the table and a small map of
each; ``/planning/compare/map`` is one plan's interactive map.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from analysis.coverage import GROUP_NAMES, KIND_NAMES, TODAY
from api.auth import Planner, planner
from api.deps import PlanningDataDep, SettingsDep
from api.headers import InlinePage
from api.inputs import Text
from api.pages.render import render
from api.schemas.planning import GroupQ, KindQ, ModelParam
from api.services import planning, scenarios, siting
from gis.errors import InvalidInput
from maps.assets import render_offline
from maps.coverage import (
    MINUTE_CLASSES,
    UNREACHABLE_COLOUR,
    access_map,
    access_svg,
    compare_bounds,
    compare_rows,
    plan_map,
)

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


#: Most scenarios one comparison shows side by side.
MOST_SCENARIOS = 6

ScenarioList = Annotated[
    list[Text],
    Query(description="the scenarios (id or name) compared with today; repeat for several"),
]


def _scenarios(scenario: list[str]) -> list[str]:
    keys = list(dict.fromkeys(s.strip() for s in scenario if s.strip()))
    if not keys:
        raise InvalidInput(
            "name at least one scenario: /planning/compare?kind=…&scenario=A&scenario=B"
        )
    if len(keys) > MOST_SCENARIOS:
        raise InvalidInput(
            f"{len(keys)} scenarios asked; compare at most {MOST_SCENARIOS} side by side"
        )
    return keys


@router.get("/planning/compare", response_class=HTMLResponse)
async def compare_page(
    request: Request,
    user: Planner,
    data: PlanningDataDep,
    kind: KindQ,
    scenario: ScenarioList,
    group: GroupQ = None,
) -> HTMLResponse:
    """Today (现状) and every scenario asked, side by side: the table and a map of each."""
    keys = _scenarios(scenario)

    def panels() -> dict[str, Any]:
        c = scenarios.compare(user, data, kind, keys, group)
        today = c.accesses[TODAY]
        frame = compare_bounds(today, c.facilities, c.group, [p.added for p in c.plans])
        drawn = [
            {
                "name": TODAY,
                "svg": Markup(
                    access_svg(
                        today,
                        c.facilities,
                        group=c.group,
                        bounds=frame,
                        title=TODAY,
                        chart_id="plan-0",
                    )
                ),
                "map": None,
            }
        ]
        for i, plan in enumerate(c.plans, start=1):
            svg = access_svg(
                c.accesses[plan.name],
                c.facilities,
                group=c.group,
                added=plan.added,
                removed=plan.removed,
                bounds=frame,
                title=plan.name,
                chart_id=f"plan-{i}",
            )
            query = urlencode({"kind": c.kind, "scenario": plan.name, "group": c.group})
            drawn.append(
                {"name": plan.name, "svg": Markup(svg), "map": f"/planning/compare/map?{query}"}
            )
        headers, rows = compare_rows(c.table)
        return {
            "kind_name": KIND_NAMES[c.kind],
            "group_name": GROUP_NAMES[c.group],
            "panels": drawn,
            "headers": headers,
            "rows": rows,
            "classes": [(label, colour) for _, colour, label in MINUTE_CLASSES],
            "unreachable": UNREACHABLE_COLOUR,
        }

    context = await run_in_threadpool(panels)
    return render(request, "planning_compare.html", context, user=user)


@router.get("/planning/compare/map", response_class=InlinePage)
async def compare_map_page(
    user: Planner,
    data: PlanningDataDep,
    settings: SettingsDep,
    kind: KindQ,
    scenario: Annotated[Text, Query(description="the scenario (id or name) shown after")],
    group: GroupQ = None,
) -> HTMLResponse:
    """Before and after one plan (现状 / 规划后) on an interactive map, with the table."""

    def render_map() -> str:
        c = scenarios.compare(user, data, kind, [scenario], group)
        m = plan_map(
            c.accesses, c.table, c.facilities, c.plans[0], group=c.group, settings=settings
        )
        return render_offline(m)

    return HTMLResponse(await run_in_threadpool(render_map))
