"""What the case desk reads: a keyset page of cases, the grids and workers to filter by.

:func:`page` lists the cases of a caller's area newest first, ``limit`` at a time,
continuing *after* a case (its ``(reported_at, id)``), never skipping rows with
``OFFSET``: the cost of a page does not grow with how deep it is.  For an area (a list of
grids) the statement walks each grid's cases down an index in order (and, with states
asked for, each (grid, state) pair: ``ix_incident_grid_id_state_reported_at_id``),
takes at most ``limit`` from each walk and merges them, so a community of twenty grids
reads at most twenty short index ranges whatever the size of the table (migration 0018).
Each walk is exact (every row it reads belongs on the page) as long as the conditions
are the area, the states, the report dates and the position.  A category, a source, a
text or a worker are conditions a walk would have to test row by row, twenty grids
over: with any of them the page is one statement (the area as ``grid_id = ANY``) and
the planner picks the cheapest of a walk down ``(reported_at, id)`` testing each row,
the trigram index on ``description`` (three characters or more), or the category's or
the worker's index and a sort.

The caller decides visibility (:mod:`grids.access`): ``grid_ids`` None means every
grid.  Cases merged into another (``merged_into``) are left out, as in the home page's
counts.  Times must be timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from gis.errors import InvalidInput

_COLUMNS = """
    i.id, i.category_code, c.name AS category_name, c.priority, i.source, i.description,
    i.state, i.reported_at, i.deadline, i.assignee_id, w.name AS assignee_name,
    i.grid_id, g.code AS grid_code, i.near_boundary, i.duplicate_of, i.address,
    ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
"""


@dataclass(frozen=True)
class PageQuery:
    """The conditions of one page (every one optional; all given must hold).

    ``after`` is the ``(reported_at, id)`` of the last case of the previous page;
    ``text`` is matched anywhere in the description, case-insensitively (``ILIKE``).
    """

    grid_ids: tuple[int, ...] | None
    states: tuple[str, ...] = ()
    category_codes: tuple[str, ...] = ()
    assignee_id: int | None = None
    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    deadline_from: datetime | None = None
    deadline_before: datetime | None = None
    text: str | None = None
    after: tuple[datetime, int] | None = None
    limit: int = 50


def _like(value: str) -> str:
    """``value`` as an ILIKE pattern matching it anywhere (its own wildcards taken literally)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(q: PageQuery) -> tuple[list[str], dict[str, Any]]:
    """The conditions other than the area and the states, and their parameters."""
    for name in ("since", "until", "deadline_from", "deadline_before"):
        at = getattr(q, name)
        if at is not None and (at.tzinfo is None or at.utcoffset() is None):
            raise InvalidInput(f"{name} {at.isoformat()} has no time zone; give an aware time")
    where = ["i.merged_into IS NULL"]
    params: dict[str, Any] = {"limit": q.limit}
    if q.after is not None:
        where.append("(i.reported_at, i.id) < (:after_at, :after_id)")
        params.update(after_at=q.after[0], after_id=q.after[1])
    if q.category_codes:
        where.append("i.category_code = ANY(:cats)")
        params["cats"] = list(q.category_codes)
    if q.assignee_id is not None:
        where.append("i.assignee_id = :assignee")
        params["assignee"] = q.assignee_id
    if q.sources:
        where.append("i.source = ANY(:sources)")
        params["sources"] = list(q.sources)
    for name, op in (
        ("since", "i.reported_at >="),
        ("until", "i.reported_at <"),
        ("deadline_from", "i.deadline >="),
        ("deadline_before", "i.deadline <"),
    ):
        if getattr(q, name) is not None:
            where.append(f"{op} :{name}")
            params[name] = getattr(q, name)
    if q.text:
        where.append("i.description ILIKE :pattern")
        params["pattern"] = _like(q.text)
    return where, params


def _ids_sql(q: PageQuery, where: list[str], params: dict[str, Any]) -> str:
    """The statement choosing the page's ids (and times), newest first."""
    order = "ORDER BY i.reported_at DESC, i.id DESC LIMIT :limit"
    exact = not (q.category_codes or q.sources or q.text or q.assignee_id is not None)
    if q.grid_ids is None or not exact:
        if q.grid_ids is not None:
            where = [*where, "i.grid_id = ANY(:grids)"]
            params["grids"] = list(q.grid_ids)
        if q.states:
            where = [*where, "i.state = ANY(:states)"]
            params["states"] = list(q.states)
        return f"SELECT i.id, i.reported_at FROM incident i WHERE {' AND '.join(where)} {order}"
    # one short index walk per grid (per grid and state), merged
    params["grids"] = list(q.grid_ids or ())
    drivers = "unnest(CAST(:grids AS integer[])) AS gg(v)"
    inner = [*where, "i.grid_id = gg.v"]
    if q.states:
        drivers += " CROSS JOIN unnest(CAST(:states AS text[])) AS ss(v)"
        inner.append("i.state = ss.v")
        params["states"] = list(q.states)
    return (
        f"SELECT p.id, p.reported_at FROM {drivers} CROSS JOIN LATERAL ("
        f"SELECT i.id, i.reported_at FROM incident i WHERE {' AND '.join(inner)} {order}"
        f") p ORDER BY p.reported_at DESC, p.id DESC LIMIT :limit"
    )


def page(conn: Connection, q: PageQuery) -> list[dict[str, Any]]:
    """One page of cases (at most ``q.limit``), newest first, with names for showing them.

    Columns: id, category code and name, priority, source, description, state,
    reported_at, deadline, assignee id and name, grid id and code, near_boundary,
    duplicate_of, address, lon, lat (WGS84).
    """
    where, params = _conditions(q)
    ids = _ids_sql(q, where, params)
    rows = conn.execute(
        text(
            f"WITH page AS ({ids}) SELECT {_COLUMNS} FROM page p "
            "JOIN incident i ON i.id = p.id "
            "JOIN incident_category c ON c.code = i.category_code "
            "LEFT JOIN grid g ON g.id = i.grid_id "
            "LEFT JOIN grid_worker w ON w.id = i.assignee_id "
            "ORDER BY i.reported_at DESC, i.id DESC"
        ),
        params,
    ).mappings()
    return [dict(r) for r in rows]


def current_grids(conn: Connection, grid_ids: tuple[int, ...] | None) -> list[dict[str, Any]]:
    """The current grids among ``grid_ids`` (None: all): id, code, name, by code."""
    scope = "" if grid_ids is None else "AND id = ANY(:grids)"
    rows = conn.execute(
        text(f"SELECT id, code, name FROM grid WHERE valid_to IS NULL {scope} ORDER BY code"),
        {"grids": list(grid_ids or ())},
    ).mappings()
    return [dict(r) for r in rows]


def grid_ids_by_code(conn: Connection, code: str) -> list[int]:
    """Every version of the grid with this code (a grid keeps its code across versions)."""
    found = conn.execute(text("SELECT id FROM grid WHERE code = :c"), {"c": code}).scalars()
    return [int(i) for i in found]


def worker_names(conn: Connection, worker_ids: tuple[int, ...]) -> dict[int, str]:
    """The names of these grid workers."""
    rows = conn.execute(
        text("SELECT id, name FROM grid_worker WHERE id = ANY(:w)"), {"w": list(worker_ids)}
    )
    return {int(i): str(n) for i, n in rows}
