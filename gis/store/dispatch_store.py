"""What dispatch reads: who covers which grid, each worker's load and place, the backlog."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, text

from gis.store.event_bound import latest_steps

#: States in which a case counts against its worker's load.
LOAD_STATES = ("dispatched", "in_progress", "returned", "escalated")


def assignments(conn: Connection, *, worker_ids: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Who covers which current grid: ``grid_id``, ``worker_id``, ``role``, ``community_id``.

    ``role`` is ``primary`` or ``backup``; ``community_id`` is the grid's community.
    ``worker_ids`` limits the rows to those workers.
    """
    only = "" if worker_ids is None else "AND a.worker_id = ANY(:workers)"
    return pd.read_sql(
        text(
            "SELECT a.grid_id, a.worker_id, a.role, g.community_id FROM grid_assignment a "
            f"JOIN grid g ON g.id = a.grid_id WHERE g.valid_to IS NULL {only}"
        ),
        conn,
        params={"workers": list(worker_ids or ())},
    )


def community_of(conn: Connection, grid_id: int | None) -> int | None:
    """The community (``admin_area.id``) of a grid, current or not; None for no grid."""
    if grid_id is None:
        return None
    return conn.execute(
        text("SELECT community_id FROM grid WHERE id = :g"), {"g": grid_id}
    ).scalar()


def worker_statuses(
    conn: Connection,
    grid_ids: tuple[int, ...] | None = None,
    *,
    worker_ids: tuple[int, ...] | None = None,
) -> pd.DataFrame:
    """Every worker (or those covering ``grid_ids``, or those listed) with duty, load, place.

    Columns ``worker_id``, ``name``, ``on_duty``, ``open_tasks``, ``max_open_tasks``,
    ``lon``, ``lat``.  The position is a point inside the worker's primary grid (any
    grid of theirs when they have no primary one): where they are most of the day; null
    for a worker with no current grid.
    """
    if worker_ids is not None:
        scope = "WHERE w.id = ANY(:workers)"
    elif grid_ids is not None:
        scope = "WHERE w.id IN (SELECT worker_id FROM grid_assignment WHERE grid_id = ANY(:grids))"
    else:
        scope = ""
    return pd.read_sql(
        text(
            f"""
            SELECT w.id AS worker_id, w.name, w.on_duty, w.max_open_tasks,
                   coalesce(t.n, 0)::int AS open_tasks,
                   ST_X(p.pt) AS lon, ST_Y(p.pt) AS lat
            FROM grid_worker w
            LEFT JOIN (SELECT assignee_id, count(*) AS n FROM incident
                       WHERE state = ANY(:load) GROUP BY assignee_id) t
                   ON t.assignee_id = w.id
            LEFT JOIN LATERAL (
                SELECT ST_PointOnSurface(g.geom) AS pt FROM grid_assignment a
                JOIN grid g ON g.id = a.grid_id AND g.valid_to IS NULL
                WHERE a.worker_id = w.id ORDER BY (a.role = 'primary') DESC, g.code LIMIT 1
            ) p ON true
            {scope}
            ORDER BY w.id
            """
        ),
        conn,
        params={
            "load": list(LOAD_STATES),
            "grids": list(grid_ids or ()),
            "workers": list(worker_ids or ()),
        },
    )


def backlog(
    conn: Connection,
    *,
    grid_ids: tuple[int, ...] | None,
    states: tuple[str, ...],
    ids: tuple[int, ...] | None = None,
) -> pd.DataFrame:
    """Cases waiting for a worker (in ``states``) in the given grids (all when None).

    ``ids`` limits them to those cases.  Columns ``id``, ``state``, ``assignee_id``,
    ``grid_id``, ``grid_code``, ``community_id``, ``priority``, ``deadline``, ``version``
    (the id of the case's latest event, as
    :attr:`gis.store.incident_store.IncidentRow.last_event_id`), ``lon``, ``lat``; most urgent
    first.
    """
    scope = "" if grid_ids is None else "AND i.grid_id = ANY(:grids)"
    only = "" if ids is None else "AND i.id = ANY(:ids)"
    cases = pd.read_sql(
        text(
            f"""
            SELECT i.id, i.state, i.assignee_id, i.grid_id, g.code AS grid_code,
                   g.community_id, c.priority, i.deadline, i.reported_at, i.last_event_at,
                   ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
            FROM incident i JOIN incident_category c ON c.code = i.category_code
            LEFT JOIN grid g ON g.id = i.grid_id
            WHERE i.state = ANY(:states) AND i.merged_into IS NULL {scope} {only}
            ORDER BY c.priority, i.deadline NULLS LAST, i.id
            """
        ),
        conn,
        params={"states": list(states), "grids": list(grid_ids or ()), "ids": list(ids or ())},
    )
    # their latest steps in a second statement bounded by their span, so that only their
    # months are planned (gis.store.event_bound)
    latest = latest_steps(
        conn,
        (
            (
                int(i),
                pd.Timestamp(r).to_pydatetime(),
                None if pd.isna(t) else pd.Timestamp(t).to_pydatetime(),
            )
            for i, r, t in zip(
                cases["id"], cases["reported_at"], cases["last_event_at"], strict=True
            )
        ),
    )
    version = pd.array([latest.get(int(i)) for i in cases["id"]], dtype="Int64")
    cases.insert(cases.columns.get_loc("deadline") + 1, "version", version)
    return cases.drop(columns=["reported_at", "last_event_at"])
