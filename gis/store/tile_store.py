"""Vector tiles (Mapbox Vector Tile, ``ST_AsMVT``) of the map layers, and the counts they show.

Every statement takes a tile of the WebMercatorQuad matrix set (``z``, ``x``, ``y``) and
answers one MVT blob, features clipped to the tile with a buffer of :data:`BUFFER` units
of :data:`EXTENT`.  Rows are picked with the ``&&`` operator on the EPSG:4326 box of the
tile and its buffer (``box``), so the GiST index of each table is used; geometry is
transformed to EPSG:3857 only for the rows kept.

Counts of people never come from a tile statement's own join over households and
residents at low zoom: the per-grid and per-H3-cell counts are read once per data
version (:func:`people_counts`), kept by the server, and handed
to the statements as arrays.  Every count of households, residents or vulnerable people
is suppressed (absent from the feature) when it lies between 1 and ``k - 1``.

No personal data is read: names, ID numbers, phones, descriptions and reporters stay out
of every tile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

#: Tile extent in MVT units, and the buffer kept around it (ST_AsMVTGeom's arguments).
EXTENT = 4096
BUFFER = 64

#: Road classes drawn from each zoom (the basemap and the roads layer).
ROAD_MIN_ZOOM = {"arterial": 11, "branch": 13, "lane": 15, "footway": 16}

# Every statement starts from the tile's envelope in EPSG:3857 (env) and its box with the
# buffer (64/4096 of a tile) in EPSG:4326 (box), the CRS of the stored geometry.

BASEMAP = """
WITH bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS env,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.015625), 4326) AS box
),
road AS (
    SELECT e.id, e.name, e.road_class AS class, e.geom
    FROM road_edge e, bounds
    WHERE e.geom && bounds.box
      AND CASE e.road_class WHEN 'arterial' THEN 11 WHEN 'branch' THEN 13
                            WHEN 'lane' THEN 15 ELSE 16 END <= :z
),
water AS (
    SELECT ST_AsMVT(t, 'water', 4096, 'geom') AS mvt FROM (
        SELECT m.id, m.name,
               ST_AsMVTGeom(ST_Transform(m.geom, 3857), bounds.env, 4096, 64, true) AS geom
        FROM map_area m, bounds WHERE m.kind = 'water' AND m.geom && bounds.box
    ) t WHERE t.geom IS NOT NULL
),
green AS (
    SELECT ST_AsMVT(t, 'green', 4096, 'geom') AS mvt FROM (
        SELECT m.id, m.name,
               ST_AsMVTGeom(ST_Transform(m.geom, 3857), bounds.env, 4096, 64, true) AS geom
        FROM map_area m, bounds WHERE m.kind = 'green' AND m.geom && bounds.box
    ) t WHERE t.geom IS NOT NULL
),
building AS (
    SELECT ST_AsMVT(t, 'building', 4096, 'geom') AS mvt FROM (
        SELECT b.id,
               ST_AsMVTGeom(ST_Transform(b.geom, 3857), bounds.env, 4096, 64, true) AS geom
        FROM building b, bounds WHERE :z >= 15 AND b.geom && bounds.box
    ) t WHERE t.geom IS NOT NULL
),
road_lines AS (
    SELECT ST_AsMVT(t, 'road', 4096, 'geom') AS mvt FROM (
        SELECT r.id, r.class,
               ST_AsMVTGeom(ST_Transform(r.geom, 3857), bounds.env, 4096, 64, true) AS geom
        FROM road r, bounds
    ) t WHERE t.geom IS NOT NULL
),
-- one line per street name: its edges merged, so a label can run along the street
road_label AS (
    SELECT ST_AsMVT(t, 'road_label', 4096, 'geom') AS mvt FROM (
        SELECT s.id, s.name, s.class,
               ST_AsMVTGeom(ST_Transform(s.line, 3857), bounds.env, 4096, 64, true) AS geom
        FROM (SELECT min(r.id) AS id, r.name, min(r.class) AS class,
                     ST_LineMerge(ST_Collect(r.geom)) AS line
              FROM road r WHERE r.name <> '' GROUP BY r.name) s, bounds
    ) t WHERE t.geom IS NOT NULL
),
place AS (
    SELECT ST_AsMVT(t, 'place', 4096, 'geom') AS mvt FROM (
        SELECT a.id, a.name, a.level,
               ST_AsMVTGeom(ST_Transform(ST_PointOnSurface(a.geom), 3857), bounds.env,
                            4096, 64, true) AS geom
        FROM admin_area a, bounds
        WHERE a.geom && bounds.box
          AND ((a.level = 'street' AND :z BETWEEN 10 AND 13)
               OR (a.level = 'community' AND :z BETWEEN 13 AND 16)
               OR (a.level = 'estate' AND :z >= 16))
    ) t WHERE t.geom IS NOT NULL
),
poi AS (
    SELECT ST_AsMVT(t, 'poi', 4096, 'geom') AS mvt FROM (
        SELECT f.id, f.name, f.kind,
               ST_AsMVTGeom(ST_Transform(f.geom, 3857), bounds.env, 4096, 64, true) AS geom
        FROM facility f, bounds WHERE :z >= 16 AND f.geom && bounds.box
    ) t WHERE t.geom IS NOT NULL
)
SELECT coalesce(water.mvt, '') || coalesce(green.mvt, '') || coalesce(building.mvt, '')
       || coalesce(road_lines.mvt, '') || coalesce(road_label.mvt, '')
       || coalesce(place.mvt, '') || coalesce(poi.mvt, '')
FROM water, green, building, road_lines, road_label, place, poi
"""

#: Grids in force with their people counts (handed in as arrays: grid id, households,
#: residents, vulnerable; a count from 1 to k - 1 is left out), and from :label_zoom a
#: point per grid with its code (layer grid_labels).
GRIDS = """
WITH bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS env,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.015625), 4326) AS box
),
people AS (
    SELECT * FROM unnest(CAST(:grid_ids AS bigint[]), CAST(:households AS bigint[]),
                         CAST(:residents AS bigint[]), CAST(:vulnerable AS bigint[]))
        AS p(grid_id, households, residents, vulnerable)
),
shown AS (
    SELECT g.id, g.code, g.name, c.name AS community, g.geom,
           CASE WHEN p.households = 0 OR p.households >= :k THEN p.households END
               AS households,
           CASE WHEN p.residents = 0 OR p.residents >= :k THEN p.residents END AS residents,
           CASE WHEN p.vulnerable = 0 OR p.vulnerable >= :k THEN p.vulnerable END
               AS vulnerable
    FROM grid g
    JOIN admin_area c ON c.id = g.community_id
    CROSS JOIN bounds
    LEFT JOIN people p ON p.grid_id = g.id
    WHERE g.valid_to IS NULL AND g.geom && bounds.box
),
grids AS (
    SELECT ST_AsMVT(t, 'grids', 4096, 'geom') AS mvt FROM (
        SELECT s.id, s.code, s.name, s.community, s.households, s.residents, s.vulnerable,
               ST_AsMVTGeom(ST_Transform(s.geom, 3857), bounds.env, 4096, 64, true) AS geom
        FROM shown s, bounds
    ) t WHERE t.geom IS NOT NULL
),
labels AS (
    SELECT ST_AsMVT(t, 'grid_labels', 4096, 'geom') AS mvt FROM (
        SELECT s.id, s.code,
               ST_AsMVTGeom(ST_Transform(ST_PointOnSurface(s.geom), 3857), bounds.env,
                            4096, 64, true) AS geom
        FROM shown s, bounds WHERE :z >= :label_zoom
    ) t WHERE t.geom IS NOT NULL
)
SELECT coalesce(grids.mvt, '') || coalesce(labels.mvt, '') FROM grids, labels
"""

#: The tile's envelope (Web Mercator) and, with a margin, its box in lon/lat.
_BOUNDS = """
WITH bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS env,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.015625), 4326) AS box
)
"""

#: The buildings layer starts at this zoom, as OpenMapTiles' does (its tiles are empty
#: below): at zoom 10 a tile of a 2,000,000-household city held every footprint of the
#: city, 2.6 MB built in 0.4 s, for dots no one can read.
BUILDINGS_MIN_ZOOM = 13

#: Building footprints with their households (the count the database keeps per building,
#: migration 0038; 1 to k - 1 left out).
BUILDINGS = (
    _BOUNDS
    + """
SELECT coalesce(ST_AsMVT(t, 'buildings', 4096, 'geom'), '') FROM (
    SELECT b.id, b.name, b.floors, b.use,
           CASE WHEN n.households = 0 OR n.households >= :k THEN n.households END
               AS households,
           ST_AsMVTGeom(ST_Transform(b.geom, 3857), bounds.env, 4096, 64, true) AS geom
    FROM building b
    CROSS JOIN bounds
    CROSS JOIN LATERAL (
        SELECT coalesce(max(c.households), 0)::bigint AS households
        FROM building_households c WHERE c.building_id = b.id
    ) n
    WHERE b.geom && bounds.box
) t WHERE t.geom IS NOT NULL
"""
)

ROADS = (
    _BOUNDS
    + """
SELECT coalesce(ST_AsMVT(t, 'roads', 4096, 'geom'), '') FROM (
    SELECT e.id, e.name, e.road_class AS class, e.walkable, e.drivable, e.oneway,
           ST_AsMVTGeom(ST_Transform(e.geom, 3857), bounds.env, 4096, 64, true) AS geom
    FROM road_edge e, bounds
    WHERE e.geom && bounds.box
      AND CASE e.road_class WHEN 'arterial' THEN 11 WHEN 'branch' THEN 13
                            WHEN 'lane' THEN 15 ELSE 16 END <= :z
) t WHERE t.geom IS NOT NULL
"""
)

#: Shelters with class, capacity, occupancy and whether a hazard in force at :at covers them.
SHELTERS = (
    _BOUNDS
    + """
SELECT coalesce(ST_AsMVT(t, 'shelters', 4096, 'geom'), '') FROM (
    SELECT f.id, f.name, s.shelter_class AS class, coalesce(f.capacity, 0) AS capacity,
           s.occupancy, s.is_open,
           EXISTS (SELECT 1 FROM hazard_area z
                   WHERE z.valid_from <= :at AND (z.valid_to IS NULL OR z.valid_to > :at)
                     AND ST_Intersects(z.geom, f.geom)) AS in_hazard,
           ST_AsMVTGeom(ST_Transform(f.geom, 3857), bounds.env, 4096, 64, true) AS geom
    FROM facility f
    JOIN shelter s ON s.facility_id = f.id
    CROSS JOIN bounds
    WHERE f.geom && bounds.box
) t WHERE t.geom IS NOT NULL
"""
)

HAZARDS = (
    _BOUNDS
    + """
SELECT coalesce(ST_AsMVT(t, 'hazards', 4096, 'geom'), '') FROM (
    SELECT z.id, z.kind, z.name, z.severity, z.valid_from::text AS valid_from,
           z.valid_to::text AS valid_to,
           ST_AsMVTGeom(ST_Transform(z.geom, 3857), bounds.env, 4096, 64, true) AS geom
    FROM hazard_area z, bounds
    WHERE z.valid_from <= :at AND (z.valid_to IS NULL OR z.valid_to > :at)
      AND z.geom && bounds.box
) t WHERE t.geom IS NOT NULL
"""
)

#: Open incidents as points, of the grids in :grid_ids (NULL: every incident).
INCIDENT_POINTS = (
    _BOUNDS
    + """
SELECT coalesce(ST_AsMVT(t, 'incidents', 4096, 'geom'), '') FROM (
    SELECT i.id, i.state, i.category_code AS category, c.name AS category_name,
           i.reported_at::text AS reported_at, g.code AS grid,
           ST_AsMVTGeom(ST_Transform(i.geom, 3857), bounds.env, 4096, 64, true) AS geom
    FROM incident i
    JOIN incident_category c ON c.code = i.category_code
    LEFT JOIN grid g ON g.id = i.grid_id
    CROSS JOIN bounds
    WHERE i.state <> ALL(CAST(:finished AS text[])) AND i.merged_into IS NULL
      AND i.geom && bounds.box
      AND (CAST(:grid_ids AS bigint[]) IS NULL
           OR i.grid_id = ANY(CAST(:grid_ids AS bigint[])))
) t WHERE t.geom IS NOT NULL
"""
)

#: Shapes handed in as arrays (H3 cells with counts, routes): id, WKB (EPSG:4326) and the
#: properties as a JSON object, whose keys ST_AsMVT makes the feature's properties.
SHAPES = """
WITH bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS env
),
shapes AS (
    SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:wkb AS bytea[]),
                         CAST(:props AS jsonb[])) AS s(id, wkb, props)
)
SELECT coalesce(ST_AsMVT(t, :layer, 4096, 'geom'), '') FROM (
    SELECT s.id, s.props,
           ST_AsMVTGeom(ST_Transform(ST_GeomFromWKB(s.wkb, 4326), 3857), bounds.env,
                        4096, 64, true) AS geom
    FROM shapes s, bounds
) t WHERE t.geom IS NOT NULL
"""


def _one(engine: Engine, sql: str, params: dict[str, Any]) -> bytes:
    with engine.connect() as conn:
        value = conn.execute(text(sql), params).scalar_one()
    return bytes(value or b"")


def _tile(z: int, x: int, y: int) -> dict[str, int]:
    return {"z": int(z), "x": int(x), "y": int(y)}


def basemap_tile(engine: Engine, z: int, x: int, y: int) -> bytes:
    """The offline basemap: water, green, buildings, roads, street names, places, POIs.

    MVT layers ``water``, ``green`` (name), ``building`` (z ≥ 15), ``road`` (class),
    ``road_label`` (name, class: the edges of one street merged), ``place`` (name, level:
    street, community, estate by zoom) and ``poi`` (name, kind; z ≥ 16).
    """
    return _one(engine, BASEMAP, _tile(z, x, y))


def grids_tile(
    engine: Engine,
    z: int,
    x: int,
    y: int,
    *,
    people: pd.DataFrame,
    k: int,
    label_zoom: int,
) -> bytes:
    """Grids in force (``grids``: code, name, community, counts) and their code points.

    Parameters
    ----------
    people
        Per grid: ``grid_id``, ``households``, ``residents``, ``vulnerable``
        (:func:`people_counts`).
    k
        Counts from 1 to ``k - 1`` are left out.
    label_zoom
        From this zoom the ``grid_labels`` layer holds a point per grid with its code.
    """
    params = _tile(z, x, y) | {"k": int(k), "label_zoom": int(label_zoom)}
    for column in ("households", "residents", "vulnerable"):
        params[column] = people[column].astype("int64").tolist()
    params["grid_ids"] = people["grid_id"].astype("int64").tolist()
    return _one(engine, GRIDS, params)


def buildings_tile(engine: Engine, z: int, x: int, y: int, *, k: int) -> bytes:
    """Building footprints (``buildings``: name, floors, use, households ≥ k or 0).

    From :data:`BUILDINGS_MIN_ZOOM`; a tile below it is empty.
    """
    if z < BUILDINGS_MIN_ZOOM:
        return b""
    return _one(engine, BUILDINGS, _tile(z, x, y) | {"k": int(k)})


def roads_tile(engine: Engine, z: int, x: int, y: int) -> bytes:
    """Road edges (``roads``: name, class, walkable, drivable, oneway), by class and zoom."""
    return _one(engine, ROADS, _tile(z, x, y))


def shelters_tile(engine: Engine, z: int, x: int, y: int, *, at: datetime) -> bytes:
    """Shelters (``shelters``: name, class, capacity, occupancy, is_open, in_hazard at ``at``)."""
    return _one(engine, SHELTERS, _tile(z, x, y) | {"at": at})


def hazards_tile(engine: Engine, z: int, x: int, y: int, *, at: datetime) -> bytes:
    """Hazard areas in force at ``at`` (``hazards``: kind, name, severity, validity)."""
    return _one(engine, HAZARDS, _tile(z, x, y) | {"at": at})


def incident_points_tile(
    engine: Engine,
    z: int,
    x: int,
    y: int,
    *,
    finished: Sequence[str],
    grid_ids: Sequence[int] | None,
) -> bytes:
    """Open incidents (``incidents``: state, category, reported_at, grid) in the tile.

    ``grid_ids``: only the incidents of these grids; None: every incident.
    """
    params = _tile(z, x, y) | {
        "finished": list(finished),
        "grid_ids": None if grid_ids is None else [int(g) for g in grid_ids],
    }
    return _one(engine, INCIDENT_POINTS, params)


def shapes_tile(
    engine: Engine,
    z: int,
    x: int,
    y: int,
    *,
    layer: str,
    ids: np.ndarray,
    wkb: Sequence[bytes],
    props: Sequence[str],
) -> bytes:
    """A layer of shapes handed in (H3 cells, routes): one feature per id.

    Parameters
    ----------
    layer
        The MVT layer name.
    ids
        Feature ids (int64).
    wkb
        Each feature's geometry as WKB, EPSG:4326.
    props
        Each feature's properties as a JSON object (text): its keys become the feature's
        properties, ``null`` values left out.
    """
    params = _tile(z, x, y) | {
        "layer": layer,
        "ids": np.asarray(ids, dtype=np.int64).tolist(),
        "wkb": list(wkb),
        "props": list(props),
    }
    return _one(engine, SHAPES, params)


# ---------------------------------------------------------------- counts behind the tiles

#: Households per (grid, H3 cell) pair, and residents (vulnerable ones apart) per pair:
#: both counts of the maps, per grid and per cell, are sums of these, read in one pass.
#: Two aggregates joined in pandas: grouping the join of residents to households by cell
#: with ``count(DISTINCT household)`` took 4.3 s at 2,000,000 households, these 2 s.
HOUSEHOLDS_BY_PLACE = """
SELECT grid_id, h3_cell, count(*) AS households FROM household GROUP BY grid_id, h3_cell
"""
RESIDENTS_BY_PLACE = """
SELECT h.grid_id, h.h3_cell, count(*) AS residents,
       count(*) FILTER (WHERE p.living_alone_elderly OR p.disabled OR p.mobility_impaired)
           AS vulnerable
FROM resident p JOIN household h ON h.id = p.household_id
GROUP BY h.grid_id, h.h3_cell
"""
CURRENT_GRIDS = "SELECT id AS grid_id FROM grid WHERE valid_to IS NULL ORDER BY id"

OPEN_INCIDENTS_BY_CELL = """
SELECT i.h3_cell, count(*) AS incidents
FROM incident i
WHERE i.h3_cell IS NOT NULL AND i.merged_into IS NULL
      AND i.state <> ALL(CAST(:finished AS text[]))
GROUP BY i.h3_cell
ORDER BY i.h3_cell
"""


@dataclass(frozen=True)
class PeopleCounts:
    """People per grid in force and per H3 cell (stored resolution), read at one moment.

    ``by_grid``: ``grid_id``, ``households``, ``residents``, ``vulnerable`` (every grid in
    force, by id; 0 where none); ``by_cell``: ``h3_cell`` and the same counts (cells with
    households, by cell).  ``vulnerable``: residents living alone when elderly, disabled or
    mobility-impaired.
    """

    by_grid: pd.DataFrame
    by_cell: pd.DataFrame


def people_counts(engine: Engine) -> PeopleCounts:
    """The counts of people the maps show per grid and per H3 cell (:class:`PeopleCounts`)."""
    counts = ["households", "residents", "vulnerable"]
    # one snapshot for the three statements: the sums agree with each other
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        households = pd.read_sql(text(HOUSEHOLDS_BY_PLACE), conn)
        residents = pd.read_sql(text(RESIDENTS_BY_PLACE), conn)
        grids = pd.read_sql(text(CURRENT_GRIDS), conn)
    keys = ["grid_id", "h3_cell"]
    # pandas matches missing keys with missing keys: households of no grid or no cell
    places = households.merge(residents, on=keys, how="left")
    places[counts] = places[counts].fillna(0).astype("int64")
    by_grid = grids.merge(
        places.groupby("grid_id", sort=False)[counts].sum().reset_index(),
        on="grid_id",
        how="left",
    )
    by_grid[counts] = by_grid[counts].fillna(0).astype("int64")
    by_cell = (
        places.dropna(subset=["h3_cell"]).groupby("h3_cell", sort=True)[counts].sum().reset_index()
    )
    by_cell["h3_cell"] = by_cell["h3_cell"].astype("int64")
    return PeopleCounts(by_grid=by_grid, by_cell=by_cell)


def open_incidents_by_cell(engine: Engine, finished: Sequence[str]) -> pd.DataFrame:
    """Per H3 cell: ``h3_cell``, ``incidents`` (open: not in a ``finished`` state)."""
    with engine.connect() as conn:
        return pd.read_sql(text(OPEN_INCIDENTS_BY_CELL), conn, params={"finished": list(finished)})


MAP_SUMMARY = """
WITH extent AS (SELECT ST_Extent(geom)::geometry AS e FROM grid WHERE valid_to IS NULL),
parts AS (
    SELECT e FROM extent
    UNION ALL SELECT ST_Extent(geom)::geometry FROM building
    UNION ALL SELECT ST_Extent(geom)::geometry FROM road_edge
    UNION ALL SELECT ST_Extent(geom)::geometry FROM facility
),
data AS (SELECT ST_Extent(e)::geometry AS d FROM parts)
SELECT ST_XMin(e) AS west, ST_YMin(e) AS south, ST_XMax(e) AS east, ST_YMax(e) AS north,
       ST_XMin(d) AS data_west, ST_YMin(d) AS data_south,
       ST_XMax(d) AS data_east, ST_YMax(d) AS data_north,
       (SELECT count(*) FROM building) AS buildings,
       (SELECT count(*) FROM shelter) AS shelters
FROM extent, data
"""


def map_summary(engine: Engine) -> dict[str, Any]:
    """The grids' extent, the data's extent and the number of buildings and shelters.

    Keys ``west``, ``south``, ``east``, ``north`` (the grids, degrees; None without
    grids), ``data_west`` … ``data_north`` (every grid, building, road and facility: no
    feature of the grids, buildings, roads or shelters tiles lies outside),
    ``buildings``, ``shelters``.
    """
    with engine.connect() as conn:
        return dict(conn.execute(text(MAP_SUMMARY)).mappings().one())


# the names, not their characters: splitting them in SQL (regexp_split_to_table) makes the
# planner guess a thousand rows a name and compile the statement with JIT (about 1 s)
LABEL_NAMES = """
SELECT 'road_label' AS source, name FROM road_edge WHERE name <> ''
UNION SELECT 'place', name FROM admin_area WHERE name <> ''
UNION SELECT 'poi', name FROM facility WHERE name <> ''
"""


def label_characters(engine: Engine) -> dict[str, str]:
    """Every character each label layer of the basemap can show, once each (any order).

    Keys are the basemap tiles' layers: ``road_label`` (street names), ``place`` (admin
    areas), ``poi`` (facilities); a layer without a name is absent.
    """
    found: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for source, name in conn.execute(text(LABEL_NAMES)):
            found.setdefault(str(source), set()).update(str(name))
    return {source: "".join(sorted(chars)) for source, chars in found.items()}
