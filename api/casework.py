"""Working a case: showing it, moving it, merging duplicates, the reminder / 督办 job.

The routers (incidents, worker tablet, Open311) and the command line all call these
functions, so an incident is shown, moved and guarded the same way whichever door a
user comes through.  Visibility is :mod:`grids.access`; legality is
:mod:`grids.incidents`; storage is :mod:`gis.store.incident_store`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

import h3

from api.intake import categories
from gis import clock
from gis.errors import InvalidInput, NotFound
from gis.store import access_store, dispatch_store, incident_store
from gis.store.incident_store import IncidentRow
from grids import incidents as lifecycle
from grids.access import (
    Forbidden,
    Principal,
    may_see_contact,
    may_see_incident,
    require_staff,
    workers_in_area,
)
from grids.categories import Category
from grids.incidents import SHANGHAI, STATE_NAMES_ZH, SYSTEM, IncidentState


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


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(SHANGHAI).isoformat()


def incident_detail(conn: Connection, user: Principal, row: IncidentRow) -> dict[str, Any]:
    """Everything about one incident the user may see, as JSON-ready values."""
    category = categories_cached(conn).get(row.category_code)
    state = state_of(row)
    grid = conn.execute(
        text("SELECT code, name FROM grid WHERE id = :g"), {"g": row.grid_id}
    ).first()
    merged = conn.execute(
        text("SELECT id FROM incident WHERE merged_into = :i ORDER BY id"), {"i": row.id}
    ).scalars()
    out: dict[str, Any] = {
        "id": row.id,
        "category_code": row.category_code,
        "category_name": category.name if category else None,
        "priority": category.priority if category else None,
        "source": row.source,
        "description": row.description,
        "address": row.address,
        "state": row.state,
        "state_name": STATE_NAMES_ZH.get(row.state, row.state),
        "reported_at": _iso(row.reported_at),
        "dispatched_at": _iso(state.dispatched_at),
        "deadline": _iso(row.deadline),
        "overdue": bool(
            row.deadline is not None
            and row.state in lifecycle.OPEN_STATES
            and row.deadline < clock.now()
        ),
        "closed_at": _iso(row.closed_at),
        "escalation_level": state.escalation_level,
        "assignee_id": row.assignee_id,
        "rating": row.rating,
        "lon": row.lon,
        "lat": row.lat,
        "grid_code": grid[0] if grid else None,
        "grid_name": grid[1] if grid else None,
        "h3_cell": None if row.h3_cell is None else h3.int_to_str(row.h3_cell),
        "near_boundary": row.near_boundary,
        "duplicate_of": row.duplicate_of,
        "merged_into": row.merged_into,
        "merged": list(merged),
        "history": [
            {
                "action": step.action,
                "from_state": step.from_state,
                "to_state": step.to_state,
                "at": _iso(step.at),
                "actor": step.actor.username,
                "note": step.note,
            }
            for step in state.history
        ],
        "photos": [
            {
                "id": p["id"],
                "content_type": p["content_type"],
                "size_bytes": p["size_bytes"],
                "sha256": p["sha256"],
                "url": f"/api/incidents/{row.id}/photos/{p['id']}",
            }
            for p in incident_store.photos_of(conn, int(row.id or 0))
        ],
        "allowed_actions": list(lifecycle.allowed_actions(state, user.actor)),
    }
    if may_see_contact(user, reporter_id=row.reporter_id):
        out["contact"] = incident_store.contact_of(conn, int(row.id or 0))
    return out


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
    changes = {
        name: getattr(new, name)
        for name in ("deadline", "closed_at", "assignee_id", "rating")
        if getattr(new, name) != getattr(state, name)
    }
    incident_store.record_transition(
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


def categories_cached(conn: Connection) -> dict[str, Category]:
    """The category table through the app-wide cache."""
    return categories(conn.engine)


def act(engine: Engine, user: Principal, incident_id: int, step: Step) -> dict[str, Any]:
    """Take an action on a case and return the case as it now stands."""
    with engine.begin() as conn:
        row = visible_incident(conn, user, incident_id)
        apply_step(conn, user, row, step)
    with engine.connect() as conn:
        return incident_detail(conn, user, visible_incident(conn, user, incident_id))


def merge(engine: Engine, user: Principal, duplicate_id: int, into_id: int) -> dict[str, Any]:
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
        note = f"重复上报，合并至事件 {into_id} (merged into {into_id})"
        state = state_of(dup)
        _, transition = lifecycle.apply(state, "reject", user.actor, now, note)
        incident_store.record_transition(
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
        incident_store.add_note_event(
            conn,
            into_id,
            state=into.state,
            at=max(now, state_of(into).last_at),
            actor=user.username,
            note=f"合并重复上报事件 {duplicate_id} (merged {duplicate_id} into this case)",
        )
    with engine.connect() as conn:
        return incident_detail(conn, user, visible_incident(conn, user, into_id))


def confirm_grid(
    engine: Engine, user: Principal, incident_id: int, grid_code: str | None, within_m: float
) -> dict[str, Any]:
    """Confirm the grid of a report flagged near a grid edge, or move it to a neighbour.

    The new grid must lie within ``within_m`` of the report (a neighbour across the
    edge, not anywhere); the flag is cleared and the decision noted in the history.
    """
    require_staff(user, "confirm an incident's grid")
    with engine.begin() as conn:
        row = visible_incident(conn, user, incident_id, for_update=True)
        if grid_code is None:
            grid_id = row.grid_id
            code = conn.execute(
                text("SELECT code FROM grid WHERE id = :g"), {"g": grid_id}
            ).scalar()
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
    with engine.connect() as conn:
        return incident_detail(conn, user, visible_incident(conn, user, incident_id))


@dataclass(frozen=True)
class EscalationRun:
    """What one run of the reminder / escalation job did."""

    reminders: list[dict[str, Any]]
    escalated: list[dict[str, Any]]
    skipped: list[dict[str, Any]]


def run_escalations(
    engine: Engine, now: datetime | None = None, since: datetime | None = None
) -> EscalationRun:
    """Remind assignees of near deadlines and escalate (督办) overdue cases one level.

    Each escalation is a recorded step by ``system``; reminders are written to the
    audit log (who was reminded of which case).  A case someone moved while the job
    ran is skipped and reported, not overwritten.
    """
    now = now or clock.now()
    with engine.connect() as conn:
        ids = conn.execute(
            text(
                "SELECT id FROM incident WHERE state = ANY(:open) AND deadline IS NOT NULL "
                "AND merged_into IS NULL"
            ),
            {"open": sorted(lifecycle.OPEN_STATES)},
        ).scalars()
        rows = incident_store.read_incidents(conn, [int(i) for i in ids])
    table = categories(engine)
    due = lifecycle.escalation_due(
        [state_of(r) for r in rows.values()], now, since=since, categories=table
    )
    escalated: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    admin = Principal(0, SYSTEM.username, "系统", SYSTEM.role, grid_ids=None)
    for esc in due.escalations:
        note = f"超期督办：升级至{'社区' if esc.to == 'community' else '街道'} ({esc.to})"
        try:
            with engine.begin() as conn:
                row = incident_store.read_incident(conn, int(esc.incident_id or 0))
                if row is None:
                    continue
                apply_step(conn, admin, row, Step("escalate", note), at=now, table=table)
            escalated.append({"incident_id": esc.incident_id, "level": esc.to})
        except (incident_store.StaleIncident, lifecycle.IllegalTransition) as exc:
            skipped.append({"incident_id": esc.incident_id, "reason": str(exc)})
    reminders = [
        {"incident_id": r.incident_id, "assignee_id": r.assignee_id, "deadline": _iso(r.deadline)}
        for r in due.reminders
    ]
    if reminders:
        with engine.begin() as conn:
            for reminder in reminders:
                access_store.audit(
                    conn, "system", "remind", "incident", reminder["incident_id"], reminder
                )
    return EscalationRun(reminders, escalated, skipped)
