"""Reads and writes of grids (网格) and what lies in them: the one place grid SQL lives.

Every read returns a GeoDataFrame in EPSG:4326 (or a DataFrame).  ``community``
arguments take a 12-digit community code; None means every community.  Writes take a
connection so that the caller decides the transaction: a new grid version and the
re-location of the records in it commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

import geopandas as gpd
import shapely

from gis import clock
from gis.db.models import SRID
from gis.store import incident_ids

_COMMUNITY_FILTER = "(CAST(:community AS text) IS NULL OR c.code = :community)"


def _read(bind: Engine | Connection, sql: str, **params: object) -> gpd.GeoDataFrame:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return gpd.read_postgis(text(sql), conn, geom_col="geom", crs=SRID, params=params)
    return gpd.read_postgis(text(sql), bind, geom_col="geom", crs=SRID, params=params)


def communities(bind: Engine | Connection, community: str | None = None) -> gpd.GeoDataFrame:
    """Communities (社区): id, code, name, street_code, geom."""
    return _read(
        bind,
        f"""
        SELECT c.id, c.code, c.name, s.code AS street_code, c.geom
        FROM admin_area c LEFT JOIN admin_area s ON s.id = c.parent_id
        WHERE c.level = 'community' AND {_COMMUNITY_FILTER}
        ORDER BY c.code""",
        community=community,
    )


def current_grids(bind: Engine | Connection, community: str | None = None) -> gpd.GeoDataFrame:
    """Current grids with their community and counts.

    Columns: id, code, name, kind, community_id, community_code, community_name,
    valid_from, buildings, households, geom.
    """
    return _read(
        bind,
        f"""
        SELECT g.id, g.code, g.name, g.kind, g.community_id, c.code AS community_code,
               c.name AS community_name, g.valid_from,
               coalesce(b.n, 0)::int AS buildings, coalesce(h.n, 0)::int AS households,
               g.geom
        FROM grid g
        JOIN admin_area c ON c.id = g.community_id
        LEFT JOIN (SELECT grid_id, count(*) AS n FROM building GROUP BY grid_id) b
               ON b.grid_id = g.id
        LEFT JOIN (SELECT grid_id, count(*) AS n FROM household GROUP BY grid_id) h
               ON h.grid_id = g.id
        WHERE g.valid_to IS NULL AND {_COMMUNITY_FILTER}
        ORDER BY g.code""",
        community=community,
    )


def building_points(
    bind: Engine | Connection, community: str | None = None, *, footprints: bool = False
) -> gpd.GeoDataFrame:
    """Buildings as their point on surface, with grid and household count.

    Columns: id, grid_id (nullable), households, geom (Point; with ``footprints``, the
    footprint MultiPolygon instead).  With ``community``, the buildings whose point lies
    in that community.
    """
    shape = "b.geom" if footprints else "ST_PointOnSurface(b.geom)"
    return _read(
        bind,
        f"""
        SELECT b.id, b.grid_id, coalesce(h.n, 0)::int AS households, {shape} AS geom
        FROM building b
        LEFT JOIN (SELECT building_id, count(*) AS n FROM household GROUP BY building_id) h
               ON h.building_id = b.id
        WHERE CAST(:community AS text) IS NULL OR EXISTS (
            SELECT 1 FROM admin_area c
            WHERE c.level = 'community' AND c.code = :community
              AND ST_Covers(c.geom, ST_PointOnSurface(b.geom)))
        ORDER BY b.id""",
        community=community,
    )


def road_lines(bind: Engine | Connection, community: str | None = None) -> gpd.GeoDataFrame:
    """Road edges (id, road_class, name, geom) meeting a community, or all of them."""
    return _read(
        bind,
        """
        SELECT e.id, e.road_class, e.name, e.geom FROM road_edge e
        WHERE CAST(:community AS text) IS NULL OR EXISTS (
            SELECT 1 FROM admin_area c
            WHERE c.level = 'community' AND c.code = :community
              AND ST_Intersects(c.geom, e.geom))
        ORDER BY e.id""",
        community=community,
    )


def incident_counts(
    bind: Engine | Connection, since: datetime, community: str | None = None
) -> pd.DataFrame:
    """Incidents reported since ``since`` per current grid: grid_id, incidents."""
    params: dict = {"since": since, "community": community}
    # the months since then, by the cases' numbers (gis.store.incident_ids)
    months = incident_ids.and_time_bound("i", since, None, params)
    sql = text(f"""
        SELECT g.id AS grid_id, count(i.id)::int AS incidents
        FROM grid g JOIN admin_area c ON c.id = g.community_id
        LEFT JOIN incident i ON i.grid_id = g.id AND i.reported_at >= :since{months}
        WHERE g.valid_to IS NULL AND {_COMMUNITY_FILTER}
        GROUP BY g.id ORDER BY g.id""")
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return pd.read_sql(sql, conn, params=params)
    return pd.read_sql(sql, bind, params=params)


def records_in_no_grid(bind: Engine | Connection, community: str | None = None) -> gpd.GeoDataFrame:
    """Located records in no grid, with ``community``: those inside that community.

    Columns: kind ('building', 'facility', 'incident'), id, geom (their point),
    households (for buildings).
    """
    return _read(
        bind,
        """
        WITH lost AS (
            SELECT 'building' AS kind, b.id, ST_PointOnSurface(b.geom) AS geom,
                   (SELECT count(*) FROM household h WHERE h.building_id = b.id)::int
                       AS households
            FROM building b WHERE b.grid_id IS NULL
            UNION ALL
            SELECT 'facility', f.id, f.geom, 0 FROM facility f WHERE f.grid_id IS NULL
            UNION ALL
            SELECT 'incident', i.id, i.geom, 0 FROM incident i WHERE i.grid_id IS NULL
        )
        SELECT lost.* FROM lost
        WHERE CAST(:community AS text) IS NULL OR EXISTS (
            SELECT 1 FROM admin_area c
            WHERE c.level = 'community' AND c.code = :community AND ST_Covers(c.geom, lost.geom))
        ORDER BY kind, id""",
        community=community,
    )


def retire_and_insert_grids(
    conn: Connection,
    community_id: int,
    grids: gpd.GeoDataFrame,
    *,
    at: datetime | None = None,
    lineage: bool = True,
) -> list[int]:
    """Make ``grids`` the current grids of a community, keeping the old ones as history.

    The current grids of the community get ``valid_to = at``; the new ones
    ``valid_from = at``; a lineage row links each old grid to each new grid it
    overlaps (split when one old grid became several, merge when several became
    one, redraw otherwise).

    Parameters
    ----------
    conn
        A connection inside the caller's transaction.
    community_id
        ``admin_area.id`` of the community.
    grids
        Columns code, name, kind (optional, default 'base'), geometry in EPSG:4326.
    at
        When the change takes effect (default: :func:`gis.clock.now`).

    Returns
    -------
    list of int
        The ids of the new grids, in the order of ``grids``.
    """
    when = at or clock.now()
    old_ids = list(
        conn.execute(
            text(
                "UPDATE grid SET valid_to = :at WHERE community_id = :c AND valid_to IS NULL "
                "RETURNING id"
            ),
            {"at": when, "c": community_id},
        ).scalars()
    )
    geoms = np.asarray(grids.geometry.array, dtype=object)
    multi = np.array(
        [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geoms],
        dtype=object,
    )
    ewkb = shapely.to_wkb(shapely.set_srid(multi, SRID), hex=True, include_srid=True)
    kinds = grids["kind"] if "kind" in grids else pd.Series("base", index=grids.index)
    new_ids = [
        conn.execute(
            text(
                "INSERT INTO grid (code, name, community_id, kind, valid_from, geom) "
                "VALUES (:code, :name, :c, :kind, :at, ST_GeomFromEWKB(decode(:wkb, 'hex'))) "
                "RETURNING id"
            ),
            {"code": code, "name": name, "c": community_id, "kind": kind, "at": when, "wkb": wkb},
        ).scalar_one()
        for code, name, kind, wkb in zip(grids["code"], grids["name"], kinds, ewkb, strict=True)
    ]
    if lineage and old_ids and new_ids:
        conn.execute(
            text("""
            WITH pairs AS (
                SELECT o.id AS old_id, n.id AS new_id
                FROM grid o JOIN grid n
                  ON ST_Intersects(o.geom, n.geom)
                 AND ST_Area(ST_Intersection(o.geom, n.geom)) > 1e-12
                WHERE o.id = ANY(:old) AND n.id = ANY(:new)
            ), fan AS (
                SELECT old_id, new_id,
                       count(*) OVER (PARTITION BY old_id) AS outs,
                       count(*) OVER (PARTITION BY new_id) AS ins
                FROM pairs
            )
            INSERT INTO grid_lineage (old_grid_id, new_grid_id, change, at)
            SELECT old_id, new_id,
                   CASE WHEN outs > 1 AND ins = 1 THEN 'split'
                        WHEN ins > 1 AND outs = 1 THEN 'merge'
                        ELSE 'redraw' END, :at
            FROM fan"""),
            {"old": old_ids, "new": new_ids, "at": when},
        )
    return new_ids


def carry_over_workers(conn: Connection, old_ids: list[int], new_ids: list[int]) -> None:
    """Give each new grid the workers of the old grid it overlaps most (by area, then code).

    Parameters
    ----------
    conn
        A connection inside the caller's transaction.
    old_ids, new_ids
        ``grid.id`` of the retired and of the new grids.
    """
    if not old_ids or not new_ids:
        return
    conn.execute(
        text("""
        INSERT INTO grid_assignment (worker_id, grid_id, role)
        SELECT DISTINCT ON (n.id, a.worker_id) a.worker_id, n.id, a.role
        FROM grid n
        CROSS JOIN LATERAL (
            SELECT o.id FROM grid o
            WHERE o.id = ANY(:old) AND ST_Intersects(o.geom, n.geom)
            ORDER BY ST_Area(ST_Intersection(o.geom, n.geom)) DESC, o.code LIMIT 1) best
        JOIN grid_assignment a ON a.grid_id = best.id
        WHERE n.id = ANY(:new)
        ORDER BY n.id, a.worker_id, a.role = 'primary' DESC
        ON CONFLICT DO NOTHING"""),
        {"old": old_ids, "new": new_ids},
    )
