"""Incidents (事件 / 工单) over HTTP: report, list, read and move cases, and their photos.

Every route needs a signed-in user; what they see and may do is decided by
:mod:`grids.access` and :mod:`grids.incidents`, applied in :mod:`api.services.casework`.
Dispatch, merging, grid confirmation, the 督办 job and the hotline import are in
:mod:`api.routers.dispatch`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime

from api.auth import CurrentUser
from api.deps import EngineDep, SettingsDep, StateDep
from api.inputs import INT8_MAX, BigId, Id, Text
from api.schemas.incidents import (
    ActionRequest,
    CaseAnswer,
    CategoryAnswer,
    FiledAnswer,
    IncidentStateName,
    ListedIncident,
    MeAnswer,
    NewIncident,
    PhotoAnswer,
)
from api.services import casework, dispatching, intake
from api.services.casework import Case, CaseQuery, Listed
from api.services.intake import Filed, Report
from gis.db.models import INCIDENT_SOURCES
from grids.categories import Category

router = APIRouter(tags=["incidents"])


@router.get("/api/categories", response_model=list[CategoryAnswer])
async def list_categories(engine: EngineDep) -> list[Category]:
    """The incident categories: code, Chinese name, family, time limit (hours), priority."""
    table = await run_in_threadpool(intake.categories, engine)
    return list(table.values())


@router.post("/api/incidents", status_code=201, response_model=FiledAnswer)
async def report_incident(body: NewIncident, state: StateDep, user: CurrentUser) -> FiledAnswer:
    """Report a problem (采集); it is placed in its grid and H3 cell on arrival."""
    rep = Report(
        category_code=body.category_code,
        description=body.description,
        lon=body.lon,
        lat=body.lat,
        coord_type=body.coord_type,
        source=body.source,
        address=body.address,
        contact_name=body.contact_name,
        contact_phone=body.contact_phone,
        reported_at=body.reported_at,
    )

    def file() -> Filed:  # one trip to the thread pool: intake is the hottest path
        return intake.file_report(state.engine, state.current_grids(), state.settings, user, rep)

    return FiledAnswer.of(await run_in_threadpool(file))


@router.get("/api/incidents", response_model=list[ListedIncident])
async def list_incidents(
    engine: EngineDep,
    user: CurrentUser,
    state: Annotated[list[IncidentStateName] | None, Query(description="states to include")] = None,
    category_code: Text | None = None,
    assignee_id: Id | None = None,
    since: Annotated[
        AwareDatetime | None, Query(description="reported at or after (with its offset)")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="reported before (with its offset)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT8_MAX)] = 0,
) -> list[Listed]:
    """The incidents the user may see, newest first; ``since``/``until`` bound the report."""
    query = CaseQuery(
        states=tuple(state or ()),
        category_codes=() if category_code is None else (category_code,),
        assignee_id=assignee_id,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return await run_in_threadpool(casework.list_cases, engine, user, query)


@router.get(
    "/api/incidents/{incident_id}", response_model=CaseAnswer, response_model_exclude_unset=True
)
async def get_incident(incident_id: BigId, engine: EngineDep, user: CurrentUser) -> CaseAnswer:
    """One incident with its full history, photos and the actions the user may take."""
    return CaseAnswer.of(await run_in_threadpool(casework.read_case, engine, user, incident_id))


@router.post(
    "/api/incidents/{incident_id}/actions",
    response_model=CaseAnswer,
    response_model_exclude_unset=True,
)
async def take_action(
    incident_id: BigId, body: ActionRequest, state: StateDep, user: CurrentUser
) -> CaseAnswer:
    """Move a case (立案, 派遣, 处置, 反馈, 核查, 结案, 评价, 督办 …); 409 if moved meanwhile.

    ``dispatch`` without ``assignee_id`` goes to the recommended worker (the grid's
    primary, else a backup, else the best of its community by walking time and load),
    the reason noted (``recommendation``).  A worker to dispatch or reassign to must be
    of your area (else 403) and on duty (else 422).
    """
    if body.action == "dispatch" and body.assignee_id is None:

        def recommended() -> Case:
            network = state.walking_now().network
            return dispatching.dispatch_recommended(
                state.engine, state.settings, user, incident_id, body.note, network
            )

        return CaseAnswer.of(await run_in_threadpool(recommended))
    step = casework.Step(body.action, body.note, body.assignee_id, body.rating)
    case = await run_in_threadpool(casework.act, state.engine, user, incident_id, step)
    return CaseAnswer.of(case)


@router.post(
    "/api/incidents/{incident_id}/photos", status_code=201, response_model=list[PhotoAnswer]
)
async def add_photos(
    incident_id: BigId,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    files: Annotated[list[UploadFile], File(description="JPEG, PNG or WebP images")],
) -> list[casework.PhotoInfo]:
    """Attach photos to a case: images only, size-limited, stored with their SHA-256."""
    # one byte over the limit is enough to refuse a file: the rest is never read
    sent = [(f.filename, await f.read(settings.photo_max_bytes + 1)) for f in files]
    return await run_in_threadpool(casework.add_photos, engine, settings, user, incident_id, sent)


@router.get(
    "/api/incidents/{incident_id}/photos/{photo_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
async def get_photo(
    incident_id: BigId, photo_id: BigId, engine: EngineDep, user: CurrentUser
) -> Response:
    """One photo of a case the user may see."""
    content_type, data = await run_in_threadpool(
        casework.photo, engine, user, incident_id, photo_id
    )
    return Response(data, media_type=content_type, headers={"Cache-Control": "private"})


@router.get("/api/me", response_model=MeAnswer)
async def me(user: CurrentUser) -> MeAnswer:
    """Who the token belongs to, their role and how many grids they cover."""
    return MeAnswer(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        worker_id=user.worker_id,
        area_id=user.area_id,
        grids=None if user.grid_ids is None else len(user.grid_ids),
        sources=list(INCIDENT_SOURCES),
    )
