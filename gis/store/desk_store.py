"""What the case desk reads: a keyset page of cases, the grids and workers to filter by.

:func:`page` lists the cases of a caller's area newest first, ``limit`` at a time,
continuing *after* a case (its ``(reported_at, id)``), never skipping rows with
``OFFSET``: the cost of a page does not grow with how deep it is.  For an area (a list of
grids) the statement walks each grid's cases down an index in order (and, with states
asked for, each (grid, state) pair: ``ix_incident_grid_id_state_reported_at_id``),
takes at most ``limit`` from each walk and merges them, so a community of twenty grids
reads at most twenty short index ranges whatever the size of the table (migration 0018).
Each walk is exact (every row it reads belongs on the page) as long as the conditions
are the area, the states, the report dates, the deadlines and the position.  A category,
a source, a worker or a text would have to be tested row by row in every walk; with any
of them the page is one statement (the area as ``grid_id = ANY``, still continuing after
the position, never skipping) and the planner picks the cheapest of a walk down
``(reported_at, id)`` testing each row, the worker's index, or the category's.  A text of
three characters or more is looked up in the trigram index on ``description`` first (all
its matches, then the newest): a walk testing each row would read the whole area for a
rare word, and the planner cannot tell a rare word from a common one.

The caller decides visibility (:mod:`grids.access`): ``grid_ids`` None means every
grid.  Cases merged into another (``merged_into``) are left out, as in the home page's
counts.  Times must be timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from gis import clock
from gis.errors import InvalidInput
from gis.store import incident_ids

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
    """``value`` as a LIKE pattern matching it anywhere (its own wildcards taken literally)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _equal(where: list[str], params: dict[str, Any], column: str, name: str, values: Any) -> None:
    """Add ``column`` among ``values``: one value as '=', several as '= ANY'.

    With '=' the planner may walk an index on the column in order, e.g.
    ``(category_code, reported_at)``.
    """
    if len(values) == 1:
        where.append(f"{column} = :{name}")
        params[name] = values[0]
    elif values:
        where.append(f"{column} = ANY(:{name})")
        params[name] = list(values)


def _conditions(q: PageQuery) -> tuple[list[str], list[str], dict[str, Any]]:
    """The conditions of a page, in two kinds, and the parameters of both.

    First those a walk down ``(grid, [state,] reported_at, id)`` meets in order or tests on
    few rows (position, dates, deadlines); then the others (category, source, worker, text).
    """
    for name in ("since", "until", "deadline_from", "deadline_before"):
        at = getattr(q, name)
        if at is not None and (at.tzinfo is None or at.utcoffset() is None):
            raise InvalidInput(f"{name} {at.isoformat()} has no time zone; give an aware time")
    exact = ["i.merged_into IS NULL"]
    params: dict[str, Any] = {"limit": q.limit}
    if q.after is not None:
        exact.append("(i.reported_at, i.id) < (:after_at, :after_id)")
        params.update(after_at=q.after[0], after_id=q.after[1])
    for name, op in (
        ("since", "i.reported_at >="),
        ("until", "i.reported_at <"),
        ("deadline_from", "i.deadline >="),
        ("deadline_before", "i.deadline <"),
    ):
        if getattr(q, name) is not None:
            exact.append(f"{op} :{name}")
            params[name] = getattr(q, name)
    # the months the page may span, by the cases' numbers (gis.store.incident_ids)
    ends = [q.until] if q.until is not None else []
    if q.after is not None:
        ends.append(q.after[0] + timedelta(microseconds=1))
    exact += incident_ids.time_bound_sql("i", q.since, min(ends) if ends else None, params)
    other: list[str] = []
    _equal(other, params, "i.category_code", "cats", q.category_codes)
    _equal(other, params, "i.source", "sources", q.sources)
    if q.assignee_id is not None:
        other.append("i.assignee_id = :assignee")
        params["assignee"] = q.assignee_id
    if q.text:
        # LIKE, not ILIKE: descriptions are Chinese, and ILIKE costs several times more a row
        other.append("i.description LIKE :pattern")
        params["pattern"] = _like(q.text)
    return exact, other, params


_ORDER = "ORDER BY i.reported_at DESC, i.id DESC"


def _walks(q: PageQuery, exact: list[str], params: dict[str, Any], per_walk: str) -> str:
    """The area's cases meeting ``exact``, newest first, at most ``:per_walk`` of each walk.

    Columns ``id`` and ``reported_at``.  With an area, one walk per grid (per grid and
    state); without, one walk over everything.
    """
    if q.grid_ids is None:
        where = list(exact)
        _equal(where, params, "i.state", "states", q.states)
        return (
            "SELECT i.id, i.reported_at FROM incident i "
            f"WHERE {' AND '.join(where)} {_ORDER} LIMIT :{per_walk}"
        )
    params["grids"] = list(q.grid_ids)
    drivers = "unnest(CAST(:grids AS integer[])) AS gg(v)"
    inner = [*exact, "i.grid_id = gg.v"]
    if q.states:
        drivers += " CROSS JOIN unnest(CAST(:states AS text[])) AS ss(v)"
        inner.append("i.state = ss.v")
        params["states"] = list(q.states)
    return (
        f"SELECT p.id, p.reported_at FROM {drivers} CROSS JOIN LATERAL ("
        f"SELECT i.id, i.reported_at FROM incident i WHERE {' AND '.join(inner)} "
        f"{_ORDER} LIMIT :{per_walk}) p"
    )


def _page_ids(conn: Connection, q: PageQuery) -> list[int]:
    """The ids of the page, newest first (see the module's docstring for how).

    From the last months first (:func:`gis.store.incident_ids.newest_first`): a page over
    every month kept merges a walk of each, though it nearly always lies in the last few.
    """
    # a page is a few index walks stopped by a LIMIT: parallel workers only add their
    # start-up, and a parallel walk reads far past the page (on a busy two-core server a
    # filtered page took 150-300 ms with them, 5-30 ms without)
    conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    ends = [at for at in (q.until, q.after[0] if q.after else None) if at is not None]
    rows = incident_ids.newest_first(
        lambda start: _page_rows(conn, q, start),
        q.limit,
        lambda row: row[1],
        newest=min(ends) if ends else clock.now(),
        since=q.since,
    )
    return [int(r[0]) for r in rows]


def _page_rows(conn: Connection, q: PageQuery, window: datetime | None) -> list[Any]:
    """(id, reported_at) of the page's cases, newest first.

    With ``window``, only those whose number carries a month from ``window``'s on, and
    the plain numbers.
    """
    exact, other, params = _conditions(q)
    exact += incident_ids.window_sql("i", window, params)
    if not other and q.grid_ids is not None:  # every walk is exact: `limit` of each, merged
        walks = _walks(q, exact, params, "limit")
        sql = (
            f"SELECT w.id, w.reported_at FROM ({walks}) w "
            "ORDER BY w.reported_at DESC, w.id DESC LIMIT :limit"
        )
        return list(conn.execute(text(sql), params).all())
    where = [*exact, *other]
    if q.grid_ids is not None:
        where.append("i.grid_id = ANY(:grids)")
        params["grids"] = list(q.grid_ids)
    _equal(where, params, "i.state", "states", q.states)
    if q.text and len(q.text) >= 3:
        # three characters or more: every match from the trigram index first, then the
        # newest (a walk testing each row reads the whole area when the word is rare)
        sql = (
            f"WITH hits AS MATERIALIZED (SELECT i.id, i.reported_at FROM incident i "
            f"WHERE {' AND '.join(where)}) "
            "SELECT id, reported_at FROM hits ORDER BY reported_at DESC, id DESC LIMIT :limit"
        )
    else:
        sql = (
            f"SELECT i.id, i.reported_at FROM incident i WHERE {' AND '.join(where)} "
            f"{_ORDER} LIMIT :limit"
        )
    return list(conn.execute(text(sql), params).all())


def page(conn: Connection, q: PageQuery) -> list[dict[str, Any]]:
    """One page of cases (at most ``q.limit``), newest first, with names for showing them.

    Columns: id, category code and name, priority, source, description, state,
    reported_at, deadline, assignee id and name, grid id and code, near_boundary,
    duplicate_of, address, lon, lat (WGS84).
    """
    ids = _page_ids(conn, q)
    if not ids:
        return []
    rows = conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM incident i "
            "JOIN incident_category c ON c.code = i.category_code "
            "LEFT JOIN grid g ON g.id = i.grid_id "
            "LEFT JOIN grid_worker w ON w.id = i.assignee_id "
            f"WHERE i.id = ANY(:ids) {_ORDER}"
        ),
        {"ids": ids},
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
