"""The grids desk's SQL (网格与人员): the current grids of an area, who covers them, handovers.

Contract: reads take the grids of the caller's area (``grid_ids``; None: every grid) and
return current grids (``valid_to IS NULL``) among them only.  :func:`hand_over` changes
``grid_assignment`` (whose data version every cached principal follows, so the old
worker's tokens and sessions lose the grid on their next request); the caller commits,
reassigns the open tasks (:func:`gis.store.incident_store.record_transition`) and audits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from gis.store.event_bound import latest_steps

_AREA = "(CAST(:grids AS integer[]) IS NULL OR g.id = ANY(CAST(:grids AS integer[])))"


def _grids(grid_ids: Sequence[int] | None) -> list[int] | None:
    return None if grid_ids is None else [int(g) for g in grid_ids]


def area_grids(
    conn: Connection, grid_ids: Sequence[int] | None, open_states: Sequence[str], now: Any
) -> list[dict[str, Any]]:
    """The current grids of the area with their counts and open / overdue cases, by code."""
    sql = f"""
        SELECT g.id, g.code, g.name, c.code AS community_code, c.name AS community_name,
               (SELECT count(*) FROM household h WHERE h.grid_id = g.id) AS households,
               (SELECT count(*) FROM building b WHERE b.grid_id = g.id) AS buildings,
               (SELECT count(*) FROM incident i WHERE i.grid_id = g.id
                  AND i.state = ANY(:open) AND i.merged_into IS NULL) AS open_cases,
               (SELECT count(*) FROM incident i WHERE i.grid_id = g.id
                  AND i.state = ANY(:open) AND i.merged_into IS NULL
                  AND i.deadline < :now) AS overdue_cases
        FROM grid g JOIN admin_area c ON c.id = g.community_id
        WHERE g.valid_to IS NULL AND {_AREA}
        ORDER BY g.code
    """
    params = {"grids": _grids(grid_ids), "open": list(open_states), "now": now}
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def area_assignments(
    conn: Connection, grid_ids: Sequence[int] | None, open_states: Sequence[str]
) -> list[dict[str, Any]]:
    """Who covers the area's current grids: grid, worker, role, name, phone, duty, open tasks."""
    sql = f"""
        SELECT a.grid_id, a.worker_id, a.role, w.name, w.phone, w.on_duty, w.max_open_tasks,
               u.username,
               (SELECT count(*) FROM incident i WHERE i.assignee_id = w.id
                  AND i.state = ANY(:open) AND i.merged_into IS NULL) AS open_tasks
        FROM grid_assignment a JOIN grid g ON g.id = a.grid_id
        JOIN grid_worker w ON w.id = a.worker_id LEFT JOIN app_user u ON u.id = w.user_id
        WHERE g.valid_to IS NULL AND {_AREA}
        ORDER BY a.grid_id, a.role DESC, w.name
    """
    params = {"grids": _grids(grid_ids), "open": list(open_states)}
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def workers(conn: Connection, worker_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Grid workers by id: id, name, phone, on duty, user name."""
    rows = conn.execute(
        text(
            "SELECT w.id, w.name, w.phone, w.on_duty, u.username FROM grid_worker w "
            "LEFT JOIN app_user u ON u.id = w.user_id WHERE w.id = ANY(:ids) ORDER BY w.name, w.id"
        ),
        {"ids": [int(w) for w in worker_ids]},
    ).mappings()
    return [dict(r) for r in rows]


def current_grid(conn: Connection, grid_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    """A current grid by id (code, name, community), or None; ``lock`` holds it to the end."""
    row = (
        conn.execute(
            text(
                "SELECT g.id, g.code, g.name, g.community_id FROM grid g "
                "WHERE g.id = :g AND g.valid_to IS NULL" + (" FOR UPDATE" if lock else "")
            ),
            {"g": grid_id},
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def primary_of(conn: Connection, grid_id: int) -> int | None:
    """The primary worker of a grid, or None."""
    found = conn.execute(
        text("SELECT worker_id FROM grid_assignment WHERE grid_id = :g AND role = 'primary'"),
        {"g": grid_id},
    ).scalar()
    return None if found is None else int(found)


def hand_over(conn: Connection, grid_id: int, from_worker: int | None, to_worker: int) -> None:
    """Make ``to_worker`` the grid's primary; ``from_worker`` no longer covers it at all.

    The new worker's backup row of the grid (if any) becomes the primary one.
    """
    conn.execute(
        text(
            "DELETE FROM grid_assignment WHERE grid_id = :g "
            "AND (worker_id = :to OR worker_id = :from OR role = 'primary')"
        ),
        {"g": grid_id, "to": to_worker, "from": from_worker},
    )
    conn.execute(
        text("INSERT INTO grid_assignment (worker_id, grid_id, role) VALUES (:to, :g, 'primary')"),
        {"g": grid_id, "to": to_worker},
    )


def open_tasks(
    conn: Connection, grid_id: int, worker_id: int, open_states: Sequence[str]
) -> list[dict[str, Any]]:
    """The worker's open cases in a grid (any version of it): id, state, latest event id.

    The cases locked first, then their latest steps within their span
    (:func:`gis.store.event_bound.latest_steps`: read after the lock, no step is missed).
    """
    rows = conn.execute(
        text(
            "SELECT i.id, i.state, i.reported_at, i.last_event_at FROM incident i "
            "WHERE i.grid_id = :g AND i.assignee_id = :w AND i.state = ANY(:open) "
            "AND i.merged_into IS NULL ORDER BY i.id FOR UPDATE OF i"
        ),
        {"g": grid_id, "w": worker_id, "open": list(open_states)},
    ).all()
    latest = latest_steps(conn, ((r.id, r.reported_at, r.last_event_at) for r in rows))
    return [{"id": r.id, "state": r.state, "last_event_id": latest.get(r.id)} for r in rows]


def handovers(conn: Connection, grid_ids: Sequence[int] | None, limit: int = 20) -> list[dict]:
    """The latest handovers of the area's grids (from the audit log), newest first."""
    sql = """
        SELECT at, username, object_id, detail FROM audit_log
        WHERE action = 'grid_handover' AND object_type = 'grid'
          AND (CAST(:grids AS text[]) IS NULL OR object_id = ANY(CAST(:grids AS text[])))
        ORDER BY at DESC, id DESC LIMIT :n
    """
    ids = None if grid_ids is None else [str(g) for g in grid_ids]
    return [dict(r) for r in conn.execute(text(sql), {"grids": ids, "n": limit}).mappings()]
