"""Where located records lie: the SQL that reads their points and writes back grid and cell.

The caller computes the places (grid id, H3 cell and 北斗 cell) of the points read here; they are
copied into a temporary table (``_placed``, dropped at commit) and written back with
one UPDATE per table, only where something changed.  Every function takes a
connection inside the caller's transaction: grids and the records in them change
together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
from numpy.typing import NDArray
from sqlalchemy import Connection

from gis.db.bulk import copy_frame

#: Located tables and the SQL of the point that places each record.
POINT_SQL = {
    "building": "ST_PointOnSurface(geom)",
    "facility": "geom",
    "road_node": "geom",
    "incident": "geom",
}
#: Records read per batch.
FETCH_ROWS = 200_000


@dataclass(frozen=True)
class PointBatch:
    """Record ids of one table and their points (EPSG:4326, degrees)."""

    ids: NDArray[np.int64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]


def _raw(conn: Connection) -> psycopg.Connection:
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def _cursor(conn: Connection) -> psycopg.Cursor:
    return _raw(conn).cursor()


def current_grid_shapes(conn: Connection) -> tuple[NDArray[np.int64], list[bytes]]:
    """Ids and WKB polygons (EPSG:4326) of the current grids, in code order."""
    with _cursor(conn) as cur:
        cur.execute("SELECT id, ST_AsBinary(geom) FROM grid WHERE valid_to IS NULL ORDER BY code")
        rows = cur.fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64), [bytes(r[1]) for r in rows]


def start_placing(conn: Connection) -> None:
    """Create the temporary table of places (id, grid_id and cells), dropped at commit."""
    with _cursor(conn) as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _placed (id bigint PRIMARY KEY, grid_id int, "
            "h3_cell bigint, beidou_cell bigint) ON COMMIT DROP"
        )


def clear_places(conn: Connection) -> None:
    """Empty the temporary table of places (before the next table's records)."""
    with _cursor(conn) as cur:
        cur.execute("TRUNCATE _placed")


def point_batches(
    conn: Connection,
    table: str,
    *,
    area_wkb: bytes | None = None,
    old_grid_ids: list[int] | None = None,
    rows: int = FETCH_ROWS,
) -> Iterator[PointBatch]:
    """The records of ``table`` (one of :data:`POINT_SQL`) and their points, in batches.

    Parameters
    ----------
    conn
        A connection inside the caller's transaction (read with a server-side cursor).
    table
        A located table.
    area_wkb
        WKB of a polygon (EPSG:4326): only records whose point it covers.  None: all.
    old_grid_ids
        With ``area_wkb``: also the records in these grids, wherever they lie.
    rows
        Records per batch.
    """
    point = POINT_SQL[table]
    where = ""
    if area_wkb is not None:
        where = " WHERE ST_Covers(ST_GeomFromWKB(%(area)s, 4326), {p})"
        if old_grid_ids:
            where += " OR grid_id = ANY(%(old)s)"
    select = f"SELECT id, ST_X({point}), ST_Y({point}) FROM {table}" + where.format(p=point)
    with _raw(conn).cursor(name=f"read_{table}") as reader:
        reader.execute(select, {"area": area_wkb, "old": old_grid_ids or []})
        while batch := reader.fetchmany(rows):
            yield PointBatch(
                np.array([r[0] for r in batch], dtype=np.int64),
                np.array([r[1] for r in batch], dtype=np.float64),
                np.array([r[2] for r in batch], dtype=np.float64),
            )


def stage_places(conn: Connection, places: pd.DataFrame) -> None:
    """Add places (columns id, grid_id, h3_cell, beidou_cell) to the temporary table, by COPY."""
    with _cursor(conn) as cur:
        copy_frame(cur, "_placed", places)


def write_places(conn: Connection, table: str) -> dict[str, int]:
    """Write the staged places into ``table`` where they changed; rows changed per table.

    A building's place is also its households' (``household`` is counted with it).
    """
    with _cursor(conn) as cur:
        cur.execute(f"""
            UPDATE {table} t
            SET grid_id = p.grid_id, h3_cell = p.h3_cell, beidou_cell = p.beidou_cell
            FROM _placed p WHERE t.id = p.id
              AND (t.grid_id IS DISTINCT FROM p.grid_id
                   OR t.h3_cell IS DISTINCT FROM p.h3_cell
                   OR t.beidou_cell IS DISTINCT FROM p.beidou_cell)""")
        changed = {table: cur.rowcount}
        if table == "building":
            cur.execute("""
                UPDATE household h
                SET grid_id = b.grid_id, h3_cell = b.h3_cell, beidou_cell = b.beidou_cell
                FROM building b JOIN _placed p ON p.id = b.id
                WHERE h.building_id = b.id
                  AND (h.grid_id IS DISTINCT FROM b.grid_id
                       OR h.h3_cell IS DISTINCT FROM b.h3_cell
                       OR h.beidou_cell IS DISTINCT FROM b.beidou_cell)""")
            changed["household"] = cur.rowcount
    return changed
