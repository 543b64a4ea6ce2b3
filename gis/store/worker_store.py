"""What a grid worker's tablet (网格员工作台) reads: the one place its SQL lives.

A worker's grids are the *current* versions (``valid_to IS NULL``) of the grids they
are assigned to (primary or backup).  Residents' personal data (``resident_identity``)
leaves this module in full only for the buildings the caller says the access policy
(:func:`grids.access.identity_visible`) opens, and every such read is written to the
audit log here; everywhere else the caller's masking functions are applied before the
rows are returned, so an unmasked name or phone never travels further than this
module by accident.  This module imports nothing of ours but :mod:`gis`, so the rule
itself and the masks are handed in by the caller.

Reads return GeoDataFrames in EPSG:4326 (or DataFrames); distances are measured on
the ellipsoid (``geography``), in metres.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

import geopandas as gpd

from gis import clock, crypt
from gis.db.models import SRID
from gis.store.access_store import audit

Bind = Engine | Connection
Mask = Callable[[str | None], str | None]

#: Age groups (年龄段) of residents, by age in whole years at the start of this year
#: (``:this_year``, bound from :mod:`gis.clock`).
AGE_GROUP_SQL = """
    CASE
        WHEN CAST(:this_year AS int) - r.birth_year < 15 THEN 'child'
        WHEN CAST(:this_year AS int) - r.birth_year < 60 THEN 'adult'
        WHEN CAST(:this_year AS int) - r.birth_year < 80 THEN 'elderly'
        ELSE 'very_elderly'
    END
"""
AGE_GROUP_NAMES_ZH = {
    "child": "儿童（0–14岁）",
    "adult": "成年（15–59岁）",
    "elderly": "老年（60–79岁）",
    "very_elderly": "高龄（80岁及以上）",
}
#: The vulnerability flags of ``resident``, with their Chinese names.
FLAGS_ZH = {
    "living_alone_elderly": "独居老人",
    "disabled": "残疾",
    "mobility_impaired": "行动不便",
    "low_income": "低收入",
}
_VULNERABLE = "(r.living_alone_elderly OR r.disabled OR r.mobility_impaired OR r.low_income)"


def _geo(bind: Bind, sql: str, **params: object) -> gpd.GeoDataFrame:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return gpd.read_postgis(text(sql), conn, geom_col="geom", crs=SRID, params=params)
    return gpd.read_postgis(text(sql), bind, geom_col="geom", crs=SRID, params=params)


def _frame(bind: Bind, sql: str, **params: object) -> pd.DataFrame:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return pd.read_sql(text(sql), conn, params=params)
    return pd.read_sql(text(sql), bind, params=params)


# ------------------------------------------------------------------ grids and buildings


def worker_grids(bind: Bind, worker_id: int) -> gpd.GeoDataFrame:
    """The current grids a worker covers, primary first, then by code.

    Columns: id, code, name, community_code, community_name, assignment_role
    (primary / backup), buildings, households, vulnerable_residents, centre_lon,
    centre_lat (a point surely inside the grid, :func:`ST_PointOnSurface`), geom.
    """
    return _geo(
        bind,
        f"""
        SELECT g.id, g.code, g.name, c.code AS community_code, c.name AS community_name,
               a.role AS assignment_role,
               (SELECT count(*) FROM building b WHERE b.grid_id = g.id)::int AS buildings,
               (SELECT count(*) FROM household h WHERE h.grid_id = g.id)::int AS households,
               (SELECT count(*) FROM household h JOIN resident r ON r.household_id = h.id
                 WHERE h.grid_id = g.id AND {_VULNERABLE})::int AS vulnerable_residents,
               ST_X(ST_PointOnSurface(g.geom)) AS centre_lon,
               ST_Y(ST_PointOnSurface(g.geom)) AS centre_lat,
               g.geom
        FROM grid_assignment a
        JOIN grid g ON g.id = a.grid_id AND g.valid_to IS NULL
        JOIN admin_area c ON c.id = g.community_id
        WHERE a.worker_id = :worker
        ORDER BY a.role = 'primary' DESC, g.code
        """,
        worker=worker_id,
    )


def current_grid_id(bind: Bind, code: str) -> int | None:
    """The id of the current grid with this 15-digit code, or None."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return current_grid_id(conn, code)
    found = bind.execute(
        text("SELECT id FROM grid WHERE code = :c AND valid_to IS NULL"), {"c": code}
    ).scalar()
    return None if found is None else int(found)


def grid_buildings(bind: Bind, grid_ids: Collection[int]) -> gpd.GeoDataFrame:
    """Buildings of some grids with their households and vulnerable residents counted.

    Columns: id, name, grid_id, grid_code, use, floors, units, households, residents,
    living_alone_elderly, disabled, mobility_impaired, low_income (residents with each
    flag), geom (footprint).
    """
    return _geo(
        bind,
        """
        SELECT b.id, b.name, b.grid_id, g.code AS grid_code, b.use, b.floors, b.units,
               count(DISTINCT h.id)::int AS households, count(r.id)::int AS residents,
               count(*) FILTER (WHERE r.living_alone_elderly)::int AS living_alone_elderly,
               count(*) FILTER (WHERE r.disabled)::int AS disabled,
               count(*) FILTER (WHERE r.mobility_impaired)::int AS mobility_impaired,
               count(*) FILTER (WHERE r.low_income)::int AS low_income,
               b.geom
        FROM building b
        JOIN grid g ON g.id = b.grid_id
        LEFT JOIN household h ON h.building_id = b.id
        LEFT JOIN resident r ON r.household_id = h.id
        WHERE b.grid_id = ANY(:grids)
        GROUP BY b.id, g.code
        ORDER BY b.id
        """,
        grids=sorted(int(g) for g in grid_ids),
    )


# ------------------------------------------------------------------ tasks


def open_tasks(bind: Bind, worker_id: int, open_states: Iterable[str]) -> pd.DataFrame:
    """A worker's open tasks (工单 assigned to them), by deadline, then priority, then id.

    Open tasks without a deadline come last; priority 1 is the most urgent.

    Columns: id, category_code, category_name, priority, time_limit_hours, state,
    source, description, address, reported_at, deadline, grid_id, grid_code, lon, lat.
    """
    return _frame(
        bind,
        """
        SELECT i.id, i.category_code, c.name AS category_name, c.priority,
               c.time_limit_hours, i.state, i.source, i.description, i.address,
               i.reported_at, i.deadline, i.grid_id, g.code AS grid_code,
               ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
        FROM incident i
        JOIN incident_category c ON c.code = i.category_code
        LEFT JOIN grid g ON g.id = i.grid_id
        WHERE i.assignee_id = :worker AND i.state = ANY(:states) AND i.merged_into IS NULL
        ORDER BY i.deadline ASC NULLS LAST, c.priority ASC, i.id ASC
        """,
        worker=worker_id,
        states=sorted(open_states),
    )


def task_buildings(
    bind: Bind, worker_id: int, open_states: Iterable[str], radius_m: float
) -> frozenset[int]:
    """Buildings within ``radius_m`` of one of the worker's open tasks (the task needs them).

    The access policy shows a worker residents' names and phones in these buildings
    only (:func:`grids.access.identity_visible`).
    """
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return task_buildings(conn, worker_id, open_states, radius_m)
    rows = bind.execute(
        text(
            """
            SELECT DISTINCT b.id
            FROM incident i
            JOIN building b
              ON ST_DWithin(b.geom, i.geom, :degrees)
             AND ST_DWithin(b.geom::geography, i.geom::geography, :radius)
            WHERE i.assignee_id = :worker AND i.state = ANY(:states)
              AND i.merged_into IS NULL
            """
        ),
        {
            "worker": worker_id,
            "states": sorted(open_states),
            "radius": radius_m,
            # a box in degrees surely holding the circle (to 60° of latitude): the spatial
            # index finds the candidates, the ellipsoid decides
            "degrees": radius_m / 111_320.0 * 2.0,
        },
    ).scalars()
    return frozenset(int(b) for b in rows)


# ------------------------------------------------------------------ households, residents


def grid_residents(
    conn: Connection,
    grid_ids: Collection[int],
    *,
    identity_buildings: Collection[int],
    username: str,
    mask_name: Mask,
    mask_phone: Mask,
    mask_id_number: Mask,
    reason: str = "worker tablet",
) -> pd.DataFrame:
    """Households of some grids, one row per resident, with identities masked or in full.

    Households without residents appear once, with empty resident columns.

    Parameters
    ----------
    conn
        An open connection inside a transaction (the audit rows commit with the read).
    grid_ids
        The grids whose households are read.
    identity_buildings
        Buildings whose residents' names and phones the policy shows unmasked; their
        identity columns are returned in full and the read is written to the audit log
        (one row per building, naming the residents).  ID numbers are always masked.
    username
        Who reads (for the audit log).
    mask_name, mask_phone, mask_id_number
        The masks of the access policy (:mod:`grids.access`), applied to every other row.
    reason
        Why the identities were read, recorded with the audit rows.

    Returns
    -------
    pandas.DataFrame
        Columns: household_id, building_id, building_name, grid_id, grid_code, unit,
        room, size, lon, lat (the building's centre), resident_id, sex, birth_year,
        age_group, living_alone_elderly, disabled, mobility_impaired, low_income, name,
        phone, id_number, identity_masked.
    """
    frame = pd.read_sql(
        text(
            f"""
            SELECT h.id AS household_id, h.building_id, b.name AS building_name,
                   h.grid_id, g.code AS grid_code, h.unit, h.room, h.size,
                   ST_X(b.pt) AS lon, ST_Y(b.pt) AS lat,
                   r.id AS resident_id, r.sex, r.birth_year,
                   CASE WHEN r.id IS NULL THEN NULL ELSE {AGE_GROUP_SQL} END AS age_group,
                   r.living_alone_elderly, r.disabled, r.mobility_impaired, r.low_income,
                   ri.name, ri.phone, ri.id_number
            FROM household h
            -- a point of each building computed once, not once per resident row
            JOIN (
                SELECT id, name, ST_PointOnSurface(geom) AS pt FROM building
                WHERE id IN (SELECT building_id FROM household WHERE grid_id = ANY(:grids))
            ) b ON b.id = h.building_id
            LEFT JOIN grid g ON g.id = h.grid_id
            LEFT JOIN resident r ON r.household_id = h.id
            LEFT JOIN resident_identity ri ON ri.resident_id = r.id
            WHERE h.grid_id = ANY(:grids)
            ORDER BY h.building_id, h.unit, h.room, h.id, r.birth_year, r.id
            """
        ),
        conn,
        params={"grids": sorted(int(g) for g in grid_ids), "this_year": clock.now().year},
    )
    ring = crypt.keyring()
    for column in ("phone", "id_number"):  # sealed at rest: opened here, masked below
        frame[column] = ring.open_many(column, frame[column].astype(object))
    shown = frame["building_id"].isin(list(identity_buildings)).to_numpy()
    for column, mask in (("name", mask_name), ("phone", mask_phone)):
        values = frame[column].astype(object)
        frame[column] = [v if keep else mask(v) for v, keep in zip(values, shown, strict=True)]
    frame["id_number"] = [mask_id_number(v) for v in frame["id_number"].astype(object)]
    frame["identity_masked"] = ~shown
    for flag in FLAGS_ZH:
        frame[flag] = frame[flag].astype("boolean")
    opened = frame[shown & frame["resident_id"].notna().to_numpy()]
    for building_id, rows in opened.groupby("building_id"):
        audit(
            conn,
            username,
            "read_identity",
            "building",
            int(building_id),  # type: ignore[call-overload]
            {
                "reason": reason,
                "resident_ids": [int(r) for r in rows["resident_id"]],
            },
        )
    return frame


# ------------------------------------------------------------------ the offline package


def roads_in_box(bind: Bind, bounds: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """Road edges meeting a lon/lat box (west, south, east, north).

    Columns: id, source, target, name, road_class, length_m, walkable, drivable,
    oneway, geom.
    """
    west, south, east, north = bounds
    return _geo(
        bind,
        """
        SELECT id, source, target, name, road_class, length_m, walkable, drivable, oneway,
               geom
        FROM road_edge
        WHERE geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)
        ORDER BY id
        """,
        w=west,
        s=south,
        e=east,
        n=north,
    )


def shelters_near(bind: Bind, grid_ids: Collection[int], within_m: float) -> gpd.GeoDataFrame:
    """Shelters within ``within_m`` metres of some grids (where their people would go).

    Columns: facility_id, name, shelter_class, capacity, occupancy, is_open, geom.
    """
    return _geo(
        bind,
        """
        SELECT f.id AS facility_id, f.name, s.shelter_class, coalesce(f.capacity, 0) AS capacity,
               s.occupancy, s.is_open, f.geom
        FROM facility f JOIN shelter s ON s.facility_id = f.id
        WHERE EXISTS (
            SELECT 1 FROM grid g
            WHERE g.id = ANY(:grids)
              AND ST_DWithin(g.geom::geography, f.geom::geography, :within)
        )
        ORDER BY f.id
        """,
        grids=sorted(int(g) for g in grid_ids),
        within=within_m,
    )


def as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts with None for missing values (JSON-ready apart from times)."""
    clean = frame.astype(object).where(frame.notna(), None)
    if clean.columns.empty:
        return [{} for _ in range(len(clean))]
    columns = [str(c) for c in clean.columns]
    values = zip(*(clean[c].tolist() for c in clean.columns), strict=True)
    # column lists zipped row by row: a fraction of ``to_dict``'s per-value boxing
    return [dict(zip(columns, row, strict=True)) for row in values]
