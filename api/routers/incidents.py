"""Incidents (事件 / 工单) over HTTP: report, follow, work and merge cases, import the hotline.

Every route needs a signed-in user; what they see and may do is decided by
:mod:`grids.access` and :mod:`grids.incidents`, applied in :mod:`api.casework`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile as FormFile
from starlette.types import Message

from api import casework, dispatching
from api.auth import CurrentUser
from api.deps import EngineDep, SettingsDep, get_state
from api.inputs import INT8_MAX, BigId, Id, Text
from api.intake import (
    Filed,
    Imported,
    Report,
    categories,
    file_report,
    file_reports,
    hotline_too_large,
    read_hotline_csv,
)
from etl.photos import PhotoRejected, check_photo
from gis.coords import COORD_TYPES
from gis.db.models import INCIDENT_SOURCES, INCIDENT_STATES
from gis.errors import InvalidInput, NotFound, Problem, ValidationError
from gis.settings import Settings
from gis.store import incident_store
from grids.access import Forbidden, incident_filter, require_staff
from grids.incidents import ACTIONS

router = APIRouter(tags=["incidents"])


class NewIncident(BaseModel):
    """A report as the resident app, a worker's tablet or a staff member sends it."""

    category_code: Text = Field(description="a code of GET /api/categories, e.g. 10101")
    description: Text = Field(min_length=1, max_length=2000)
    lon: float
    lat: float
    coord_type: Text = Field("wgs84", description=f"one of {', '.join(COORD_TYPES)}")
    source: Literal["patrol", "resident_app", "hotline_12345"] | None = Field(
        None, description="default: resident_app for residents, patrol for grid workers"
    )
    address: Text | None = Field(None, max_length=500)
    contact_name: Text | None = Field(None, max_length=100)
    contact_phone: Text | None = Field(None, max_length=32)
    reported_at: datetime | None = Field(None, description="default: now (with time zone)")


class FiledAnswer(BaseModel):
    """A stored report: where it landed and what to check."""

    id: int
    state: str
    public_token: str
    grid_code: str
    grid_name: str
    community: str
    h3_cell: str
    lon: float
    lat: float
    reported_at: datetime
    near_boundary: bool
    edge_distance_m: float
    duplicate_of: int | None
    possible_duplicates: list[dict[str, Any]] = Field(
        description="the nearest likely duplicates (at most WANGGE_DUPLICATE_MAX_LISTED), "
        "nearest then most recent first"
    )
    duplicate_count: int = Field(
        description="how many earlier reports of the category lie this close, listed or not"
    )
    checks: list[str]


def filed_answer(filed: Filed) -> FiledAnswer:
    """The answer to a filed report, with the checks a dispatcher should make in words."""
    checks = []
    if filed.near_boundary:
        checks.append(
            f"距网格边界 {filed.edge_distance_m:.0f} 米，请确认所属网格 "
            f"(within {filed.edge_distance_m:.0f} m of the grid edge: confirm the grid)"
        )
    if filed.duplicate_of is not None:
        checks.append(
            f"疑似与事件 {filed.duplicate_of} 重复 (likely a duplicate of {filed.duplicate_of})"
        )
        if filed.duplicate_count > 1:
            checks.append(
                f"附近同类事件共 {filed.duplicate_count} 起 "
                f"({filed.duplicate_count} likely duplicates nearby)"
            )
    return FiledAnswer(
        id=filed.id,
        state=filed.state,
        public_token=filed.public_token,
        grid_code=filed.grid_code,
        grid_name=filed.grid_name,
        community=filed.community,
        h3_cell=filed.h3_cell,
        lon=filed.lon,
        lat=filed.lat,
        reported_at=filed.reported_at,
        near_boundary=filed.near_boundary,
        edge_distance_m=filed.edge_distance_m,
        duplicate_of=filed.duplicate_of,
        possible_duplicates=[
            {
                "id": d["id"],
                "state": d["state"],
                "distance_m": round(float(d["distance_m"]), 1),
                "reported_at": d["reported_at"].isoformat(),
            }
            for d in filed.duplicates
        ],
        duplicate_count=filed.duplicate_count,
        checks=checks,
    )


@router.get("/api/categories")
async def list_categories(engine: EngineDep) -> list[dict[str, Any]]:
    """The incident categories: code, Chinese name, family, time limit (hours), priority."""
    table = await run_in_threadpool(categories, engine)
    return [c.__dict__ for c in table.values()]


@router.post("/api/incidents", status_code=201, response_model=FiledAnswer)
async def report_incident(
    body: NewIncident,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> FiledAnswer:
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
        return file_report(engine, get_state(request).current_grids(), settings, user, rep)

    return filed_answer(await run_in_threadpool(file))


@router.get("/api/incidents")
async def list_incidents(
    engine: EngineDep,
    user: CurrentUser,
    state: Annotated[list[Text] | None, Query(description="states to include")] = None,
    category_code: Text | None = None,
    assignee_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT8_MAX)] = 0,
) -> list[dict[str, Any]]:
    """The incidents the user may see, newest first."""
    unknown = sorted(set(state or ()) - set(INCIDENT_STATES))
    if unknown:
        raise InvalidInput(
            f"unknown state(s) {', '.join(unknown)}; states are {', '.join(INCIDENT_STATES)}"
        )
    rule = incident_filter(user)

    def read() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return incident_store.list_incidents(
                conn,
                everything=rule.everything,
                grid_ids=rule.grid_ids,
                worker_id=rule.worker_id,
                reporter_id=rule.reporter_id,
                states=tuple(state or ()),
                category_code=category_code,
                assignee_id=assignee_id,
                limit=limit,
                offset=offset,
            )

    rows = await run_in_threadpool(read)
    for r in rows:
        r["h3_cell"] = None if r["h3_cell"] is None else format(r["h3_cell"], "x")
    return rows


@router.get("/api/incidents/{incident_id}")
async def get_incident(incident_id: BigId, engine: EngineDep, user: CurrentUser) -> dict[str, Any]:
    """One incident with its full history, photos and the actions the user may take."""

    def read() -> dict[str, Any]:
        with engine.connect() as conn:
            row = casework.visible_incident(conn, user, incident_id)
            return casework.incident_detail(conn, user, row)

    return await run_in_threadpool(read)


class ActionRequest(BaseModel):
    """An action on a case: one of the life-cycle actions, with what it needs."""

    action: Text = Field(description=f"one of {', '.join(ACTIONS)}")
    note: Text | None = Field(None, max_length=2000)
    assignee_id: Id | None = Field(None, description="the worker, to dispatch or reassign")
    rating: int | None = Field(None, description="1–5, to rate")


@router.post("/api/incidents/{incident_id}/actions")
async def take_action(
    incident_id: BigId,
    body: ActionRequest,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Move a case (立案, 派遣, 处置, 反馈, 核查, 结案, 评价, 督办 …); 409 if moved meanwhile.

    ``dispatch`` without ``assignee_id`` goes to the recommended worker (the grid's
    primary, else a backup, else the best of its community by walking time and load),
    the reason noted.  A worker to dispatch or reassign to must be of your area (else
    403) and on duty (else 422).
    """
    if body.action == "dispatch" and body.assignee_id is None:
        return await run_in_threadpool(
            dispatching.dispatch_recommended,
            request,
            engine,
            settings,
            user,
            incident_id,
            body.note,
        )
    step = casework.Step(body.action, body.note, body.assignee_id, body.rating)
    return await run_in_threadpool(casework.act, engine, user, incident_id, step)


@router.get("/api/incidents/{incident_id}/recommendation")
async def recommend_worker(
    incident_id: BigId,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Who should take the case and why (staff): the rule, travel time, load, alternatives.

    Only workers of your area: the grid's own first, then its community's; a worker of
    another community of your area (street staff, admin) only when none of its own is.
    """
    return await run_in_threadpool(
        dispatching.recommendation, request, engine, settings, user, incident_id
    )


class RedispatchMove(BaseModel):
    """One move of a preview, sent back unchanged to confirm it (other fields are ignored)."""

    incident_id: BigId
    version: BigId | None = Field(description="the case's latest event id when previewed")
    state: Literal["registered", "dispatched"]
    from_worker_id: Id | None
    to_worker_id: Id
    action: Literal["dispatch", "reassign"]
    reason: str = Field(max_length=4000)


class RedispatchRequest(BaseModel):
    """Preview a batch re-dispatch of the area's backlog, or confirm a preview."""

    widen: Literal["grid", "community", "area"] = Field(
        "grid",
        description="who may take a case: its grid's own primary and backups (grid), also "
        "its community's workers (community), or any worker of your area (area)",
    )
    include_dispatched: bool = Field(
        False, description="also move dispatched cases not yet started, if that is better"
    )
    incident_ids: list[BigId] | None = Field(
        None, max_length=10_000, description="only these cases (default: the whole backlog)"
    )
    limit: int = Field(2000, ge=1, le=10_000)
    confirm: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="the preview_id of a preview to apply, sent with its widen and moves",
    )
    moves: list[RedispatchMove] | None = Field(
        None, max_length=10_000, description="with confirm: the moves of the preview, unchanged"
    )


@router.post("/api/incidents/redispatch")
async def redispatch(
    body: RedispatchRequest,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> dict[str, Any]:
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
        return await run_in_threadpool(
            lambda: dispatching.redispatch_preview(
                request,
                engine,
                settings,
                user,
                widen=body.widen,
                include_dispatched=body.include_dispatched,
                incident_ids=None if body.incident_ids is None else tuple(body.incident_ids),
                limit=body.limit,
            )
        )
    if body.moves is None:
        raise InvalidInput("confirm needs the moves of the preview, sent back unchanged")
    moves = [dispatching.Move(**m.model_dump()) for m in body.moves]
    return await run_in_threadpool(
        dispatching.redispatch_confirm, engine, user, body.confirm, body.widen, moves
    )


class MergeRequest(BaseModel):
    """Merge this report into the case it repeats."""

    into: BigId


@router.post("/api/incidents/{incident_id}/merge")
async def merge_incident(
    incident_id: BigId, body: MergeRequest, engine: EngineDep, user: CurrentUser
) -> dict[str, Any]:
    """Merge a duplicate report into another case; both histories are kept."""
    return await run_in_threadpool(casework.merge, engine, user, incident_id, body.into)


class GridConfirmation(BaseModel):
    """The grid a report near an edge belongs to (none: the one it was placed in)."""

    grid_code: str | None = Field(None, pattern=r"^\d{15}$")


@router.post("/api/incidents/{incident_id}/grid")
async def confirm_incident_grid(
    incident_id: BigId,
    body: GridConfirmation,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Confirm the grid of a report flagged near a grid edge, or move it across the edge."""
    return await run_in_threadpool(
        casework.confirm_grid,
        engine,
        user,
        incident_id,
        body.grid_code,
        max(2 * settings.near_boundary_m, 1.0),
    )


@router.post("/api/incidents/{incident_id}/photos", status_code=201)
async def add_photos(
    incident_id: BigId,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    files: Annotated[list[UploadFile], File(description="JPEG, PNG or WebP images")],
) -> list[dict[str, Any]]:
    """Attach photos to a case: images only, size-limited, stored with their SHA-256."""
    photos = []
    for f in files:
        data = await f.read(settings.photo_max_bytes + 1)
        try:
            photo = check_photo(data, max_bytes=settings.photo_max_bytes, filename=f.filename)
        except PhotoRejected as exc:
            raise ValidationError(
                [Problem("photo", len(photos) + 1, f.filename, "files", str(exc), "see message")]
            ) from None
        photos.append(photo)

    def store() -> list[dict[str, Any]]:
        with engine.begin() as conn:
            row = casework.visible_incident(conn, user, incident_id, for_update=True)
            if not (user.is_staff or user.user_id == row.reporter_id) and not (
                user.worker_id is not None and user.worker_id == row.assignee_id
            ):
                raise NotFound(f"no incident {incident_id} you may add photos to")
            have = len(incident_store.photos_of(conn, incident_id))
            if have + len(photos) > settings.photo_max_count:
                raise InvalidInput(
                    f"incident {incident_id} has {have} photo(s); at most "
                    f"{settings.photo_max_count} are kept, so send at most "
                    f"{max(settings.photo_max_count - have, 0)} more"
                )
            for p in photos:
                incident_store.insert_photo(
                    conn,
                    incident_id,
                    content_type=p.content_type,
                    data=p.data,
                    sha256=p.sha256,
                    uploaded_by=user.username,
                )
            return [
                {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
                for r in incident_store.photos_of(conn, incident_id)
            ]

    return await run_in_threadpool(store)


@router.get("/api/incidents/{incident_id}/photos/{photo_id}")
async def get_photo(
    incident_id: BigId, photo_id: BigId, engine: EngineDep, user: CurrentUser
) -> Response:
    """One photo of a case the user may see."""

    def read() -> tuple[str, bytes]:
        with engine.connect() as conn:
            casework.visible_incident(conn, user, incident_id)
            found = incident_store.photo_data(conn, incident_id, photo_id)
        if found is None:
            raise NotFound(f"incident {incident_id} has no photo {photo_id}")
        return found

    content_type, data = await run_in_threadpool(read)
    return Response(data, media_type=content_type, headers={"Cache-Control": "private"})


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


def imported_answer(imported: Imported) -> dict[str, Any]:
    """The answer to a hotline file: counts, each new incident by row, earlier ones by row."""
    return {
        "rows": imported.rows,
        "filed": len(imported.filed),
        "already_filed": len(imported.already_filed),
        "likely_duplicates": sum(f.duplicate_of is not None for _, f in imported.filed),
        "incidents": [
            {"row": row, **filed_answer(f).model_dump(mode="json")} for row, f in imported.filed
        ],
        "already_filed_incidents": [{"row": row, "id": i} for row, i in imported.already_filed],
    }


@router.post("/api/incidents/hotline", status_code=201, openapi_extra=_HOTLINE_BODY)
async def import_hotline(
    request: Request,
    response: Response,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Import a 12345 hotline export, all or nothing (every bad row named), each row once.

    Rows filed before (the same file sent again, an export repeating earlier rows) are
    not filed again; they are answered with their incident, and the answer is 200
    rather than 201 when nothing new was filed.  A file over WANGGE_HOTLINE_MAX_ROWS
    rows or WANGGE_HOTLINE_MAX_BYTES bytes is refused with 413.
    """
    require_staff(user, "import hotline reports")
    upload = await _upload(request, settings)

    def file() -> Imported:
        try:
            reports = read_hotline_csv(upload.file, settings)
        finally:
            upload.file.close()
        return file_reports(engine, get_state(request).current_grids(), settings, user, reports)

    imported = await run_in_threadpool(file)
    if not imported.filed:
        response.status_code = 200
    return imported_answer(imported)


@router.post("/api/incidents/escalations")
async def run_escalations(engine: EngineDep, user: CurrentUser) -> dict[str, Any]:
    """Run the reminder / 督办 job now (street staff and admins; it also runs on a timer)."""
    if user.role not in ("street_staff", "admin"):
        raise Forbidden("only street staff or an admin may run the escalation job")
    run = await run_in_threadpool(casework.run_escalations, engine)
    return {"reminders": run.reminders, "escalated": run.escalated, "skipped": run.skipped}


@router.get("/api/me")
async def me(user: CurrentUser) -> dict[str, Any]:
    """Who the token belongs to, their role and how many grids they cover."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "worker_id": user.worker_id,
        "area_id": user.area_id,
        "grids": None if user.grid_ids is None else len(user.grid_ids),
        "sources": list(INCIDENT_SOURCES),
    }
