"""Working a case: listing, showing, moving and merging cases, their photos, the 督办 job.

The routers (incidents, worker tablet, Open311) and the command line all call these
functions, so an incident is shown, moved and guarded the same way whichever door a
user comes through.  Visibility is :mod:`grids.access`; legality is
:mod:`grids.incidents`; storage is :mod:`gis.store.incident_store`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

import h3

from api.services import reminders
from api.services.intake import categories
from etl.photos import Photo, PhotoRejected, check_photo
from gis import clock
from gis.db.principal import as_system
from gis.errors import Conflict, InvalidInput, NotFound, Problem, ServiceError, ValidationError
from gis.settings import Settings
from gis.store import access_store, dispatch_store, incident_store, worker_field_store
from gis.store.incident_store import IncidentRow
from grids import incidents as lifecycle
from grids.access import (
    Forbidden,
    Principal,
    incident_filter,
    may_add_photos,
    may_see_contact,
    may_see_incident,
    require_staff,
    require_street_staff,
    workers_in_area,
)
from grids.beidou.place import beidou_code
from grids.categories import Category
from grids.incidents import SHANGHAI, STATE_NAMES_ZH, SYSTEM, IncidentState

if TYPE_CHECKING:  # dispatching records its outcome through this module
    from api.services.dispatching import Recommendation


def _local(at: datetime | None) -> datetime | None:
    """A stored time in China time (every answer shows times with +08:00)."""
    return None if at is None else at.astimezone(SHANGHAI)


# ------------------------------------------------------------------ reading cases


@dataclass(frozen=True)
class CaseQuery:
    """Which of the cases a user may see to list: by state, category, worker, time, id."""

    states: tuple[str, ...] = ()
    category_codes: tuple[str, ...] = ()
    assignee_id: int | None = None
    ids: tuple[int, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class Listed:
    """One case of a listing (times in China time, the H3 cell as hexadecimal)."""

    id: int
    category_code: str
    category_name: str
    priority: int
    source: str
    description: str
    state: str
    reported_at: datetime
    deadline: datetime | None
    closed_at: datetime | None
    assignee_id: int | None
    reporter_id: int | None
    rating: int | None
    grid_id: int | None
    grid_code: str | None
    h3_cell: str | None
    beidou: str | None
    near_boundary: bool
    duplicate_of: int | None
    merged_into: int | None
    address: str | None
    lon: float
    lat: float


def list_cases(engine: Engine, user: Principal, query: CaseQuery) -> list[Listed]:
    """The cases the user may see (:func:`grids.access.incident_filter`), newest first."""
    rule = incident_filter(user)
    with engine.connect() as conn:
        rows = incident_store.list_incidents(
            conn,
            everything=rule.everything,
            grid_ids=rule.grid_ids,
            worker_id=rule.worker_id,
            reporter_id=rule.reporter_id,
            states=query.states,
            category_codes=query.category_codes,
            assignee_id=query.assignee_id,
            ids=query.ids,
            since=query.since,
            until=query.until,
            limit=query.limit,
            offset=query.offset,
        )
    return [
        Listed(
            **{k: v for k, v in r.items() if k != "beidou_cell"}
            | {
                "h3_cell": None if r["h3_cell"] is None else format(r["h3_cell"], "x"),
                "beidou": beidou_code(r["beidou_cell"]),
                "reported_at": _local(r["reported_at"]),
                "deadline": _local(r["deadline"]),
                "closed_at": _local(r["closed_at"]),
            }
        )
        for r in rows
    ]


def visible_incident(
    conn: Connection, user: Principal, incident_id: int, *, for_update: bool = False
) -> IncidentRow:
    """The incident if the user may see it; otherwise "not found", whether or not it exists."""
    row = incident_store.read_incident(conn, incident_id, for_update=for_update)
    if row is None or not may_see_incident(
        user, grid_id=row.grid_id, reporter_id=row.reporter_id, assignee_id=row.assignee_id
    ):
        raise NotFound(f"no incident {incident_id} that you may see")
    return row


def _seen(conn: Connection, user: Principal, ids: list[int]) -> set[int]:
    """Those of ``ids`` the user may see: a case names only cases its reader may open."""
    rule = incident_filter(user)
    if rule.everything or not ids:
        return set(ids)
    found = incident_store.list_incidents(
        conn,
        everything=False,
        grid_ids=rule.grid_ids,
        worker_id=rule.worker_id,
        reporter_id=rule.reporter_id,
        ids=tuple(ids),
        limit=len(ids),
    )
    return {int(r["id"]) for r in found}


def state_of(row: IncidentRow) -> IncidentState:
    """The life-cycle view of a stored incident (derived times replayed from its events)."""
    return lifecycle.restore(
        incident_id=int(row.id or 0),
        category_code=row.category_code,
        state=row.state,
        reported_at=row.reported_at,
        events=[(e.from_state, e.to_state, e.at, e.actor, e.note) for e in row.events],
        reporter_id=row.reporter_id,
        assignee_id=row.assignee_id,
        deadline=row.deadline,
        closed_at=row.closed_at,
        rating=row.rating,
    )


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded step of a case: what, from which state to which, when, by whom."""

    action: str
    from_state: str | None
    to_state: str
    at: datetime
    actor: str
    note: str | None


@dataclass(frozen=True)
class PhotoInfo:
    """A stored photo of a case, without its bytes (``url`` serves them)."""

    id: int
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime | None
    url: str


@dataclass(frozen=True)
class Contact:
    """How to reach the reporter (shown to staff and the reporter only)."""

    name: str | None
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class Case:
    """Everything about one case the user may see.

    ``contact`` is None when the user may not see it (or none was given);
    ``recommendation`` is set only on a dispatch to the recommended worker
    (:func:`api.services.dispatching.dispatch_recommended`).
    """

    id: int
    category_code: str
    category_name: str | None
    priority: int | None
    source: str
    description: str
    address: str | None
    state: str
    state_name: str
    reported_at: datetime
    dispatched_at: datetime | None
    deadline: datetime | None
    overdue: bool
    closed_at: datetime | None
    escalation_level: int
    assignee_id: int | None
    rating: int | None
    lon: float
    lat: float
    grid_code: str | None
    grid_name: str | None
    h3_cell: str | None
    beidou: str | None
    near_boundary: bool
    duplicate_of: int | None
    merged_into: int | None
    merged: list[int]
    history: list[HistoryEntry]
    photos: list[PhotoInfo]
    allowed_actions: list[str]
    contact: Contact | None = None
    recommendation: Recommendation | None = None


def _photos(conn: Connection, incident_id: int) -> list[PhotoInfo]:
    return [
        PhotoInfo(
            id=int(p["id"]),
            content_type=p["content_type"],
            size_bytes=int(p["size_bytes"]),
            sha256=p["sha256"],
            uploaded_at=_local(p["uploaded_at"]),
            url=f"/api/incidents/{incident_id}/photos/{p['id']}",
        )
        for p in incident_store.photos_of(conn, incident_id)
    ]


def incident_detail(conn: Connection, user: Principal, row: IncidentRow) -> Case:
    """Everything about one incident the user may see."""
    incident_id = int(row.id or 0)
    category = categories_cached(conn).get(row.category_code)
    state = state_of(row)
    grid = incident_store.grid_label(conn, row.grid_id)
    contact = None
    if may_see_contact(user, reporter_id=row.reporter_id):
        found = incident_store.contact_of(conn, incident_id)
        contact = None if found is None else Contact(**found)
        if contact is not None and user.user_id != row.reporter_id:
            # someone else's name and phone read: the audit log says who, and when
            access_store.audit(conn, user.username, "read_contact", "incident", incident_id)
    merged = incident_store.merged_into_this(conn, incident_id)
    linked = [i for i in (row.duplicate_of, row.merged_into) if i is not None]
    seen = _seen(conn, user, linked + merged)
    return Case(
        id=incident_id,
        category_code=row.category_code,
        category_name=category.name if category else None,
        priority=category.priority if category else None,
        source=row.source,
        description=row.description,
        address=row.address,
        state=row.state,
        state_name=STATE_NAMES_ZH.get(row.state, row.state),
        reported_at=row.reported_at.astimezone(SHANGHAI),
        dispatched_at=_local(state.dispatched_at),
        deadline=_local(row.deadline),
        overdue=bool(
            row.deadline is not None
            and row.state in lifecycle.OPEN_STATES
            and row.deadline < clock.now()
        ),
        closed_at=_local(row.closed_at),
        escalation_level=state.escalation_level,
        assignee_id=row.assignee_id,
        rating=row.rating,
        lon=row.lon,
        lat=row.lat,
        grid_code=grid[0] if grid else None,
        grid_name=grid[1] if grid else None,
        h3_cell=None if row.h3_cell is None else h3.int_to_str(row.h3_cell),
        beidou=beidou_code(row.beidou_cell),
        near_boundary=row.near_boundary,
        duplicate_of=row.duplicate_of if row.duplicate_of in seen else None,
        merged_into=row.merged_into if row.merged_into in seen else None,
        merged=[i for i in merged if i in seen],
        history=[
            HistoryEntry(
                action=step.action,
                from_state=step.from_state,
                to_state=step.to_state,
                at=step.at.astimezone(SHANGHAI),
                actor=step.actor.username,
                note=step.note,
            )
            for step in state.history
        ],
        photos=_photos(conn, incident_id),
        allowed_actions=list(lifecycle.allowed_actions(state, user.actor)),
        contact=contact,
    )


def read_case(engine: Engine, user: Principal, incident_id: int) -> Case:
    """One case with its full history, photos and the actions the user may take.

    A transaction that commits: reading a reporter's contact details writes an audit row.
    """
    with engine.begin() as conn:
        return incident_detail(conn, user, visible_incident(conn, user, incident_id))


# ------------------------------------------------------------------ moving cases


@dataclass(frozen=True)
class Step:
    """An action a user asks for."""

    action: str
    note: str | None = None
    assignee_id: int | None = None
    rating: int | None = None


def _check_worker(conn: Connection, user: Principal, worker_id: int) -> None:
    """Refuse a worker the user may not give a case to: unknown, outside their area, off duty.

    The area is :func:`grids.access.workers_in_area`, the rule of the recommendation and
    the batch re-dispatch too: community staff give cases to their community's workers,
    street staff to their street's, an admin to anyone with a grid.
    """
    found = dispatch_store.worker_statuses(conn, worker_ids=(worker_id,))
    if found.empty:
        raise InvalidInput(f"no grid worker has id {worker_id}; GET /api/workers lists them")
    worker = f"grid worker {worker_id} ({found['name'].iloc[0]})"
    grids = dispatch_store.assignments(conn, worker_ids=(worker_id,))
    if worker_id not in workers_in_area(user, grids):
        raise Forbidden(
            f"{worker} is not a worker of your area (their grids lie outside it, or they "
            "have none), so you may not give them a case; pick a worker of your area"
        )
    if not bool(found["on_duty"].iloc[0]):
        raise InvalidInput(
            f"{worker} is off duty (不在岗) and cannot take a case now; pick a worker on duty "
            "(the case's recommendation names one)"
        )


def apply_step(
    conn: Connection,
    user: Principal,
    row: IncidentRow,
    step: Step,
    *,
    at: datetime | None = None,
    table: dict[str, Category] | None = None,
) -> None:
    """Take one action on a case the user sees, stored only if nobody moved it meanwhile.

    Raises
    ------
    grids.incidents.IllegalTransition, NotAllowed, InvalidInput
        From the life cycle (409 / 403 / 422); InvalidInput also for an unknown or
        off-duty worker to dispatch or reassign to.
    grids.access.Forbidden
        A worker to dispatch or reassign to who is outside the user's area (403).
    gis.store.incident_store.StaleIncident
        Someone else moved the case since it was read (409); nothing is written.
    """
    if step.assignee_id is not None:
        _check_worker(conn, user, step.assignee_id)
    state = state_of(row)
    new, transition = lifecycle.apply(
        state,
        step.action,
        user.actor,
        at or clock.now(),
        step.note,
        assignee_id=step.assignee_id,
        rating=step.rating,
        categories=table or categories_cached(conn),
    )
    if step.action == "resolve":
        require_proof(conn, user, row, step.note)
    changes = {
        name: getattr(new, name)
        for name in ("deadline", "closed_at", "assignee_id", "rating")
        if getattr(new, name) != getattr(state, name)
    }
    event = incident_store.record_transition(
        conn,
        int(row.id or 0),
        expected_state=row.state,
        to_state=transition.to_state,
        at=transition.at,
        actor=user.username,
        note=transition.note,
        changes=changes,
        expected_event_id=row.last_event_id,
    )
    _remind(conn, user, row, transition.to_state, event.id, transition.at, table)


def _remind(
    conn: Connection,
    user: Principal,
    row: IncidentRow,
    to_state: str,
    event_id: int | None,
    at: datetime,
    table: dict[str, Category] | None,
    *,
    merged: bool = False,
) -> None:
    """The reporter's reminder of a recorded step (:mod:`api.services.reminders`)."""
    category = (table or categories_cached(conn)).get(row.category_code)
    reminders.case_moved(
        conn,
        user,
        row,
        from_state=row.state,
        to_state=to_state,
        event_id=int(event_id or 0),
        at=at,
        category_name=category.name if category else None,
        merged=merged,
    )


class ProofMissing(ServiceError, ValidationError):
    """A grid worker's 反馈 without the proof its category asks for (note, photo, check-in)."""


def require_proof(conn: Connection, user: Principal, row: IncidentRow, note: str | None) -> None:
    """Refuse a grid worker's 反馈 (resolve) that lacks the proof of its category.

    A note always; a photo of the case and an accepted check-in of the worker at it where
    the category says so (``incident_category.proof_photo`` / ``proof_checkin``).  Every
    missing piece is named by its field (``note``, ``photo``, ``checkin``).
    """
    if user.role != "grid_worker" or user.worker_id is None:
        return
    incident_id = int(row.id or 0)
    category = categories_cached(conn).get(row.category_code)
    photo, checkin = worker_field_store.proof_held(conn, incident_id, user.worker_id)
    where = ("resolve", None, str(incident_id))
    problems = []
    if not (note and note.strip()):
        problems.append(
            Problem(*where, "note", "反馈需填写处置说明 (say what was done)", "add a note")
        )
    if category is not None and category.proof_photo and not photo:
        problems.append(
            Problem(
                *where,
                "photo",
                f"「{category.name}」反馈需上传现场照片 (this category needs a photo of the case)",
                f"POST /api/incidents/{incident_id}/photos first",
            )
        )
    if category is not None and category.proof_checkin and not checkin:
        problems.append(
            Problem(
                *where,
                "checkin",
                f"「{category.name}」反馈需先到现场签到 (this category needs an accepted check-in)",
                f"POST /api/worker/tasks/{incident_id}/checkin on site first",
            )
        )
    if problems:
        raise ProofMissing(problems)


class TaskTaken(ServiceError, Conflict):
    """A worker acts on a case that is no longer theirs, or no longer open.

    ``current``: the case's state and who has it now, so that an app which queued the
    action offline shows the conflict instead of overwriting it.
    """

    title = "Changed meanwhile"

    def __init__(self, message: str, current: dict[str, object]):
        super().__init__(message)
        self.current = current


#: What a grid worker does on a case that meets :class:`TaskTaken` when it moved on.
WORKER_ACTIONS = frozenset({"start", "resolve"})


def taken_from_worker(
    conn: Connection, user: Principal, incident_id: int, row: IncidentRow | None
) -> TaskTaken | None:
    """The conflict of a grid worker acting on a case they had that moved on, else None.

    A case they had: assigned to them now, or taken from them (``task_handover``).  It
    moved on when it is assigned to someone else now, or no longer open (反馈, 结案 …).
    ``row`` None: the case is no longer visible to them; its state and assignee's name
    are then read as the system (the worker had the case; nothing else is told).
    """
    if user.role != "grid_worker" or user.worker_id is None:
        return None
    mine = row is not None and row.assignee_id == user.worker_id
    if mine and row is not None and row.state in lifecycle.OPEN_STATES:
        return None
    if not mine and not worker_field_store.handed_away(conn, incident_id, user.worker_id):
        return None
    with as_system(), conn.engine.connect() as system:
        now = worker_field_store.case_now(system, incident_id)
    if now is None:
        return None
    state, assignee = str(now["state"]), now["assignee"]
    name = STATE_NAMES_ZH.get(state, state)
    if mine:
        why = f"事件 {incident_id} 已是「{name}」({state})，不再是在办工单"
    else:
        why = f"事件 {incident_id} 已改派给 {assignee or '（无人）'}，现为「{name}」({state})"
    current = {"status": state, "status_name": name, "assignee": assignee}
    return TaskTaken(f"{why}: your action was not applied", current)


def worker_case(
    conn: Connection, user: Principal, incident_id: int, *, for_update: bool = False
) -> IncidentRow:
    """:func:`visible_incident`, but a grid worker's case that moved on is a :class:`TaskTaken`."""
    try:
        row = visible_incident(conn, user, incident_id, for_update=for_update)
    except NotFound:
        taken = taken_from_worker(conn, user, incident_id, None)
        if taken is not None:
            raise taken from None
        raise
    taken = taken_from_worker(conn, user, incident_id, row)
    if taken is not None:
        raise taken
    return row


def categories_cached(conn: Connection) -> dict[str, Category]:
    """The category table of the connection's database."""
    return categories(conn.engine)


def act(engine: Engine, user: Principal, incident_id: int, step: Step) -> Case:
    """Take an action on a case and return the case as it now stands."""
    with engine.begin() as conn:
        if step.action in WORKER_ACTIONS:
            row = worker_case(conn, user, incident_id)
        else:
            row = visible_incident(conn, user, incident_id)
        apply_step(conn, user, row, step)
    return read_case(engine, user, incident_id)


def merge(engine: Engine, user: Principal, duplicate_id: int, into_id: int) -> Case:
    """Merge a duplicate report into the case it repeats; both histories are kept.

    The duplicate must still be ``reported`` (not yet registered): it is closed as
    不予立案 (rejected) with a note and ``merged_into`` set, and the surviving case records
    a note naming it; its reporter can follow the surviving case.
    """
    require_staff(user, "merge duplicate reports")
    if duplicate_id == into_id:
        raise InvalidInput("an incident cannot be merged into itself")
    now = clock.now()
    with engine.begin() as conn:
        dup = visible_incident(conn, user, duplicate_id)
        into = visible_incident(conn, user, into_id)
        if dup.merged_into is not None:
            raise InvalidInput(f"incident {duplicate_id} is already merged into {dup.merged_into}")
        if into.merged_into is not None:
            raise InvalidInput(
                f"incident {into_id} was itself merged into {into.merged_into}; merge into that"
            )
        if dup.category_code != into.category_code:
            raise InvalidInput(
                f"incident {duplicate_id} ({dup.category_code}) and {into_id} "
                f"({into.category_code}) are of different categories; they are not duplicates"
            )
        if dup.state != "reported":
            raise InvalidInput(
                f"incident {duplicate_id} is already {dup.state}; only a report not yet "
                "registered (立案) can be merged"
            )
        # the reporter reads this note: it says what happened, not which case (theirs to
        # open or not); staff see the link as ``merged_into``
        note = "重复上报，已并入同一事件处理 (merged into the case already being handled)"
        state = state_of(dup)
        _, transition = lifecycle.apply(state, "reject", user.actor, now, note)
        event = incident_store.record_transition(
            conn,
            duplicate_id,
            expected_state=dup.state,
            to_state=transition.to_state,
            at=transition.at,
            actor=user.username,
            note=note,
            changes={"merged_into": into_id},
            expected_event_id=dup.last_event_id,
        )
        _remind(conn, user, dup, transition.to_state, event.id, transition.at, None, merged=True)
        incident_store.add_note_event(
            conn,
            into_id,
            state=into.state,
            at=max(now, state_of(into).last_at),
            actor=user.username,
            note=f"合并重复上报事件 {duplicate_id} (merged {duplicate_id} into this case)",
        )
    return read_case(engine, user, into_id)


def confirm_grid(
    engine: Engine, user: Principal, incident_id: int, grid_code: str | None, within_m: float
) -> Case:
    """Confirm the grid of a report flagged near a grid edge, or move it to a neighbour.

    The new grid must lie within ``within_m`` of the report (a neighbour across the
    edge, not anywhere); the flag is cleared and the decision noted in the history.
    """
    require_staff(user, "confirm an incident's grid")
    with engine.begin() as conn:
        row = visible_incident(conn, user, incident_id, for_update=True)
        if grid_code is None:
            grid_id = row.grid_id
            label = incident_store.grid_label(conn, grid_id)
            code = None if label is None else label[0]
        else:
            grid_id = incident_store.grid_near(conn, grid_code, row.lon, row.lat, within_m)
            code = grid_code
            if grid_id is None:
                raise InvalidInput(
                    f"grid {grid_code} is not a current grid within {within_m:.0f} m of "
                    f"incident {incident_id}; pick the grid on either side of the edge"
                )
        if grid_id is None:
            raise InvalidInput(f"incident {incident_id} lies in no grid; give grid_code")
        if not user.covers_grid(grid_id):
            raise NotFound(f"no grid {code} that you may assign cases to")
        incident_store.confirm_grid(conn, incident_id, grid_id)
        incident_store.add_note_event(
            conn,
            incident_id,
            state=row.state,
            at=max(clock.now(), state_of(row).last_at),
            actor=user.username,
            note=f"确认所属网格 {code} (grid confirmed)",
        )
    return read_case(engine, user, incident_id)


# ------------------------------------------------------------------ photos


def add_photos(
    engine: Engine,
    settings: Settings,
    user: Principal,
    incident_id: int,
    files: Sequence[tuple[str | None, bytes]],
) -> list[PhotoInfo]:
    """Attach photos (file name, bytes) to a case: images only, size-limited, metadata stripped.

    Every file is checked first (:func:`etl.photos.check_photo`), the first refused one
    named by its position and name; then the case must be one the user may add photos
    to (:func:`grids.access.may_add_photos`) and stay within ``photo_max_count``.  The
    answer lists every photo the case now has.
    """
    photos: list[Photo] = []
    for filename, data in files:
        try:
            photo = check_photo(data, max_bytes=settings.photo_max_bytes, filename=filename)
        except PhotoRejected as exc:
            raise ValidationError(
                [Problem("photo", len(photos) + 1, filename, "files", str(exc), "see message")]
            ) from None
        photos.append(photo)
    with engine.begin() as conn:
        row = worker_case(conn, user, incident_id, for_update=True)
        if not may_add_photos(user, reporter_id=row.reporter_id, assignee_id=row.assignee_id):
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
        return _photos(conn, incident_id)


def photo(engine: Engine, user: Principal, incident_id: int, photo_id: int) -> tuple[str, bytes]:
    """The type and bytes of one photo of a case the user may see."""
    with engine.connect() as conn:
        visible_incident(conn, user, incident_id)
        found = incident_store.photo_data(conn, incident_id, photo_id)
    if found is None:
        raise NotFound(f"incident {incident_id} has no photo {photo_id}")
    return found


# ------------------------------------------------------------------ reminders and 督办


@dataclass(frozen=True)
class Reminder:
    """An assignee reminded of a near deadline."""

    incident_id: int
    assignee_id: int | None
    deadline: datetime | None


@dataclass(frozen=True)
class Escalated:
    """A case escalated one level (督办): to ``community`` or ``street``."""

    incident_id: int
    level: str


@dataclass(frozen=True)
class Skipped:
    """A case due for escalation that someone moved while the job ran."""

    incident_id: int
    reason: str


@dataclass(frozen=True)
class EscalationRun:
    """What one run of the reminder / escalation job did."""

    reminders: list[Reminder] = field(default_factory=list)
    escalated: list[Escalated] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def run_escalations(
    engine: Engine,
    now: datetime | None = None,
    since: datetime | None = None,
    *,
    by: Principal | None = None,
) -> EscalationRun:
    """Remind assignees of near deadlines and escalate (督办) overdue cases one level.

    Each escalation is a recorded step by ``system``; reminders are written to the
    audit log (who was reminded of which case).  A case someone moved while the job
    ran is skipped and reported, not overwritten.  ``by``: the user who asked for a
    run now (street staff or an admin); None for the timer and the command line.
    """
    if by is not None:
        require_street_staff(by, "run the escalation job")
    now = now or clock.now()
    with engine.connect() as conn:
        ids = incident_store.open_with_deadline(conn, tuple(sorted(lifecycle.OPEN_STATES)))
        rows = incident_store.read_incidents(conn, ids)
    table = categories(engine)
    due = lifecycle.escalation_due(
        [state_of(r) for r in rows.values()], now, since=since, categories=table
    )
    escalated: list[Escalated] = []
    skipped: list[Skipped] = []
    admin = Principal(0, SYSTEM.username, "系统", SYSTEM.role, grid_ids=None)
    for esc in due.escalations:
        note = f"超期督办：升级至{'社区' if esc.to == 'community' else '街道'} ({esc.to})"
        incident_id = int(esc.incident_id or 0)
        try:
            with engine.begin() as conn:
                row = incident_store.read_incident(conn, incident_id)
                if row is None:
                    continue
                apply_step(conn, admin, row, Step("escalate", note), at=now, table=table)
            escalated.append(Escalated(incident_id, esc.to))
        except (incident_store.StaleIncident, lifecycle.IllegalTransition) as exc:
            skipped.append(Skipped(incident_id, str(exc)))
    reminders = [
        Reminder(int(r.incident_id or 0), r.assignee_id, _local(r.deadline)) for r in due.reminders
    ]
    if reminders:
        with engine.begin() as conn:
            for r in reminders:
                detail = {
                    "incident_id": r.incident_id,
                    "assignee_id": r.assignee_id,
                    "deadline": None if r.deadline is None else r.deadline.isoformat(),
                }
                access_store.audit(conn, "system", "remind", "incident", r.incident_id, detail)
    return EscalationRun(reminders, escalated, skipped)
