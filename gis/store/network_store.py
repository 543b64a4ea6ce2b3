"""The road network's rows when an office's roads are merged into a shared network.

One deployment keeps one network (``road_node``, ``road_edge``) and one set of basemap
areas (``map_area``); an office's OpenStreetMap extract (``wangge import osm --area``)
replaces what lies in its region and leaves the rest, so neighbouring offices' extracts
meet at the OSM nodes they share.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import psycopg
from sqlalchemy import Connection, text

#: West, south, east, north (degrees, WGS84).
Box = tuple[float, float, float, float]
#: A degree of latitude, metres.
_M_PER_DEGREE = 111_320.0


def area_region(conn: Connection, area_id: int, margin_m: float) -> Box:
    """The box of an admin area, widened by ``margin_m`` on every side."""
    w, s, e, n = conn.execute(
        text(
            "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
            "FROM admin_area WHERE id = :id"
        ),
        {"id": area_id},
    ).one()
    dy = margin_m / _M_PER_DEGREE
    dx = dy / max(math.cos(math.radians((s + n) / 2)), 0.01)
    return (w - dx, s - dy, e + dx, n + dy)


def clear_region(cur: psycopg.Cursor, box: Box, edge_ids: Iterable[int]) -> tuple[int, int]:
    """Remove the roads and basemap areas whose boxes meet ``box``, and edges with ``edge_ids``.

    Nodes no road uses any more go too.  Returns (edges, nodes) removed.
    """
    envelope = "ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
    cur.execute(
        f"DELETE FROM road_edge WHERE geom && {envelope} OR id = ANY(%s) RETURNING source, target",
        (*box, list(map(int, edge_ids))),
    )
    ends = {int(n) for row in cur.fetchall() for n in row}
    edges = cur.rowcount
    cur.execute(
        "DELETE FROM road_node n WHERE n.id = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM road_edge e WHERE e.source = n.id) "
        "AND NOT EXISTS (SELECT 1 FROM road_edge e WHERE e.target = n.id)",
        (sorted(ends),),
    )
    nodes = cur.rowcount
    cur.execute(f"DELETE FROM map_area WHERE geom && {envelope}", box)
    return edges, nodes


def stored_nodes(cur: psycopg.Cursor, ids: Iterable[int]) -> set[int]:
    """Which of the node ``ids`` the network already holds."""
    cur.execute("SELECT id FROM road_node WHERE id = ANY(%s)", (list(map(int, ids)),))
    return {int(r[0]) for r in cur.fetchall()}
