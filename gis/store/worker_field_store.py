"""What the grid worker's field app reads and writes: the one place its SQL lives.

Visits (走访) to households, marks on a hazard's check-on list, the proof a category
asks for at 反馈, the cases taken from a worker (``task_handover``), the notices of a
worker, patrol coverage per grid and the compact rows of the offline bundle.  Row-level
security (migrations 0022 and 0025) limits every read to the caller's rows; a read that
must look past them says so and runs as the system (the caller decides when).

Times are stored aware (UTC); distances on the ellipsoid (``geography``), metres.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

from gis import crypt
from gis.store.event_bound import within_case

Bind = Engine | Connection


def _rows(bind: Bind, sql: str, **params: object) -> list[dict[str, Any]]:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return _rows(conn, sql, **params)
    return [dict(r) for r in bind.execute(text(sql), params).mappings()]


def _ids(values: Iterable[int]) -> list[int]:
    return sorted({int(v) for v in values})


# ------------------------------------------------------------------ visits


def household_place(conn: Connection, household_id: int) -> dict[str, Any] | None:
    """A household the caller may see: id, grid_id, grid_code, building_id; None otherwise."""
    found = conn.execute(
        text(
            "SELECT h.id, h.grid_id, g.code AS grid_code, h.building_id FROM household h "
            "LEFT JOIN grid g ON g.id = h.grid_id WHERE h.id = :h"
        ),
        {"h": household_id},
    ).mappings()
    row = found.first()
    return None if row is None else dict(row)


def insert_visit(
    conn: Connection,
    *,
    worker_id: int,
    household_id: int,
    grid_id: int | None,
    visited_at: datetime,
    note: str,
    lon: float | None,
    lat: float | None,
) -> int:
    """Store a visit (where the worker stood when given, WGS84); its id."""
    return int(
        conn.execute(
            text(
                "INSERT INTO household_visit (worker_id, household_id, grid_id, visited_at, "
                "note, geom) VALUES (:w, :h, :g, :at, :note, CASE WHEN CAST(:lon AS float8) "
                "IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END) "
                "RETURNING id"
            ),
            {
                "w": worker_id,
                "h": household_id,
                "g": grid_id,
                "at": visited_at,
                "note": note,
                "lon": lon,
                "lat": lat,
            },
        ).scalar_one()
    )


def forget_positions(conn: Connection, grid_id: int, before: datetime) -> int:
    """Erase where workers stood at the grid's visits before ``before``; how many."""
    return int(
        conn.execute(
            text(
                "UPDATE household_visit SET geom = NULL "
                "WHERE grid_id = :g AND visited_at < :before AND geom IS NOT NULL"
            ),
            {"g": grid_id, "before": before},
        ).rowcount
    )


def visit_stats(bind: Bind, grid_ids: Collection[int], since: datetime) -> pd.DataFrame:
    """Per household of some grids with a visit: last visit and visits since ``since``.

    Columns: household_id, last_visited, visits_recent.  Households never visited are
    absent.
    """
    rows = _rows(
        bind,
        """
        SELECT v.household_id, max(v.visited_at) AS last_visited,
               count(*) FILTER (WHERE v.visited_at >= :since)::int AS visits_recent
        FROM household_visit v JOIN household h ON h.id = v.household_id
        WHERE h.grid_id = ANY(:grids)
        GROUP BY v.household_id
        """,
        grids=_ids(grid_ids),
        since=since,
    )
    return pd.DataFrame(rows, columns=["household_id", "last_visited", "visits_recent"])


# ------------------------------------------------------------------ proof of 反馈


def proof_rules(bind: Bind) -> list[dict[str, Any]]:
    """Every category's proof rule: code, name, proof_photo, proof_checkin; by code."""
    return _rows(
        bind,
        "SELECT code, name, proof_photo, proof_checkin FROM incident_category ORDER BY code",
    )


def set_proof(
    conn: Connection, code: str, *, photo: bool | None, checkin: bool | None
) -> dict[str, Any] | None:
    """Change a category's proof rule (None: leave as is); the row after, or None if unknown."""
    row = (
        conn.execute(
            text(
                "UPDATE incident_category SET "
                "proof_photo = coalesce(CAST(:photo AS boolean), proof_photo), "
                "proof_checkin = coalesce(CAST(:checkin AS boolean), proof_checkin) "
                "WHERE code = :code RETURNING code, name, proof_photo, proof_checkin"
            ),
            {"code": code, "photo": photo, "checkin": checkin},
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def proof_held(conn: Connection, incident_id: int, worker_id: int) -> tuple[bool, bool]:
    """Whether a case has a photo, and an accepted check-in of this worker."""
    row = conn.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM incident_photo WHERE incident_id = :i), "
            "EXISTS (SELECT 1 FROM incident_checkin WHERE incident_id = :i "
            "AND worker_id = :w AND accepted)"
        ),
        {"i": incident_id, "w": worker_id},
    ).one()
    return bool(row[0]), bool(row[1])


# ------------------------------------------------------------------ cases handed away


def handed_away(conn: Connection, incident_id: int, worker_id: int) -> bool:
    """Whether the case was ever taken from this worker (改派, 网格交接)."""
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM task_handover "
                "WHERE incident_id = :i AND from_worker_id = :w)"
            ),
            {"i": incident_id, "w": worker_id},
        ).scalar()
    )


def case_now(conn: Connection, incident_id: int) -> dict[str, Any] | None:
    """A case's state and its assignee's name (None: no assignee); None for no such case.

    The caller runs this as the system for a worker the case was taken from (the worker
    may no longer see it): only the state and a name leave here.
    """
    row = (
        conn.execute(
            text(
                "SELECT i.state, w.name AS assignee FROM incident i "
                "LEFT JOIN grid_worker w ON w.id = i.assignee_id WHERE i.id = :i"
            ),
            {"i": incident_id},
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


# ------------------------------------------------------------------ check-on marks


def insert_mark(
    conn: Connection,
    *,
    hazard_id: int,
    resident_id: int,
    grid_id: int | None,
    grid_code: str | None,
    worker_id: int | None,
    marked_by: str,
    mark: str,
    note: str | None,
    marked_at: datetime,
    channel: str,
) -> int:
    """Store a mark and announce it on ``channel`` (heard when the transaction commits)."""
    mark_id = int(
        conn.execute(
            text(
                "INSERT INTO checkon_mark (hazard_id, resident_id, grid_id, worker_id, "
                "marked_by, mark, note, marked_at) VALUES (:h, :r, :g, :w, :by, :m, :n, :at) "
                "RETURNING id"
            ),
            {
                "h": hazard_id,
                "r": resident_id,
                "g": grid_id,
                "w": worker_id,
                "by": marked_by,
                "m": mark,
                "n": note,
                "at": marked_at,
            },
        ).scalar_one()
    )
    payload = {
        "op": "checkon",
        "id": mark_id,
        "hazard_id": hazard_id,
        "resident_id": resident_id,
        "grid_id": grid_id,
        "grid": grid_code,
        "mark": mark,
        "marked_at": marked_at.isoformat(),
    }
    conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": json.dumps(payload)})
    return mark_id


def latest_marks(bind: Bind, hazard_ids: Collection[int]) -> pd.DataFrame:
    """The latest mark per hazard and person (by ``marked_at``, then id) the caller sees.

    Columns: hazard_id, resident_id, grid_id, mark, marked_at.
    """
    rows = _rows(
        bind,
        """
        SELECT DISTINCT ON (hazard_id, resident_id) hazard_id, resident_id, grid_id, mark,
               marked_at
        FROM checkon_mark WHERE hazard_id = ANY(:h)
        ORDER BY hazard_id, resident_id, marked_at DESC, id DESC
        """,
        h=_ids(hazard_ids),
    )
    return pd.DataFrame(rows, columns=["hazard_id", "resident_id", "grid_id", "mark", "marked_at"])


def people(conn: Connection, resident_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Name, phone and birth year of residents, by id (the caller audits the read)."""
    rows = conn.execute(
        text(
            "SELECT r.id, r.birth_year, ri.name, ri.phone FROM resident r "
            "LEFT JOIN resident_identity ri ON ri.resident_id = r.id WHERE r.id = ANY(:r)"
        ),
        {"r": _ids(resident_ids)},
    ).mappings()
    opened = crypt.open_rows((dict(r) for r in rows), {"phone": "phone"})  # sealed at rest
    return {int(r["id"]): r for r in opened}


def building_names(bind: Bind, building_ids: Collection[int]) -> dict[int, str | None]:
    """The name of each building, by id."""
    rows = _rows(bind, "SELECT id, name FROM building WHERE id = ANY(:b)", b=_ids(building_ids))
    return {int(r["id"]): r["name"] for r in rows}


def shelter_points(bind: Bind, facility_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Name, lon and lat of shelters (facilities), by id."""
    rows = _rows(
        bind,
        "SELECT id, name, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM facility WHERE id = ANY(:f)",
        f=_ids(facility_ids),
    )
    return {int(r["id"]): r for r in rows}


# ------------------------------------------------------------------ notices


def escalations_of(
    bind: Bind, worker_id: int, open_states: Iterable[str], since: datetime
) -> list[dict[str, Any]]:
    """督办 steps since ``since`` on the worker's open cases: incident_id, at, note, category."""
    return _rows(
        bind,
        f"""
        SELECT e.incident_id, e.at, e.note, c.name AS category_name
        FROM incident_event e JOIN incident i ON i.id = e.incident_id
        JOIN incident_category c ON c.code = i.category_code
        WHERE i.assignee_id = :w AND i.state = ANY(:states) AND e.to_state = 'escalated'
          AND e.at >= :since AND {within_case()}
        ORDER BY e.at DESC LIMIT 100
        """,
        w=worker_id,
        states=sorted(open_states),
        since=since,
    )


def handovers_from(bind: Bind, worker_id: int, since: datetime) -> list[dict[str, Any]]:
    """Cases taken from the worker since ``since``: incident_id, at, to_name."""
    return _rows(
        bind,
        """
        SELECT t.incident_id, t.at, w.name AS to_name
        FROM task_handover t LEFT JOIN grid_worker w ON w.id = t.to_worker_id
        WHERE t.from_worker_id = :w AND t.at >= :since
        ORDER BY t.at DESC LIMIT 100
        """,
        w=worker_id,
        since=since,
    )


def hazards_over(bind: Bind, grid_ids: Collection[int], at: datetime) -> list[dict[str, Any]]:
    """Hazards in force at ``at`` meeting some grids, one row per hazard and grid met.

    Columns: id, name, kind, severity, valid_from, grid_code.
    """
    return _rows(
        bind,
        """
        SELECT hz.id, hz.name, hz.kind, hz.severity, hz.valid_from, g.code AS grid_code
        FROM hazard_area hz JOIN grid g ON g.id = ANY(:grids) AND ST_Intersects(g.geom, hz.geom)
        WHERE hz.valid_from <= :at AND (hz.valid_to IS NULL OR hz.valid_to > :at)
        ORDER BY hz.valid_from DESC, hz.id DESC, g.code
        """,
        grids=_ids(grid_ids),
        at=at,
    )


# ------------------------------------------------------------------ coverage


def coverage(bind: Bind, grid_ids: Collection[int], since: datetime) -> list[dict[str, Any]]:
    """Patrol coverage (巡查覆盖) per grid since ``since``, by grid code.

    Columns: grid_id, grid (code), households, households_visited, buildings,
    buildings_visited (a household of it visited, or an accepted check-in at a case in
    it), checkins (accepted check-ins at the grid's cases).
    """
    return _rows(
        bind,
        """
        WITH visited AS (
            SELECT DISTINCT v.household_id, h.building_id, h.grid_id
            FROM household_visit v JOIN household h ON h.id = v.household_id
            WHERE h.grid_id = ANY(:grids) AND v.visited_at >= :since
        ), checked AS (
            SELECT c.id, i.grid_id, c.geom FROM incident_checkin c
            JOIN incident i ON i.id = c.incident_id
            WHERE i.grid_id = ANY(:grids) AND c.accepted AND c.at >= :since
        )
        SELECT g.id AS grid_id, g.code AS grid,
            (SELECT count(*) FROM household h WHERE h.grid_id = g.id)::int AS households,
            (SELECT count(*) FROM visited v WHERE v.grid_id = g.id)::int AS households_visited,
            (SELECT count(*) FROM building b WHERE b.grid_id = g.id)::int AS buildings,
            (SELECT count(*) FROM building b WHERE b.grid_id = g.id AND (
                EXISTS (SELECT 1 FROM visited v WHERE v.building_id = b.id)
                OR EXISTS (SELECT 1 FROM checked c WHERE c.grid_id = g.id
                           AND ST_DWithin(b.geom::geography, c.geom::geography, :near))
            ))::int AS buildings_visited,
            (SELECT count(*) FROM checked c WHERE c.grid_id = g.id)::int AS checkins
        FROM grid g WHERE g.id = ANY(:grids)
        ORDER BY g.code
        """,
        grids=_ids(grid_ids),
        since=since,
        near=CHECKIN_BUILDING_M,
    )


#: An accepted check-in this close to a building counts as the building visited, metres.
CHECKIN_BUILDING_M = 25.0


def current_grids_of_area(bind: Bind, grid_ids: Collection[int] | None) -> list[int]:
    """Ids of the current grids among ``grid_ids`` (None: every current grid)."""
    rows = _rows(
        bind,
        "SELECT id FROM grid WHERE valid_to IS NULL "
        "AND (CAST(:every AS boolean) OR id = ANY(:grids)) ORDER BY code",
        every=grid_ids is None,
        grids=_ids(grid_ids or ()),
    )
    return [int(r["id"]) for r in rows]


# ------------------------------------------------------------------ the offline bundle


def features(bind: Bind, sql: str, **params: object) -> list[dict[str, Any]]:
    """GeoJSON Features from a query whose rows are ``props`` (json) and ``geom`` (text)."""
    return [
        {"type": "Feature", "geometry": json.loads(r["geom"]), "properties": r["props"]}
        for r in _rows(bind, sql, **params)
    ]


def bundle_roads(bind: Bind, bounds: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """Road edges meeting a lon/lat box as GeoJSON Features, simplified and rounded.

    Lines simplified (about 0.5 m), coordinates to 6 decimals; properties id, name,
    road_class, walkable.
    """
    west, south, east, north = bounds
    return features(
        bind,
        """
        SELECT json_build_object('id', id, 'name', name, 'road_class', road_class,
                                 'walkable', walkable) AS props,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.000005), 6) AS geom
        FROM road_edge WHERE geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)
        ORDER BY id
        """,
        w=west,
        s=south,
        e=east,
        n=north,
    )


def bundle_buildings(bind: Bind, grid_ids: Collection[int]) -> list[dict[str, Any]]:
    """Buildings of some grids as GeoJSON Features (6 decimals) with their counts."""
    return features(
        bind,
        """
        SELECT json_build_object('id', b.id, 'name', b.name, 'grid_code', g.code, 'use', b.use,
                   'floors', b.floors, 'households',
                   (SELECT count(*) FROM household h WHERE h.building_id = b.id)) AS props,
               ST_AsGeoJSON(b.geom, 6) AS geom
        FROM building b JOIN grid g ON g.id = b.grid_id
        WHERE b.grid_id = ANY(:grids) ORDER BY b.id
        """,
        grids=_ids(grid_ids),
    )
