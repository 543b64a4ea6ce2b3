"""Keep every located record in the right grid (网格) and H3 cell after the grids change.

The same locator as the loader places the records (one rule everywhere: a point on
a shared boundary goes to the grid with the smallest code), and the changes are
written back with COPY into a temporary table and one UPDATE per table, inside the
caller's transaction: grids and the records in them change together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import Connection
from tqdm import tqdm

import shapely

from gis.db.bulk import copy_frame
from gis.settings import Settings, get_settings
from grids.locate import NO_GRID, h3_cells, ids_at, locate_points

#: Located tables and the SQL of the point that places each record.
POINT_SQL = {
    "building": "ST_PointOnSurface(geom)",
    "facility": "geom",
    "road_node": "geom",
    "incident": "geom",
}
FETCH_ROWS = 200_000


@dataclass
class RelocateReport:
    """Rows whose grid or cell changed, per table, and records left in no grid."""

    changed: dict[str, int]
    in_no_grid: dict[str, int]


def _cursor(conn: Connection) -> psycopg.Cursor:
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw.cursor()


def relocate(
    conn: Connection,
    *,
    area_wkb: bytes | None = None,
    old_grid_ids: list[int] | None = None,
    progress: bool = True,
    settings: Settings | None = None,
) -> RelocateReport:
    """Place located records in the current grids and H3 cells, writing what changed.

    Parameters
    ----------
    conn
        A connection inside the caller's transaction.
    area_wkb
        WKB of a polygon (EPSG:4326): only records whose point lies in it are placed
        again (e.g. the community whose grids changed).  None: every record.
    old_grid_ids
        With ``area_wkb``: also place again the records that were in these grids
        (retired ones), wherever they lie.
    progress
        Show a progress bar.

    Returns
    -------
    RelocateReport
    """
    settings = settings or get_settings()
    cur = _cursor(conn)
    cur.execute("SELECT id, ST_AsBinary(geom) FROM grid WHERE valid_to IS NULL ORDER BY code")
    rows = cur.fetchall()
    grid_ids = np.array([r[0] for r in rows], dtype=np.int64)
    grid_geoms = shapely.from_wkb([bytes(r[1]) for r in rows])
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _placed (id bigint PRIMARY KEY, grid_id int, "
        "h3_cell bigint) ON COMMIT DROP"
    )
    changed: dict[str, int] = {}
    in_no_grid: dict[str, int] = {}
    where = ""
    if area_wkb is not None:
        where = " WHERE ST_Covers(ST_GeomFromWKB(%(area)s, 4326), {p})"
        if old_grid_ids:
            where += " OR grid_id = ANY(%(old)s)"
    with tqdm(desc="locating", unit="rows", disable=not progress) as bar:
        for table, point in POINT_SQL.items():
            bar.set_description(f"locating {table}")
            cur.execute("TRUNCATE _placed")
            select = f"SELECT id, ST_X({point}), ST_Y({point}) FROM {table}" + where.format(p=point)
            with conn.connection.driver_connection.cursor(name=f"read_{table}") as reader:
                reader.execute(select, {"area": area_wkb, "old": old_grid_ids or []})
                while batch := reader.fetchmany(FETCH_ROWS):
                    ids = np.array([r[0] for r in batch], dtype=np.int64)
                    lon = np.array([r[1] for r in batch], dtype=np.float64)
                    lat = np.array([r[2] for r in batch], dtype=np.float64)
                    pos = locate_points(lon, lat, grid_geoms)
                    grid = ids_at(pos, grid_ids)
                    in_no_grid[table] = in_no_grid.get(table, 0) + int((pos == NO_GRID).sum())
                    frame = pd.DataFrame(
                        {
                            "id": ids,
                            "grid_id": grid,
                            "h3_cell": h3_cells(lon, lat, settings.h3_resolution),
                        }
                    )
                    copy_frame(cur, "_placed", frame)
                    bar.update(len(batch))
            cur.execute(f"""
                UPDATE {table} t SET grid_id = p.grid_id, h3_cell = p.h3_cell
                FROM _placed p WHERE t.id = p.id
                  AND (t.grid_id IS DISTINCT FROM p.grid_id
                       OR t.h3_cell IS DISTINCT FROM p.h3_cell)""")
            changed[table] = cur.rowcount
            if table == "building":
                cur.execute("""
                    UPDATE household h SET grid_id = b.grid_id, h3_cell = b.h3_cell
                    FROM building b JOIN _placed p ON p.id = b.id
                    WHERE h.building_id = b.id
                      AND (h.grid_id IS DISTINCT FROM b.grid_id
                           OR h.h3_cell IS DISTINCT FROM b.h3_cell)""")
                changed["household"] = cur.rowcount
    return RelocateReport(changed=changed, in_no_grid=in_no_grid)
