"""The re-division simulator at the staff desk (网格调整模拟): a candidate beside today's grids.

``/grids/simulate`` replays the last months onto the designer's proposal for a community
(``?community=``) or onto a layout uploaded as GeoJSON, and shows the office's on-time
model, a table per grid and per worker, today's layout and the candidate side by side, and
both on a map.  The use case is :func:`api.services.redivision.simulate_layout`, the same
as ``POST /api/grids/simulate`` and ``wangge grids simulate``.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.auth import GridDeskUser
from api.deps import StateDep
from api.pages.render import render
from api.schemas.redivision import SimulationAnswer
from api.services import redivision
from api.services.redivision import SimulateInputError, SimulateQuery
from gis.errors import TooLarge
from grids.access import Principal, require_street_staff

router = APIRouter(tags=["pages"])

#: Largest layout file accepted (a street's grids as GeoJSON are far smaller).
MAX_LAYOUT_BYTES = 5 * 1024 * 1024
Months = Annotated[int, Query(ge=1, le=36, description="months of history replayed")]


async def _show(
    request: Request, state: StateDep, user: Principal, query: SimulateQuery | None
) -> HTMLResponse:
    answer = None
    if query is not None:

        def run() -> SimulationAnswer:
            network = state.walking_now().network
            report = redivision.simulate_layout(state.engine, state.settings, network, user, query)
            return SimulationAnswer.of(report)

        answer = await run_in_threadpool(run)
    context = {
        "answer": answer,
        "community": query.community if query is not None else None,
        "months": query.months if query is not None else 6,
    }
    return render(request, "grids/simulate.html", context, user=user)


@router.get("/grids/simulate", response_class=HTMLResponse)
async def simulate_page(
    request: Request,
    state: StateDep,
    user: GridDeskUser,
    community: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    months: Months = 6,
) -> HTMLResponse:
    """The form; with ``community``, the designer's proposal simulated beside today's grids."""
    require_street_staff(user, "simulate a new grid layout")
    query = None if community is None else SimulateQuery(None, True, community, months)
    return await _show(request, state, user, query)


@router.post("/grids/simulate", response_class=HTMLResponse)
async def simulate_upload(
    request: Request,
    state: StateDep,
    user: GridDeskUser,
    layout: Annotated[UploadFile, File(description="GeoJSON FeatureCollection of the grids")],
    months: Annotated[int, Form(ge=1, le=36)] = 6,
) -> HTMLResponse:
    """A layout uploaded as GeoJSON, simulated beside today's grids."""
    require_street_staff(user, "simulate a new grid layout")
    data = await layout.read(MAX_LAYOUT_BYTES + 1)
    if len(data) > MAX_LAYOUT_BYTES:
        raise TooLarge(
            f"the layout file is over {MAX_LAYOUT_BYTES // 2**20} MB; send only the grids "
            "of the area to re-divide"
        )
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SimulateInputError(
            f"布局文件不是 GeoJSON (the layout file is not GeoJSON: {exc}); export the grids "
            "as a GeoJSON FeatureCollection in lon/lat"
        ) from None
    return await _show(request, state, user, SimulateQuery(parsed, False, None, months))
