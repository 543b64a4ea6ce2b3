"""Staff's desk over HTTP: who takes a case, batch re-dispatch, merging, grids, 督办, 12345.

Every route needs a signed-in user, most of them staff; the use cases are
:mod:`api.services.dispatching`, :mod:`api.services.casework` and
:mod:`api.services.intake`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as FormFile
from starlette.types import Message

from api.auth import CurrentUser
from api.deps import EngineDep, SettingsDep, StateDep
from api.inputs import BigId
from api.schemas.incidents import (
    CaseAnswer,
    ConfirmAnswer,
    EscalationAnswer,
    GridConfirmation,
    HotlineAnswer,
    MergeRequest,
    PreviewAnswer,
    RecommendationAnswer,
    RedispatchRequest,
)
from api.services import casework, dispatching, intake
from api.services.casework import EscalationRun
from api.services.dispatching import Confirmed, Preview, Recommendation
from api.services.intake import Imported
from etl.hotline import hotline_too_large
from gis.errors import InvalidInput
from gis.settings import Settings
from grids.access import require_staff

router = APIRouter(tags=["incidents"])


@router.get("/api/incidents/{incident_id}/recommendation", response_model=RecommendationAnswer)
async def recommend_worker(
    incident_id: BigId, state: StateDep, user: CurrentUser
) -> Recommendation:
    """Who should take the case and why (staff): the rule, travel time, load, alternatives.

    Only workers of your area: the grid's own first, then its community's; a worker of
    another community of your area (street staff, admin) only when none of its own is.
    """

    def recommend() -> Recommendation:
        network = state.walking_now().network
        return dispatching.recommendation(state.engine, state.settings, user, incident_id, network)

    return await run_in_threadpool(recommend)


@router.post("/api/incidents/redispatch", response_model=PreviewAnswer | ConfirmAnswer)
async def redispatch(
    body: RedispatchRequest, state: StateDep, user: CurrentUser
) -> Preview | Confirmed:
    """Preview a batch re-dispatch (staff), changing nothing; apply it with ``confirm``.

    Without ``confirm``: the backlog of your area as one optimal assignment within each
    worker's capacity, never to a worker outside your area and, unless widened, only to
    the primary and backups of each case's grid: the moves (from whom to whom, why,
    travel now and after), the cost beside the current and the greedy one, and a
    ``preview_id``.  With ``confirm`` (that id), ``widen`` and ``moves`` of the preview:
    the moves are applied, each checked again; a case changed meanwhile is a conflict,
    not moved.  A preview that is not yours, or moves that differ, are not found (404).
    """
    if body.confirm is None:
        if body.moves is not None:
            raise InvalidInput("moves are applied only with confirm: the preview_id they came with")

        def preview() -> Preview:
            return dispatching.redispatch_preview(
                state.engine,
                state.settings,
                user,
                state.walking_now().network,
                widen=body.widen,
                include_dispatched=body.include_dispatched,
                incident_ids=None if body.incident_ids is None else tuple(body.incident_ids),
                limit=body.limit,
            )

        return await run_in_threadpool(preview)
    if body.moves is None:
        raise InvalidInput("confirm needs the moves of the preview, sent back unchanged")
    moves = [dispatching.Move(**m.model_dump()) for m in body.moves]
    return await run_in_threadpool(
        dispatching.redispatch_confirm, state.engine, user, body.confirm, body.widen, moves
    )


@router.post(
    "/api/incidents/{incident_id}/merge",
    response_model=CaseAnswer,
    response_model_exclude_unset=True,
)
async def merge_incident(
    incident_id: BigId, body: MergeRequest, engine: EngineDep, user: CurrentUser
) -> CaseAnswer:
    """Merge a duplicate report into another case; both histories are kept."""
    case = await run_in_threadpool(casework.merge, engine, user, incident_id, body.into)
    return CaseAnswer.of(case)


@router.post(
    "/api/incidents/{incident_id}/grid",
    response_model=CaseAnswer,
    response_model_exclude_unset=True,
)
async def confirm_incident_grid(
    incident_id: BigId,
    body: GridConfirmation,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> CaseAnswer:
    """Confirm the grid of a report flagged near a grid edge, or move it across the edge."""
    within_m = max(2 * settings.near_boundary_m, 1.0)
    case = await run_in_threadpool(
        casework.confirm_grid, engine, user, incident_id, body.grid_code, within_m
    )
    return CaseAnswer.of(case)


@router.post("/api/incidents/escalations", response_model=EscalationAnswer)
async def run_escalations(engine: EngineDep, user: CurrentUser) -> EscalationRun:
    """Run the reminder / 督办 job now (street staff and admins; it also runs on a timer)."""
    return await run_in_threadpool(lambda: casework.run_escalations(engine, by=user))


# ------------------------------------------------------------------ the 12345 hotline

#: Bytes of the multipart envelope allowed around the hotline file (boundaries, headers).
_ENVELOPE_BYTES = 64 * 1024
_HOTLINE_FIELD = "file"
_HOTLINE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [_HOTLINE_FIELD],
                    "properties": {
                        _HOTLINE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "12345 hotline export, CSV (UTF-8 or GBK)",
                        }
                    },
                }
            }
        },
    }
}


async def _upload(request: Request, settings: Settings) -> FormFile:
    """The hotline file of a multipart body, spooled to disk a chunk at a time.

    A body over the byte limit is refused as soon as that is known (its declared length,
    else the bytes received so far), not after it has all been received.
    """
    limit = settings.hotline_max_bytes + _ENVELOPE_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise hotline_too_large(f"the upload has {int(declared):,} bytes", settings)
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise hotline_too_large(f"the upload has more than {limit:,} bytes", settings)
        return message

    form = await Request(request.scope, receive).form(max_files=1, max_fields=10)
    upload = form.get(_HOTLINE_FIELD)
    if not isinstance(upload, FormFile):
        await form.close()
        raise InvalidInput(
            f"send the CSV as the multipart/form-data field {_HOTLINE_FIELD!r} "
            f"(curl -F {_HOTLINE_FIELD}=@12345.csv …)"
        )
    return upload


@router.post(
    "/api/incidents/hotline",
    status_code=201,
    openapi_extra=_HOTLINE_BODY,
    response_model=HotlineAnswer,
    responses={200: {"model": HotlineAnswer, "description": "every row was filed before"}},
)
async def import_hotline(
    request: Request, response: Response, state: StateDep, user: CurrentUser
) -> HotlineAnswer:
    """Import a 12345 hotline export, all or nothing (every bad row named), each row once.

    Rows filed before (the same file sent again, an export repeating earlier rows) are
    not filed again; they are answered with their incident, and the answer is 200
    rather than 201 when nothing new was filed.  A file over WANGGE_HOTLINE_MAX_ROWS
    rows or WANGGE_HOTLINE_MAX_BYTES bytes is refused with 413.
    """
    require_staff(user, "import hotline reports")  # before a byte of the upload is read
    upload = await _upload(request, state.settings)

    def file() -> Imported:
        try:
            return intake.import_hotline(
                state.engine, state.current_grids(), state.settings, user, upload.file
            )
        finally:
            upload.file.close()

    imported = await run_in_threadpool(file)
    if not imported.filed:
        response.status_code = 200
    return HotlineAnswer.of(imported)
