"""The statements of loading a district into one area (``--area``), on the loader's cursor.

An area's load (:mod:`etl.area_load`) runs inside the bulk load's transaction: it reads
what is stored of the area's hierarchy, removes the area's own records for ``--replace``
(and nothing of any other area), and gives the new records ids after the stored ones.

An area's records: its admin areas below it (by code prefix), their grids, the records
whose ``office_id`` is the area or that lie in its grids, its sample users (by name,
:func:`etl.sample.areas.area_users_pattern`), the grid workers of those users or of its
grids, the incidents in its grids or of its workers, and the roads and map areas inside
its boundary.  The area's own row is kept (staff and imports may name it), as are the
areas above it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import psycopg

from gis.store.incident_ids import SERIAL_SQL

#: Tables whose ids a district file gives, and the id column.
ID_TABLES = (
    "building",
    "household",
    "resident",
    "facility",
    "road_node",
    "road_edge",
    "grid_worker",
    "incident",
)


def area_levels(cur: psycopg.Cursor) -> dict[str, str]:
    """``code -> level`` of every stored admin area."""
    cur.execute("SELECT code, level FROM admin_area")
    return {str(code): str(level) for code, level in cur.fetchall()}


def area_id(cur: psycopg.Cursor, code: str) -> int | None:
    """The id of the admin area ``code``, None when it is not stored."""
    cur.execute("SELECT id FROM admin_area WHERE code = %s", (code,))
    row = cur.fetchone()
    return None if row is None else int(row[0])


def add_area(
    cur: psycopg.Cursor, code: str, name: str, level: str, parent: str | None, geom: bytes
) -> int:
    """Store one admin area (its parent by code, geometry as EWKB); its id."""
    cur.execute(
        "INSERT INTO admin_area (code, name, level, parent_id, geom) "
        "VALUES (%s, %s, %s, (SELECT id FROM admin_area WHERE code = %s), "
        "ST_Multi(ST_GeomFromEWKB(%s))) RETURNING id",
        (code, name, level, parent, geom),
    )
    return int(cur.fetchone()[0])


def grow_areas(cur: psycopg.Cursor, codes: Sequence[str], geom: bytes) -> None:
    """Widen the boundaries of the areas ``codes`` to hold ``geom`` too (EWKB)."""
    cur.execute(
        "UPDATE admin_area SET geom = ST_Multi(ST_Union(geom, ST_GeomFromEWKB(%s))) "
        "WHERE code = ANY(%s)",
        (geom, list(codes)),
    )


def holdings(cur: psycopg.Cursor, code: str, office: int | None) -> int:
    """How many admin areas below ``code`` and records of the office are stored."""
    cur.execute(
        "SELECT (SELECT count(*) FROM admin_area WHERE code LIKE %(below)s) "
        "+ (SELECT count(*) FROM building WHERE office_id = %(office)s) "
        "+ (SELECT count(*) FROM household WHERE office_id = %(office)s) "
        "+ (SELECT count(*) FROM facility WHERE office_id = %(office)s)",
        {"below": f"{code}_%", "office": office},
    )
    return int(cur.fetchone()[0])


def nested_offices(cur: psycopg.Cursor, code: str) -> list[str]:
    """Other offices with records whose areas lie inside the area ``code`` or hold it."""
    cur.execute(
        "SELECT code FROM admin_area WHERE id IN (SELECT office_id FROM building "
        "UNION SELECT office_id FROM household UNION SELECT office_id FROM facility) "
        "AND code <> %(code)s AND (code LIKE %(below)s OR %(code)s LIKE code || '%%') "
        "ORDER BY code LIMIT 5",
        {"code": code, "below": f"{code}%"},
    )
    return [str(r[0]) for r in cur.fetchall()]


def others_over(cur: psycopg.Cursor, code: str, geom: bytes) -> list[str]:
    """Streets and communities not of ``code`` whose boundaries meet ``geom`` (EWKB)."""
    cur.execute(
        "SELECT code FROM admin_area WHERE level IN ('street', 'community') "
        "AND code NOT LIKE %s AND code <> %s AND ST_Intersects(geom, ST_GeomFromEWKB(%s)) "
        "ORDER BY code LIMIT 5",
        (f"{code}%", code, geom),
    )
    return [str(r[0]) for r in cur.fetchall()]


def strangers_of(cur: psycopg.Cursor, code: str, users: str) -> list[str]:
    """Users of the areas below ``code`` who are not its sample users (``users``: a regex)."""
    cur.execute(
        "SELECT u.username FROM app_user u JOIN admin_area a ON a.id = u.area_id "
        "WHERE a.code LIKE %s AND u.username !~ %s ORDER BY 1 LIMIT 5",
        (f"{code}_%", users),
    )
    return [str(r[0]) for r in cur.fetchall()]


#: Removing an area's records: the temporary sets first, then children before parents.
_REMOVE = (
    "CREATE TEMP TABLE gone_area ON COMMIT DROP AS "
    "SELECT id, level FROM admin_area WHERE code LIKE %(below)s",
    "CREATE TEMP TABLE gone_grid ON COMMIT DROP AS "
    "SELECT id FROM grid WHERE community_id IN (SELECT id FROM gone_area)",
    "CREATE TEMP TABLE gone_user ON COMMIT DROP AS "
    "SELECT id FROM app_user WHERE username ~ %(users)s",
    "CREATE TEMP TABLE gone_worker ON COMMIT DROP AS "
    "SELECT id FROM grid_worker WHERE user_id IN (SELECT id FROM gone_user) "
    "UNION SELECT worker_id FROM grid_assignment WHERE grid_id IN (SELECT id FROM gone_grid)",
    "CREATE TEMP TABLE gone_incident ON COMMIT DROP AS "
    "SELECT id FROM incident WHERE grid_id IN (SELECT id FROM gone_grid) "
    "OR assignee_id IN (SELECT id FROM gone_worker) "
    "OR reporter_id IN (SELECT id FROM gone_user) "
    "OR (grid_id IS NULL AND ST_Intersects(geom, (SELECT geom FROM admin_area "
    "WHERE id = %(office)s)))",
    "DELETE FROM incident_checkin WHERE worker_id IN (SELECT id FROM gone_worker)",
    "DELETE FROM task_handover WHERE from_worker_id IN (SELECT id FROM gone_worker) "
    "OR to_worker_id IN (SELECT id FROM gone_worker)",
    "DELETE FROM household_visit WHERE worker_id IN (SELECT id FROM gone_worker)",
    "DELETE FROM checkon_mark WHERE worker_id IN (SELECT id FROM gone_worker)",
    "DELETE FROM incident WHERE id IN (SELECT id FROM gone_incident)",
    "DELETE FROM grid_assignment WHERE grid_id IN (SELECT id FROM gone_grid) "
    "OR worker_id IN (SELECT id FROM gone_worker)",
    "DELETE FROM grid_worker WHERE id IN (SELECT id FROM gone_worker)",
    "DELETE FROM resident WHERE office_id = %(office)s",
    "DELETE FROM household WHERE office_id = %(office)s OR grid_id IN (SELECT id FROM gone_grid)",
    "DELETE FROM building WHERE office_id = %(office)s OR grid_id IN (SELECT id FROM gone_grid)",
    "DELETE FROM facility WHERE office_id = %(office)s OR grid_id IN (SELECT id FROM gone_grid)",
    "UPDATE building SET estate_id = NULL WHERE estate_id IN (SELECT id FROM gone_area)",
    "CREATE TEMP TABLE gone_node ON COMMIT DROP AS SELECT id FROM road_node "
    "WHERE ST_Intersects(geom, (SELECT geom FROM admin_area WHERE id = %(office)s))",
    "DELETE FROM road_edge WHERE source IN (SELECT id FROM gone_node) "
    "OR target IN (SELECT id FROM gone_node)",
    "DELETE FROM road_node WHERE id IN (SELECT id FROM gone_node) "
    "AND NOT EXISTS (SELECT 1 FROM road_edge e WHERE e.source = road_node.id "
    "OR e.target = road_node.id)",
    "DELETE FROM map_area WHERE ST_CoveredBy(geom, (SELECT geom FROM admin_area "
    "WHERE id = %(office)s))",
    "DELETE FROM notice WHERE grid_id IN (SELECT id FROM gone_grid) "
    "OR community_id IN (SELECT id FROM gone_area) OR estate_id IN (SELECT id FROM gone_area)",
    "DELETE FROM wish WHERE community_id IN (SELECT id FROM gone_area) "
    "OR estate_id IN (SELECT id FROM gone_area)",
    "DELETE FROM grid_lineage WHERE old_grid_id IN (SELECT id FROM gone_grid) "
    "OR new_grid_id IN (SELECT id FROM gone_grid)",
    "DELETE FROM grid WHERE id IN (SELECT id FROM gone_grid)",
    "DELETE FROM app_user WHERE id IN (SELECT id FROM gone_user)",
    "DELETE FROM admin_area WHERE id IN (SELECT id FROM gone_area WHERE level = 'estate')",
    "DELETE FROM admin_area WHERE id IN (SELECT id FROM gone_area WHERE level = 'community')",
    "DELETE FROM admin_area WHERE id IN (SELECT id FROM gone_area WHERE level = 'street')",
)


def remove_area(cur: psycopg.Cursor, code: str, office: int, users: str) -> None:
    """Remove the records of the area ``code`` (see the module docstring), nothing else.

    ``users``: a PostgreSQL regular expression matching its users' names.
    """
    params = {"below": f"{code}_%", "office": office, "users": users}
    for statement in _REMOVE:
        cur.execute(statement, params)
    cur.execute("DROP TABLE gone_area, gone_grid, gone_user, gone_worker, gone_incident, gone_node")


def max_ids(cur: psycopg.Cursor) -> dict[str, int]:
    """The greatest id of each table of :data:`ID_TABLES` (0 when empty).

    Of the incidents, the greatest serial part (a number carries its month,
    :mod:`gis.store.incident_ids`).
    """
    selects = ", ".join(
        f"(SELECT coalesce(max({SERIAL_SQL if t == 'incident' else 'id'}), 0) FROM {t})"
        for t in ID_TABLES
    )
    cur.execute(f"SELECT {selects}")
    return dict(zip(ID_TABLES, (int(v) for v in cur.fetchone()), strict=True))


def taken_id_numbers(cur: psycopg.Cursor, hashes: Iterable[bytes | None]) -> set[bytes]:
    """Those of ``hashes`` (blind indexes of ID numbers) that a stored identity has."""
    wanted = [h for h in hashes if h is not None]
    if not wanted:
        return set()
    cur.execute(
        "SELECT id_number_hash FROM resident_identity WHERE id_number_hash = ANY(%s)",
        (wanted,),
        binary=True,
    )
    return {bytes(r[0]) for r in cur.fetchall()}
